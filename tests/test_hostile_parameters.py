"""No input is a 500 (issue 20, finding 9): hostile numbers and path segments on every face — SCIM, the management
API, the admin pages, the event feed. A deterministic table rather than random draws, so that a run takes seconds and
a failure names its input; the values are those that broke parsers and databases before: integers past 2^31 and
2^63, negatives, floats, NaN, non-ASCII digits, NUL and line breaks (PostgreSQL refuses NUL), invalid UTF-8,
overlong segments. A SCIM URL always answers with a SCIM error (RFC 7644 §3.12), never HTML or a stack trace.

Issue 20 also asks for a fuzz test over paths and numeric parameters: the Hypothesis tests at the end draw path
segments and paging numbers around the table's values (bounded draws, as tests/scim/test_fuzz.py), and check that
the answer is a SCIM success or error, never a 5xx, and never another directory's data."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
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


# Fuzzing (issue 20: "a fuzz test over paths and numeric parameters"). A few seconds a backend: bounded draws, no
# deadline (the first request of a run pays for the app's warm-up), function-scoped fixtures shared by the examples.
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Stand-ins for the other directory's ids and name, replaced when the request is built (they exist only then).
OTHER = ("{other_directory}", "{other_user}", "{other_group}")
SECRET = "fabrikam-only"  # in the other directory's userName and group name: never in an answer to this directory


def _encoded(text: str) -> str:
    """A path segment or query value as a hostile client sends it: percent-encoded UTF-8, a lone surrogate as the
    invalid UTF-8 it becomes, dots encoded so that the client does not resolve ``..`` before sending."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="").replace(".", "%2E")


SEGMENT = st.one_of(
    st.sampled_from(OTHER),
    st.sampled_from([*SEGMENTS, "usr_", "grp_", "dir_", "Users", "me", "%2F", "%252F"]),
    st.text(max_size=40).map(_encoded),
    st.tuples(st.sampled_from([*OTHER, "usr_", "grp_", "dir_"]), st.text(max_size=6)).map(
        lambda pair: pair[0] + _encoded(pair[1])
    ),
)
NUMBER = st.one_of(
    st.sampled_from(NUMBERS),
    st.integers().map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats().map(str),
    st.text(alphabet="0123456789-+.eE_x ", max_size=12).map(_encoded),
    st.text(max_size=8).map(_encoded),
)
SEARCH_NUMBER = st.one_of(
    st.sampled_from(SEARCH_NUMBERS),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.none(),
)


@dataclass
class Fabrikam:
    """Another customer's directory, and what stands in for its ids in the drawn URLs."""

    scim: Scim
    ids: dict[str, str]

    def fill(self, text: str) -> str:
        for stand_in, value in self.ids.items():
            text = text.replace(stand_in, value)
        return text

    def untouched(self) -> bool:
        return all(
            self.scim.get(path).status_code == 200
            for path in (f"/Users/{self.ids[OTHER[1]]}", f"/Groups/{self.ids[OTHER[2]]}")
        )


@pytest.fixture
def fabrikam(other_scim: Scim) -> Fabrikam:
    """The other directory with a user and a group, whose names carry SECRET."""
    user = other_scim.create_user(f"{SECRET}@fabrikam.example")
    group = other_scim.create_group(f"{SECRET} group", members=[user["id"]])
    return Fabrikam(other_scim, {OTHER[0]: other_scim.directory_id, OTHER[1]: user["id"], OTHER[2]: group["id"]})


def _own_ids(scim: Scim) -> set[str]:
    """This directory's user and group ids, after making one of each if it has none."""
    if not scim.get("/Users?count=0").json()["totalResults"]:
        scim.create_group("Contoso admins", members=[scim.create_user("own@contoso.example")["id"]])
    return {r["id"] for kind in ("/Users", "/Groups") for r in scim.get(f"{kind}?count=1000").json()["Resources"]}


