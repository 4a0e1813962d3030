"""``scimgate token create|list|revoke|rotate`` and ``scimgate client create|list|rotate-secret``."""

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from scimgate.api.credentials import token_out
from scimgate.cli.common import (
    DATABASE_SETTINGS,
    Duration,
    NotFound,
    current_database,
    emit,
    json_option,
    label,
    load_settings,
    settings_options,
)
from scimgate.cli.directories import existing
from scimgate.directories.credentials import (
    NotRotatable,
    TokenInfo,
    get_token,
    issue_token,
    list_tokens,
    revoke_token,
    rotate_token,
)
from scimgate.directories.oauth import MAX_LIFETIME, MIN_LIFETIME, Client, create_client, list_clients, rotate_secret
from scimgate.store.database import utc
from scimgate.tokens import display_prefix, is_id, shown_id

database_options = settings_options(DATABASE_SETTINGS)
overlap_option = click.option(
    "--overlap",
    type=Duration(),
    default="1d",
    show_default=True,
    help="How long the old credential keeps working (e.g. 3600, 90m, 12h, 1d; 0 stops it now).",
)


def _iso(value: Any) -> str | None:
    return utc(value).isoformat() if value is not None else None


def token_dict(info: TokenInfo) -> dict[str, Any]:
    """A token as the management API shows it (never the secret)."""
    return token_out(info).model_dump(mode="json")


@click.group()
def token() -> None:
    """Long-lived bearer tokens of a directory (Entra's Secret Token, Okta's HTTP header)."""


@token.command(name="create")
@click.argument("directory_id")
@click.option("--name", callback=label, help='A label, e.g. "Entra production".')
@json_option
@database_options
def token_create(directory_id: str, name: str | None, as_json: bool, **flags: Any) -> None:
    """Create a token and print it, once."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.write() as conn:
            issued = issue_token(conn, directory_id, name)
    data = {"id": issued.id, "token": issued.token}
    emit(
        as_json,
        data,
        lambda: [issued.token, f"Token {issued.id}: shown only this once and stored only as a hash: keep it now."],
    )


@token.command(name="list")
@click.argument("directory_id")
@json_option
@database_options
def token_list(directory_id: str, as_json: bool, **flags: Any) -> None:
    """The directory's tokens: id, prefix, status, creation and last use (never the secret)."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.read() as conn:
            rows = [token_dict(info) for info in list_tokens(conn, directory_id)]

    def lines() -> list[str]:
        return [
            f"{r['id']}  {r['prefix']}…  {r['status']:<7}  created {r['created_at']}"
            + f"  last used {r['last_used_at'] or 'never'}"
            + (f"  expires {r['expires_at']}" if r["expires_at"] and r["status"] == "active" else "")
            + (f"  ({r['name']})" if r["name"] else "")
            for r in rows
        ] or ["No tokens."]

    emit(as_json, rows, lines)


@token.command(name="revoke")
@click.argument("directory_id")
@click.argument("token_id")
@json_option
@database_options
def token_revoke(directory_id: str, token_id: str, as_json: bool, **flags: Any) -> None:
    """Revoke a token: every worker refuses it within token_cache_seconds."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.write() as conn:
            info = revoke_token(conn, directory_id, token_id)
    if info is None:
        raise NotFound(no_such_token(directory_id, token_id))
    emit(as_json, token_dict(info), lambda: [f"Token {token_id} revoked."])


@token.command(name="rotate")
@click.argument("directory_id")
@click.argument("token_id")
@overlap_option
@json_option
@database_options
def token_rotate(directory_id: str, token_id: str, overlap: int, as_json: bool, **flags: Any) -> None:
    """Create a replacement token; the old one keeps working for the overlap, then expires."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.write() as conn:
            try:
                issued = rotate_token(conn, directory_id, token_id, timedelta(seconds=overlap))
            except NotRotatable as error:
                raise click.ClickException(str(error)) from None
            if issued is None:
                raise NotFound(no_such_token(directory_id, token_id))
            old = get_token(conn, directory_id, token_id)
    ends = _iso(old.expires_at) if old else None
    data = {"id": issued.id, "token": issued.token, "replaces": token_id, "old_token_expires_at": ends}
    emit(
        as_json,
        data,
        lambda: [
            issued.token,
            f"Token {issued.id} replaces {token_id}, which stops working at {ends}. Paste the new token into the "
            "IdP before then. It is shown only this once.",
        ],
    )


