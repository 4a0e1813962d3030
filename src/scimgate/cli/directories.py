"""``scimgate directory create|list|show|disable|enable|delete``: one directory per customer organisation."""

import sys
from typing import Any

import click

from scimgate.api.directories import directory_out
from scimgate.cli.common import (
    DATABASE_SETTINGS,
    NotFound,
    current_database,
    emit,
    json_option,
    label,
    load_settings,
    settings_options,
)
from scimgate.directories.credentials import issue_token, list_tokens
from scimgate.directories.service import (
    IDP_NAMES,
    IDPS,
    Directory,
    create_directory,
    delete_directory,
    get_directory,
    list_directories,
    set_disabled,
)
from scimgate.directories.setup import Setup, setup_for
from scimgate.store.database import Database
from scimgate.tokens import shown_id

database_options = settings_options(DATABASE_SETTINGS)


def directory_dict(directory: Directory, public_url: str) -> dict[str, Any]:
    """A directory as the management API shows it."""
    return directory_out(directory, public_url).model_dump(mode="json")


def setup_lines(directory: Directory, setup: Setup, token: str | None) -> list[str]:
    lines = [f"SCIM URL (Entra: Tenant URL; Okta: SCIM connector base URL): {setup.scim_url}"]
    if token:
        lines += [f"Bearer token (Entra: Secret Token):                       {token}", ""]
        lines += ["The token is shown only this once and is stored only as a hash: keep it now.", ""]
    # The directory's own IdP first; Entra and Okta always (the two most asked for).
    shown = [idp for idp in ("entra", "okta", "onelogin", "jumpcloud", "authentik") if idp == directory.idp]
    for idp in ("entra", "okta"):
        if idp not in shown:
            shown.append(idp)
    for idp in shown:
        lines.append(f"In {IDP_NAMES[idp]}:")
        lines += [f"  {number}. {step}" for number, step in enumerate(getattr(setup, idp), start=1)]
    return lines


def existing(db: Database, directory_id: str) -> Directory:
    with db.read() as conn:
        found = get_directory(conn, directory_id)
    if found is None:
        raise NotFound(f"There is no directory {shown_id(directory_id, 'dir')}. `scimgate directory list` shows them.")
    return found


@click.group()
def directory() -> None:
    """Directories: one per customer, each with its own SCIM URL and credentials."""


@directory.command()
@click.argument("name", callback=label)
@click.option(
    "--external-id", callback=label, help="Your application's key for this customer (tenant or organisation id)."
)
@click.option("--idp", type=click.Choice(IDPS), default="generic", show_default=True, help="The customer's IdP.")
@click.option("--strict", is_flag=True, help="Strict RFC 7644: refuse the IdP dialects scimgate tolerates.")
@click.option("--no-token", is_flag=True, help="Do not create a bearer token (e.g. for OAuth clients only).")
@json_option
@database_options
def create(
    name: str, external_id: str | None, idp: str, strict: bool, no_token: bool, as_json: bool, **flags: Any
) -> None:
    """Create a directory and print what to paste into Entra and Okta: the SCIM URL and a token."""
    settings = load_settings(flags)
    with current_database(settings) as db, db.write() as conn:
        made = create_directory(conn, name, external_id=external_id, idp=idp, strict=strict)
        issued = None if no_token else issue_token(conn, made.id, "created with the directory")
    public_url = settings.resolved_public_url()
    secret = issued.token if issued else None
    setup = setup_for(made, public_url, secret)
    data = {
        "directory": directory_dict(made, public_url),
        "token": {"id": issued.id, "token": issued.token} if issued else None,
        "setup": {
            "scim_url": setup.scim_url,
            "token_endpoint": setup.token_endpoint,
            "entra": setup.entra,
            "okta": setup.okta,
        },
    }
    emit(as_json, data, lambda: [f"Created directory {made.id} ({name}).", *setup_lines(made, setup, secret)])


@directory.command(name="list")
@click.option("--external-id", help="Only the directories with this external id.")
@json_option
@database_options
def list_(external_id: str | None, as_json: bool, **flags: Any) -> None:
    """Every directory, oldest first."""
    settings = load_settings(flags)
    with current_database(settings) as db, db.read() as conn:
        found = list_directories(conn, external_id=external_id)
    rows = [directory_dict(d, settings.resolved_public_url()) for d in found]

    def lines() -> list[str]:
        if not rows:
            return ["No directories yet: `scimgate directory create NAME` makes one."]
        return [
            f"{r['id']}  {r['status']:<8}  {r['idp']:<8}  {r['name']}"
            + (f"  (external id {r['external_id']})" if r["external_id"] else "")
            for r in rows
        ]

    emit(as_json, rows, lines)


@directory.command()
@click.argument("directory_id")
@json_option
@database_options
def show(directory_id: str, as_json: bool, **flags: Any) -> None:
    """A directory, its tokens (never their secrets) and the setup steps for its IdP."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        found = existing(db, directory_id)
        with db.read() as conn:
            tokens = list_tokens(conn, directory_id)
    data = directory_dict(found, settings.resolved_public_url())
    data["tokens"] = [{"id": t.id, "name": t.name, "prefix": t.display_prefix} for t in tokens]

    def lines() -> list[str]:
        out = [f"{key}: {value}" for key, value in data.items() if key != "tokens"]
        out.append(f"tokens: {len(tokens)} (`scimgate token list {directory_id}`)")
        return out + ["", *setup_lines(found, setup_for(found, settings.resolved_public_url()), None)]

    emit(as_json, data, lines)


def _set_disabled(directory_id: str, disabled: bool, as_json: bool, flags: dict[str, Any]) -> None:
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.write() as conn:
            changed = set_disabled(conn, directory_id, disabled)
    assert changed is not None
    data = directory_dict(changed, settings.resolved_public_url())
    what = "disabled: its credentials get 401; its data is kept" if disabled else "enabled"
    emit(as_json, data, lambda: [f"Directory {directory_id} {what}."])


@directory.command()
@click.argument("directory_id")
@json_option
@database_options
def disable(directory_id: str, as_json: bool, **flags: Any) -> None:
    """Refuse every request of the directory's IdP (401) and keep its data."""
    _set_disabled(directory_id, True, as_json, flags)


@directory.command()
@click.argument("directory_id")
@json_option
@database_options
def enable(directory_id: str, as_json: bool, **flags: Any) -> None:
    """Accept the directory's credentials again."""
    _set_disabled(directory_id, False, as_json, flags)


@directory.command()
@click.argument("directory_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@database_options
def delete(directory_id: str, yes: bool, as_json: bool, **flags: Any) -> None:
    """Delete a directory with all its users, groups, memberships and credentials. Asks for its id first."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        found = existing(db, directory_id)
        if not yes:
            if not sys.stdin.isatty():
                raise click.ClickException("Refusing to delete without confirmation: pass --yes.")
            typed = click.prompt(
                f"This deletes {found.name!r} and all its data. Type the directory id to confirm", default=""
            )
            if typed.strip() != directory_id:
                raise click.ClickException("Not confirmed; nothing was deleted.")
        with db.write() as conn:
            delete_directory(conn, directory_id)
    emit(as_json, {"deleted": directory_id}, lambda: [f"Deleted directory {directory_id} and all its data."])
