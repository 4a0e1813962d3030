"""``scimgate worker``, ``scimgate events tail``, ``scimgate webhook …`` and ``scimgate role …``."""

import asyncio
import json
import signal
import time
from datetime import timedelta
from typing import Any

import click
import sqlalchemy as sa

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
from scimgate.directories.setup import scim_url
from scimgate.events import feed, roles, webhooks
from scimgate.events.delivery import Dispatcher
from scimgate.events.egress import EgressPolicy
from scimgate.events.types import TYPE_NAMES
from scimgate.scim.changes import remap
from scimgate.store.tables import groups
from scimgate.text import comparison_key
from scimgate.tokens import shown_id

database_options = settings_options(DATABASE_SETTINGS)


@click.command()
@settings_options()
def worker(**flags: Any) -> None:
    """Deliver webhooks (and prune old events) until stopped; run as many as you like on one database.

    Pair with `serve --no-webhooks-in-serve` to keep delivery out of the web processes.
    """
    settings = load_settings(flags)
    with current_database(settings) as db:
        dispatcher = Dispatcher.from_settings(settings, db)

        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            click.echo("Delivering webhooks; Ctrl-C stops.", err=True)
            await dispatcher.run(stop)

        asyncio.run(run())


@click.group()
def events() -> None:
    """The event feed."""


_PAGE = 500


@events.command()
@click.option("--after", default="0", show_default=True, help="Start after this position (a next_after).")
@click.option("--directory", help="Only this directory's events.")
@click.option("--types", help=f"Comma-separated event types: {', '.join(TYPE_NAMES)}.")
@click.option("--follow", "-f", is_flag=True, help="Keep waiting for new events (Ctrl-C stops).")
@click.option("--limit", type=click.IntRange(min=1), help="Print at most this many events, then stop (default: all).")
@database_options
def tail(after: str, directory: str | None, types: str | None, follow: bool, limit: int | None, **flags: Any) -> None:
    """Print events as JSON lines, in feed order."""
    wanted = [name.strip() for name in (types or "").split(",") if name.strip()] or None
    unknown = sorted(set(wanted or ()) - set(TYPE_NAMES))
    if unknown:
        raise click.BadParameter(f"unknown event types {', '.join(unknown)}", param_hint="--types")
    if not after.isdigit():
        raise click.BadParameter("a position (digits)", param_hint="--after")
    settings = load_settings(flags)
    position = int(after)
    printed = 0
    with current_database(settings) as db:
        try:
            while limit is None or printed < limit:
                # --limit counts events printed (it used to be the page size, so `--limit 2` printed all 120).
                size = min(_PAGE, limit - printed) if limit is not None else _PAGE
                page = feed.read(db, position, limit=size, types=wanted, directory_id=directory)
                for event in page.events:
                    click.echo(json.dumps(event, separators=(",", ":")))
                printed += len(page.events)
                position = page.next_after
                if not follow and len(page.events) < size:
                    break
                if not page.events:
                    time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    click.echo(f"next_after={position}", err=True)


def endpoint_dict(endpoint: webhooks.Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "directory_id": endpoint.directory_id,
        "types": endpoint.types,
        "status": "disabled" if endpoint.disabled_at else "enabled",
        "disabled_reason": endpoint.disabled_reason,
        "last_success_at": endpoint.last_success_at.isoformat() if endpoint.last_success_at else None,
    }


@click.group()
def webhook() -> None:
    """Webhook endpoints (Standard Webhooks signatures) and their deliveries."""


@webhook.command(name="create")
@click.argument("url")
@click.option("--directory", help="Only this directory's events (default: every directory's).")
@click.option("--types", help="Comma-separated event types (default: all).")
@click.option("--description", help="A label.")
@json_option
@database_options
def webhook_create(
    url: str, directory: str | None, types: str | None, description: str | None, as_json: bool, **flags: Any
) -> None:
    """Add an endpoint and print its signing secret (whsec_…)."""
    settings = load_settings(flags)
    wanted = [name.strip() for name in types.split(",")] if types else None
    with current_database(settings) as db:
        if directory is not None:
            existing(db, directory)
        with db.write() as conn:
            try:
                allowed = EgressPolicy.parse(settings.webhook_allow_private)
                made = webhooks.create_endpoint(conn, url, directory, wanted, description, egress=allowed)
            except ValueError as error:
                raise click.BadParameter(str(error)) from None
    data = {**endpoint_dict(made), "secret": made.secret}
    emit(as_json, data, lambda: [f"Endpoint {made.id} for {url}", f"Signing secret: {made.secret}"])


