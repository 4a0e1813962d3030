"""Reading a User or Group that an IdP sent, and writing one back.

Input is checked against the schema in ``schema.py`` and turned into the *document* that is stored: attribute names
in their canonical case, values exactly as sent. Values are never reformatted (no lower-cased emails, no
reformatted phone numbers): Microsoft Entra compares what it reads back with what it sent and re-sends every value
that differs, forever. The one conversion is booleans, because Entra sends ``"True"``/``"False"`` strings
(``aadOptscim062020`` off) and RFC 7643 wants JSON booleans back.

What the server owns is dropped from input (RFC 7643 §3.1, RFC 7644 §3.3): ``id``, ``meta``, ``schemas``,
``User.groups``, read-only sub-attributes. Core and enterprise attributes scimgate does not know are ignored rather
than refused (Entra sends ``roles: []``, and refusing would fail its provisioning job), and each one ignored is
named in ``ParsedResource.ignored`` for the provisioning log. Any other extension — an object under a URN key, or a
URN-qualified attribute — is kept as sent (``scimgate.scim.extensions``).
"""

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from scimgate.instants import instant
from scimgate.scim.errors import InvalidSyntax, InvalidValue, PayloadTooLarge, excerpt
from scimgate.scim.extensions import MAX_EXTENSIONS
from scimgate.scim.resource_types import GROUPS, ResourceType
from scimgate.scim.schema import ENTERPRISE_USER, EXTERNAL_ID, Attribute, Schema

# Keys the server owns or that carry no attribute: ignored on input.
_IGNORED_KEYS = {"id", "meta", "schemas"}
_TRUE_FALSE = {"true": True, "false": False}
_MANAGER = ENTERPRISE_USER.attribute("manager")


@dataclass(frozen=True)
class MemberRef:
    value: str
    type: str | None


@dataclass
class ParsedResource:
    document: dict[str, Any]
    """Attributes as stored: canonical names, the IdP's values, extension attributes under their schema URN."""
    members: list[MemberRef] | None
    """Group members when the request carried ``members`` (None when it did not), never part of the document."""
    ignored: list[str] = field(default_factory=list)
    """What was sent but not kept: unknown core or enterprise attributes (names only, for the provisioning log)."""


def parse_resource(
    rtype: ResourceType, payload: Any, before: dict[str, Any] | None = None, *, stored: dict[str, Any] | None = None
) -> ParsedResource:
    """The resource a POST or PUT sent, or (``before``: the stored document it started from) a PATCH's result.

    ``stored`` (a PUT's or PATCH's target as stored): a value identical to the one it holds at the same place is
    kept as it is, even if it does not fit the attribute's declaration (see ``check_value``).
    """
    if not isinstance(payload, dict):
        raise InvalidSyntax(f"The request body must be a JSON object holding a {rtype.name} resource.")
    parsed = ParsedResource({}, None)
    for key, value in payload.items():
        if key.lower() in _IGNORED_KEYS or value is None:
            continue
        extension = rtype.extension(key)
        if extension is not None:
            # Merged key by key, so {"urn:…:User:department": …} and {"urn:…:User": {…}} combine in any order.
            held = _lookup_key(stored, extension.id)
            for name, checked in _check_extension(extension, value, parsed.ignored, held).items():
                _put(parsed.document.setdefault(extension.id, {}), name, checked)
        elif not _read_attribute(rtype, key, value, parsed, stored) and not _kept_open(
            rtype, key, value, payload, parsed
        ):
            parsed.ignored.append(key)
    document = parsed.document
    for key in [key for key, value in document.items() if key.lower().startswith("urn:") and value == {}]:
        del document[key]
    _check_required(rtype.schema, document)
    _check_required_extensions(rtype, document, _listed(payload), before)
    extensions = sum(1 for key in document if key.lower().startswith("urn:"))
    if extensions > MAX_EXTENSIONS:
        raise InvalidValue(
            f"The {rtype.name} holds {extensions} schema extensions; this server keeps at most {MAX_EXTENSIONS} per "
            "resource. Send the attributes under fewer extension URNs."
        )
    return parsed


