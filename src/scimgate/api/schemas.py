"""``/api/v1/schemas``: declare, list and remove extension schemas (docs/custom-attributes.md)."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from scimgate.api.common import ApiError, Ctx, FromStore, existing_directory
from scimgate.scim import extensions
from scimgate.scim.extensions import DeclarationError, Declared

router = APIRouter(prefix="/schemas", tags=["schema extensions"])


class DeclarationIn(BaseModel):
    definition: dict[str, Any] = Field(
        description='An RFC 7643 §7 schema (id, name, description, attributes), with an optional "scimgate" '
        "object: resourceType (User or Group), indexed (attribute names), names (attribute → application name)."
    )
    directory_ids: list[str] | None = Field(
        None, description="The directories it applies to; omitted or null: every directory of the instance."
    )


class DeclarationOut(FromStore):
    id: str
    schema_id: str
    resource_type: str
    directory_id: str | None = Field(description="null: every directory of the instance.")
    indexed: list[str]
    names: dict[str, str]
    created_at: datetime
    definition: dict[str, Any]


def declaration_out(declared: Declared) -> DeclarationOut:
    return DeclarationOut.of(
        declared, schema_id=declared.schema.id, indexed=list(declared.indexed), names=dict(declared.names)
    )


@router.get("")
def list_declarations(
    ctx: Ctx, directory_id: Annotated[str | None, Query(max_length=40)] = None
) -> list[DeclarationOut]:
    """Every declaration, or those that apply to one directory (its own and the instance's)."""
    with ctx.db.read() as conn:
        if directory_id is not None:
            existing_directory(conn, directory_id)
        return [declaration_out(declared) for declared in extensions.declarations(conn, directory_id)]


@router.post("", status_code=201)
def declare(body: DeclarationIn, ctx: Ctx) -> list[DeclarationOut]:
    """Declare an extension (again: a new declaration of the same URN and scope replaces the old one). Values
    already stored under it stay as they are; new writes are validated against it."""
    with ctx.db.write() as conn:
        for directory_id in body.directory_ids or []:
            existing_directory(conn, directory_id)
        try:
            made = extensions.declare(conn, body.definition, body.directory_ids or [None])
        except DeclarationError as error:
            raise ApiError(400, "invalid schema", str(error)) from None
    ctx.forget_cached()
    return [declaration_out(declared) for declared in made]


@router.delete("/{schema_id}", status_code=204)
def remove(schema_id: str, ctx: Ctx, directory_id: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """Remove a declaration (of the instance, or of ``directory_id``). Stored values are kept, now undeclared."""
    with ctx.db.write() as conn:
        if extensions.remove(conn, schema_id, directory_id) == 0:
            scope = f"directory {directory_id!r}" if directory_id else "the instance"
            raise ApiError(404, "no such declaration", f"{schema_id[:300]!r} is not declared for {scope}.")
    ctx.forget_cached()
    return Response(status_code=204)
