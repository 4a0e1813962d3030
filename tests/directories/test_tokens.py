"""Tokens are random, recognisable, and stored only as a hash."""

import pytest

from scimgate.directories.credentials import directory_for_token, issue_token
from scimgate.directories.service import create_directory
from scimgate.store.database import Database
from scimgate.store.tables import tokens
from scimgate.tokens import TOKEN_PREFIX, generate_token, hash_token

pytestmark = pytest.mark.both_backends


def test_tokens_are_long_random_and_prefixed() -> None:
    """32 random bytes after a prefix secret scanners can match; never the same twice."""
    made = {generate_token() for _ in range(200)}
    assert len(made) == 200
    for token in made:
        assert token.startswith(TOKEN_PREFIX)
        assert len(token) - len(TOKEN_PREFIX) >= 43  # 32 bytes of URL-safe base64


def test_only_the_hash_is_stored(database: Database) -> None:
    """The database holds the SHA-256 of the token and a short display prefix, never the token."""
    with database.write() as conn:
        directory = create_directory(conn, "Hash check")
        issued = issue_token(conn, directory.id)
    with database.read() as conn:
        row = conn.execute(tokens.select().where(tokens.c.id == issued.id)).one()
        assert row.secret_hash == hash_token(issued.token)
        assert issued.token not in str(tuple(row))
        assert issued.token.startswith(row.display_prefix) and len(row.display_prefix) < 20
        opened = directory_for_token(conn, issued.token)
        assert opened is not None and (opened.directory_id, opened.token_id) == (directory.id, issued.id)
        assert directory_for_token(conn, issued.token[:-1]) is None
