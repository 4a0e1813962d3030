"""The two resource types scimgate serves, and what each needs beyond its schema."""

from dataclasses import dataclass
from typing import Any

from scimgate.scim.schema import ENTERPRISE_USER, GROUP, USER, Schema


@dataclass(frozen=True)
class ResourceType:
    name: str
    endpoint: str
    schema: Schema
    extensions: tuple[Schema, ...]
    id_prefix: str
    description: str

    @property
    def schemas(self) -> tuple[Schema, ...]:
        return (self.schema, *self.extensions)

    def extension(self, urn: str) -> Schema | None:
        for ext in self.extensions:
            if ext.id.lower() == urn.lower():
                return ext
        return None

    def to_scim(self, location: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "schemaExtensions": [{"schema": ext.id, "required": False} for ext in self.extensions],
            "meta": {"resourceType": "ResourceType", "location": location},
        }


USERS = ResourceType("User", "/Users", USER, (ENTERPRISE_USER,), "usr", "User Account")
GROUPS = ResourceType("Group", "/Groups", GROUP, (), "grp", "Group")
RESOURCE_TYPES = (USERS, GROUPS)
