"""Issue 20, finding 11: the first directory's token, printed by the first ``serve``, lands wherever the server's
output is collected. It is printed with a warning saying so (and how to rotate it), or, with
``--first-token-file``, written to a 0600 file and only the path printed."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click import ClickException
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.cli.first_start import announce, warn_if_exposed
from scimgate.config import Settings
from scimgate.store.database import Database
from scimgate.store.tables import directories
from tests.helpers.files import common_umask, mode
from tests.helpers.scim import BASE_URL

URL_LABEL = "SCIM URL (Entra: Tenant URL):"


@pytest.fixture(autouse=True)
def _common_umask() -> Iterator[None]:
    with common_umask():
        yield


def _works(database: Database, url: str, token: str) -> bool:
    """The IdP's first request with this URL and token is answered 200."""
    path = url.removeprefix(BASE_URL)
    with TestClient(create_app(Settings(public_url=BASE_URL), database), base_url=BASE_URL) as client:
        return client.get(f"{path}/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def _value(output: str, label: str) -> str:
    return next(line.split(label, 1)[1].strip() for line in output.splitlines() if label in line)


def _directory_count(database: Database) -> int:
    with database.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(directories)).scalar_one())


def test_a_printed_token_comes_with_a_warning_to_rotate_it(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token is printed as before (the README's serve), next to a warning that log collectors may keep it and
    the exact command that rotates it."""
    announce(database, Settings(public_url=BASE_URL))
    output = capsys.readouterr().out
    token = _value(output, "Bearer token (Entra: Secret Token):")
    url = _value(output, URL_LABEL)
    assert _works(database, url, token)
    warning = next(line for line in output.splitlines() if line.startswith("Warning:"))
    assert "logs" in warning and "--first-token-file" in warning
    directory_id = url.rsplit("/", 1)[1]
    assert f"scimgate token rotate {directory_id} tok_" in warning


def test_first_token_file_gets_the_token_and_the_output_only_its_path(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --first-token-file the token is in a new 0600 file, works, and appears nowhere in the output."""
    token_file = tmp_path / "first-token"
    announce(database, Settings(public_url=BASE_URL, first_token_file=token_file))
    output = capsys.readouterr().out
    token = token_file.read_text().strip()
    assert oct(mode(token_file)) == "0o600"
    assert token.startswith("scimgate_") and token not in output and "scimgate_" not in output
    assert str(token_file) in output
    assert _works(database, _value(output, URL_LABEL), token)


def test_an_existing_token_file_is_made_private_before_the_token_goes_in(database: Database, tmp_path: Path) -> None:
    """A file left world-readable (touched by a provisioning script) is 0600 before the token is written to it."""
    token_file = tmp_path / "first-token"
    token_file.write_text("old contents that are longer than a token, to see them truncated" * 3)
    token_file.chmod(0o644)
    announce(database, Settings(public_url=BASE_URL, first_token_file=token_file))
    assert oct(mode(token_file)) == "0o600"
    assert token_file.read_text().startswith("scimgate_") and "old contents" not in token_file.read_text()


@pytest.mark.both_backends
def test_a_token_file_that_cannot_be_written_creates_no_directory(database: Database, tmp_path: Path) -> None:
    """A symbolic link (someone pointing the token at a file of theirs) or a missing directory: serve stops with a
    message, and no directory whose token nobody has is left behind, so the next start tries again."""
    target = tmp_path / "theirs"
    target.write_text("")
    link = tmp_path / "first-token"
    os.symlink(target, link)
    for path in (link, tmp_path / "missing" / "first-token"):
        with pytest.raises(ClickException, match="Cannot write the first token"):
            announce(database, Settings(public_url=BASE_URL, first_token_file=path))
    assert target.read_text() == ""
    assert _directory_count(database) == 0


def test_serve_warns_about_a_database_every_user_can_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A database an older scimgate left 0644 (finding 7): serve names it and the chmod that fixes it; it does not
    change the mode itself, which is the operator's."""
    path = tmp_path / "scimgate.db"
    path.touch()
    path.chmod(0o644)
    db = Database(f"sqlite:///{path}")
    try:
        warn_if_exposed(db)
    finally:
        db.dispose()
    warning = capsys.readouterr().err
    assert f"{path} is readable by every user" in warning and f"chmod 600 {path}*" in warning
    assert oct(mode(path)) == "0o644"


def test_serve_is_quiet_about_a_private_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A database scimgate created (0600) gets no warning."""
    db = Database(f"sqlite:///{tmp_path / 'scimgate.db'}")
    try:
        warn_if_exposed(db)
    finally:
        db.dispose()
    assert capsys.readouterr().err == ""