def no_such_token(directory_id: str, given: str) -> str:
    """The error for an unknown token id, which never repeats a secret: pasting the token itself where its id goes
    is a common slip, and the error lands in the terminal's scrollback and shell logs."""
    if is_id(given, "tok"):
        return f"Directory {directory_id} has no token {given!r}."
    return (
        f"{display_prefix(given)}… is not a token id: that looks like the token itself (not repeated here). Pass "
        f"its id (tok_…), which `scimgate token list {directory_id}` shows beside each token's first characters."
    )


def client_dict(found: Client) -> dict[str, Any]:
    return {
        "client_id": found.id,
        "name": found.name,
        "access_token_seconds": found.access_token_seconds,
        "created_at": _iso(found.created_at),
        "secrets": [
            {
                "id": s.id,
                "prefix": s.display_prefix,
                "status": s.status(datetime.now(UTC)),
                "expires_at": _iso(s.expires_at),
                "revoked_at": _iso(s.revoked_at),
            }
            for s in found.secrets
        ],
    }


@click.group()
def client() -> None:
    """OAuth 2.0 client credentials of a directory (Entra gallery apps: Token Endpoint, Client ID and Secret)."""


@client.command(name="create")
@click.argument("directory_id")
@click.option("--name", callback=label, help="A label for the client.")
@click.option(
    "--lifetime",
    type=Duration(),
    default="1h",
    show_default=True,
    help="Lifetime of the access tokens issued to this client (1h to 6h).",
)
@json_option
@database_options
def client_create(directory_id: str, name: str | None, lifetime: int, as_json: bool, **flags: Any) -> None:
    """Create a client and print its id, its secret (once) and the token endpoint."""
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise click.BadParameter("must be between 1h and 6h", param_hint="--lifetime")
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.write() as conn:
            made, issued = create_client(conn, directory_id, name, lifetime)
    endpoint = f"{settings.resolved_public_url()}/oauth/token"
    data = {**client_dict(made), "client_secret": issued.secret, "token_endpoint": endpoint}
    emit(
        as_json,
        data,
        lambda: [
            f"Token Endpoint: {endpoint}",
            f"Client ID:      {made.id}",
            f"Client Secret:  {issued.secret}",
            "The secret is shown only this once and is stored only as a hash: keep it now.",
        ],
    )


@client.command(name="list")
@click.argument("directory_id")
@json_option
@database_options
def client_list(directory_id: str, as_json: bool, **flags: Any) -> None:
    """The directory's OAuth clients and their secrets (prefixes only)."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.read() as conn:
            rows = [client_dict(found) for found in list_clients(conn, directory_id)]
    emit(as_json, rows, lambda: [f"{r['client_id']}  {len(r['secrets'])} secret(s)  {r['name'] or ''}" for r in rows])


@client.command(name="rotate-secret")
@click.argument("directory_id")
@click.argument("client_id")
@overlap_option
@json_option
@database_options
def client_rotate_secret(directory_id: str, client_id: str, overlap: int, as_json: bool, **flags: Any) -> None:
    """Create a new secret; the client's other secrets keep working for the overlap."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.write() as conn:
            issued = rotate_secret(conn, directory_id, client_id, timedelta(seconds=overlap))
    if issued is None:
        raise NotFound(f"Directory {directory_id} has no OAuth client {shown_id(client_id, 'cli')}.")
    data = {"client_id": client_id, "secret_id": issued.id, "client_secret": issued.secret}
    emit(
        as_json,
        data,
        lambda: [
            f"Client Secret: {issued.secret}",
            f"Shown only this once. The previous secrets keep working for {overlap} seconds.",
        ],
    )
