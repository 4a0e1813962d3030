"""PATCH (RFC 7644 §3.5.2) on a stored document, with every form Microsoft Entra and Okta send.

``apply_patch`` works on a copy of the document and returns the new document plus the membership changes of a
Group; the caller validates the result as a whole, writes it and the membership rows in one transaction, or
nothing at all when any operation fails (RFC 7644 §3.5.2: a PATCH is atomic).

Tolerances (on unless the directory is in strict RFC mode), each for an IdP behaviour:

* ``op`` in any case (``Replace``) and ``"True"``/``"False"`` strings for booleans — Entra without
  ``aadOptscim062020``;
* no-path ``add``/``replace`` whose value keys are paths (``"name.givenName"``, ``"urn:…:User:department"``) —
  Entra with the flag, and Okta's ``{"op": "replace", "value": {"active": false}}``;
* ``add``/``replace`` on ``emails[type eq "work"].value`` with no work email creates it from the filter — Entra and
  its validator expect creation where the RFC says ``noTarget``; a later op on the same filter merges into it;
* ``remove`` of ``members`` with a ``value`` array removes only those members (Entra without the flag); the RFC
  reading would empty the group;
* ``remove`` of a filtered value that matches nothing succeeds (removing what is absent is already done);
* ``manager`` as a bare id, a one-element array or an object; roles sent as a JSON string inside ``value``;
* attributes scimgate does not know are skipped (and reported), never stored.
"""

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from scimgate.scim.errors import (
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    PayloadTooLarge,
    Reason,
    TooMany,
    excerpt,
)
from scimgate.scim.filters import count_comparisons, parse_path
from scimgate.scim.grammar import (
    AttrPath,
    CompareOperator,
    Comparison,
    GrammarError,
    LogicalExpr,
    LogicalOperator,
    ValuePath,
)
from scimgate.scim.patch_filters import element_matches, template_from
from scimgate.scim.resource_types import GROUPS, ResourceType
from scimgate.scim.schema import ENTERPRISE_USER, EXTERNAL_ID, Attribute, Schema
from scimgate.scim.validation import (
    MemberRef,
    casefold_keys,
    check_attribute,
    check_value,
    open_attribute,
    open_key,
    open_slot,
    parse_members,
    set_open,
    without_nulls,
)

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_OPS = ("add", "replace", "remove")
# Operations one PATCH may carry. Entra sends a few per request, Okta one; a request's work must fit its deadline
# (issue 20 finding 1). Group members are not counted here: one operation may name many (MAX_MEMBERS_PER_REQUEST).
MAX_OPERATIONS = 1000
# Comparisons one PATCH may make: the caps on operations, a filter's comparisons and an attribute's values multiply
# (1,000 × 50 × 1,000 would be a minute of CPU), so the work itself is bounded too. A real IdP's PATCH makes a few.
MAX_COMPARISONS = 200_000
_SERVER_OWNED = {"id", "meta", "schemas"}
_MANAGER = ENTERPRISE_USER.attribute("manager")


@dataclass
class MemberChanges:
    """Membership edits in request order, folded into the final adds and removes (applied in O(changed))."""

    replace_all: bool = False
    add: dict[str, MemberRef] = field(default_factory=dict)
    remove: set[str] = field(default_factory=set)

    def added(self, refs: list[MemberRef]) -> None:
        for ref in refs:
            self.remove.discard(ref.value)
            self.add[ref.value] = ref

    def removed(self, ids: set[str]) -> None:
        for member_id in ids:
            self.add.pop(member_id, None)
        self.remove |= ids

    def cleared(self) -> None:
        self.replace_all, self.add, self.remove = True, {}, set()

    @property
    def any(self) -> bool:
        return self.replace_all or bool(self.add) or bool(self.remove)


@dataclass
class PatchResult:
    document: dict[str, Any]
    members: MemberChanges
    ignored: list[str]
    """Paths of unknown attributes that tolerant mode skipped (for the request log)."""
    comparisons: int = 0
    """Values compared so far (value filters, values to remove): bounded by MAX_COMPARISONS."""

    def compare(self, count: int, where: str) -> None:
        """Count ``count`` comparisons before making them; over the budget the whole PATCH is refused."""
        self.comparisons += count
        if self.comparisons > MAX_COMPARISONS:
            raise TooMany(
                f"{where}: this PATCH compares more than {MAX_COMPARISONS:,} values (value filters times the values "
                "they are evaluated on); split it into smaller requests."
            )


