"""Hypothesis fuzzing of what an IdP controls: filters, PATCH paths and values, whole JSON bodies. Whatever
arrives, the answer is a SCIM response, never a 5xx, and a refused request changes nothing (security plan K1).
``fuzz/atheris_parsers.py`` drives the same parsers with coverage guidance, by hand."""

import itertools
import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.scim import Scim

pytestmark = pytest.mark.both_backends

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Pieces of the filter grammar and of what breaks parsers, shuffled into filters that are mostly invalid.
FILTER_TOKENS = st.sampled_from(
    [
        "userName",
        "emails",
        "name.givenName",
        'emails[type eq "work"]',
        "meta.lastModified",
        "urn:x:y",
        "members",
        " eq ",
        " ne ",
        " co ",
        " sw ",
        " gt ",
        " pr",
        " and ",
        " or ",
        "not ",
        "(",
        ")",
        "[",
        "]",
        '"',
        '"a"',
        '"\\"',
        "true",
        "null",
        "1e999",
        "-0",
        "'",
        ";",
        "--",
        "%",
        "_",
        "\\",
        "\u0000",
        "\ud800",
        "\u202e",
        ".",
    ]
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
PATHS = st.one_of(
    st.sampled_from(
        [
            "title",
            "name.givenName",
            'emails[type eq "work"].value',
            "members",
            'members[value eq "x"]',
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "id",
            "meta.version",
            "groups",
            "password",
            "__class__",
            "emails[",
            "]",
            'emails[type eq "work"',
            "name..givenName",
            "",
        ]
    ),
    st.text(max_size=30),
)


_NAMES = itertools.count()


def assert_scim_answer(response: Any) -> None:
    assert response.status_code < 500, response.text
    assert response.status_code == 204 or response.headers["content-type"].startswith("application/scim+json")
    if response.status_code >= 400:
        body = response.json()
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert body["status"] == str(response.status_code) and body["detail"]


@FUZZ
@given(parts=st.lists(FILTER_TOKENS, min_size=1, max_size=12))
def test_any_filter_gets_a_scim_answer(scim: Scim, parts: list[str]) -> None:
    """Filters made of grammar pieces, mostly broken: 200 or a 400 SCIM error, never a 5xx."""
    text = "".join(parts)
    # Percent-encoded by hand: a lone surrogate goes out as the invalid UTF-8 a hostile client would send.
    encoded = quote(text.encode("utf-8", "surrogatepass"), safe="")
    assert_scim_answer(scim.get(f"/Users?filter={encoded}"))
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": text}
    assert_scim_answer(scim.post("/Groups/.search", search))


@FUZZ
@given(
    operations=st.lists(
        st.fixed_dictionaries(
            {"op": st.sampled_from(["add", "replace", "remove", "Add", "REPLACE", "move", ""])},
            optional={"path": PATHS, "value": JSON_VALUES},
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_patch_gets_a_scim_answer_and_a_refusal_changes_nothing(
    scim: Scim, operations: list[dict[str, Any]]
) -> None:
    """Random PATCH operations on a user and a group: no 5xx; when refused, both are exactly as before."""
    user = scim.create_user(f"fuzz{next(_NAMES)}@example.com")
    group = scim.create_group(f"Fuzz {user['id']}", members=[user["id"]])
    for path in (f"/Users/{user['id']}", f"/Groups/{group['id']}"):
        before = scim.get(path).json()
        body = {"schemas": [PATCH_OP], "Operations": operations}
        response = scim.client.patch(scim.base + path, content=json.dumps(body), headers=scim.headers())
        assert_scim_answer(response)
        if response.status_code >= 400:
            assert scim.get(path).json() == before


@FUZZ
@given(body=JSON_VALUES, extra=st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=5))
def test_any_json_body_gets_a_scim_answer(scim: Scim, body: Any, extra: dict[str, Any]) -> None:
    """Arbitrary JSON, bare or inside a User: a 201 or a SCIM error; a refused create leaves no user."""
    assert_scim_answer(scim.post("/Users", body))
    count = scim.get("/Users?count=0").json()["totalResults"]
    response = scim.post("/Users", {"schemas": [USER], "userName": f"j{count}@example.com", **extra})
    assert_scim_answer(response)
    expected = count + (1 if response.status_code == 201 else 0)
    assert scim.get("/Users?count=0").json()["totalResults"] == expected
