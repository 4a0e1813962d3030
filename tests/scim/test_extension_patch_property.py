"""Property test: PATCH on an undeclared extension agrees with a plain model of RFC 7644 §3.5.2.

The model, written from the RFC without looking at the engine: attribute names match case-insensitively and keep
their first spelling (RFC 7643 §2.1); ``add`` to a multi-valued (array) attribute appends the values not yet there
(§3.5.2.1), any other ``add`` or ``replace`` sets the value (§3.5.2.1, §3.5.2.3), an empty value clears it; an
``add``/``replace`` of the whole extension (by path, or as a no-path value key) applies each sub-attribute so and
leaves the others (§3.5.2.3); ``remove`` drops the attribute or the whole extension (§3.5.2.2); an extension left
empty is gone.
"""

import copy
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scimgate.scim.patch import apply_patch
from scimgate.scim.resource_types import USERS
from scimgate.scim.validation import parse_resource
from tests.helpers.scim import Scim

pytestmark = pytest.mark.both_backends

URNS = ["urn:ietf:params:scim:schemas:extension:acme:2.0:User", "urn:example:custom:Space"]
NAMES = ["region", "tags", "badge"]
SCALARS = st.sampled_from(["EMEA", "APAC", "b-7", "Ç", ""])
LISTS = st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=3, unique=True)
Model = dict[str, dict[str, Any]]
_USERS = itertools.count()


def spelled(text: str) -> st.SearchStrategy[str]:
    """The name as sent: as is, or in another case (matching is case-insensitive)."""
    return st.sampled_from([text, text.upper(), text.capitalize()])


def _key(holder: dict[str, Any], name: str) -> str:
    return next((key for key in holder if key.lower() == name.lower()), name)


def _set(holder: dict[str, Any], name: str, op: str, value: Any) -> None:
    key = _key(holder, name)
    current = holder.get(key)
    if op == "add" and isinstance(current, list):
        new = value if isinstance(value, list) else [value]
        holder[key] = current + [item for item in new if item not in current]
    elif value in ("", [], {}):
        holder.pop(key, None)
    else:
        holder[key] = copy.deepcopy(value)


def _holder(model: Model, urn: str) -> tuple[str, dict[str, Any]]:
    key = _key(model, urn)
    return key, model.setdefault(key, {})


def apply_model(model: Model, operation: dict[str, Any]) -> None:
    op, path, value = operation["op"].lower(), operation.get("path"), operation.get("value", {})
    if path is None:
        for key, item in value.items():
            apply_model(model, {"op": op, "path": key, "value": item})
        return
    canonical = next(u for u in URNS if path.lower().startswith(u.lower()))
    urn, name = path[: len(canonical)], path[len(canonical) + 1 :]
    key, holder = _holder(model, urn)
    if op == "remove":
        if name:
            holder.pop(_key(holder, name), None)
        else:
            holder.clear()
    elif name:
        _set(holder, name, op, value)
    else:
        for sub, item in value.items():
            _set(holder, sub, op, item)
    if not holder:
        del model[key]


@st.composite
def operations(draw: st.DrawFn) -> dict[str, Any]:
    urn = draw(spelled(URNS[draw(st.integers(0, 1))]))
    name = draw(spelled(draw(st.sampled_from(NAMES))))
    op = draw(st.sampled_from(["add", "replace", "remove", "Add", "Replace"]))
    value = draw(LISTS if name.lower() == "tags" else SCALARS)
    form = draw(st.sampled_from(["attribute", "whole", "no-path attribute", "no-path whole"]))
    if op.lower() == "remove":
        return {"op": op, "path": f"{urn}:{name}" if form.endswith("attribute") else urn}
    if form == "attribute":
        return {"op": op, "path": f"{urn}:{name}", "value": value}
    if form == "whole":
        return {"op": op, "path": urn, "value": {name: value}}
    if form == "no-path attribute":
        return {"op": op, "value": {f"{urn}:{name}": value}}
    return {"op": op, "value": {urn: {name: value}}}


def _extensions(document: dict[str, Any]) -> Model:
    return {key: value for key, value in document.items() if key.lower().startswith("urn:")}


@settings(max_examples=400, deadline=None)
@given(st.lists(operations(), min_size=1, max_size=8))
def test_the_engine_agrees_with_the_model(sequence: list[dict[str, Any]]) -> None:
    """Any sequence, one operation per PATCH: the stored extensions are what the model says."""
    document: dict[str, Any] = {"userName": "u@example.com"}
    model: Model = {}
    for operation in sequence:
        body = {"Operations": [operation]}
        result = apply_patch(USERS, document, body, strict=False)
        document = parse_resource(USERS, result.document).document
        apply_model(model, operation)
        assert _extensions(document) == model, (sequence, operation)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operations(), min_size=1, max_size=4))
def test_the_server_agrees_with_the_model(scim: Scim, sequence: list[dict[str, Any]]) -> None:
    """The same through HTTP and storage: what GET returns after the PATCHes is the model."""
    user = scim.create_user(f"p{next(_USERS)}@example.com")
    model: Model = {}
    for operation in sequence:
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [operation]}
        response = scim.client.patch(f"{scim.base}/Users/{user['id']}", json=body, headers=scim.headers())
        assert response.status_code == 200, response.text
        apply_model(model, operation)
    assert _extensions(scim.get(f"/Users/{user['id']}").json()) == model
