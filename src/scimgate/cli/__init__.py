"""The ``scimgate`` command. Every setting of ``scimgate.config.Settings`` is also a flag of ``serve``."""

import os
from typing import Any

import click
import uvicorn
from pydantic import SecretStr

from scimgate import serving
from scimgate.app import create_app
from scimgate.check import IDPS
from scimgate.cli.common import (
    emit,
    json_option,
    load_settings,
    masked_url,
    open_database,
    public_url_and_source,
    settings_options,
)
from scimgate.cli.credentials import client, token
from scimgate.cli.directories import directory
from scimgate.cli.domains import domain, policy
from scimgate.cli.events import events, role, webhook, worker
from scimgate.cli.first_start import admin_hint, announce, warn_if_exposed
from scimgate.cli.links import link, links, unlink
from scimgate.cli.log import log
from scimgate.cli.schemas import schema
from scimgate.config import Settings
from scimgate.observability.server_log import log_config
from scimgate.store import migrate
from scimgate.store.database import Database
from scimgate.store.served import remember_public_url
from scimgate.version import __version__


@click.group()
@click.version_option(__version__, prog_name="scimgate")
def main() -> None:
    """scimgate: a SCIM 2.0 endpoint for identity providers (Microsoft Entra ID, Okta), beside your application."""


@main.command()
@settings_options()
def serve(**flags: Any) -> None:
    """Run the SCIM service, creating or upgrading the database schema first.

    On the first start it creates a directory and prints its SCIM URL and a bearer token, once (or writes the
    token to --first-token-file).
    """
    settings = load_settings(flags)
    db = open_database(settings)
    warn_if_exposed(db)
    _prepare_schema(db, settings)
    with db.write() as conn:
        remember_public_url(conn, settings.resolved_public_url())  # what the management commands will print
    announce(db, settings)
    click.echo(admin_hint(settings))
    # access_log=False: scimgate.observability.access_log writes one line per request without query strings.
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "access_log": False,
        "log_config": log_config(settings.log_format),
        "http": serving.PROTOCOL,
    }
    serving.configure(settings)
    if settings.workers == 1:
        try:
            uvicorn.run(create_app(settings, db), **options)
        finally:
            db.dispose()
        return
    db.dispose()
    # Each worker process builds its own app (and connection pool) from the same settings, passed as variables.
    os.environ.update(_environment(settings))
    uvicorn.run("scimgate.app:app_from_environment", factory=True, workers=settings.workers, **options)


def _environment(settings: Settings) -> dict[str, str]:
    values = settings.model_dump(exclude_none=True)
    for name in values:
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr):  # model_dump masks secrets as "**********"
            values[name] = secret.get_secret_value()
    # A list (webhook_allow_private) travels as the comma-separated string its variable takes.
    return {
        f"SCIMGATE_{name.upper()}": ",".join(value) if isinstance(value, list) else str(value)
        for name, value in values.items()
    }


@main.command(name="migrate")
@settings_options()
def migrate_command(**flags: Any) -> None:
    """Upgrade the database schema to what this version of scimgate needs (back the database up first)."""
    settings = load_settings(flags)
    db = open_database(settings)
    try:
        before = migrate.state(db)
        if not before.known:
            raise click.ClickException(_newer_schema(before))
        migrate.upgrade(db)
        click.echo(
            f"Schema upgraded from {before.current or 'empty'} to {before.head}."
            if not before.up_to_date
            else f"Schema already at {before.head}; nothing to do."
        )
    finally:
        db.dispose()


def _prepare_schema(db: Database, settings: Settings) -> None:
    """Initialise an empty database; refuse an older schema unless told to migrate, and a newer one always."""
    schema = migrate.state(db)
    if not schema.known:
        raise click.ClickException(_newer_schema(schema))
    if schema.current is None or (not schema.up_to_date and settings.auto_migrate):
        migrate.upgrade(db)
    elif not schema.up_to_date:
        raise click.ClickException(
            f"The database schema is at revision {schema.current}; this scimgate needs {schema.head}. "
            "Back the database up, then run `scimgate migrate` (or start with --auto-migrate)."
        )


def _newer_schema(schema: migrate.SchemaState) -> str:
    return (
        f"The database schema is at revision {schema.current}, which this scimgate does not know: a newer scimgate "
        "migrated it. Run that version, or restore a backup taken before the upgrade."
    )


main.add_command(directory)
for command in (link, links, unlink, policy):
    directory.add_command(command)
main.add_command(token)
main.add_command(client)
main.add_command(worker)
main.add_command(events)
main.add_command(webhook)
main.add_command(role)
main.add_command(schema)
main.add_command(log)
main.add_command(domain)


@main.group()
def config() -> None:
    """The settings scimgate runs with."""


@config.command(name="show")
@settings_options()
@json_option
def config_show(as_json: bool, **flags: Any) -> None:
    """Every setting with its value from flags, SCIMGATE_ variables or defaults; secrets masked. And the public URL
    the management commands print, resolved as they resolve it (the setting, else what the last serve stored, else
    host and port), with where it comes from."""
    settings = load_settings(flags)
    values = masked(settings)
    values["resolved_public_url"], values["public_url_source"] = public_url_and_source(settings)
    emit(as_json, values, lambda: [f"{name} = {value}" for name, value in values.items()])


def masked(settings: Settings) -> dict[str, Any]:
    """Settings as printable values: the operator key and a database password never appear."""
    values: dict[str, Any] = settings.model_dump(mode="json")
    values["operator_key"] = "********" if settings.operator_key is not None else None
    values["metrics_token"] = "********" if settings.metrics_token is not None else None
    if settings.database_url:
        values["database_url"] = masked_url(settings.database_url)
    values["resolved_database_url"] = masked_url(settings.resolved_database_url())
    return values


@main.command()
@click.argument("url")
@click.option("--token", envvar="SCIMGATE_CHECK_TOKEN", required=True, help="The bearer token the IdP would send.")
@click.option("--idp", type=click.Choice(list(IDPS)), default="entra", show_default=True)
@click.option("--keep", is_flag=True, help="Leave the users and groups the check creates (default: delete them).")
@json_option
def check(url: str, token: str, idp: str, keep: bool, as_json: bool) -> None:
    """Replay an IdP's provisioning cycle against the SCIM endpoint at URL and explain what would fail.

    URL is the SCIM base URL (Entra's Tenant URL), e.g. https://app.example.com/scim/v2. Only that URL is
    contacted. Exits 1 when a step fails.
    """
    from scimgate.check import run_check

    try:
        report = run_check(url, token, idp, keep)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="URL") from None
    emit(as_json, report.as_dict(), report.lines)
    if not report.passed:
        raise SystemExit(1)