def _assert_own_answer(response: Any, own_ids: set[str]) -> None:
    """A SCIM success or a SCIM error (RFC 7644 §3.12), never a 5xx; a success lists only this directory's
    resources, and no answer holds the other directory's data."""
    assert response.status_code < 500, response.text[:300]
    assert response.status_code == 204 or response.headers["content-type"] == "application/scim+json", response.text
    assert SECRET not in response.text, response.text[:300]
    if response.status_code == 204:
        return
    body = response.json()
    if response.status_code >= 400:
        assert body["schemas"] == [ERROR] and body["status"] == str(response.status_code), body
        return
    listed = body.get("Resources", [body]) if isinstance(body, dict) else []
    found = {resource["id"] for resource in listed if isinstance(resource, dict) and "meta" in resource}
    assert found <= own_ids, found - own_ids


@FUZZ
@given(
    where=st.sampled_from(
        [
            "/scim/v2/{segment}",
            "/scim/v2/{segment}/Users",
            "{base}/{segment}",
            "{base}/{segment}/{segment}",
            "{base}/Users/{segment}",
            "{base}/Groups/{segment}",
            "{base}/Schemas/{segment}",
            "{base}/ResourceTypes/{segment}",
        ]
    ),
    segment=SEGMENT,
    sent=st.tuples(st.sampled_from(["GET", "DELETE"]), st.sampled_from(["own", "other", "none", "wrong"])),
)
# The other directory's resources through this directory's URL and token, whatever the draws: the isolation cases.
@example(where="{base}/Users/{segment}", segment=OTHER[1], sent=("GET", "own"))
@example(where="{base}/Groups/{segment}", segment=OTHER[2], sent=("DELETE", "own"))
@example(where="/scim/v2/{segment}/Users", segment=OTHER[0], sent=("GET", "own"))
def test_fuzzed_path_segments_get_a_scim_answer_and_no_other_directorys_data(
    scim: Scim, fabrikam: Fabrikam, where: str, segment: str, sent: tuple[str, str]
) -> None:
    """Drawn path segments (the table's, random text, the other directory's ids and id-like prefixes), sent with
    this directory's token, the other's, a wrong one or none: a SCIM answer, never a 5xx, never the other
    directory's data; a DELETE through this directory's URL deletes nothing of the other's."""
    own = _own_ids(scim)
    method, token = sent
    headers = {
        "own": scim.headers(),
        "other": fabrikam.scim.headers(),
        "none": {},
        "wrong": {"Authorization": "Bearer scimgate_" + "x" * 43},
    }[token]
    url = fabrikam.fill(where.format(base=scim.base, segment=segment))
    _assert_own_answer(scim.client.request(method, url, headers=headers), own)
    assert fabrikam.untouched(), f"{method} {url} removed the other directory's user or group"


@FUZZ
@given(
    endpoint=st.sampled_from(["/Users", "/Groups", ""]),
    params=st.dictionaries(st.sampled_from(["startIndex", "count", "cursor"]), NUMBER, min_size=1, max_size=3),
    search=st.dictionaries(st.sampled_from(["startIndex", "count", "cursor"]), SEARCH_NUMBER, max_size=3),
)
def test_fuzzed_paging_numbers_get_a_scim_answer_and_only_this_directorys_resources(
    scim: Scim, fabrikam: Fabrikam, endpoint: str, params: dict[str, str], search: dict[str, Any]
) -> None:
    """startIndex, count and cursor drawn around the table's numbers, in the query of a list and in a SearchRequest
    (of a type, or of the whole directory): a page or a SCIM error, never a 5xx, and every resource listed is this
    directory's, however far the numbers reach."""
    own = _own_ids(scim)
    query = "&".join(f"{name}={value}" for name, value in params.items())
    if endpoint:
        _assert_own_answer(scim.get(f"{endpoint}?{query}"), own)
    body = json.dumps({"schemas": [SEARCH_REQUEST], **search})
    searched = scim.client.post(
        f"{scim.base}{endpoint}/.search", content=body, headers=scim.headers({"Content-Type": "application/scim+json"})
    )
    _assert_own_answer(searched, own)
