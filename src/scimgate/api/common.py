"""What every part of the management API shares: its context, its error, paging and the directory lookup."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Query, Request
from pydantic import AfterValidator, BaseModel
from sqlalchemy.engine import Connection

from scimgate.directories.resolver import DnsResolver, Resolver
from scimgate.directories.service import Directory, get_directory
from scimgate.events.egress import PUBLIC_ONLY, EgressPolicy
from scimgate.store.database import Database
from scimgate.tokens import shown_id

T = TypeVar("T")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
"""A string field of the API: NUL characters refused (PostgreSQL cannot store them)."""
MAX_LIMIT = 1000


class FromStore(BaseModel):
    """A response model read from what the store returned: each field takes the attribute of the same name, and
    ``computed`` gives the ones the API adds (a status as of now, a URL, a renamed field)."""

    @classmethod
    def of(cls, found: object, **computed: Any) -> Self:
        fields = {name: getattr(found, name) for name in cls.model_fields if name not in computed}
        return cls.model_validate({**fields, **computed})


class ApiError(Exception):
    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}


@dataclass(frozen=True)
class Context:
    db: Database
    public_url: str
    forget_cached: Callable[[], None]
    """Called after a change to what credentials open (revoked, disabled, made strict) or to a directory's declared
    extensions: this worker forgets the tokens and catalogs it remembered at once; other workers within
    ``token_cache_seconds`` (two seconds for catalogs)."""
    passwords: str = "discard"
    """The ``passwords`` setting: whether there are password hashes to verify."""
    egress: EgressPolicy = PUBLIC_ONLY
    resolver: Resolver = field(default_factory=DnsResolver)
    """Where domain verification looks TXT records up (tests give a fake one)."""
    """The ``webhook_allow_private`` setting: which internal webhook receivers may be registered."""


def context(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


Ctx = Annotated[Context, Depends(context)]


class PageParams(BaseModel):
    after: str | None = None
    limit: int = 100


def page_params(
    after: Annotated[str | None, Query(max_length=40, description="The last id of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 100,
) -> PageParams:
    return PageParams(after=after, limit=limit)


Paging = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_after: str | None
    """Pass as ``after`` for the next page; null on the last page."""


def next_after(ids: list[str], limit: int) -> str | None:
    return ids[-1] if len(ids) == limit else None


def existing_directory(conn: Connection, directory_id: str) -> Directory:
    directory = get_directory(conn, directory_id)
    if directory is None:
        raise ApiError(404, "no such directory", f"There is no directory {shown_id(directory_id, 'dir')}.")
    return directory


def now() -> datetime:
    return datetime.now(UTC)
