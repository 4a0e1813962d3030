"""``/api/v1/directories/{id}/users``, ``/groups`` and memberships: what the IdP provisioned, read-only.

Each user and group comes as the normalised view (scimgate/scim/normalised.py) with the raw SCIM resource under
``raw``, exactly as the SCIM endpoint returns it. A group's members are paged on their own endpoint: a group can
have 100,000 of them.
"""

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from scimgate.api.common import ApiError, Ctx, Page, Paging, existing_directory, next_after
from scimgate.directories.setup import scim_url
from scimgate.scim.normalised import normalised_group, user_views
from scimgate.scim.passwords import MAX_LENGTH, verify_password
from scimgate.scim.render import render
from scimgate.scim.resource_types import GROUPS
from scimgate.store import browse
from scimgate.store import resources as store
from scimgate.store.resources import StoredResource
from scimgate.store.tables import groups, users

router = APIRouter(prefix="/directories/{directory_id}", tags=["users and groups"])


class GroupRef(BaseModel):
    id: str
    display_name: str | None


class UserOut(BaseModel):
    id: str
    user_name: str | None
    email: str | None
    given_name: str | None
    family_name: str | None
    display_name: str | None
    active: bool
    external_id: str | None
    groups: list[GroupRef]
    roles: list[str]
    custom: dict[str, Any] = Field(
        description="Values of the directory's declared extension attributes, under the names their declaration "
        "gives (docs/custom-attributes.md). Undeclared extensions are in raw."
    )
    domain_verified: bool | None = Field(
        None,
        description="False when the userName or an email is outside the directory's verified email domains; null "
        "while the directory's domain policy is off (docs/directories.md).",
    )
    raw: dict[str, Any]


class GroupOut(BaseModel):
    id: str
    display_name: str | None
    external_id: str | None
    member_count: int
    raw: dict[str, Any]


class MemberOut(BaseModel):
    id: str
    type: Literal["User", "Group"]
    display_name: str | None


def _users(conn: Connection, directory_id: str, rows: list[StoredResource], base: str) -> list[UserOut]:
    return [UserOut(**normalised, raw=raw) for normalised, raw in user_views(conn, directory_id, base, rows).values()]


def _groups(conn: Connection, directory_id: str, rows: list[StoredResource], base: str) -> list[GroupOut]:
    counts = browse.member_counts(conn, directory_id, [row.id for row in rows])
    return [
        GroupOut(**normalised_group(row.id, row.attributes, counts[row.id]), raw=render(GROUPS, row, base))
        for row in rows
    ]


@router.get("/users")
def list_users(directory_id: str, ctx: Ctx, paging: Paging) -> Page[UserOut]:
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        rows = browse.page(conn, users, directory_id, paging.after, paging.limit)
        data = _users(conn, directory_id, rows, scim_url(ctx.public_url, directory_id))
    return Page(data=data, next_after=next_after([row.id for row in rows], paging.limit))


@router.get("/users/{user_id}")
def show_user(directory_id: str, user_id: str, ctx: Ctx) -> UserOut:
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        row = store.get(conn, users, directory_id, user_id)
        if row is None:
            raise ApiError(404, "no such user", f"This directory has no user {user_id[:48]!r}.")
        return _users(conn, directory_id, [row], scim_url(ctx.public_url, directory_id))[0]


class PasswordCheck(BaseModel):
    password: str = Field(max_length=MAX_LENGTH)


class PasswordVerdict(BaseModel):
    valid: bool


@router.post("/users/{user_id}/password/verify")
def verify_user_password(directory_id: str, user_id: str, check: PasswordCheck, ctx: Ctx) -> PasswordVerdict:
    """Whether ``password`` is the one the IdP last sent for this user (with ``passwords=hash``), for an
    application's own password sign-in. ``valid`` is false for a wrong password, a user the IdP sent none for, and
    an inactive user. Each check costs an Argon2id hash (tens of milliseconds): rate-limit sign-ins in front."""
    if ctx.passwords != "hash":
        raise ApiError(
            409,
            "passwords are discarded",
            "This service discards the passwords IdPs send (passwords=discard); set passwords=hash to keep them "
            "as hashes, then have the IdP send them again.",
        )
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        if store.get(conn, users, directory_id, user_id) is None:
            raise ApiError(404, "no such user", f"This directory has no user {user_id[:48]!r}.")
    return PasswordVerdict(valid=verify_password(ctx.db, directory_id, user_id, check.password))


@router.get("/groups")
def list_groups(directory_id: str, ctx: Ctx, paging: Paging) -> Page[GroupOut]:
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        rows = browse.page(conn, groups, directory_id, paging.after, paging.limit)
        data = _groups(conn, directory_id, rows, scim_url(ctx.public_url, directory_id))
    return Page(data=data, next_after=next_after([row.id for row in rows], paging.limit))


@router.get("/groups/{group_id}")
def show_group(directory_id: str, group_id: str, ctx: Ctx) -> GroupOut:
    """The group without its members (``raw`` is the SCIM resource as ``excludedAttributes=members`` gives it)."""
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        row = _group(conn, directory_id, group_id)
        return _groups(conn, directory_id, [row], scim_url(ctx.public_url, directory_id))[0]


@router.get("/groups/{group_id}/members")
def list_members(directory_id: str, group_id: str, ctx: Ctx, paging: Paging) -> Page[MemberOut]:
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        _group(conn, directory_id, group_id)
        members = browse.member_page(conn, directory_id, group_id, paging.after, paging.limit)
    data = [MemberOut(id=m.id, type="User" if m.type == "User" else "Group", display_name=m.display) for m in members]
    return Page(data=data, next_after=next_after([m.id for m in members], paging.limit))


def _group(conn: Connection, directory_id: str, group_id: str) -> StoredResource:
    row = store.get(conn, groups, directory_id, group_id)
    if row is None:
        raise ApiError(404, "no such group", f"This directory has no group {group_id[:48]!r}.")
    return row
