"""No input is a 500 (issue 20, finding 9): hostile numbers and path segments on every face — SCIM, the management
API, the admin pages, the event feed. A deterministic table rather than random draws, so that a run takes seconds and
a failure names its input; the values are those that broke parsers and databases before: integers past 2^31 and
2^63, negatives, floats, NaN, non-ASCII digits, NUL and line breaks (PostgreSQL refuses NUL), invalid UTF-8,
overlong segments. A SCIM URL always answers with a SCIM error (RFC 7644 §3.12), never HTML or a stack trace."""

import re
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.helpers.scim import ERROR, OPERATOR_KEY, Api, Scim, assert_scim_error

pytestmark = pytest.mark.both_backends

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
HUGE = "999999999999999999999999999999"
# As they appear in a URL, percent-encoded where a client would have to.
NUMBERS = [
    HUGE,
    f"-{HUGE}",
    "2147483648",
    "9223372036854775807",
    "9223372036854775808",
    "-1",
    "0",
    "1.5",
    "1e3",
    "NaN",
    "inf",
    "0x10",
    "1_000",
    "%C2%B2",  # "²": str.isdigit() says yes, int() says no
    "%D9%A3",  # ARABIC-INDIC DIGIT THREE: int() takes it
    "%00",
    "1%00",
    "%0A",
    "%0D%0AX-Forged:%201",
    "%E2%80%A8",
    "%ED%A0%80",  # an encoded UTF-16 surrogate: invalid UTF-8
    "%FF",
    "a" * 300,
    "",
]
SEGMENTS = [
    "%00",
    "dir_%00",
    "dir_%0A",
    "dir_%0D%0A",
    "dir_" + "a" * 300,
    "dir_%ED%A0%80",
    "dir_%FF",
    "%2e%2e",
    "x%00y",
]
SEARCH_NUMBERS: list[Any] = [10**30, -(10**30), 2**31, 2**63, 2**64, -1, 0, 1.5, 1e308, "1", "", None, True, [], {}]


def _check(urls: list[str], fetch: Callable[[str], Any], expect: Callable[[Any], bool]) -> None:
    """Every URL's answer is one ``expect`` accepts; a failure lists all the URLs that were not, not just the first."""
    found = []
    for url in urls:
        response = fetch(url)
        if not expect(response):
            found.append(f"{url[:120]}: {response.status_code} {response.text[:120]}")
    assert not found, "\n".join(found)


def _not_500(response: Any) -> bool:
    return bool(response.status_code < 500)


def _json_not_500(response: Any) -> bool:
    """The management API's answer: JSON, or a problem document (RFC 9457)."""
    return _not_500(response) and str(response.headers["content-type"]).startswith("application/")


def _scim_answer(response: Any) -> bool:
    """A SCIM URL's answer: a SCIM list or resource, or a SCIM error; JSON either way."""
    if not _not_500(response) or response.headers["content-type"] != "application/scim+json":
        return False
    return bool(response.status_code < 400 or response.json()["schemas"] == [ERROR])


def test_scim_paging_numbers_are_never_a_500(scim: Scim) -> None:
    scim.create_user("user1@contoso.example")
    urls = []
    for endpoint in ("/Users", "/Groups"):
        urls += [f"{scim.base}{endpoint}?{name}={value}" for name in ("startIndex", "count") for value in NUMBERS]
        urls += [f"{scim.base}{endpoint}?cursor={value}&count={value}" for value in NUMBERS]
    _check(urls, lambda url: scim.client.get(url, headers=scim.headers()), _scim_answer)


def test_search_request_numbers_are_never_a_500(scim: Scim) -> None:
    bodies = {
        f"{path} {name}={value!r}": (path, {"schemas": [SEARCH_REQUEST], name: value})
        for path in ("/.search", "/Users/.search", "/Groups/.search")
        for name in ("startIndex", "count")
        for value in SEARCH_NUMBERS
    }
    _check(list(bodies), lambda key: scim.post(*bodies[key]), _scim_answer)


def test_scim_path_segments_are_never_a_500(scim: Scim) -> None:
    tokens = [scim.headers(), {"Authorization": "Bearer not-a-token"}, {}]
    urls = [f"/scim/v2/{segment}/Users" for segment in SEGMENTS]
    for endpoint in ("/Users", "/Groups", "/Schemas", "/ResourceTypes"):
        urls += [f"{scim.base}{endpoint}/{segment}" for segment in SEGMENTS]
    for headers in tokens:
        _check(urls, partial(scim.client.get, headers=headers), _scim_answer)
        _check(urls, partial(scim.client.delete, headers=headers), _scim_answer)


