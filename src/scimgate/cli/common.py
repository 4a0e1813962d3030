"""What the ``scimgate`` commands share: settings from flags and variables, the database, output and exit codes.

Exit codes: 0 done; 1 refused or failed (the message says why); 2 a usage error (click's); 3 no such directory,
token or client.
"""

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from pydantic import ValidationError

from scimgate.config import Settings
from scimgate.store import migrate
from scimgate.store.database import Database
from scimgate.store.files import private_directory, sqlite_file
from scimgate.store.served import served_public_url

NOT_FOUND = 3
_CLICK_TYPES: dict[Any, Any] = {int: click.INT, Path: click.Path(path_type=Path)}
# What the management commands need to find the database and print URLs: the rest comes from SCIMGATE_ variables.
DATABASE_SETTINGS = ("data_dir", "database_url", "public_url")


class NotFound(click.ClickException):
    exit_code = NOT_FOUND


def settings_options(names: tuple[str, ...] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """One ``--flag`` per setting (or per named setting), generated from Settings so no setting lacks its flag."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for name, field in reversed(Settings.model_fields.items()):
            if names is not None and name not in names:
                continue
            help_text = f"{field.description} [env: SCIMGATE_{name.upper()}; default: {field.default}]"
            flag = "--" + name.replace("_", "-")
            if field.annotation is bool:
                pair = f"{flag}/--no-{flag[2:]}"
                command = click.option(pair, name, is_flag=True, default=None, help=help_text)(command)
                continue
            param_type = _CLICK_TYPES.get(field.annotation, click.STRING)
            command = click.option(flag, name, type=param_type, default=None, help=help_text)(command)
        return command

    return decorate


def load_settings(flags: dict[str, Any]) -> Settings:
    """Flags win over environment variables, which win over defaults."""
    try:
        return Settings(**{name: value for name, value in flags.items() if value is not None})
    except ValidationError as error:
        problems = "; ".join(_problem(e) for e in error.errors(include_input=False))
        raise click.ClickException(f"Invalid settings: {problems}") from None


def _problem(error: Any) -> str:
    """One refused setting, named as the operator sets it (flag and variable), in words rather than pydantic's
    ("Value should have at least 32 items after validation"); never the value, which may be a secret."""
    name = str(error["loc"][0]) if error["loc"] else "settings"
    where = f"{name} (--{name.replace('_', '-')}, SCIMGATE_{name.upper()})" if name in Settings.model_fields else name
    context = error.get("ctx") or {}
    kind = error["type"]
    if kind == "too_short":
        said = f"must be at least {context.get('min_length')} characters"
        if name in ("operator_key", "metrics_token"):
            said += " (e.g. the output of `openssl rand -base64 32`)"
    elif kind == "too_long":
        said = f"must be at most {context.get('max_length')} characters"
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = next(iter(context.values()), "")
        said = {"greater_than_equal": "at least", "less_than_equal": "at most"}.get(kind, kind.replace("_", " "))
        said = f"must be {said} {bound}"
    else:
        said = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {said}"


def masked_url(url: str) -> str:
    """A database URL fit to print: the password, in the URL or as a query parameter, replaced by ***."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return "<not a database URL>"
    query = {key: ("***" if "password" in key.lower() else value) for key, value in parsed.query.items()}
    return parsed.set(query=query).render_as_string(hide_password=True)


def open_database(settings: Settings) -> Database:
    if settings.database_url is None:
        private_directory(settings.data_dir)
    try:
        return Database.from_settings(settings)
    except (sa.exc.ArgumentError, ImportError) as error:
        raise click.ClickException(
            f"Cannot use the database URL {masked_url(settings.resolved_database_url())}: {error}"
        ) from None


@contextmanager
def current_database(settings: Settings) -> Iterator[Database]:
    """The database, for a management command: its schema must be this version's (else say how to fix it)."""
    db = open_database(settings)
    try:
        try:
            schema = migrate.state(db)
        except sa.exc.OperationalError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
            raise click.ClickException(
                f"Cannot reach the database at {masked_url(settings.resolved_database_url())}: {reason}"
            ) from None
        if not schema.known:
            raise click.ClickException(
                f"The database schema is at revision {schema.current}, which this scimgate does not know: a newer "
                "scimgate upgraded it. Use that version, or restore a backup taken before the upgrade."
            )
        if schema.current is None:
            migrate.upgrade(db)
        elif not schema.up_to_date:
            raise click.ClickException(
                f"The database schema is at revision {schema.current}; this scimgate needs {schema.head}. "
                "Run `scimgate migrate` first."
            )
        resolve_public_url(settings, db)
        yield db
    finally:
        db.dispose()


def resolve_public_url(settings: Settings, db: Database) -> None:
    """Every command prints the URLs the server answers at: ``public_url`` from a flag or SCIMGATE_PUBLIC_URL, else
    the one the last ``serve`` stored, else the default (host and port). One rule for all commands, here."""
    if settings.public_url is None:
        with db.read() as conn:
            settings.public_url = served_public_url(conn)


def public_url_and_source(settings: Settings) -> tuple[str, str]:
    """The URL ``resolve_public_url`` gives the management commands, and where it comes from, for ``config show``:
    the stored one is read without creating a database or upgrading its schema, and a database that cannot be read
    is said, not fatal (``config show`` is what one runs to find out why)."""
    if settings.public_url is not None:
        return settings.resolved_public_url(), "the public_url setting (flag or SCIMGATE_PUBLIC_URL)"
    stored, unread = _stored_public_url(settings)
    if stored is not None:
        return stored, "stored by the last `scimgate serve`"
    default = "host and port: no `scimgate serve` has stored a URL"
    return settings.resolved_public_url(), f"{default} ({unread})" if unread else default


def _stored_public_url(settings: Settings) -> tuple[str | None, str | None]:
    """The URL the last ``serve`` stored, or None and why it could not be read (None when there is none yet)."""
    try:
        url = sa.make_url(settings.resolved_database_url())
    except sa.exc.ArgumentError:
        return None, "the database URL is not one"
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return None, None  # no serve has run on this data directory: nothing to read, and nothing to create
    try:
        db = Database.from_settings(settings)
    except (sa.exc.ArgumentError, ImportError) as error:
        return None, f"cannot use the database: {type(error).__name__}"
    try:
        with db.read() as conn:
            return served_public_url(conn), None
    except sa.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or type(error).__name__).strip().splitlines()[0]
        if url.password:  # a driver's message names the user and host; never let it carry the password
            reason = reason.replace(str(url.password), "***")
        return None, f"the database could not be read: {reason}"
    finally:
        db.dispose()


def emit(as_json: bool, data: Any, lines: Callable[[], list[str]]) -> None:
    """``--json``: one JSON document on stdout; otherwise lines for a person."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    for line in lines():
        click.echo(line)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")

_DURATION = re.compile(r"(?i)^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``3600``, ``90m``, ``12h`` or ``1d`` as seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration such as 3600, 90m, 12h or 1d")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


class Duration(click.ParamType[int, Any]):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        return value if isinstance(value, int) else parse_duration(str(value))


def label(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A name or key an operator gives: at most 200 characters (the database's limit, on every backend)."""
    if value is not None and not 0 < len(value) <= 200:
        raise click.BadParameter("must be 1 to 200 characters", param=param)
    return value
