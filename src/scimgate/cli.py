"""The ``scimgate`` command. Every setting of ``scimgate.config.Settings`` is also a flag of ``serve``."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import uvicorn

from scimgate import __version__
from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.directories.credentials import issue_token
from scimgate.directories.service import create_directory, list_directories
from scimgate.store import migrate
from scimgate.store.database import Database

_CLICK_TYPES: dict[Any, Any] = {int: click.INT, Path: click.Path(path_type=Path)}


def settings_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """One ``--flag`` per setting, generated from Settings so that no setting can lack its flag."""
    for name, field in reversed(Settings.model_fields.items()):
        help_text = f"{field.description} [env: SCIMGATE_{name.upper()}; default: {field.default}]"
        flag = "--" + name.replace("_", "-")
        if field.annotation is bool:
            command = click.option(flag, name, is_flag=True, default=None, help=help_text)(command)
            continue
        param_type = _CLICK_TYPES.get(field.annotation, click.STRING)
        command = click.option(flag, name, type=param_type, default=None, help=help_text)(command)
    return command


def load_settings(flags: dict[str, Any]) -> Settings:
    """Flags win over environment variables, which win over defaults."""
    return Settings(**{name: value for name, value in flags.items() if value is not None})


@click.group()
@click.version_option(__version__, prog_name="scimgate")
def main() -> None:
    """scimgate: a SCIM 2.0 endpoint for identity providers (Microsoft Entra ID, Okta), beside your application."""


@main.command()
@settings_options
def serve(**flags: Any) -> None:
    """Run the SCIM service, creating or upgrading the database schema first.

    On the first start it creates a directory and prints its SCIM URL and a bearer token, once.
    """
    settings = load_settings(flags)
    db = _open_database(settings)
    _prepare_schema(db, settings)
    _announce(db, settings)
    # access_log=False: scimgate.access_log writes one line per request without query strings.
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "access_log": False,
        "log_config": _LOG_CONFIG,
    }
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
    return {f"SCIMGATE_{name.upper()}": str(value) for name, value in values.items()}


@main.command(name="migrate")
@settings_options
def migrate_command(**flags: Any) -> None:
    """Upgrade the database schema to what this version of scimgate needs (back the database up first)."""
    settings = load_settings(flags)
    db = _open_database(settings)
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


def _open_database(settings: Settings) -> Database:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(settings.resolved_database_url(), settings.database_limits())


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


# uvicorn's default logging, plus our access logger at INFO on stderr.
_LOG_CONFIG: dict[str, Any] = {
    **uvicorn.config.LOGGING_CONFIG,
    "loggers": {
        **uvicorn.config.LOGGING_CONFIG["loggers"],
        "scimgate": {"handlers": ["default"], "level": "INFO", "propagate": False},
    },
}


def _announce(db: Database, settings: Settings) -> None:
    public_url = settings.resolved_public_url()
    with db.write() as conn:
        existing = list_directories(conn)
        if existing:
            for directory in existing:
                click.echo(f"Directory {directory.name!r}: SCIM URL {public_url}/scim/v2/{directory.id}")
            return
        directory = create_directory(conn, "default")
        issued = issue_token(conn, directory.id)
    click.echo("Created the first directory. Give your identity provider these two values:")
    click.echo(f"  SCIM URL (Entra: Tenant URL):       {public_url}/scim/v2/{directory.id}")
    click.echo(f"  Bearer token (Entra: Secret Token): {issued.token}")
    click.echo("The token is shown only this once and is stored only as a hash: keep it now.")
