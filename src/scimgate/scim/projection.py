"""``attributes`` and ``excludedAttributes`` (RFC 7644 §3.4.2.5, §3.9): which attributes a response carries.

Names are case-insensitive and may be URN-qualified (``urn:…:enterprise:2.0:User:department``). ``id`` and
``schemas`` are always returned. Names no schema knows select nothing rather than failing, as the RFC leaves them
undefined and some IdPs ask for attributes a server does not have.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from scimgate.scim.resource_types import ResourceType
from scimgate.scim.schema import walk

_ALWAYS = {"id", "schemas"}
Path = tuple[str, ...]
_PARSED: dict[tuple[str, tuple[str, ...], str | None, str | None], "Projection"] = {}
_PARSED_MAX = 1024


@dataclass(frozen=True)
class Projection:
    attributes: tuple[Path, ...] = ()
    excluded: tuple[Path, ...] = ()
    core: str = ""
    """The lower-cased core schema URN: naming it alone means every core attribute."""
    request_only: tuple[Path, ...] = ()
    """Paths of ``returned: request`` attributes: included only when ``attributes`` names them exactly."""

    @classmethod
    def parse(cls, rtype: ResourceType, attributes: str | None, excluded: str | None) -> "Projection":
        # IdPs send the same few projections over and over (none; Entra's excludedAttributes=members): parsing
        # walks every schema, so the result is kept per (type, attributes, excludedAttributes), in a bounded cache.
        key = (rtype.name, rtype.extension_ids, attributes, excluded)
        projection = _PARSED.get(key)
        if projection is None:
            projection = cls(
                _parse_list(rtype, attributes),
                _parse_list(rtype, excluded),
                rtype.schema.id.lower(),
                _request_only(rtype),
            )
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[key] = projection
        return projection

    def includes(self, top_level: str) -> bool:
        """Whether the response will carry this top-level attribute, e.g. ``members`` (so we can skip loading it)."""
        key = top_level.lower()
        if self.attributes:
            return any(path[0] == key or self._all_core(path, key) for path in self.attributes)
        return not any(path == (key,) or self._all_core(path, key) for path in self.excluded)

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        if self.attributes:
            resource = _keep(resource, self._expand(resource, self.attributes), top=True)
        elif self.excluded:
            resource = _drop(resource, self._expand(resource, self.excluded))
        return _drop(resource, self._hidden) if self._hidden else resource

    @cached_property
    def _hidden(self) -> tuple[Path, ...]:
        """The ``returned: request`` paths this projection does not ask for by name."""
        return tuple(path for path in self.request_only if path not in self.attributes)

    def _all_core(self, path: Path, key: str) -> bool:
        return path == (self.core,) and not key.startswith("urn:")

    def _expand(self, resource: dict[str, Any], paths: tuple[Path, ...]) -> tuple[Path, ...]:
        paths = _open_paths(resource, paths)
        if (self.core,) not in paths:
            return paths
        core_keys = tuple((key.lower(),) for key in resource if not key.lower().startswith("urn:"))
        return tuple(path for path in paths if path != (self.core,)) + core_keys


def _open_paths(resource: dict[str, Any], paths: tuple[Path, ...]) -> tuple[Path, ...]:
    """Names of undeclared extensions' attributes (``urn:…:acme:2.0:User:region``) split at the extension's URN,
    which only the resource knows (no schema says where the URN ends)."""
    urns = [key.lower() for key in resource if key.lower().startswith("urn:")]
    if not urns:
        return paths
    resolved = []
    for path in paths:
        head = path[0]
        prefixes = [urn for urn in urns if head.startswith(urn + ":")] if head not in urns else []
        if prefixes:
            urn = max(prefixes, key=len)
            path = (urn, head[len(urn) + 1 :], *path[1:])
        resolved.append(path)
    return tuple(resolved)


def _request_only(rtype: ResourceType) -> tuple[Path, ...]:
    paths: list[Path] = []
    for schema in rtype.schemas:
        prefix: Path = () if schema is rtype.schema else (schema.id.lower(),)
        for name, attr in walk(schema.attributes):
            if attr.returned == "request":
                paths.append((*prefix, *name.lower().split(".")))
    return tuple(paths)


def _parse_list(rtype: ResourceType, value: str | None) -> tuple[Path, ...]:
    if not value:
        return ()
    return tuple(_parse_path(rtype, item.strip()) for item in value.split(",") if item.strip())


def _parse_path(rtype: ResourceType, name: str) -> Path:
    lowered = name.lower()
    for schema in rtype.schemas:
        urn = schema.id.lower()
        if lowered == urn:
            return (urn,)
        if lowered.startswith(urn + ":"):
            rest = tuple(lowered[len(urn) + 1 :].split("."))
            return rest if schema is rtype.schema else (urn, *rest)
    if lowered.startswith("urn:"):
        # An undeclared extension's name: the dots of its URN (":2.0:") are not sub-attribute separators.
        urn, _, attribute = lowered.rpartition(":")
        first, *subs = attribute.split(".")
        return (f"{urn}:{first}", *subs)
    return tuple(lowered.split("."))


def _keep(obj: dict[str, Any], paths: tuple[Path, ...], top: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        lowered = key.lower()
        if top and lowered in _ALWAYS:
            out[key] = value
            continue
        matching = [path for path in paths if path[0] == lowered]
        if not matching:
            continue
        if any(len(path) == 1 for path in matching):
            out[key] = value
            continue
        rest = tuple(path[1:] for path in matching)
        if isinstance(value, dict):
            out[key] = _keep(value, rest)
        elif isinstance(value, list):
            out[key] = [_keep(item, rest) if isinstance(item, dict) else item for item in value]
    return out


def _drop(obj: dict[str, Any], paths: tuple[Path, ...], top: bool = True) -> dict[str, Any]:
    by_first: dict[str, list[Path]] = {}
    for path in paths:
        by_first.setdefault(path[0], []).append(path)
    if not any(key.lower() in by_first for key in obj):
        return obj  # nothing here to drop (the usual case, on every resource of every page)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        lowered = key.lower()
        matching = by_first.get(lowered)
        if not matching or (top and lowered in _ALWAYS):
            out[key] = value
            continue
        if any(len(path) == 1 for path in matching):
            continue
        rest = tuple(path[1:] for path in matching)
        if isinstance(value, dict):
            out[key] = _drop(value, rest, top=False)
        elif isinstance(value, list):
            out[key] = [_drop(item, rest, top=False) if isinstance(item, dict) else item for item in value]
        else:
            out[key] = value
    return out
