"""A search as the protocol layer runs it: filter, page, sort and projection (RFC 7644 §3.4.2, §3.4.3, RFC 9865).

A GET on ``/Users`` carries the search in its query string, a ``POST /Users/.search`` in a SearchRequest body, a
root ``POST /.search`` in a body too; all three give the same ``SearchParams`` (``http.py``), and ``search_query``
turns them into one ``SearchQuery`` the same way, with the same defaults, limits and errors.
"""

from dataclasses import dataclass

from scimgate.config import Settings
from scimgate.scim.errors import InvalidCount, InvalidValue
from scimgate.scim.etags import Preconditions
from scimgate.scim.projection import Projection
from scimgate.scim.resource_types import ResourceType
from scimgate.scim.sorting import SortKey, parse_sort
from scimgate.store.sql import Clause

MAX_START_INDEX = 2**63 - 1
"""The largest startIndex taken: the largest offset both databases hold (a 64-bit integer). Up to it, a page beyond
the last resource is an empty page (RFC 7644 §3.4.2.4); past it the offset overflowed (a 500, issue 20, finding 9),
and it is now a 400 that says so rather than an empty page echoing a number many clients cannot parse. ``count``
needs no such limit: RFC 7644 lets a server return fewer than asked, so any count is capped at maxResults."""


@dataclass(frozen=True)
class Target:
    """What a request is about: a resource type in a directory, and for one resource its id and preconditions."""

    rtype: ResourceType
    directory_id: str
    resource_id: str = ""
    preconditions: Preconditions = Preconditions()


@dataclass(frozen=True)
class SearchParams:
    """A search as the client sent it, before any of it is interpreted."""

    filter: str | None = None
    start_index: int | None = None
    count: int | None = None
    attributes: str | None = None
    excluded_attributes: str | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    cursor: str | None = None


@dataclass(frozen=True)
class Page:
    start_index: int
    count: int
    sort: SortKey | None = None
    cursor: str | None = None
    """None for index paging; "" for the first page of cursor paging (RFC 9865), else the cursor to continue."""

    @property
    def by_key(self) -> bool:
        """A page the indexed-lookup path serves: index paging in the default order, not too long."""
        return self.cursor is None and self.sort is None and self.count <= 100


@dataclass(frozen=True)
class SearchQuery:
    filter: str | None
    page: Page
    projection: Projection
    strict: bool = False
    """The directory is in strict mode: filters in the forms only IdPs use (unquoted values…) are refused."""


@dataclass(frozen=True)
class Search:
    """One search of one directory, ready to run: its query, with the filter compiled to SQL."""

    rtype: ResourceType
    directory_id: str
    base_url: str
    query: SearchQuery
    where: Clause | None


def search_query(rtype: ResourceType, params: SearchParams, settings: Settings, strict: bool = False) -> SearchQuery:
    sort = parse_sort(rtype, params.sort_by, params.sort_order)
    page = page_of(params, sort, settings)
    projection = Projection.parse(rtype, params.attributes, params.excluded_attributes)
    return SearchQuery(params.filter, page, projection, strict)


def page_of(params: SearchParams, sort: SortKey | None, settings: Settings) -> Page:
    if params.cursor is not None:
        return _cursor_page(params, sort, settings)
    if params.start_index is not None and params.start_index > MAX_START_INDEX:
        raise InvalidValue(f"startIndex must be at most {MAX_START_INDEX}; this one is beyond any directory.")
    # RFC 7644 §3.4.2.4: startIndex below 1 means 1, a negative count means 0; we cap count at maxResults.
    count = settings.default_page_size if params.count is None else max(params.count, 0)
    return Page(max(params.start_index or 1, 1), min(count, settings.max_page_size), sort)


def _cursor_page(params: SearchParams, sort: SortKey | None, settings: Settings) -> Page:
    if params.start_index is not None:
        raise InvalidValue("Send startIndex (index paging) or cursor (cursor paging), not both.")
    if params.count is not None and params.count < 1:
        raise InvalidCount(f"With a cursor, count must be between 1 and {settings.max_page_size}.")
    size = min(settings.default_page_size if params.count is None else params.count, settings.max_page_size)
    return Page(1, size, sort, params.cursor)