def _endpoint(db: Any, endpoint_id: str) -> webhooks.Endpoint:
    with db.read() as conn:
        found = webhooks.get_endpoint(conn, endpoint_id)
    if found is None:
        raise NotFound(
            f"There is no webhook endpoint {shown_id(endpoint_id, 'whe')}. `scimgate webhook list` shows them."
        )
    return found


@webhook.command(name="list")
@json_option
@database_options
def webhook_list(as_json: bool, **flags: Any) -> None:
    """Every endpoint, with its status (and why it was disabled)."""
    settings = load_settings(flags)
    with current_database(settings) as db, db.read() as conn:
        rows = [endpoint_dict(e) for e in webhooks.list_endpoints(conn)]

    def lines() -> list[str]:
        out = [f"{r['id']}  {r['status']:<8}  {r['directory_id'] or 'all directories'}  {r['url']}" for r in rows]
        out += [f"    {r['disabled_reason']}" for r in rows if r["disabled_reason"]]
        return out or ["No webhook endpoints."]

    emit(as_json, rows, lines)


def _set_enabled(endpoint_id: str, enabled: bool, as_json: bool, flags: dict[str, Any]) -> None:
    settings = load_settings(flags)
    with current_database(settings) as db:
        _endpoint(db, endpoint_id)
        with db.write() as conn:
            changed = webhooks.set_enabled(conn, endpoint_id, enabled)
    assert changed is not None
    emit(as_json, endpoint_dict(changed), lambda: [f"Endpoint {endpoint_id} {'enabled' if enabled else 'disabled'}."])


@webhook.command(name="enable")
@click.argument("endpoint_id")
@json_option
@database_options
def webhook_enable(endpoint_id: str, as_json: bool, **flags: Any) -> None:
    """Enable an endpoint: what was queued meanwhile goes out."""
    _set_enabled(endpoint_id, True, as_json, flags)


@webhook.command(name="disable")
@click.argument("endpoint_id")
@json_option
@database_options
def webhook_disable(endpoint_id: str, as_json: bool, **flags: Any) -> None:
    """Stop delivering to an endpoint (events keep being queued for it)."""
    _set_enabled(endpoint_id, False, as_json, flags)


@webhook.command(name="delete")
@click.argument("endpoint_id")
@json_option
@database_options
def webhook_delete(endpoint_id: str, as_json: bool, **flags: Any) -> None:
    """Delete an endpoint and its delivery log."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        _endpoint(db, endpoint_id)
        with db.write() as conn:
            webhooks.delete_endpoint(conn, endpoint_id)
    emit(as_json, {"deleted": endpoint_id}, lambda: [f"Endpoint {endpoint_id} deleted."])


@webhook.command(name="rotate-secret")
@click.argument("endpoint_id")
@click.option("--overlap", type=Duration(), default="1d", show_default=True, help="How long the old secret also signs.")
@json_option
@database_options
def webhook_rotate_secret(endpoint_id: str, overlap: int, as_json: bool, **flags: Any) -> None:
    """A new signing secret; messages carry both signatures during the overlap."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        _endpoint(db, endpoint_id)
        with db.write() as conn:
            rotated = webhooks.rotate_secret(conn, endpoint_id, timedelta(seconds=overlap))
    assert rotated is not None
    emit(as_json, {"id": endpoint_id, "secret": rotated.secret}, lambda: [f"Signing secret: {rotated.secret}"])


