"""``/api/v1/directories``: create, list, show, change, disable, enable and delete directories."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from scimgate.api.common import ApiError, Ctx, FromStore, Page, Paging, Text, existing_directory, next_after
from scimgate.directories.credentials import issue_token
from scimgate.directories.service import (
    Directory,
    Idp,
    create_directory,
    delete_directory,
    list_directories,
    set_disabled,
    update_directory,
)
from scimgate.directories.setup import Setup, scim_url, setup_for

router = APIRouter(prefix="/directories", tags=["directories"])


class DirectoryOut(FromStore):
    id: str
    name: str
    external_id: str | None
    idp: str
    strict: bool
    status: Literal["active", "disabled"]
    scim_url: str
    created_at: datetime
    disabled_at: datetime | None
    last_request_at: datetime | None


def directory_out(directory: Directory, public_url: str) -> DirectoryOut:
    return DirectoryOut.of(directory, scim_url=scim_url(public_url, directory.id))


class SetupOut(BaseModel):
    scim_url: str
    token_endpoint: str
    entra: list[str]
    okta: list[str]
    onelogin: list[str]
    jumpcloud: list[str]
    authentik: list[str]


def setup_out(setup: Setup) -> SetupOut:
    return SetupOut.model_validate(setup, from_attributes=True)


class DirectoryIn(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    external_id: Text | None = Field(None, max_length=200, description="Your application's key for this customer.")
    idp: Idp = "generic"
    strict: bool = False
    create_token: bool = Field(True, description="Also create a bearer token, returned once in the response.")


class NewToken(BaseModel):
    id: str
    token: str = Field(description="The secret. It is shown only in this response and stored only as a hash.")
    expires_at: datetime | None = None


class CreatedDirectory(BaseModel):
    directory: DirectoryOut
    token: NewToken | None
    setup: SetupOut


def _not_null(schema: dict[str, Any]) -> None:
    """A field to leave out, not to set to null (``change`` refuses null): the document shows its type alone."""
    branches = schema.pop("anyOf")
    assert isinstance(branches, list)
    (kept,) = [branch for branch in branches if branch != {"type": "null"}]
    assert isinstance(kept, dict)
    schema.update(kept)
    del schema["default"]


class DirectoryChange(BaseModel):
    name: Text | None = Field(None, min_length=1, max_length=200, json_schema_extra=_not_null)
    external_id: Text | None = Field(None, max_length=200)
    idp: Idp | None = Field(None, json_schema_extra=_not_null)
    strict: bool | None = Field(None, json_schema_extra=_not_null)
    status: Literal["active", "disabled"] | None = Field(
        None,
        description="disabled: every credential of the directory gets 401; its data is kept.",
        json_schema_extra=_not_null,
    )


@router.post("", status_code=201)
def create(body: DirectoryIn, ctx: Ctx) -> CreatedDirectory:
    with ctx.db.write() as conn:
        directory = create_directory(conn, body.name, external_id=body.external_id, idp=body.idp, strict=body.strict)
        issued = issue_token(conn, directory.id, "created with the directory") if body.create_token else None
    token = NewToken(id=issued.id, token=issued.token) if issued else None
    return CreatedDirectory(
        directory=directory_out(directory, ctx.public_url),
        token=token,
        setup=setup_out(setup_for(directory, ctx.public_url, issued.token if issued else None)),
    )


@router.get("")
def list_(
    ctx: Ctx,
    paging: Paging,
    external_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[DirectoryOut]:
    with ctx.db.read() as conn:
        found = list_directories(conn, external_id=external_id, after=paging.after, limit=paging.limit)
    data = [directory_out(d, ctx.public_url) for d in found]
    return Page(data=data, next_after=next_after([d.id for d in found], paging.limit))


@router.get("/{directory_id}")
def show(directory_id: str, ctx: Ctx) -> DirectoryOut:
    with ctx.db.read() as conn:
        return directory_out(existing_directory(conn, directory_id), ctx.public_url)


@router.get("/{directory_id}/setup")
def setup(directory_id: str, ctx: Ctx) -> SetupOut:
    """What to paste into Entra and Okta (create a token to paste: tokens are shown only when created)."""
    with ctx.db.read() as conn:
        return setup_out(setup_for(existing_directory(conn, directory_id), ctx.public_url))


@router.patch("/{directory_id}")
def change(directory_id: str, body: DirectoryChange, ctx: Ctx) -> DirectoryOut:
    changes = body.model_dump(exclude_unset=True)
    for name in ("name", "idp", "strict", "status"):
        if name in changes and changes[name] is None:
            raise ApiError(422, "invalid request", f"{name} cannot be null.")
    status = changes.pop("status", None)
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        directory = update_directory(conn, directory_id, **changes)
        if status is not None:
            directory = set_disabled(conn, directory_id, status == "disabled")
    ctx.forget_cached()
    assert directory is not None
    return directory_out(directory, ctx.public_url)


@router.delete("/{directory_id}", status_code=204)
def delete(
    directory_id: str,
    ctx: Ctx,
    confirm: Annotated[
        str | None, Query(description="The directory's id again: deleting removes all its users, groups and tokens.")
    ] = None,
) -> Response:
    if confirm != directory_id:
        raise ApiError(
            400,
            "confirmation required",
            "Deleting a directory deletes all its users, groups, memberships and credentials. "
            f"Repeat its id as ?confirm={directory_id[:48]} to delete it, or disable it to keep the data.",
        )
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        delete_directory(conn, directory_id)
    ctx.forget_cached()
    return Response(status_code=204)
