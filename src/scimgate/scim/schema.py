"""The attributes scimgate supports, as data: what /Schemas advertises is exactly what the server validates and stores.

Each attribute carries the RFC 7643 §7 characteristics. Validation (``resources.py``), projection
(``projection.py``), filtering (``filters.py``) and discovery (``discovery.py``) all read them from here, so a
characteristic cannot be advertised without being enforced.

Deliberately not advertised (and dropped on input, as an unknown attribute would be):

* ``password``: taken out of every request before validation (scimgate.scim.passwords): discarded, or kept only
  as a hash with ``passwords=hash``; never returned (RFC 7643 §4.1.1). Unadvertised, so a strict directory does
  not refuse it as unknown.
* ``display`` on emails, phoneNumbers, ims and photos: Microsoft's SCIM Validator turns every advertised
  sub-attribute into an Entra path such as ``emails[type eq "work"].display`` and then reports it as unsupported.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str = "string"
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    description: str = ""
    sub_attributes: tuple["Attribute", ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()

    @cached_property
    def subs_by_key(self) -> dict[str, "Attribute"]:
        return {sub.name.lower(): sub for sub in self.sub_attributes}

    def sub(self, name: str) -> "Attribute | None":
        return self.subs_by_key.get(name.lower())

    def to_scim(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
        }
        if self.type in ("string", "reference", "binary"):
            out["caseExact"] = self.case_exact
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            out["subAttributes"] = [sub.to_scim() for sub in self.sub_attributes]
        out["mutability"] = self.mutability
        out["returned"] = self.returned
        if self.type in ("string", "reference", "binary", "integer"):
            out["uniqueness"] = self.uniqueness
        return out


@dataclass(frozen=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...] = field(default_factory=tuple)

    @cached_property
    def by_key(self) -> dict[str, Attribute]:
        return {attr.name.lower(): attr for attr in self.attributes}

    def attribute(self, name: str) -> Attribute | None:
        return self.by_key.get(name.lower())

    def to_scim(self, location: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [attr.to_scim() for attr in self.attributes],
            "meta": {"resourceType": "Schema", "location": location},
        }


def _s(name: str, description: str, **kw: Any) -> Attribute:
    return Attribute(name=name, description=description, **kw)


def _multi(name: str, description: str, value: Attribute, types: Iterable[str], *extra: Attribute) -> Attribute:
    """A multi-valued complex attribute in the RFC 7643 §2.4 shape: value, type, primary (plus extras)."""
    subs = (
        value,
        *extra,
        _s("type", "A label indicating the attribute's function.", canonical_values=tuple(types)),
        _s("primary", "Whether this value is the preferred one. At most one value is primary.", type="boolean"),
    )
    return Attribute(name=name, description=description, multi_valued=True, type="complex", sub_attributes=subs)


_NAME = Attribute(
    name="name",
    type="complex",
    description="The components of the user's real name.",
    sub_attributes=(
        _s("formatted", "The full name, formatted for display."),
        _s("familyName", "The family name, or last name."),
        _s("givenName", "The given name, or first name."),
        _s("middleName", "The middle name(s)."),
        _s("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
        _s("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
    ),
)

_ADDRESS_SUBS = (
    _s("formatted", "The full mailing address, formatted for display."),
    _s("streetAddress", "The street address component."),
    _s("locality", "The city or locality component."),
    _s("region", "The state or region component."),
    _s("postalCode", "The zip code or postal code component."),
    _s("country", "The country name component."),
)

_GROUP_REF = (
    _s("value", "The identifier of the group.", case_exact=True, mutability="readOnly"),
    _s("$ref", "The URI of the group.", type="reference", reference_types=("User", "Group"), mutability="readOnly"),
    _s("display", "The group's displayName.", mutability="readOnly"),
    _s("type", "'direct' membership.", canonical_values=("direct", "indirect"), mutability="readOnly"),
)

USER = Schema(
    id=USER_SCHEMA,
    name="User",
    description="User Account",
    attributes=(
        _s(
            "userName",
            "Unique identifier for the User, typically used by the user to directly authenticate. Unique within a "
            "directory, compared case-insensitively after Unicode normalisation.",
            required=True,
            uniqueness="server",
        ),
        _NAME,
        _s("displayName", "The name of the User, suitable for display to end-users."),
        _s("nickName", "The casual way to address the user."),
        _s("profileUrl", "A URI of the user's online profile.", type="reference", reference_types=("external",)),
        _s("title", "The user's title, such as 'Vice President'."),
        _s("userType", "The relationship between the organization and the user, e.g. 'Employee'."),
        _s("preferredLanguage", "The user's preferred written or spoken language, e.g. 'en-US'."),
        _s("locale", "The user's default location for localization, e.g. 'en-US'."),
        _s("timezone", "The user's time zone in IANA format, e.g. 'America/Los_Angeles'."),
        _s("active", "The user's administrative status.", type="boolean"),
        _multi("emails", "Email addresses for the user.", _s("value", "The email address."), ("work", "home", "other")),
        _multi(
            "phoneNumbers",
            "Phone numbers for the user, kept exactly as sent.",
            _s("value", "The phone number."),
            ("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi(
            "ims",
            "Instant messaging addresses for the user.",
            _s("value", "The instant messaging address."),
            ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi(
            "photos",
            "URLs of images of the user.",
            _s("value", "The URL of a photo.", type="reference", reference_types=("external",)),
            ("photo", "thumbnail"),
        ),
        Attribute(
            name="addresses",
            type="complex",
            multi_valued=True,
            description="Physical mailing addresses for the user.",
            sub_attributes=(
                *_ADDRESS_SUBS,
                _s("type", "A label indicating the address's function.", canonical_values=("work", "home", "other")),
                _s("primary", "Whether this is the preferred address.", type="boolean"),
            ),
        ),
        Attribute(
            name="groups",
            type="complex",
            multi_valued=True,
            mutability="readOnly",
            description="The groups the user belongs to. Read-only: membership is changed through the Group.",
            sub_attributes=_GROUP_REF,
        ),
        _multi("entitlements", "Entitlements of the user.", _s("value", "The value of an entitlement."), ()),
        _multi(
            "roles",
            "Roles of the user.",
            _s("value", "The value of a role."),
            (),
            _s("display", "A human-readable name for the role."),
        ),
        _multi(
            "x509Certificates",
            "DER-encoded X.509 certificates of the user, base64.",
            _s("value", "The value of an X.509 certificate.", type="binary"),
            (),
        ),
    ),
)

ENTERPRISE_USER = Schema(
    id=ENTERPRISE_SCHEMA,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        _s("employeeNumber", "Numeric or alphanumeric identifier assigned to a person by the organization."),
        _s("costCenter", "Identifies the name of a cost center."),
        _s("organization", "Identifies the name of an organization."),
        _s("division", "Identifies the name of a division."),
        _s("department", "Identifies the name of a department."),
        Attribute(
            name="manager",
            type="complex",
            description="The user's manager. Accepted as an object or as the manager's id alone (as Entra sends it).",
            sub_attributes=(
                _s("value", "The id of the manager's User resource.", case_exact=True),
                _s("$ref", "The URI of the manager's User resource.", type="reference", reference_types=("User",)),
                _s("displayName", "The displayName of the manager.", mutability="readOnly", returned="request"),
            ),
        ),
    ),
)

GROUP = Schema(
    id=GROUP_SCHEMA,
    name="Group",
    description="Group",
    attributes=(
        _s(
            "displayName",
            "A human-readable name for the Group. Unique within a directory, compared case-insensitively.",
            required=True,
            uniqueness="server",
        ),
        Attribute(
            name="members",
            type="complex",
            multi_valued=True,
            description="The members of the Group: users or groups of the same directory.",
            sub_attributes=(
                _s("value", "The id of a member.", case_exact=True, mutability="immutable"),
                _s("$ref", "The URI of the member.", type="reference", reference_types=("User", "Group")),
                # Computed from the member when rendering, so returned only when asked for (attributes=members.display):
                # a client comparing what it sent with what it reads back sees its own value.
                _s("display", "The member's display name.", mutability="readOnly", returned="request"),
                _s("type", "The type of the member.", canonical_values=("User", "Group"), mutability="immutable"),
            ),
        ),
    ),
)

# Attributes every resource has (RFC 7643 §3.1). They are not listed in /Schemas, as in the RFC's own examples.
ID = _s(
    "id",
    "Unique identifier assigned by the service provider.",
    case_exact=True,
    mutability="readOnly",
    returned="always",
    uniqueness="server",
)
EXTERNAL_ID = _s("externalId", "Identifier assigned by the provisioning client.", case_exact=True)
META = Attribute(
    name="meta",
    type="complex",
    mutability="readOnly",
    description="Resource metadata.",
    sub_attributes=(
        _s("resourceType", "The name of the resource type.", case_exact=True, mutability="readOnly"),
        Attribute(name="created", type="dateTime", mutability="readOnly", description="When it was created."),
        Attribute(name="lastModified", type="dateTime", mutability="readOnly", description="When it last changed."),
        _s("location", "The URI of the resource.", type="reference", case_exact=True, mutability="readOnly"),
        _s("version", "The version (weak ETag) of the resource.", case_exact=True, mutability="readOnly"),
    ),
)
COMMON = (ID, EXTERNAL_ID, META)
ALL_SCHEMAS = (USER, GROUP, ENTERPRISE_USER)


def walk(attributes: Iterable[Attribute], prefix: str = "") -> Iterator[tuple[str, Attribute]]:
    """Every attribute and sub-attribute with its dotted path, e.g. ``("name.givenName", …)``."""
    for attr in attributes:
        path = f"{prefix}{attr.name}"
        yield path, attr
        yield from walk(attr.sub_attributes, prefix=f"{path}.")