def _read_attribute(
    rtype: ResourceType, key: str, value: Any, parsed: ParsedResource, stored: dict[str, Any] | None
) -> bool:
    """A core or known-extension attribute (``userName``, ``urn:…:enterprise:2.0:User:department``) into the
    document; False when ``key`` names none."""
    attr, schema = _resolve_key(rtype, key)
    if attr is None:
        return False
    if attr.mutability == "readOnly":
        return True  # the server's to set: dropped, as RFC 7643 §7 says (not an IdP mistake worth a warning)
    if rtype.name == GROUPS.name and attr.name == "members":
        if parsed.members is not None:
            raise InvalidSyntax("The attribute 'members' appears more than once.")
        parsed.members = parse_members(value)
        return True
    path = attr.name if schema is rtype.schema else f"{schema.id}:{attr.name}"
    held = stored if schema is rtype.schema else _lookup_key(stored, schema.id)
    checked = check_attribute(attr, value, path, _lookup_key(held, attr.name))
    if checked is not None:
        holder = parsed.document if schema is rtype.schema else parsed.document.setdefault(schema.id, {})
        _put(holder, attr.name, checked)
    return True


def _kept_open(rtype: ResourceType, key: str, value: Any, payload: dict[str, Any], parsed: ParsedResource) -> bool:
    """An undeclared extension, kept as sent: an object under its URN, or one URN-qualified attribute of it (Entra
    sends ``urn:…:CustomExtensionName:2.0:User:attr`` keys in a PATCH value). False for anything else."""
    if not key.lower().startswith("urn:") or _names_known_schema(rtype, key):
        return False
    if isinstance(value, dict):
        twins = [k for k, v in payload.items() if k != key and k.lower() == key.lower() and isinstance(v, dict)]
        if twins:
            raise InvalidSyntax(f"The extension {excerpt(key)} appears more than once (URNs are case-insensitive).")
        urn, name = key, None
    else:
        urn, name = open_attribute(key, _urns_in(payload))
    holder = _open_holder(parsed.document, urn)
    if name is None:
        for sub_key, item in without_nulls(value).items():  # refuses keys differing only in case, at any depth
            set_open(holder, sub_key, item)
    else:
        set_open(holder, name, value)
    return True


def _names_known_schema(rtype: ResourceType, key: str) -> bool:
    lowered = key.lower()
    return any(lowered == s.id.lower() or lowered.startswith(s.id.lower() + ":") for s in rtype.schemas)


def _urns_in(payload: dict[str, Any]) -> list[str]:
    """The extension URNs a body names: keys holding objects, and its ``schemas``."""
    found = [key for key, value in payload.items() if key.lower().startswith("urn:") and isinstance(value, dict)]
    schemas = next((value for key, value in payload.items() if key.lower() == "schemas"), None)
    if isinstance(schemas, list):
        found += [item for item in schemas if isinstance(item, str)]
    return found


def _open_holder(document: dict[str, Any], urn: str) -> dict[str, Any]:
    """The extension object ``urn`` of the document, matched case-insensitively (the first spelling stays)."""
    for key, value in document.items():
        if key.lower() == urn.lower() and isinstance(value, dict):
            return value
    holder: dict[str, Any] = {}
    document[urn] = holder
    return holder


def open_attribute(path: str, urns: Iterable[str] = ()) -> tuple[str, str]:
    """``urn:…:acme:2.0:User:region`` as (the extension's URN, the attribute path): the longest of ``urns`` that
    prefixes it, else everything before the last colon (URNs end in the schema's name, attributes have no colon)."""
    lowered = path.lower()
    prefixes = [urn for urn in urns if lowered.startswith(urn.lower() + ":")]
    if prefixes:
        urn = max(prefixes, key=len)
        return path[: len(urn)], path[len(urn) + 1 :]
    urn, _, name = path.rpartition(":")
    return urn, name