@webhook.command(name="deliveries")
@click.argument("endpoint_id")
@click.option("--status", type=click.Choice(["pending", "succeeded", "failed"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
@database_options
def webhook_deliveries(endpoint_id: str, status: str | None, limit: int, as_json: bool, **flags: Any) -> None:
    """The endpoint's latest deliveries, each with its attempts."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        _endpoint(db, endpoint_id)
        with db.read() as conn:
            found = webhooks.list_deliveries(conn, endpoint_id, status, None, limit)
    rows = [
        {"id": d.id, "event_id": d.event_id, "type": d.event_type, "status": d.status, "attempts": d.log} for d in found
    ]

    def lines() -> list[str]:
        out = []
        for d in found:
            out.append(f"{d.id}  {d.status:<9}  {d.event_type:<20}  {d.event_id}  {len(d.log)} attempt(s)")
            out += [
                f"    {a['attempted_at']}  {a['status_code'] or a['error']}  {a['latency_ms']} ms" for a in d.log[-3:]
            ]
        return out or ["No deliveries."]

    emit(as_json, rows, lines)


@webhook.command(name="redeliver")
@click.argument("endpoint_id")
@click.argument("delivery_id", required=False)
@json_option
@database_options
def webhook_redeliver(endpoint_id: str, delivery_id: str | None, as_json: bool, **flags: Any) -> None:
    """Send one delivery again, or (without DELIVERY_ID) every failed one, with a fresh retry schedule."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        _endpoint(db, endpoint_id)
        with db.write() as conn:
            count = webhooks.redeliver(conn, endpoint_id, delivery_id)
    if delivery_id is not None and not count:
        raise NotFound(f"Endpoint {endpoint_id} has no delivery {delivery_id!r}.")
    emit(as_json, {"redelivered": count}, lambda: [f"{count} delivery(ies) queued again."])


@click.group()
def role() -> None:
    """Map IdP groups to your application's roles."""


def _remap(directory_id: str, group: str, role_name: str, add: bool, as_json: bool, flags: dict[str, Any]) -> None:
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.write() as conn:
            group_id = _group_id(conn, directory_id, group)
            base = scim_url(settings.resolved_public_url(), directory_id)
            remap(conn, directory_id, base, (group_id, role_name), add)
            mappings = roles.list_mappings(conn, directory_id)
    rows = [m.__dict__ for m in mappings]
    emit(as_json, rows, lambda: [f"{m.group_display_name} ({m.group_id}): {', '.join(m.roles)}" for m in mappings])


def _group_id(conn: Any, directory_id: str, group: str) -> str:
    """A group by id, or by its displayName (what the IdP admin sees)."""
    query = sa.select(groups.c.id).where(
        groups.c.directory_id == directory_id,
        sa.or_(groups.c.id == group, groups.c.display_name_key == comparison_key(group)),
    )
    found = conn.execute(query).scalars().all()
    if len(found) != 1:
        raise NotFound(f"Directory {directory_id} has no group with id or displayName {group!r}.")
    return str(found[0])


@role.command(name="map")
@click.argument("directory_id")
@click.argument("group")
@click.argument("role_name", metavar="ROLE")
@json_option
@database_options
def role_map(directory_id: str, group: str, role_name: str, as_json: bool, **flags: Any) -> None:
    """Give every member of GROUP (id or displayName) the application role ROLE."""
    _remap(directory_id, group, role_name, True, as_json, flags)


@role.command(name="unmap")
@click.argument("directory_id")
@click.argument("group")
@click.argument("role_name", metavar="ROLE")
@json_option
@database_options
def role_unmap(directory_id: str, group: str, role_name: str, as_json: bool, **flags: Any) -> None:
    """Stop giving GROUP's members ROLE."""
    _remap(directory_id, group, role_name, False, as_json, flags)


@role.command(name="list")
@click.argument("directory_id")
@json_option
@database_options
def role_list(directory_id: str, as_json: bool, **flags: Any) -> None:
    """The directory's group-to-role mappings."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        existing(db, directory_id)
        with db.read() as conn:
            mappings = roles.list_mappings(conn, directory_id)
    rows = [m.__dict__ for m in mappings]
    emit(
        as_json,
        rows,
        lambda: [f"{m.group_display_name} ({m.group_id}): {', '.join(m.roles)}" for m in mappings] or ["No mappings."],
    )
