"""``/api/v1/directories/{id}/setup-links``: links that let a customer's IT admin set up one directory alone.

The link's URL appears in exactly one response, the one that created it; lists show ids, prefixes and last use.
"""

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field

from scimgate.api.common import ApiError, Ctx, FromStore, existing_directory, now
from scimgate.directories.links import DEFAULT_LIFETIME, MAX_LIFETIME, LinkInfo, create_link, list_links, revoke_link
from scimgate.tokens import shown_id

router = APIRouter(prefix="/directories/{directory_id}/setup-links", tags=["setup links"])


class LinkIn(BaseModel):
    expires_in_seconds: int = Field(
        int(DEFAULT_LIFETIME.total_seconds()),
        ge=60,
        le=int(MAX_LIFETIME.total_seconds()),
        description="How long the link opens the setup page (at most 30 days).",
    )


class NewLink(BaseModel):
    id: str
    url: str = Field(description="The setup page's URL. It is shown only in this response; only its hash is kept.")
    expires_at: datetime


class LinkOut(FromStore):
    id: str
    prefix: str = Field(description="The first characters of the link's secret, to tell links apart.")
    status: str = Field(description="active, expired or revoked.")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="When the page was last opened, kept to the minute.")


def link_out(info: LinkInfo) -> LinkOut:
    return LinkOut.of(info, prefix=info.display_prefix, status=info.status(now()))


@router.post("", status_code=201)
def create(directory_id: str, ctx: Ctx, body: LinkIn | None = None) -> NewLink:
    lifetime = timedelta(seconds=(body or LinkIn()).expires_in_seconds)
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        issued = create_link(conn, directory_id, lifetime)
    return NewLink(id=issued.id, url=issued.url(ctx.public_url), expires_at=issued.expires_at)


@router.get("")
def links(directory_id: str, ctx: Ctx) -> list[LinkOut]:
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        return [link_out(info) for info in list_links(conn, directory_id)]


@router.delete("/{link_id}")
def revoke(directory_id: str, link_id: str, ctx: Ctx) -> LinkOut:
    """Revoke now: the next request with the link gets the page that says it no longer works."""
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        info = revoke_link(conn, directory_id, link_id)
    if info is None:
        raise ApiError(404, "no such setup link", f"This directory has no setup link {shown_id(link_id, 'lnk')}.")
    return link_out(info)