def set_open(holder: dict[str, Any], path: str, value: Any) -> None:
    """Set an undeclared attribute (``region``, or ``address.city``) to the value as sent. Names match
    case-insensitively (the stored spelling stays); JSON nulls are left out (RFC 7643 §2.5: null is unassigned)."""
    cleaned = without_nulls(value)
    parent, key = open_slot(holder, path)
    if cleaned is None:
        parent.pop(key, None)
    else:
        parent[key] = cleaned


def open_slot(holder: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """Where ``address.city`` goes in an undeclared extension: the object holding it (made if missing) and its key,
    names matched case-insensitively."""
    *parents, name = path.split(".")
    for part in parents:
        key = open_key(holder, part)
        if not isinstance(holder.get(key), dict):
            holder[key] = {}
        holder = holder[key]
    return holder, open_key(holder, name)


def open_key(holder: dict[str, Any], name: str) -> str:
    """The key ``name`` has in ``holder`` (case-insensitively), or ``name`` itself for a new one."""
    return next((key for key in holder if key.lower() == name.lower()), name)


def without_nulls(value: Any) -> Any:
    """A JSON value as sent, without null members or elements (and without keys differing only in case)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            cleaned = without_nulls(item)
            if any(known.lower() == key.lower() for known in out):
                raise InvalidSyntax(
                    f"The attribute {key!r} appears more than once (attribute names are case-insensitive)."
                )
            if cleaned is not None:
                out[key] = cleaned
        return out
    if isinstance(value, list):
        return [cleaned for item in value if (cleaned := without_nulls(item)) is not None]
    return value


# Invisible characters that make two userNames look the same while being different users: controls, zero-width
# space and word joiner, byte order mark, bidi embeddings, overrides and isolates, line and paragraph separators.
# Not ZWJ/ZWNJ (U+200C/D), which Persian, Indic scripts and emoji need (PRECIS allows them in context).
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def check_user_name(user_name: str) -> None:
    """Refuse a new or changed userName with an invisible character (RFC 7644 §7.8: PRECIS-prepared)."""
    found = _INVISIBLE.search(user_name)
    if found is not None:
        raise InvalidValue(
            f"userName contains the invisible character U+{ord(found.group()):04X}; a userName that looks like "
            "another could then be a different user. Remove it in the IdP's mapping."
        )


def casefold_keys(obj: dict[str, Any], what: str) -> dict[str, Any]:
    """The object with lower-cased keys; a key given twice in different case is refused rather than guessed."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        lowered = key.lower()
        if lowered in out:
            raise InvalidSyntax(f"{what} has the key {key!r} more than once (keys are case-insensitive).")
        out[lowered] = value
    return out


def _put(target: dict[str, Any], name: str, value: Any) -> None:
    # {"userName": "a", "UserName": "b"} names one attribute twice; which one wins would be a guess.
    if name in target:
        raise InvalidSyntax(f"The attribute {name!r} appears more than once (attribute names are case-insensitive).")
    target[name] = value


def _resolve_key(rtype: ResourceType, key: str) -> tuple[Attribute | None, Schema]:
    """The attribute a top-level key names: ``userName``, ``UserName`` or ``urn:…:User:userName``."""
    for schema in rtype.schemas:
        if key.lower().startswith(schema.id.lower() + ":"):
            key = key[len(schema.id) + 1 :]
            return (EXTERNAL_ID if _is_external_id(schema, rtype, key) else schema.attribute(key)), schema
    return (EXTERNAL_ID if key.lower() == "externalid" else rtype.schema.attribute(key)), rtype.schema


def _is_external_id(schema: Schema, rtype: ResourceType, name: str) -> bool:
    return schema is rtype.schema and name.lower() == "externalid"


def _check_extension(extension: Schema, value: Any, ignored: list[str], stored: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidValue(f"{extension.id} must be a JSON object holding the extension's attributes.")
    out: dict[str, Any] = {}
    for key, sub_value in value.items():
        attr = extension.attribute(key)
        if attr is None and sub_value is not None:
            ignored.append(f"{extension.id}:{key}")
        if attr is None or attr.mutability == "readOnly" or sub_value is None:
            continue
        checked = check_attribute(attr, sub_value, f"{extension.id}:{attr.name}", _lookup_key(stored, attr.name))
        if checked is not None:
            _put(out, attr.name, checked)
    return out


# Values one multi-valued attribute may hold (emails, roles, entitlements…; members have their own limit below). Every
# PATCH value filter is evaluated against each of them, inside a request's deadline (issue 20: a user with 5,000
# emails made one filtered remove cost seconds of CPU). No IdP sends more than a handful.
MAX_VALUES = 1000
# What a PATCH may keep: a resource stored before the limit with more values must stay writable (a PATCH that
# deactivates a user must never fail over its old entitlements), though it may not grow further.
_values_allowed: ContextVar[int] = ContextVar("scimgate_values_allowed", default=MAX_VALUES)


@contextmanager
def values_allowed(count: int) -> Iterator[None]:
    """Within the block, a multi-valued attribute may hold up to ``count`` values (never fewer than MAX_VALUES)."""
    reset = _values_allowed.set(max(count, MAX_VALUES))
    try:
        yield
    finally:
        _values_allowed.reset(reset)


def check_attribute(attr: Attribute, value: Any, path: str, stored: Any = None) -> Any:
    """Check one attribute's value; return what to store, or None for "no value". ``stored``: as in
    ``check_value``, for the whole value, and for each value of a multi-valued one."""
    return _kept_if_stored(_check_attribute, attr, value, path, stored)


def _check_attribute(attr: Attribute, value: Any, path: str, stored: Any) -> Any:
    if attr.multi_valued:
        if isinstance(value, dict) and attr.type == "complex":
            # OneLogin's SCIM v2 Enterprise template sends emails as one object, not an array
            # (developers.onelogin.com/scim/define-user-schema; django-scim2: "OneLogin sends a dict despite the
            # spec"): one value.
            value = [value]
        if not isinstance(value, list):
            raise InvalidValue(f"{path} is multi-valued and must be a JSON array, not {excerpt(value)}.")
        if len(value) > _values_allowed.get():
            raise InvalidValue(
                f"{path} has {len(value):,} values; this server keeps at most {MAX_VALUES:,} per attribute "
                "(group members excepted)."
            )
        items = [_check_item(attr, item, path, stored) for item in value if item is not None]
        items = [item for item in items if item not in (None, {})]
        _check_single_primary(attr, items, path)
        return items or None
    if attr is _MANAGER:
        value = _manager(value)
        if value is None:
            return None
    return check_value(attr, value, path, stored)


def _check_item(attr: Attribute, item: Any, path: str, stored: Any) -> Any:
    """One value of a multi-valued attribute; kept as it is when the attribute held it already (``stored``)."""
    try:
        return check_value(attr, item, path)
    except InvalidValue:
        if isinstance(stored, list) and any(_same(item, held) for held in stored):
            return copy.deepcopy(item)
        raise


def _manager(value: Any) -> Any:
    """Entra sends the manager as the manager's bare id, or (older docs) as a one-element array of objects;
    RFC 7643 §4.3 has an object. Every form becomes the object; "" and [] mean no manager."""
    if isinstance(value, list):
        if len(value) > 1:
            raise InvalidValue("manager takes one value, not a list of several.")
        value = value[0] if value else None
    if isinstance(value, str):
        return {"value": value} if value else None
    return value


def check_value(attr: Attribute, value: Any, path: str, stored: Any = None) -> Any:
    """Check one value (of a multi-valued attribute: one element); return what to store, or None for "no value".

    A write is judged on what it changes (docs/custom-attributes.md): a value identical to ``stored``, the one the
    resource holds at the same place, is kept as it is even when it does not fit the declaration, since it was
    stored while the extension was undeclared or under an earlier declaration. A PATCH that deactivates a user, or
    a PUT sending back what the IdP read, must not fail over it; a new or changed value must fit.
    """
    return _kept_if_stored(_check_value, attr, value, path, stored)


def _kept_if_stored(
    check: Callable[[Attribute, Any, str, Any], Any], attr: Attribute, value: Any, path: str, stored: Any
) -> Any:
    """``check``'s answer, or a refused value kept as it is when it is identical to the one stored there."""
    try:
        return check(attr, value, path, stored)
    except InvalidValue:
        if stored is not None and _same(value, stored):
            return copy.deepcopy(value)
        raise


def _check_value(attr: Attribute, value: Any, path: str, stored: Any) -> Any:
    kind = attr.type
    if kind == "complex":
        if not isinstance(value, dict):
            raise InvalidValue(f"{path} must be a JSON object with sub-attributes, not {excerpt(value)}.")
        out: dict[str, Any] = {}
        for key, sub_value in value.items():
            sub = attr.sub(key)
            if sub is None or sub.mutability == "readOnly" or sub_value is None:
                continue
            _put(out, sub.name, check_value(sub, sub_value, f"{path}.{sub.name}", _lookup_key(stored, sub.name)))
        return out or None
    if kind == "boolean":
        return _boolean(value, path)
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValue(f"{path} must be an integer, not {excerpt(value)}.")
        return value
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValue(f"{path} must be a number, not {excerpt(value)}.")
        return value
    if not isinstance(value, str):
        raise InvalidValue(f"{path} must be a string, not {excerpt(value)}.")
    if kind == "dateTime":
        _check_datetime(value, path)
    return value


def _same(value: Any, stored: Any) -> bool:
    """The same JSON value, types included (``true`` is not ``1``, ``1`` is not ``1.0``)."""
    if type(value) is not type(stored):
        return False
    if isinstance(value, dict):
        return value.keys() == stored.keys() and all(_same(item, stored[key]) for key, item in value.items())
    if isinstance(value, list):
        return len(value) == len(stored) and all(map(_same, value, stored))
    return bool(value == stored)


def _boolean(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    # Entra sends "True"/"False" (any case) wherever a boolean goes unless the aadOptscim062020 flag is set.
    if isinstance(value, str) and value.lower() in _TRUE_FALSE:
        return _TRUE_FALSE[value.lower()]
    raise InvalidValue(f"{path} must be true or false, not {excerpt(value)}.")


def _check_datetime(value: str, path: str) -> None:
    # What filters and sorting can compare (scimgate.instants); the value is kept as sent all the same.
    if instant(value) is None:
        raise InvalidValue(
            f"{path} must be an xsd:dateTime such as 2026-01-31T12:00:00Z or 2026-01-31T14:00:00.000+02:00 (a date "
            f"and a time with seconds, years 0001 to 9999, a zone up to ±14:00), not {excerpt(value)}."
        )


def _check_single_primary(attr: Attribute, items: list[Any], path: str) -> None:
    if attr.sub("primary") is None:
        return
    primaries = sum(1 for item in items if isinstance(item, dict) and item.get("primary") is True)
    if primaries > 1:
        raise InvalidValue(f"{path} has {primaries} values marked primary; at most one may be (RFC 7643 §2.4).")


def _check_required(schema: Schema, document: dict[str, Any]) -> None:
    for attr in schema.attributes:
        value = document.get(attr.name)
        if attr.required and (value is None or (isinstance(value, str) and not value.strip())):
            raise InvalidValue(f"{attr.name} is required: send a non-empty {attr.name} for every {schema.name}.")


def _listed(payload: dict[str, Any]) -> set[str]:
    """The URNs the body's ``schemas`` names, lower-cased."""
    schemas = next((value for key, value in payload.items() if key.lower() == "schemas"), None)
    return {item.lower() for item in schemas if isinstance(item, str)} if isinstance(schemas, list) else set()


def _check_required_extensions(
    rtype: ResourceType, document: dict[str, Any], listed: set[str], before: dict[str, Any] | None
) -> None:
    """The ``required`` attributes of declared extensions (RFC 7643 §2.2, §3.3).

    Declared extensions are advertised as optional (``/ResourceTypes``: ``"required": false``), so a resource may
    lack one entirely; one that holds it, or lists its URN in ``schemas``, carries each of its required attributes
    (and each required sub-attribute of a complex value it sends). A PATCH (``before`` given) is judged against
    the resource it changes: it may not take away a required value the resource had, nor bring in the extension
    without its required ones; a resource stored before ``required`` was declared, and lacking the value, can
    still be patched otherwise (Entra's deactivation must never fail over it). readOnly attributes are the
    server's to set, never asked of the IdP.
    """
    for extension in rtype.extensions:
        held = document.get(extension.id)
        earlier = _lookup_key(before, extension.id) if before is not None else None
        if held is None and earlier is None and (before is not None or extension.id.lower() not in listed):
            continue
        missing = _missing_required(extension.attributes, held if isinstance(held, dict) else {})
        if earlier is not None:
            already = set(_missing_required(extension.attributes, earlier if isinstance(earlier, dict) else {}))
            missing = [name for name in missing if name not in already]
        if missing:
            raise InvalidValue(
                f"{extension.id}:{missing[0]} is required (declared in {extension.id}): send a value for it "
                f"whenever the {rtype.name} carries that extension; a PATCH may not remove it."
            )


def _missing_required(attributes: Iterable[Attribute], values: dict[str, Any], prefix: str = "") -> list[str]:
    """The required attributes without a value in ``values`` (names matched case-insensitively), as paths."""
    missing = []
    for attr in attributes:
        if attr.mutability == "readOnly":
            continue
        value = _lookup_key(values, attr.name)
        if value is None or value == [] or (isinstance(value, str) and not value.strip()):
            if attr.required:
                missing.append(prefix + attr.name)
            continue
        if attr.type == "complex":
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    missing += _missing_required(attr.sub_attributes, item, f"{prefix}{attr.name}.")
    return list(dict.fromkeys(missing))


def _lookup_key(holder: Any, name: str) -> Any:
    if not isinstance(holder, dict):
        return None
    return next((value for key, value in holder.items() if key.lower() == name.lower()), None)


# Members one request may name (POST, PUT, or one PATCH operation): a whole group of 100,000, as Okta's group push
# PUTs whole lists (raise max_body_bytes for that); beyond, the work no longer fits a request's deadline.
MAX_MEMBERS_PER_REQUEST = 100_000


def parse_members(value: Any) -> list[MemberRef]:
    if not isinstance(value, list):
        raise InvalidValue(f"members must be a JSON array of {{'value': '<id>'}} objects, not {excerpt(value)}.")
    if len(value) > MAX_MEMBERS_PER_REQUEST:
        raise PayloadTooLarge(
            f"{len(value)} members in one request; send at most {MAX_MEMBERS_PER_REQUEST:,} at a time (several "
            "PATCH requests adding members)."
        )
    members: dict[str, MemberRef] = {}
    for item in value:
        if item is None:
            continue
        if not isinstance(item, dict):
            raise InvalidValue(f"Each member must be an object such as {{'value': '<user id>'}}, not {excerpt(item)}.")
        lowered = casefold_keys(item, "A member")
        member_id = lowered.get("value")
        if not isinstance(member_id, str) or not member_id:
            raise InvalidValue(f"Each member needs a 'value' holding the member's id; got {excerpt(item)}.")
        member_type = lowered.get("type")
        if member_type is not None and (
            not isinstance(member_type, str) or member_type.lower() not in ("user", "group")
        ):
            raise InvalidValue(f"A member's type must be 'User' or 'Group', not {excerpt(member_type)}.")
        # The same id twice in one request is one membership, not an error (Entra retries batches).
        members[member_id] = MemberRef(member_id, member_type.capitalize() if member_type else None)
    return list(members.values())