@dataclass(frozen=True)
class _Target:
    schema: Schema
    attr: Attribute | None  # None: the whole extension object
    sub: Attribute | None = None
    filter: Any = None  # the value filter of emails[…]


def apply_patch(
    rtype: ResourceType, document: dict[str, Any], body: Any, *, strict: bool, resource_id: str | None = None
) -> PatchResult:
    """``resource_id``: the resource's own id, which a no-path value may repeat (Okta's group rename)."""
    result = PatchResult(copy.deepcopy(document), MemberChanges(), [])
    for index, operation in enumerate(_operations(body, strict)):
        op, path, value = operation
        step = _Step(op, f"Operations[{index}]", strict, resource_id)
        if path is None:
            _apply_without_path(rtype, result, step, value)
        else:
            _apply(rtype, result, step, path, value)
    return result


@dataclass(frozen=True)
class _Step:
    """One operation as it is applied: its op, where it is in the body (for messages), and the directory's mode."""

    op: str
    where: str
    strict: bool
    resource_id: str | None = None

    def at(self, key: str) -> "_Step":
        """The same operation, for one key of its no-path value."""
        return _Step(self.op, f"{self.where}.value[{key!r}]", self.strict, self.resource_id)


def check_patch_body(body: Any, strict: bool) -> None:
    """Refuse a PATCH body as apply_patch would (schemas in strict mode, the operations' shape), applying nothing."""
    _operations(body, strict)


