"""Bulk (RFC 7644 §3.7): many operations in one request, with ``bulkId`` references between them.

Each operation runs as its own transaction (a bulk request is not atomic, RFC 7644 §3.7), in request order, except
that an operation referring to a ``bulkId`` that is not created yet waits for it: a group can be sent before its
members. References that can never resolve (unknown, or a cycle) fail those operations with 409. ``failOnErrors``
stops processing after that many errors. ``maxOperations`` and ``maxPayloadSize`` are advertised in
``/ServiceProviderConfig`` and enforced (413).
"""

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from scimgate.context import note_ignored
from scimgate.scim.errors import (
    InternalError,
    InvalidSyntax,
    InvalidValue,
    PayloadTooLarge,
    ScimError,
    ServiceUnavailable,
    error_body,
    excerpt,
)
from scimgate.scim.etags import Preconditions
from scimgate.scim.operations import Operations
from scimgate.scim.projection import Projection
from scimgate.scim.query import Target
from scimgate.scim.resource_types import RESOURCE_TYPES, ResourceType
from scimgate.scim.validation import casefold_keys
from scimgate.store.database import is_unavailable, retrying

logger = logging.getLogger("scimgate.scim")
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_REFERENCE = re.compile(r"bulkId:([A-Za-z0-9._~-]+)")
_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class _Operation:
    index: int
    method: str
    path: str
    bulk_id: str | None
    version: str | None
    data: Any


def run_bulk(ops: Operations, directory_id: str, body: Any, *, strict: bool, max_operations: int) -> dict[str, Any]:
    operations, fail_on_errors = _parse(body, max_operations)
    waits = _Dependencies(operations)
    created: dict[str, str] = {}
    results: dict[int, dict[str, Any]] = {}
    errors = 0
    # Rounds, as RFC 7644 §3.7.2 describes them: what refers to nothing pending runs first, in request order; what
    # that created unblocks the next round. Each round is handed over by the dependency index, not found by looking
    # at every pending operation again (issue 20, finding 13: that was quadratic, 33 s of CPU for one 1 MB request).
    ready = waits.initially_ready()
    while ready and (fail_on_errors is None or errors < fail_on_errors):
        unblocked: list[_Operation] = []
        for op in ready:
            if fail_on_errors is not None and errors >= fail_on_errors:
                break
            result = _run_one(ops, directory_id, op, created, strict)
            results[op.index] = result
            errors += int(result["status"]) >= 400
            if op.bulk_id is not None and op.bulk_id in created:  # bulkIds are unique: this operation created it
                unblocked += waits.resolved(op.bulk_id)
        ready = sorted(unblocked, key=lambda op: op.index)
    for op in operations:
        if op.index in results:
            continue
        if fail_on_errors is not None and errors >= fail_on_errors:
            break
        missing = ", ".join(sorted(waits.references[op.index] - created.keys()))
        error = ScimError(f"bulkId reference(s) {missing} cannot be resolved: unknown, failed, or circular.")
        results[op.index] = _failure(op, error, status=409)
        errors += 1
    return {"schemas": [BULK_RESPONSE], "Operations": [results[index] for index in sorted(results)]}


class _Dependencies:
    """Which operations wait for which bulkIds, read from the request once: each operation's data is walked once, and
    each created bulkId wakes exactly the operations that name it, so the work is linear in the request's size."""

    def __init__(self, operations: list[_Operation]) -> None:
        self.operations = operations
        self.references = {op.index: _references(op) for op in operations}
        self._unresolved = {index: len(names) for index, names in self.references.items()}
        self._waiting: dict[str, list[_Operation]] = defaultdict(list)
        for op in operations:
            for name in self.references[op.index]:
                self._waiting[name].append(op)

    def initially_ready(self) -> list[_Operation]:
        return [op for op in self.operations if not self._unresolved[op.index]]

    def resolved(self, bulk_id: str) -> list[_Operation]:
        """The operations that ``bulk_id``, just created, was the last missing reference of."""
        ready = []
        for op in self._waiting.pop(bulk_id, []):
            self._unresolved[op.index] -= 1
            if not self._unresolved[op.index]:
                ready.append(op)
        return ready


def _parse(body: Any, max_operations: int) -> tuple[list[_Operation], int | None]:
    if not isinstance(body, dict):
        raise InvalidSyntax(f"A bulk request is a JSON object with the schema {BULK_REQUEST} and Operations.")
    fields = casefold_keys(body, "The bulk request")
    raw_operations = fields.get("operations")
    if not isinstance(raw_operations, list) or not raw_operations:
        raise InvalidSyntax("Operations must be a non-empty array of {method, path, bulkId, data} objects.")
    if len(raw_operations) > max_operations:
        raise PayloadTooLarge(f"{len(raw_operations)} operations; this server takes at most {max_operations}.")
    fail_on_errors = fields.get("failonerrors")
    if fail_on_errors is not None and (
        isinstance(fail_on_errors, bool) or not isinstance(fail_on_errors, int) or fail_on_errors < 1
    ):
        raise InvalidValue(f"failOnErrors must be a positive integer, not {excerpt(fail_on_errors)}.")
    operations = [_operation(index, raw) for index, raw in enumerate(raw_operations)]
    bulk_ids = [op.bulk_id for op in operations if op.bulk_id]
    if len(bulk_ids) != len(set(bulk_ids)):
        raise InvalidValue("Each bulkId must be unique within the request.")
    return operations, fail_on_errors


