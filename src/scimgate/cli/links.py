"""``scimgate directory link|links|unlink``: setup links for a customer's IT admin (scimgate/directories/links.py)."""

from datetime import timedelta
from typing import Any

import click

from scimgate.api.links import link_out
from scimgate.cli.common import (
    DATABASE_SETTINGS,
    Duration,
    NotFound,
    current_database,
    emit,
    json_option,
    load_settings,
    settings_options,
)
from scimgate.cli.directories import existing
from scimgate.directories.links import MAX_LIFETIME, create_link, list_links, revoke_link
from scimgate.tokens import shown_id

database_options = settings_options(DATABASE_SETTINGS)


@click.command()
@click.argument("directory_id")
@click.option(
    "--expires",
    type=Duration(),
    default="7d",
    show_default=True,
    help="How long the link works (e.g. 12h, 7d; at most 30d).",
)
@json_option
@database_options
def link(directory_id: str, expires: int, as_json: bool, **flags: Any) -> None:
    """Create a setup link: the customer's IT admin opens it to set up this directory's IdP alone."""
    lifetime = timedelta(seconds=expires)
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise click.BadParameter("a setup link lasts from a second to 30 days", param_hint="--expires")
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.write() as conn:
            issued = create_link(conn, directory_id, lifetime)
    url = issued.url(settings.resolved_public_url())
    data = {"id": issued.id, "url": url, "expires_at": issued.expires_at.isoformat()}
    emit(
        as_json,
        data,
        lambda: [
            f"Setup link {issued.id} for {directory_id}, until {issued.expires_at:%Y-%m-%d %H:%M} UTC:",
            url,
            "Shown only this once (only its hash is kept). Anyone with it can set up this directory's IdP: send it "
            f"to the customer's IT admin only. `scimgate directory unlink {directory_id} {issued.id}` stops it.",
        ],
    )


@click.command()
@click.argument("directory_id")
@json_option
@database_options
def links(directory_id: str, as_json: bool, **flags: Any) -> None:
    """The directory's setup links, with their status and when each was last opened (never the URL)."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.read() as conn:
            found = [link_out(info).model_dump(mode="json") for info in list_links(conn, directory_id)]

    def lines() -> list[str]:
        if not found:
            return [f"No setup links: `scimgate directory link {directory_id}` makes one."]
        return [
            f"{r['id']}  {r['prefix']}…  {r['status']:<8}  expires {r['expires_at']}  "
            f"last opened {r['last_used_at'] or 'never'}"
            for r in found
        ]

    emit(as_json, found, lines)


@click.command()
@click.argument("directory_id")
@click.argument("link_id")
@json_option
@database_options
def unlink(directory_id: str, link_id: str, as_json: bool, **flags: Any) -> None:
    """Revoke a setup link now."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.write() as conn:
            info = revoke_link(conn, directory_id, link_id)
    if info is None:
        raise NotFound(
            f"Directory {directory_id} has no setup link {shown_id(link_id, 'lnk')}: `scimgate directory links` "
            "lists them."
        )
    emit(as_json, link_out(info).model_dump(mode="json"), lambda: [f"Setup link {link_id} revoked."])
