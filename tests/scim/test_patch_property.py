"""Property test: random sequences of PATCH operations, in the forms Entra and the RFC use, give the user a simple
reference model predicts (read back with GET after the sequence)."""

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.scim import Scim

pytestmark = pytest.mark.both_backends

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
WORDS = st.sampled_from(["a", "B", "Ça", "d e", "x@y.example"])
OP = st.sampled_from(["add", "replace", "Add", "Replace"])


def _title() -> st.SearchStrategy[tuple[dict[str, Any], Any]]:
    def apply(model: dict[str, Any], value: str) -> None:
        if value:
            model["title"] = value
        else:
            model.pop("title", None)

    return st.builds(
        lambda op, v: ({"op": op, "path": "title", "value": v}, lambda m: apply(m, v)),
        OP,
        st.one_of(WORDS, st.just("")),
    )


def _given_name() -> st.SearchStrategy[tuple[dict[str, Any], Any]]:
    def apply(model: dict[str, Any], value: str) -> None:
        model.setdefault("name", {})["givenName"] = value

    return st.builds(lambda op, v: ({"op": op, "path": "name.givenName", "value": v}, lambda m: apply(m, v)), OP, WORDS)


def _remove_name() -> st.SearchStrategy[tuple[dict[str, Any], Any]]:
    return st.just(({"op": "remove", "path": "name"}, lambda m: m.pop("name", None)))


def _work_email() -> st.SearchStrategy[tuple[dict[str, Any], Any]]:
    def apply(model: dict[str, Any], value: str) -> None:
        emails = model.setdefault("emails", [])
        work = [e for e in emails if e.get("type") == "work"]
        if work:
            for email in work:
                email["value"] = value
        else:
            emails.append({"type": "work", "value": value})

    return st.builds(
        lambda op, v: ({"op": op, "path": 'emails[type eq "work"].value', "value": v}, lambda m: apply(m, v)), OP, WORDS
    )


def _home_email() -> st.SearchStrategy[tuple[dict[str, Any], Any]]:
    def apply(model: dict[str, Any], value: str) -> None:
        emails = model.setdefault("emails", [])
        item = {"value": value, "type": "home"}
        if item not in emails:
            emails.append(item)

    return st.builds(
        lambda v: ({"op": "add", "path": "emails", "value": [{"value": v, "type": "home"}]}, lambda m: apply(m, v)),
        WORDS,
    )


def _remove_work() -> st.SearchStrategy[tuple[dict[str, Any], Any]]:
    def apply(model: dict[str, Any]) -> None:
        remaining = [e for e in model.get("emails", []) if e.get("type") != "work"]
        if remaining:
            model["emails"] = remaining
        else:
            model.pop("emails", None)

    return st.just(({"op": "Remove", "path": 'emails[type eq "work"]'}, apply))


def _active() -> st.SearchStrategy[tuple[dict[str, Any], Any]]:
    values = st.sampled_from([True, False, "True", "False", "true"])
    return st.builds(
        lambda op, v: (
            {"op": op, "path": "active", "value": v},
            lambda m: m.__setitem__("active", v if isinstance(v, bool) else v.lower() == "true"),
        ),
        OP,
        values,
    )


def _no_path() -> st.SearchStrategy[tuple[dict[str, Any], Any]]:
    def apply(model: dict[str, Any], title: str, department: str) -> None:
        model["title"] = title
        model.setdefault(ENTERPRISE, {})["department"] = department

    return st.builds(
        lambda t, d: (
            {"op": "replace", "value": {"title": t, f"{ENTERPRISE}:department": d}},
            lambda m: apply(m, t, d),
        ),
        WORDS,
        WORDS,
    )


OPERATIONS = st.one_of(
    _title(), _given_name(), _remove_name(), _work_email(), _home_email(), _remove_work(), _active(), _no_path()
)
STEPS = st.lists(st.lists(OPERATIONS, min_size=1, max_size=3), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_patch_sequences_match_the_reference_model(scim: Scim, steps: list[list[tuple[dict[str, Any], Any]]]) -> None:
    """Each request of 1-3 operations applies atomically; the final resource equals the model's."""
    created = scim.create_user(f"prop-{len(scim.get('/Users').json()['Resources'])}@example.com")
    model = {key: value for key, value in created.items() if key not in ("id", "meta", "schemas")}
    for request in steps:
        response = scim.client.patch(
            f"{scim.base}/Users/{created['id']}",
            json={"schemas": [PATCH], "Operations": [operation for operation, _ in request]},
            headers=scim.headers(),
        )
        assert response.status_code == 200, response.text
        for _, apply in request:
            apply(model)
        model = {key: value for key, value in model.items() if value not in ({}, [], None)}
    expected = copy.deepcopy(model)
    actual = {k: v for k, v in scim.get(f"/Users/{created['id']}").json().items() if k not in ("id", "meta", "schemas")}
    assert actual == expected