def _operations(body: Any, strict: bool) -> list[tuple[str, str | None, Any]]:
    if not isinstance(body, dict):
        raise InvalidSyntax(f"A PATCH body is a JSON object with the schema {PATCH_OP} and an Operations array.")
    fields = casefold_keys(body, "The PATCH request")
    schemas = fields.get("schemas")
    if strict and (not isinstance(schemas, list) or PATCH_OP not in schemas):
        raise InvalidSyntax(f"schemas must be [{PATCH_OP!r}].")
    operations = fields.get("operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("Operations must be a non-empty array of {op, path, value} objects.")
    if len(operations) > MAX_OPERATIONS:
        # As RFC 7644 §3.7.4 answers a Bulk request over maxOperations: 413, nothing applied.
        raise PayloadTooLarge(
            f"This PATCH has {len(operations):,} operations; this server applies at most {MAX_OPERATIONS:,} in one "
            "request. Split it into several PATCH requests."
        )
    parsed = []
    for index, raw in enumerate(operations):
        if not isinstance(raw, dict):
            raise InvalidSyntax(f"Operations[{index}] must be an object such as {{'op': 'replace', ...}}.")
        item = casefold_keys(raw, f"Operations[{index}]")
        op = item.get("op")
        # Entra sends "Add"/"Replace"/"Remove" unless aadOptscim062020 is set; RFC 7644 says they are lower case.
        if not isinstance(op, str) or (op if strict else op.lower()) not in _OPS:
            if isinstance(op, str) and op.lower() in _OPS:
                raise InvalidSyntax(
                    f"Operations[{index}].op must be add, replace or remove (lower case: this directory is in strict "
                    f"mode), not {excerpt(op)}.",
                    reason=Reason.STRICT_MODE,
                )
            raise InvalidSyntax(f"Operations[{index}].op must be add, replace or remove, not {excerpt(op)}.")
        path = item.get("path")
        if path is not None and not isinstance(path, str):
            raise InvalidPath(f"Operations[{index}].path must be a string, not {excerpt(path)}.")
        if op.lower() != "remove" and "value" not in item:
            raise InvalidValue(f"Operations[{index}] ({op}) needs a value.")
        parsed.append((op.lower(), path or None, item.get("value")))
    return parsed


def _apply_without_path(rtype: ResourceType, result: PatchResult, step: _Step, value: Any) -> None:
    op, where = step.op, step.where
    if op == "remove":
        raise NoTarget(f"{where}: remove needs a path naming what to remove (RFC 7644 §3.5.2.2).")
    if not isinstance(value, dict):
        # The value's type only, never the value: it may hold a password (redacted from bodies, not from details).
        raise InvalidValue(f"{where}: an {op} without a path takes an object of attributes, not {_kind(value)}.")
    casefold_keys(value, f"{where}.value")  # {"userName": …, "USERNAME": …} is ambiguous: refused, as on POST
    for key, item in value.items():
        if key.lower() == "schemas" or (not step.strict and _echoes_own(rtype, key, item, step)):
            continue
        # Keys are paths: "name.givenName" and "urn:…:enterprise:2.0:User:department" as Entra sends them.
        _apply(rtype, result, step.at(key), key, item)


def _echoes_own(rtype: ResourceType, key: str, value: Any, step: _Step) -> bool:
    """Tolerant mode: ``id`` and ``meta`` inside a no-path value are what the server already has, so they are
    skipped. Okta renames a group with {"op": "replace", "value": {"id": "<its own id>", "displayName": …}} (Okta's
    SCIM 2.0 reference; sent on every membership update). A different id is still refused, as a mutability error."""
    bare = key.lower().removeprefix(rtype.schema.id.lower() + ":")
    if bare == "meta":
        return True
    if bare != "id":
        return False
    if value != step.resource_id:
        raise Mutability(f"{step.where}: id is set by the server; this {rtype.name}'s id is not {excerpt(value)}.")
    return True


def _apply(rtype: ResourceType, result: PatchResult, step: _Step, path: str, value: Any) -> None:
    op, where, strict = step.op, step.where, step.strict
    bare = path.lower().removeprefix(rtype.schema.id.lower() + ":")
    if bare in _SERVER_OWNED or bare.startswith("meta."):
        raise Mutability(f"{where}: {path} is set by the server and cannot be changed.")
    if rtype.name == GROUPS.name and _is_members(path):
        _apply_members(result.members, op, path, value, where, strict)
        return
    if _apply_open(rtype, result, step, path, value):
        return
    target = _resolve(rtype, path, where, strict)
    if target is None:
        result.ignored.append(path)
        return
    for attr in (target.attr, target.sub):
        if attr is not None and attr.mutability == "readOnly":
            raise Mutability(f"{where}: {path} is read-only{_membership_hint(attr)}.")
    if op == "remove" and value is not None and target.filter is None and target.attr and target.attr.multi_valued:
        _remove_values(result, target, value, where, strict)
        return
    applier = Applier(result.document, target, where, strict, result.ignored)
    if target.filter is not None and target.attr is not None:
        values = applier._holder().get(target.attr.name)
        result.compare(len(values if isinstance(values, list) else []) * count_comparisons(target.filter), where)
    applier.apply(op, value)


def _apply_open(rtype: ResourceType, result: PatchResult, step: _Step, path: str, value: Any) -> bool:
    """An operation on an undeclared extension (kept as sent, ``scimgate.scim.extensions``): on the whole object
    (``urn:…:acme:2.0:User``) or on one attribute of it (``urn:…:acme:2.0:User:region``, ``…:address.city``).
    False when ``path`` names no such extension."""
    lowered = path.lower()
    if not lowered.startswith("urn:") or any(
        lowered == s.id.lower() or lowered.startswith(s.id.lower() + ":") for s in rtype.schemas
    ):
        return False
    document = result.document
    urns = [key for key, held in document.items() if key.lower().startswith("urn:") and isinstance(held, dict)]
    whole = next((urn for urn in urns if urn.lower() == lowered), None)
    inside = any(lowered.startswith(urn.lower() + ":") for urn in urns)
    if whole is None and not inside and isinstance(value, dict) and step.op != "remove":
        whole = path  # a new extension object: {"op": "add", "path": "urn:…:acme:2.0:User", "value": {…}}
    if whole is not None:
        _open_object(document, whole, step, value)
        return True
    urn, name = open_attribute(path, urns)
    if "[" in name or not name:
        raise InvalidPath(
            f"{step.where}: {excerpt(path)} filters values of an undeclared extension; declare the extension "
            "(scimgate schema add) to address its values by filter."
        )
    _open_value(document, urn, name, step, value)
    return True


def _open_object(document: dict[str, Any], urn: str, step: _Step, value: Any) -> None:
    key = open_key(document, urn)
    if step.op == "remove":
        document.pop(key, None)
        return
    if not isinstance(value, dict):
        raise InvalidValue(f"{step.where}: {excerpt(urn)} takes an object of the extension's attributes.")
    casefold_keys(value, f"{step.where}.value")  # {"region": …, "Region": …} is ambiguous: refused
    holder = document.setdefault(key, {})
    for name, item in value.items():
        _set_open_value(holder, name, step.op, item)
    if not document[key]:
        del document[key]


def _open_value(document: dict[str, Any], urn: str, name: str, step: _Step, value: Any) -> None:
    key = open_key(document, urn)
    holder = document.get(key)
    if step.op == "remove":
        if isinstance(holder, dict):
            _remove_open(holder, name)
            if not holder:
                del document[key]
        return
    if not isinstance(holder, dict):
        holder = document[key] = {}
    _set_open_value(holder, name, step.op, value)
    if not holder:
        del document[key]


def _set_open_value(holder: dict[str, Any], path: str, op: str, value: Any) -> None:
    """RFC 7644 §3.5.2.1 and §3.5.2.3 on a value whose schema nobody declared: ``add`` to an array appends the
    values not yet there, anything else sets (a null or empty value clears it)."""
    parent, key = open_slot(holder, path)
    current = parent.get(key)
    if op == "add" and isinstance(current, list):
        new = without_nulls(value if isinstance(value, list) else [value])
        parent[key] = current + [item for item in new if item not in current]
    elif value in ("", [], {}):
        parent.pop(key, None)
    else:
        set_open(parent, key, value)
    _drop_empty(holder)


def _drop_empty(holder: dict[str, Any]) -> None:
    """Objects of an undeclared extension left empty by a removal are removed with it."""
    for key, value in list(holder.items()):
        if isinstance(value, dict):
            _drop_empty(value)
            if not value:
                del holder[key]


def _remove_open(holder: dict[str, Any], path: str) -> None:
    name, _, rest = path.partition(".")
    key = open_key(holder, name)
    if not rest:
        holder.pop(key, None)
        return
    parent = holder.get(key)
    if isinstance(parent, dict):
        _remove_open(parent, rest)
        if not parent:
            del holder[key]


def _membership_hint(attr: Attribute) -> str:
    return "; change membership through the Group's members" if attr.name == "groups" else ""


def _is_members(path: str) -> bool:
    lowered = path.lower().removeprefix("urn:ietf:params:scim:schemas:core:2.0:group:")
    return lowered == "members" or lowered.startswith(("members[", "members."))


def _resolve(rtype: ResourceType, path: str, where: str, strict: bool) -> _Target | None:
    extension = rtype.extension(path)
    if extension is not None:
        return _Target(extension, None)
    try:
        node = parse_path(path)
    except GrammarError:
        raise InvalidPath(f"{where}: {excerpt(path)} is not a valid attribute path.") from None
    if not isinstance(node, AttrPath | ValuePath):
        raise InvalidPath(f"{where}: {excerpt(path)} is not an attribute path.")
    attr_path = node.attr_path if isinstance(node, ValuePath) else node
    value_filter = node.val_filter if isinstance(node, ValuePath) else None
    sub_name = node.sub_attr if isinstance(node, ValuePath) else attr_path.sub_attr
    schema = rtype.schema if attr_path.uri is None else rtype.extension(attr_path.uri)
    if attr_path.uri is not None and attr_path.uri.lower() == rtype.schema.id.lower():
        schema = rtype.schema
    attr = None
    if schema is not None:
        is_external_id = schema is rtype.schema and attr_path.attr.lower() == "externalid"
        attr = EXTERNAL_ID if is_external_id else schema.attribute(attr_path.attr)
    if attr is None and attr_path.uri is None and not strict:
        # Older Entra requests address extension attributes unqualified: {"op": "Add", "path": "manager", ...}.
        found = [(ext, ext.attribute(attr_path.attr)) for ext in rtype.extensions if ext.attribute(attr_path.attr)]
        if len(found) == 1:
            schema, attr = found[0]
    sub = attr.sub(sub_name) if attr is not None and sub_name else None
    if schema is None or attr is None or (sub_name and sub is None):
        if not strict:
            return None
        raise InvalidPath(f"{where}: {excerpt(path)} is not an attribute of {rtype.name} (see /Schemas).")
    if value_filter is not None and not attr.multi_valued:
        raise InvalidPath(f"{where}: {excerpt(path)} filters an attribute that is not multi-valued.")
    return _Target(schema, attr, sub, value_filter)


class Applier:
    """One add / replace / remove on one target of the document."""

    def __init__(self, document: dict[str, Any], target: _Target, where: str, strict: bool, ignored: list[str]) -> None:
        self.document = document
        self.target = target
        self.where = where
        self.strict = strict
        self.ignored = ignored

    def apply(self, op: str, value: Any) -> None:
        target = self.target
        holder = self._holder()
        if target.attr is None:
            self._extension(op, value)
        elif target.filter is not None or (target.attr.multi_valued and target.sub is not None):
            self._filtered(holder, op, value)
        elif target.attr.multi_valued:
            self._multi(holder, op, value)
        elif target.sub is not None:
            self._sub(holder, op, value)
        else:
            self._singular(holder, op, value)
        self._prune()

    def _holder(self) -> dict[str, Any]:
        if self.target.schema.id.startswith("urn:ietf:params:scim:schemas:core:"):
            return self.document
        # A value stored before its extension was declared may spell the URN otherwise: the same object.
        holder: dict[str, Any] = self.document.setdefault(open_key(self.document, self.target.schema.id), {})
        return holder

    def _path(self) -> str:
        attr, sub = self.target.attr, self.target.sub
        return f"{attr.name}.{sub.name}" if attr and sub else attr.name if attr else self.target.schema.id

    def _extension(self, op: str, value: Any) -> None:
        key = open_key(self.document, self.target.schema.id)
        holder = self.document.setdefault(key, {})
        if value == {} and op == "add":
            return  # adding nothing changes nothing
        if op == "remove" or value in (None, "", {}):
            self.document.pop(key, None)
            return
        if not isinstance(value, dict):
            raise InvalidValue(f"{self.where}: {self.target.schema.id} takes an object of its attributes.")
        for key, item in value.items():
            attr = self.target.schema.attribute(key)
            if attr is None or attr.mutability == "readOnly":
                if attr is None and not self.strict:
                    self.ignored.append(f"{self.target.schema.id}:{key}")
                    continue
                raise (InvalidPath if attr is None else Mutability)(f"{self.where}: {key!r} cannot be set here.")
            self._set(holder, attr, item, op)

    def _singular(self, holder: dict[str, Any], op: str, value: Any) -> None:
        attr = self.target.attr
        assert attr is not None
        if op == "remove":
            holder.pop(attr.name, None)
            return
        self._set(holder, attr, value, op)

    def _set(self, holder: dict[str, Any], attr: Attribute, value: Any, op: str) -> None:
        path = f"{self.where}: {attr.name}"
        if value is None or value == "" or value == []:
            holder.pop(attr.name, None)  # "" and null clear an attribute (Entra and its gallery validation)
            return
        if value == {}:
            if op == "replace":
                holder.pop(attr.name, None)
            return
        if attr.type == "complex" and not attr.multi_valued and isinstance(value, dict) and attr is not _MANAGER:
            self._merge_complex(holder, attr, value, path)
            return
        checked = check_attribute(attr, value, path)
        if checked is None:
            holder.pop(attr.name, None)
        elif attr.type == "complex" and not attr.multi_valued and isinstance(holder.get(attr.name), dict):
            # RFC 7644 §3.5.2.3: sub-attributes not given are left unchanged, for add and replace alike.
            holder[attr.name] = {**holder[attr.name], **checked} if attr.name != "manager" else checked
        else:
            holder[attr.name] = checked

    def _merge_complex(self, holder: dict[str, Any], attr: Attribute, value: dict[str, Any], path: str) -> None:
        """RFC 7644 §3.5.2.3: the sub-attributes given replace theirs, a null one is cleared, the rest stay."""
        current = dict(holder.get(attr.name) or {})
        for key, item in casefold_keys(value, path).items():
            sub = attr.sub(key)
            if sub is None or sub.mutability == "readOnly":
                continue
            if item is None or item == "":
                current.pop(sub.name, None)
            else:
                current[sub.name] = check_value(sub, item, f"{path}.{sub.name}")
        if current:
            holder[attr.name] = current
        else:
            holder.pop(attr.name, None)

    def _sub(self, holder: dict[str, Any], op: str, value: Any) -> None:
        attr, sub = self.target.attr, self.target.sub
        assert attr is not None and sub is not None
        parent = holder.setdefault(attr.name, {})
        if not isinstance(parent, dict):
            raise InvalidPath(f"{self.where}: {attr.name} holds no sub-attributes.")
        if op == "remove" or value is None or value == "":
            parent.pop(sub.name, None)
            return
        parent[sub.name] = check_value(sub, value, f"{self.where}: {self._path()}")

    def _multi(self, holder: dict[str, Any], op: str, value: Any) -> None:
        attr = self.target.attr
        assert attr is not None
        if op == "remove" or value is None or value == []:
            holder.pop(attr.name, None)
            return
        items = value if isinstance(value, list) else [value]
        checked = check_attribute(attr, [_role(item) if attr.name == "roles" else item for item in items], attr.name)
        new = checked or []
        if op == "replace":
            holder[attr.name] = new
            return
        current = holder.setdefault(attr.name, [])
        for item in new:
            if any(_same_value(item, existing) for existing in current):
                continue  # RFC 7644 §3.5.2.1: adding a value already present changes nothing
            if isinstance(item, dict) and item.get("primary") is True:
                _clear_other_primaries(current, item)
            current.append(item)

    def _filtered(self, holder: dict[str, Any], op: str, value: Any) -> None:
        attr, sub = self.target.attr, self.target.sub
        assert attr is not None
        elements = holder.get(attr.name) or []
        # No filter ("emails.primary"): the operation applies to the sub-attribute of every value.
        matched = [
            e
            for e in elements
            if isinstance(e, dict) and (self.target.filter is None or element_matches(attr, e, self.target.filter))
        ]
        if op == "remove":
            if not matched and self.strict:
                raise NoTarget(f"{self.where}: no value of {attr.name} matches the filter.")
            for element in matched:
                if sub is None:
                    elements.remove(element)
                else:
                    element.pop(sub.name, None)
            holder[attr.name] = [e for e in elements if _meaningful(attr, e)]
            return
        if not matched:
            if self.strict or self.target.filter is None:
                raise NoTarget(f"{self.where}: no value of {attr.name} matches the filter.")
            # Entra: replace emails[type eq "work"].value on a user without a work email creates it.
            created = template_from(self.target.filter, attr)
            elements.append(created)
            matched = [created]
        for element in matched:
            if sub is not None:
                if value is None or value == "":
                    element.pop(sub.name, None)
                else:
                    element[sub.name] = check_value(sub, value, f"{self.where}: {self._path()}")
                    if sub.name == "primary" and element[sub.name] is True:
                        _clear_other_primaries(elements, element)
            else:
                update = check_value(attr, value, f"{self.where}: {attr.name}[…]") if value is not None else {}
                element.update(update or {})
                if element.get("primary") is True:
                    _clear_other_primaries(elements, element)
        holder[attr.name] = [e for e in elements if _meaningful(attr, e)]

    def _prune(self) -> None:
        for key in [k for k, v in self.document.items() if v in ({}, [], None)]:
            del self.document[key]
        for key, value in list(self.document.items()):
            if isinstance(value, dict):
                for sub_key in [k for k, v in value.items() if v in ({}, [], None)]:
                    del value[sub_key]
                if not value:
                    del self.document[key]


def _meaningful(attr: Attribute, element: dict[str, Any]) -> bool:
    """An element left with nothing but type/primary (its value removed) is dropped rather than kept empty."""
    return any(key not in ("type", "primary") for key in element)


def _same_value(new: Any, existing: Any) -> bool:
    """Two values of a multi-valued attribute are the same value when their value and type agree."""
    if isinstance(new, dict) and isinstance(existing, dict) and "value" in new:
        same_type = new.get("type", existing.get("type")) == existing.get("type")
        return bool(new.get("value") == existing.get("value") and same_type)
    return bool(new == existing)


def _matches_removal(element: Any, unwanted: Any) -> bool:
    """A removal value names the elements whose given sub-attributes all match (Entra sends just the value)."""
    if isinstance(element, dict) and isinstance(unwanted, dict):
        return all(element.get(key) == item for key, item in unwanted.items())
    return bool(element == unwanted)


def _clear_other_primaries(elements: list[Any], keep: Any) -> None:
    for other in elements:  # RFC 7643 §2.4: at most one primary value
        if other is not keep and isinstance(other, dict):
            other.pop("primary", None)


def _role(item: Any) -> Any:
    """Entra's SingleAppRoleAssignment sends each role as a JSON string inside value: {"value": "{\\"id\\": …}"}."""
    if isinstance(item, dict):
        raw = casefold_keys(item, "A role").get("value")
        if isinstance(raw, str) and raw.lstrip().startswith("{"):
            try:
                inner = json.loads(raw)
            except ValueError:
                return item
            if isinstance(inner, dict):
                role = {"value": inner.get("value"), "display": inner.get("displayName") or inner.get("display")}
                return {k: v for k, v in {**role, "type": inner.get("type")}.items() if v is not None}
    return item


def _remove_values(result: PatchResult, target: _Target, value: Any, where: str, strict: bool) -> None:
    """``remove`` of ``emails`` with a value: take out just those values (what Entra means, in tolerant mode)."""
    if strict:
        raise InvalidValue(
            f"{where}: remove takes no value in strict mode; name the values with a filter path.",
            reason=Reason.STRICT_MODE,
        )
    attr = target.attr
    assert attr is not None
    document = result.document
    holder = (
        document
        if target.schema.id.startswith("urn:ietf:params:scim:schemas:core:")
        else document.get(target.schema.id, {})
    )
    items = value if isinstance(value, list) else [value]
    if attr.name == "roles":
        items = [_role(item) for item in items]
    unwanted = check_attribute(attr, items, attr.name) or []
    result.compare(len(holder.get(attr.name) or []) * len(unwanted), where)
    remaining = [e for e in holder.get(attr.name, []) if not any(_matches_removal(e, u) for u in unwanted)]
    if remaining:
        holder[attr.name] = remaining
    else:
        holder.pop(attr.name, None)


def _apply_members(changes: MemberChanges, op: str, path: str, value: Any, where: str, strict: bool) -> None:
    try:
        # members[value eq "a" or …] names ids (a set, not a comparison per member): only its length is limited.
        node = parse_path(path, limit_comparisons=False)
    except GrammarError:
        raise InvalidPath(f"{where}: {excerpt(path)} is not a valid members path.") from None
    if (isinstance(node, AttrPath) and node.sub_attr is not None) or (isinstance(node, ValuePath) and node.sub_attr):
        raise InvalidPath(f"{where}: members.<sub-attribute> cannot be changed; add or remove whole members.")
    if isinstance(node, ValuePath):
        if op != "remove":
            raise InvalidPath(f"{where}: add members with path 'members' and a value array.")
        changes.removed(_member_ids_in(node.val_filter, where))
        return
    if op == "remove":
        if value is None:
            changes.cleared()  # RFC 7644 §3.5.2.2: remove without a filter removes every member
        elif strict:
            # The RFC gives remove no value; reading Entra's form as "remove all" would empty the group.
            raise InvalidValue(
                f'{where}: remove takes no value in strict mode; use members[value eq "<id>"].',
                reason=Reason.STRICT_MODE,
            )
        else:
            changes.removed({ref.value for ref in parse_members(value if isinstance(value, list) else [value])})
        return
    refs = parse_members(value if isinstance(value, list) else [value] if value else [])
    if op == "replace":
        changes.cleared()  # Okta empties a group with {"op": "replace", "path": "members", "value": []}
    changes.added(refs)


def _member_ids_in(node: Any, where: str) -> set[str]:
    """The ids named by members[value eq "a" or value eq "b"] (the forms Entra and Okta send)."""
    if isinstance(node, Comparison) and node.attr_path.attr.lower() == "value" and node.op == CompareOperator.eq:
        return {str(node.value)}
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.or_:
        return set().union(*(_member_ids_in(term, where) for term in node.terms))
    raise InvalidPath(f'{where}: remove members with members[value eq "<id>"] (joined by or), or a value array.')


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