def test_a_start_index_beyond_a_64_bit_offset_is_400(scim: Scim) -> None:
    """The first of finding 9's 500s: the offset overflowed the database's 64-bit integers. Up to 2^63 - 1 a
    startIndex beyond the last resource is an empty page (RFC 7644 §3.4.2.4); past it, 400."""
    for largest in (
        scim.get("/Users?startIndex=9223372036854775807"),
        scim.post("/.search", {"startIndex": 2**63 - 1}),
    ):
        assert largest.status_code == 200, largest.text
        assert largest.json()["Resources"] == []
    for body in ({"startIndex": 10**30}, {"startIndex": 2**63}):
        search = scim.post("/.search", {"schemas": [SEARCH_REQUEST], **body})
        assert_scim_error(search, 400, "invalidValue")
    assert_scim_error(scim.get(f"/Users?startIndex={HUGE}"), 400, "invalidValue")


def test_a_huge_count_is_capped_at_max_results(scim: Scim) -> None:
    """RFC 7644 §3.4.2.4 lets a server return fewer than asked: any count is served as maxResults at most."""
    scim.create_user("user1@contoso.example")
    for found in (scim.get(f"/Users?count={HUGE}"), scim.post("/Users/.search", {"count": 10**30})):
        assert found.status_code == 200, found.text
        assert found.json()["itemsPerPage"] == 1


def test_a_directory_segment_no_id_can_have_is_404_with_or_without_a_token(scim: Scim) -> None:
    """The second of finding 9's 500s (PostgreSQL): a NUL in the directory id reached the database with a token."""
    for segment in ("dir_%00", "dir_%0A", "dir_" + "a" * 300):
        for headers in (scim.headers(), {"Authorization": "Bearer not-a-token"}, {}):
            assert_scim_error(scim.client.get(f"/scim/v2/{segment}/Users", headers=headers), 404)


def test_management_api_parameters_are_never_a_500(api: Api, scim: Scim) -> None:
    group = scim.create_group("Contoso admins")
    directory = scim.directory_id
    lists = [
        "/directories",
        f"/directories/{directory}/users",
        f"/directories/{directory}/groups",
        f"/directories/{directory}/groups/{group['id']}/members",
        "/events",
        "/webhooks/whk_x/deliveries",
    ]
    urls = [f"{path}?{name}={value}" for path in lists for name in ("limit", "after") for value in NUMBERS]
    urls += [f"/events?wait={value}" for value in NUMBERS if value not in ("", "0")]
    urls += [f"/events?directory={value}&types={value}" for value in NUMBERS]
    urls += [f"/webhooks?directory={value}" for value in NUMBERS]
    urls += [f"/directories?external_id={value}" for value in NUMBERS]
    for segment in SEGMENTS:
        urls += [
            f"/directories/{segment}",
            f"/directories/{segment}/users",
            f"/directories/{directory}/users/{segment}",
            f"/directories/{directory}/groups/{segment}/members",
            f"/directories/{segment}/role-mappings",
            f"/webhooks/{segment}/deliveries",
        ]
    _check(urls, api.get, _json_not_500)


def test_admin_page_parameters_are_never_a_500(app_client: TestClient, scim: Scim) -> None:
    signed_in = app_client.post("/admin/login", data={"key": OPERATOR_KEY})
    assert signed_in.status_code == 200 and re.search('name="csrf"', signed_in.text)
    group = scim.create_group("Contoso admins")
    directory = f"/admin/directories/{scim.directory_id}"
    urls = [f"/admin/?{name}={value}" for name in ("q", "after") for value in NUMBERS]
    for value in NUMBERS:
        urls += [
            f"/admin/log?before={value}&directory={value}&status={value}&resource={value}",
            f"/admin/events?before={value}",
            f"/admin/events?directory={value}",
            f"/admin/webhooks/whk_x?status={value}",
            f"{directory}/users?q={value}&after={value}",
            f"{directory}/groups?q={value}&after={value}",
            f"{directory}/groups/{group['id']}?after={value}&size={value}",
        ]
    for segment in SEGMENTS:
        urls += [
            f"/admin/directories/{segment}",
            f"{directory}/users/{segment}",
            f"{directory}/groups/{segment}",
            f"/admin/log/{segment}",
            f"/admin/webhooks/{segment}",
        ]
    _check(urls, lambda url: app_client.get(url, follow_redirects=False), _not_500)
