"""The fast path for ``<attribute> eq "value"`` on an indexed column must answer exactly as the compiled filter.

``key_equality`` recognises the lookup IdPs send most without parsing it; the same filter in parentheses goes
through the full parser and compiler. Both must return the same resources, in the same order, with the same
totals and paging, on both backends.
"""

from urllib.parse import quote

import pytest

from scimgate.scim.filters import key_equality
from scimgate.scim.resource_types import GROUPS, USERS
from tests.helpers.scim import Scim

pytestmark = pytest.mark.both_backends

NAMES = [
    "alice@contoso.com",
    "ALICE2@Contoso.COM",
    "straße@example.com",  # casefolds to "strasse"
    "STRASSE@example.net",
    "ﬁnance@example.com",  # NFKC turns the ligature into "fi"
    "Ｆｕｌｌ@example.com",  # fullwidth letters
    "per%cent_under@example.com",
    "  spaced  ",
    "ümlaut@example.com",
]

QUERIES = [
    *NAMES,
    "Alice@CONTOSO.com",
    "strasse@EXAMPLE.com",
    "finance@example.com",
    "full@example.com",
    "per_cent%under@example.com",
    "nobody@example.com",
    "",
]


def _list(scim: Scim, endpoint: str, filter_: str, paging: str = "") -> tuple[int, list[str]]:
    response = scim.get(f"{endpoint}?filter={quote(filter_)}{paging}")
    assert response.status_code == 200, response.text
    body = response.json()
    return body["totalResults"], [r["id"] for r in body["Resources"]]


@pytest.mark.parametrize("query", QUERIES)
def test_user_lookups_agree_with_the_compiled_filter(scim: Scim, query: str) -> None:
    for i, name in enumerate(NAMES):
        scim.create_user(name, externalId="shared" if i % 2 else name, displayName=name.upper())
    for attribute in ("userName", "externalId", "displayName", "id"):
        fast = f'{attribute} eq "{query}"'
        assert key_equality(USERS, fast) is not None
        assert _list(scim, "/Users", fast) == _list(scim, "/Users", f"({fast})")


def test_paging_and_totals_agree_on_a_shared_key(scim: Scim) -> None:
    """externalId is not unique: several pages of one key, totals from short pages and from counting."""
    for i in range(7):
        scim.create_user(f"u{i}@example.com", externalId="SAME")
    fast = 'externalId eq "SAME"'
    for paging in ("", "&count=3", "&startIndex=3&count=3", "&startIndex=7&count=3", "&startIndex=9", "&count=0"):
        assert _list(scim, "/Users", fast, paging) == _list(scim, "/Users", f"({fast})", paging)
    assert _list(scim, "/Users", fast, "&startIndex=4&count=2")[0] == 7


def test_group_lookups_agree_with_the_compiled_filter(scim: Scim) -> None:
    for name in ("Sales", "SALES team", "Straße", "Strasse Nord"):
        scim.create_group(name)
    for query in ("sales", "Sales", "strasse", "STRASSE nord", "SALES TEAM", "none"):
        fast = f'displayName eq "{query}"'
        assert key_equality(GROUPS, fast) is not None
        assert _list(scim, "/Groups", fast) == _list(scim, "/Groups", f"({fast})")


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "with \\" escape"',  # escapes: the parser decides
        'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"',  # URN-qualified
        'userName ne "a"',
        'title eq "a"',  # not an indexed column
        "active eq true",  # not a string
        'userName eq "a" and active eq true',
        'emails.value eq "a"',
        'userName eq "\ufffd"',  # undecodable input: the parser's error
        'userName eq "a\tb"',  # control characters: syntax errors for the parser
        'userName eq "a\nb"',
        'userName eq "a\x01b"',
    ],
)
def test_other_shapes_take_the_full_parser(text: str) -> None:
    assert key_equality(USERS, text) is None


def test_lookup_errors_are_still_scim_errors(scim: Scim) -> None:
    """A NUL or a control character in the value: the fast path declines, the parser's 400 invalidFilter stands."""
    for text in ('userName eq "a\x00b"', 'userName eq "a\tb"', 'userName eq "a\x1fb"'):
        assert key_equality(USERS, text) is None
        response = scim.get(f"/Users?filter={quote(text)}")
        assert response.status_code == 400, text
        assert response.json()["scimType"] == "invalidFilter"
