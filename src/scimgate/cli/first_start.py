"""What ``serve`` says before it serves: the directories' SCIM URLs, and on the very first start the first
directory's bearer token, printed with a warning or written to a private file (issue 20, finding 11).

Whatever ``serve`` prints ends up where its output is collected (systemd's journal, ``docker logs``, a log
shipper), readable by whoever reads those. ``first_token_file`` keeps the token out of the output altogether.
"""

import os
from pathlib import Path

import click
import sqlalchemy as sa

from scimgate.config import Settings
from scimgate.directories.credentials import issue_token
from scimgate.directories.service import create_directory, list_directories
from scimgate.store.database import Database
from scimgate.store.files import PRIVATE_FILE, exposed, sqlite_file

# The advisory lock that serialises first starts: any constant of our own ("scimgate" in ASCII, halved to fit a
# signed bigint).
_FIRST_START_LOCK = int.from_bytes(b"scimgate", "big") >> 1


def announce(db: Database, settings: Settings) -> None:
    """Print each directory's SCIM URL; with none yet, create the first and hand over its token once."""
    public_url = settings.resolved_public_url()
    with db.write() as conn:
        if not db.is_sqlite:
            # Replicas starting together on one empty PostgreSQL database (compose, Helm) take turns here, so only
            # the first creates a directory; the others then see it. SQLite's BEGIN IMMEDIATE already serialises.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FIRST_START_LOCK})
        existing = list_directories(conn)
        if existing:
            for directory in existing:
                click.echo(f"Directory {directory.name!r}: SCIM URL {public_url}/scim/v2/{directory.id}")
            return
        directory = create_directory(conn, "default")
        issued = issue_token(conn, directory.id)
        if settings.first_token_file is not None:
            # Inside the transaction: if the file cannot be written, no directory is created whose token is lost.
            _write_token(settings.first_token_file, issued.token)
    click.echo("Created the first directory. Give your identity provider these two values:")
    click.echo(f"  SCIM URL (Entra: Tenant URL):       {public_url}/scim/v2/{directory.id}")
    if settings.first_token_file is not None:
        click.echo(f"  Bearer token (Entra: Secret Token) is in the file: {settings.first_token_file}")
        click.echo("The token is stored here only as a hash: delete the file once the IdP has it.")
        return
    click.echo(f"  Bearer token (Entra: Secret Token): {issued.token}")
    click.echo("The token is shown only this once and is stored only as a hash: keep it now.")
    click.echo(
        "Warning: this output may be kept by whatever collects the server's logs (systemd's journal, docker logs, "
        "a log shipper). If it is, rotate the token once the IdP works: "
        f"scimgate token rotate {directory.id} {issued.id} --overlap 0 (on a new install, --first-token-file PATH "
        "writes the token to a file instead)."
    )


def admin_hint(settings: Settings) -> str:
    """Where the admin page is and how to sign in (the README's "Run it" and the start banner said neither)."""
    url = f"{settings.resolved_public_url()}/admin"
    if settings.operator_key is None and settings.admin_password is None:
        return (
            f"Admin page: {url} (nobody can sign in yet: set SCIMGATE_OPERATOR_KEY to 32 or more characters, e.g. "
            "`openssl rand -base64 32`, and restart)"
        )
    return f"Admin page: {url} (sign in with the operator key or the admin password)"


def _write_token(path: Path, token: str) -> None:
    """The token alone in ``path``, mode 0600: a new file, or an existing one tightened before it is written.
    A symbolic link is refused (O_NOFOLLOW), so the token cannot be sent into another file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE)
        with os.fdopen(fd, "w") as file:
            os.fchmod(fd, PRIVATE_FILE)
            file.write(token + "\n")
    except OSError as error:
        raise click.ClickException(
            f"Cannot write the first token to {path}: {error.strerror}. Nothing was created; fix the path and "
            "start again."
        ) from None


def warn_if_exposed(db: Database) -> None:
    """A SQLite database every user of the machine can read (made by an older scimgate, or copied so) holds
    keys, secrets and personal data: say so. Its mode is the operator's to change, not ours (finding 7)."""
    path = sqlite_file(db.url)
    if path is None:
        return
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        mode = exposed(file)
        if mode is not None:
            click.echo(
                f"Warning: {file} is readable by every user of this machine (mode {mode}); it holds keys, "
                f"secrets and personal data. Run: chmod 600 {path}*",
                err=True,
            )