def _operation(index: int, raw: Any) -> _Operation:
    if not isinstance(raw, dict):
        raise InvalidSyntax(f"Operations[{index}] must be an object.")
    item = casefold_keys(raw, f"Operations[{index}]")
    method, path, bulk_id = item.get("method"), item.get("path"), item.get("bulkid")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise InvalidValue(f"Operations[{index}].method must be POST, PUT, PATCH or DELETE, not {excerpt(method)}.")
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidValue(f"Operations[{index}].path must be like /Users or /Groups/<id>, not {excerpt(path)}.")
    if method.upper() == "POST" and not isinstance(bulk_id, str):
        raise InvalidValue(f"Operations[{index}]: a POST needs a bulkId (RFC 7644 §3.7).")
    if bulk_id is not None and (not isinstance(bulk_id, str) or not _REFERENCE.fullmatch(f"bulkId:{bulk_id}")):
        raise InvalidValue(f"Operations[{index}].bulkId must be a string of letters, digits and -._~.")
    version = item.get("version")
    if version is not None and not isinstance(version, str):
        raise InvalidValue(f'Operations[{index}].version must be an ETag string such as W/"3".')
    return _Operation(index, method.upper(), path, bulk_id, version, item.get("data"))


def _references(op: _Operation) -> set[str]:
    found: set[str] = set(_REFERENCE.findall(op.path))
    _collect(op.data, found)
    return found


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.update(_REFERENCE.findall(value))
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)


def _substitute(value: Any, created: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: created[m.group(1)], value)
    if isinstance(value, list):
        return [_substitute(item, created) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, created) for key, item in value.items()}
    return value


def _run_one(
    ops: Operations, directory_id: str, op: _Operation, created: dict[str, str], strict: bool
) -> dict[str, Any]:
    try:
        base, resource_id = _route(_substitute(op.path, created), op)
        rtype = ops.registry.catalog(directory_id).of(base)
        target = Target(rtype, directory_id, resource_id, Preconditions(if_match=op.version))
        data = _substitute(op.data, created)
        projection = Projection.parse(rtype, None, "members")
        if op.method == "DELETE":
            retrying(lambda: ops.delete(target))
            return _success(op, "204")
        if op.method == "POST":
            single = retrying(lambda: ops.create(target, data, projection))
            assert op.bulk_id is not None
            created[op.bulk_id] = single.resource["id"]
            note_ignored(single.ignored)
            return _success(op, "201", single.location, single.version)
        if op.method == "PUT":
            single = retrying(lambda: ops.replace(target, data, projection))
        else:
            single = retrying(lambda: ops.patch(target, data, projection, strict=strict))
        note_ignored(single.ignored)
        return _success(op, "200", single.location, single.version)
    except ScimError as error:
        return _failure(op, error)
    except sa.exc.SQLAlchemyError as error:
        # One operation's database trouble is that operation's result; the others already committed.
        if is_unavailable(error):
            return _failure(op, ServiceUnavailable("The database was unavailable for this operation; send it again."))
        logger.exception("bulk operation failed", exc_info=error)
        return _failure(op, InternalError("This operation hit an unexpected error and changed nothing."))


def _route(path: str, op: _Operation) -> tuple[ResourceType, str]:
    parts = [part for part in path.split("/") if part]
    rtype = next((r for r in RESOURCE_TYPES if parts and r.endpoint.lstrip("/").lower() == parts[0].lower()), None)
    if rtype is None or len(parts) > 2 or (op.method == "POST") != (len(parts) == 1):
        raise InvalidValue(f"{excerpt(path)} is not a {op.method} path; use /Users, /Groups or /Users/<id>.")
    return rtype, parts[1] if len(parts) == 2 else ""


def _success(op: _Operation, status: str, location: str | None = None, version: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"method": op.method, "status": status}
    if op.bulk_id:
        result["bulkId"] = op.bulk_id
    if location:
        result["location"] = location
    if version:
        result["version"] = version
    return result


def _failure(op: _Operation, error: ScimError, status: int | None = None) -> dict[str, Any]:
    code = status or error.status
    result = _success(op, str(code))
    result["response"] = error_body(code, error.detail, error.scim_type)
    return result
