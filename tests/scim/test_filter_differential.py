"""Differential property test: for random filters over a random directory, the SQL the compiler produces (run by
SQLite and by PostgreSQL) selects exactly what the in-Python reference evaluator (``filter_oracle``) selects."""

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scim2_models import ScimFilter

from tests.helpers.scim import Scim
from tests.scim.filter_oracle import matches

pytestmark = pytest.mark.both_backends

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Letters whose case mapping agrees between Python's casefold and PostgreSQL's lower(), plus LIKE metacharacters.
WORDS = ["Ada", "ada", "ADA", "Bob", "éva", "Éva", "sales", "Sales", "R&D", "50%", "a_b", "axb", "ñu", "Zed", ""]
TYPES = ["work", "home", "other", "Work"]


def _word(rng: random.Random) -> str:
    return rng.choice(WORDS[:-1]) + rng.choice(["", "", "x", " Y", "@contoso.com"])


def _user(rng: random.Random, i: int, manager: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {"userName": f"{_word(rng)}-{i}", "active": rng.random() < 0.7}
    if rng.random() < 0.6:
        user["title"] = _word(rng)
    if rng.random() < 0.6:
        user["externalId"] = rng.choice(["ext-1", "EXT-1", "ext-2", f"e{i}"])
    if rng.random() < 0.7:
        user["displayName"] = _word(rng) if rng.random() < 0.85 else ""  # "" is a value, not an absence
    if rng.random() < 0.6:
        user["name"] = {k: _word(rng) for k in ("givenName", "familyName") if rng.random() < 0.7} or {"givenName": "G"}
    emails = [
        {"value": f"{_word(rng).replace(' ', '')}{j}@x.example", "type": rng.choice(TYPES)}
        | ({"primary": True} if j == 0 and rng.random() < 0.5 else {})
        for j in range(rng.randint(0, 3))
    ]
    if emails:
        user["emails"] = emails
    if rng.random() < 0.5:
        user["addresses"] = [{"type": rng.choice(TYPES), "locality": _word(rng)}]
    extension: dict[str, Any] = {}
    if rng.random() < 0.5:
        extension["department"] = _word(rng)
    if manager and rng.random() < 0.4:
        extension["manager"] = {"value": manager}
    if extension:
        user[ENTERPRISE] = extension
    return user


class Population(dict[str, list[dict[str, Any]]]):
    def __repr__(self) -> str:  # hypothesis prints fixtures on failure; the resources themselves are noise there
        return f"Population({', '.join(f'{k}: {len(v)}' for k, v in self.items())})"


@pytest.fixture
def population(scim: Scim) -> Population:
    """About forty users and six groups with memberships (nested too), made from a fixed seed."""
    rng = random.Random(7643)
    user_ids: list[str] = []
    for i in range(40):
        created = scim.post("/Users", _user(rng, i, user_ids[0] if user_ids else None))
        assert created.status_code == 201, created.text
        user_ids.append(created.json()["id"])
    group_ids: list[str] = []
    for i in range(6):
        members = rng.sample(user_ids, rng.randint(0, 8)) + (group_ids[-1:] if i % 2 else [])
        group = scim.create_group(f"{_word(rng)} group {i}", members, externalId=rng.choice(["g-1", "G-1", f"g{i}"]))
        group_ids.append(group["id"])
    users = scim.get("/Users?count=1000").json()["Resources"]
    groups = scim.get("/Groups?count=1000").json()["Resources"]
    return Population(User=users, Group=groups)


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


STRING_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
# Whole values, and fragments that occur at the start, in the middle and at the end of stored values.
FRAGMENTS = ["ext-1", "EXT-1", "work", "Work", "g-1", "e", "@x", "da", "-1", "x.example", "contoso.com", "Y", "%", "_"]
VALUES = st.one_of(st.sampled_from(WORDS), st.sampled_from(FRAGMENTS))

USER_STRINGS = [
    "userName",
    "USERNAME",
    "externalId",
    "displayName",
    "title",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails.type",
    "addresses.locality",
    f"{ENTERPRISE}:department",
    "groups.display",
    f"{ENTERPRISE}:manager.value",
    "meta.resourceType",
]
USER_PRESENT = [*USER_STRINGS, "name", "emails.primary", "active", f"{ENTERPRISE}:manager.value", "groups", "emails"]
GROUP_STRINGS = ["displayName", "externalId", "members.type"]


def _comparisons(strings: list[str], booleans: list[str], present: list[str]) -> st.SearchStrategy[str]:
    string_cmp = st.builds(
        lambda a, op, v: f"{a} {op} {_literal(v)}", st.sampled_from(strings), st.sampled_from(STRING_OPS), VALUES
    )
    pr = st.builds(lambda a: f"{a} pr", st.sampled_from(present))
    null = st.builds(lambda a, op: f"{a} {op} null", st.sampled_from(strings), st.sampled_from(["eq", "ne"]))
    if not booleans:
        return st.one_of(string_cmp, pr, null)
    bool_cmp = st.builds(
        lambda a, op, v: f"{a} {op} {_literal(v)}",
        st.sampled_from(booleans),
        st.sampled_from(["eq", "ne"]),
        st.booleans(),
    )
    return st.one_of(string_cmp, bool_cmp, pr, null)


def _value_paths(attribute: str, subs: list[str]) -> st.SearchStrategy[str]:
    inner = st.builds(
        lambda s, op, v: f"{s} {op} {_literal(v)}", st.sampled_from(subs), st.sampled_from(STRING_OPS), VALUES
    )
    joined = st.builds(lambda a, j, b: f"{a} {j} {b}", inner, st.sampled_from(["and", "or"]), inner)
    return st.builds(lambda f: f"{attribute}[{f}]", st.one_of(inner, joined))


def _filters(atoms: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        atoms,
        lambda children: st.one_of(
            st.builds(lambda a, j, b: f"({a}) {j} ({b})", children, st.sampled_from(["and", "or", "AND"]), children),
            st.builds(lambda a: f"not ({a})", children),
        ),
        max_leaves=4,
    )


USER_FILTERS = _filters(
    st.one_of(
        _comparisons(USER_STRINGS, ["active", "emails.primary"], USER_PRESENT),
        _value_paths("emails", ["type", "value"]),
        _value_paths("addresses", ["type", "locality"]),
    )
)
GROUP_FILTERS = _filters(
    st.one_of(_comparisons(GROUP_STRINGS, [], [*GROUP_STRINGS, "members"]), _value_paths("members", ["type"]))
)


def _check(scim: Scim, endpoint: str, resources: list[dict[str, Any]], filter_: str) -> None:
    response = scim.get(endpoint, params={"filter": filter_, "count": "1000"})
    assert response.status_code == 200, (filter_, response.text)
    got = {r["id"] for r in response.json()["Resources"]}
    tree = ScimFilter(filter_).ast
    expected = {r["id"] for r in resources if matches(r, tree)}
    assert got == expected, filter_


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filter_=USER_FILTERS)
def test_user_filters_agree_with_the_reference(scim: Scim, population: Population, filter_: str) -> None:
    """Every generated user filter selects the same users in SQL as in Python."""
    _check(scim, "/Users", population["User"], filter_)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filter_=GROUP_FILTERS)
def test_group_filters_agree_with_the_reference(scim: Scim, population: Population, filter_: str) -> None:
    """Every generated group filter selects the same groups in SQL as in Python."""
    _check(scim, "/Groups", population["Group"], filter_)


def test_the_population_makes_filters_selective(scim: Scim, population: Population) -> None:
    """Guard against a vacuous differential test: typical filters select some but not all users."""
    for filter_ in ('title co "ada"', 'emails[type eq "work"]', "active eq true", f"{ENTERPRISE}:department pr"):
        tree = ScimFilter(filter_).ast
        selected = [r for r in population["User"] if matches(r, tree)]
        assert 0 < len(selected) < len(population["User"]), filter_
