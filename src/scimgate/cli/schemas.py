"""``scimgate schema add|list|remove``: declare the extension schemas IdPs send custom attributes in."""

import json
from pathlib import Path
from typing import Any

import click

from scimgate.api.schemas import declaration_out
from scimgate.cli.common import (
    DATABASE_SETTINGS,
    NotFound,
    current_database,
    emit,
    json_option,
    load_settings,
    settings_options,
)
from scimgate.cli.directories import existing
from scimgate.scim import extensions
from scimgate.scim.extensions import DeclarationError, Declared

database_options = settings_options(DATABASE_SETTINGS)


@click.group()
def schema() -> None:
    """Declare extension schemas: advertised in /Schemas, validated, filterable, mapped into events.

    Undeclared extensions are kept as sent anyway (docs/custom-attributes.md). A running server sees a change
    within two seconds.
    """


def _line(declared: Declared) -> str:
    scope = declared.directory_id or "every directory"
    attributes = ", ".join(attr.name for attr in declared.schema.attributes)
    indexed = f"; indexed: {', '.join(declared.indexed)}" if declared.indexed else ""
    return f"{declared.schema.id} ({declared.resource_type}, {scope}): {attributes}{indexed}"


@schema.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--directory",
    "directory_ids",
    multiple=True,
    help="A directory it applies to (repeat for several); without it, every directory of the instance.",
)
@json_option
@database_options
def add(file: Path, directory_ids: tuple[str, ...], as_json: bool, **flags: Any) -> None:
    """Declare the extension schema in FILE (RFC 7643 §7 JSON; docs/custom-attributes.md shows one)."""
    try:
        definition = json.loads(file.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{file} is not a JSON file: {error}") from None
    settings = load_settings(flags)
    with current_database(settings) as db:
        for directory_id in directory_ids:
            existing(db, directory_id)
        try:
            with db.write() as conn:
                made = extensions.declare(conn, definition, list(directory_ids) or [None])
        except DeclarationError as error:
            raise click.ClickException(f"{file}: {error}") from None
    emit(
        as_json,
        [declaration_out(d).model_dump(mode="json") for d in made],
        lambda: [f"Declared {_line(d)}" for d in made],
    )


@schema.command(name="list")
@click.option("--directory", "directory_id", help="Only the declarations that apply to this directory.")
@json_option
@database_options
def list_(directory_id: str | None, as_json: bool, **flags: Any) -> None:
    """The declared extension schemas."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        if directory_id is not None:
            existing(db, directory_id)
        with db.read() as conn:
            found = extensions.declarations(conn, directory_id)
    emit(
        as_json,
        [declaration_out(d).model_dump(mode="json") for d in found],
        lambda: [_line(d) for d in found] or ["No extension schema is declared."],
    )


@schema.command()
@click.argument("schema_id")
@click.option("--directory", "directory_id", help="Remove the declaration of this directory (default: the instance's).")
@database_options
def remove(schema_id: str, directory_id: str | None, **flags: Any) -> None:
    """Remove the declaration of SCHEMA_ID (a URN). Values stored under it are kept, undeclared."""
    settings = load_settings(flags)
    with current_database(settings) as db:
        with db.write() as conn:
            removed = extensions.remove(conn, schema_id, directory_id)
    if not removed:
        scope = f"directory {directory_id}" if directory_id else "the instance"
        raise NotFound(f"{schema_id} is not declared for {scope}. `scimgate schema list` shows the declarations.")
    click.echo(f"Removed the declaration of {schema_id}; its stored values are kept.")
