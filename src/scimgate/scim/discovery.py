"""Discovery (RFC 7644 §4): /ServiceProviderConfig, /ResourceTypes and /Schemas.

They advertise exactly what this server does and nothing more: Microsoft's SCIM Validator and gallery checks read
/Schemas and test every attribute it lists, and Entra's engine believes ServiceProviderConfig.
"""

from typing import Any

from scimgate.config import Settings
from scimgate.scim.cursors import LIST_RESPONSE
from scimgate.scim.errors import NotFound, excerpt
from scimgate.scim.extensions import PLAIN, Catalog
from scimgate.scim.resource_types import RESOURCE_TYPES
from scimgate.scim.schema import ALL_SCHEMAS, Schema
from scimgate.version import DOCUMENTATION_PATH

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


def service_provider_config(base_url: str, settings: Settings) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": settings.resolved_public_url() + DOCUMENTATION_PATH,
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": settings.max_bulk_operations,
            "maxPayloadSize": settings.max_body_bytes,
        },
        "filter": {"supported": True, "maxResults": settings.max_page_size},
        "changePassword": {"supported": settings.passwords == "hash"},
        "sort": {"supported": True},
        "etag": {"supported": True},
        # RFC 9865 §5: both methods; index paging stays the default, which every IdP expects.
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": min(settings.default_page_size, settings.max_page_size),
            "maxPageSize": settings.max_page_size,
            "cursorTimeout": settings.cursor_timeout,
        },
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A scimgate token of this directory in the Authorization header: Bearer scimgate_…",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"},
    }


def resource_types(base_url: str, catalog: Catalog = PLAIN) -> dict[str, Any]:
    return _list([resource_type(base_url, catalog, rtype.name) for rtype in RESOURCE_TYPES])


def resource_type(base_url: str, catalog: Catalog, name: str) -> dict[str, Any]:
    """A resource type with the extensions of this directory: the enterprise one, and those declared for it."""
    for base in RESOURCE_TYPES:
        if base.name.lower() == name.lower():
            return catalog.of(base).to_scim(f"{base_url}/ResourceTypes/{base.name}")
    raise NotFound(f"No resource type {excerpt(name)}; this server has User and Group.")


def schemas(base_url: str, catalog: Catalog = PLAIN) -> dict[str, Any]:
    return _list([s.to_scim(f"{base_url}/Schemas/{s.id}") for s in _all(catalog)])


def schema(base_url: str, catalog: Catalog, schema_id: str) -> dict[str, Any]:
    for s in _all(catalog):
        if s.id.lower() == schema_id.lower():
            return s.to_scim(f"{base_url}/Schemas/{s.id}")
    raise NotFound(f"No schema {excerpt(schema_id)} on this server.")


def _all(catalog: Catalog) -> list[Schema]:
    """The built-in schemas, then the extensions declared for the directory (in the RFC 7643 §7 form that Okta's
    schema discovery and Microsoft's validator read)."""
    declared = [s for s in (*catalog.users.extensions, *catalog.groups.extensions) if s not in ALL_SCHEMAS]
    return [*ALL_SCHEMAS, *declared]


def _list(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
