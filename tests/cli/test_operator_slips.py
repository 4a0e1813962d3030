"""The common slips of an operator at the terminal: a short key, a secret pasted where its id goes, a --limit."""

import json
import os

import pytest
from click.testing import CliRunner, Result

from scimgate.cli import main
from scimgate.store.database import Database
from scimgate.tokens import display_prefix
from tests.helpers.scim import Scim


@pytest.fixture(autouse=True)
def no_scimgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SCIMGATE_"):
            monkeypatch.delenv(name)


def scimgate(database: Database, *args: str) -> Result:
    url = database.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, [*args, "--database-url", url], catch_exceptions=False)


def test_a_short_operator_key_is_refused_in_words() -> None:
    """Not pydantic's "Value should have at least 32 items after validation": the flag, the variable, the length
    and how to make a good key; never the key itself."""
    result = CliRunner().invoke(main, ["config", "show", "--operator-key", "tooshort-secret"])
    assert result.exit_code == 1
    assert "operator_key (--operator-key, SCIMGATE_OPERATOR_KEY): must be at least 32 characters" in result.output
    assert "openssl rand -base64 32" in result.output
    assert "items after validation" not in result.output and "tooshort-secret" not in result.output


def test_token_rotate_with_the_token_itself_does_not_echo_it(database: Database, scim: Scim) -> None:
    """Pasting the secret where the token id goes: exit 3, the first characters only, and what to pass instead."""
    for command in ("rotate", "revoke"):
        result = scimgate(database, "token", command, scim.directory_id, scim.token)
        assert result.exit_code == 3 and scim.token not in result.output
        assert scim.token[:13] + "…" in result.output and f"scimgate token list {scim.directory_id}" in result.output
    unknown = scimgate(database, "token", "rotate", scim.directory_id, "tok_nothere")
    assert unknown.exit_code == 3 and "has no token 'tok_nothere'" in unknown.output


def test_no_secret_pasted_where_an_id_goes_is_echoed(database: Database, scim: Scim) -> None:
    """A setup link's secret, a client secret, a webhook signing secret where its id goes, or the token given for the
    directory (arguments swapped): exit 3, and the error shows the secret's kind and four characters, no more."""
    link_url = json.loads(scimgate(database, "directory", "link", scim.directory_id, "--json").output)["url"]
    link_secret = link_url.rsplit("/", 1)[1]
    made = json.loads(scimgate(database, "client", "create", scim.directory_id, "--json").output)
    signing_secret = "whsec_" + "MfKQ9r0LpWnaqQ3LzVx1dEBCeOMNIzs1dNkwzT2YxRI"
    slips = [
        (link_secret, ("directory", "unlink", scim.directory_id, link_secret)),
        (made["client_secret"], ("client", "rotate-secret", scim.directory_id, made["client_secret"])),
        (signing_secret, ("webhook", "disable", signing_secret)),
        (scim.token, ("token", "list", scim.token)),
    ]
    for secret, args in slips:
        result = scimgate(database, *args)
        shown = display_prefix(secret)
        assert result.exit_code == 3, result.output
        assert shown + "…" in result.output and secret[: len(shown) + 1] not in result.output, result.output


def test_events_tail_limit_limits(database: Database, scim: Scim) -> None:
    """`events tail --limit 2` prints two events, not the whole feed (it was the page size)."""
    for n in range(4):
        scim.create_user(f"user{n}@contoso.example")
    url = database.engine.url.render_as_string(hide_password=False)
    every = CliRunner().invoke(main, ["events", "tail", "--database-url", url])
    assert len(every.stdout.splitlines()) >= 5  # directory.created and four user.created
    two = CliRunner().invoke(main, ["events", "tail", "--limit", "2", "--database-url", url])
    assert len(two.stdout.splitlines()) == 2 and two.stdout.splitlines() == every.stdout.splitlines()[:2]
