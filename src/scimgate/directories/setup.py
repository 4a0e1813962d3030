"""What an IdP admin pastes into the IdP's console for a directory, with the steps: for the CLI, the API and the
admin page alike."""

from dataclasses import dataclass, field

from scimgate.directories.service import Directory


@dataclass(frozen=True)
class Setup:
    scim_url: str
    token_endpoint: str
    entra: list[str] = field(default_factory=list)
    okta: list[str] = field(default_factory=list)
    onelogin: list[str] = field(default_factory=list)
    jumpcloud: list[str] = field(default_factory=list)
    authentik: list[str] = field(default_factory=list)
    google: list[str] = field(default_factory=list)
    generic: list[str] = field(default_factory=list)

    def steps(self, idp: str) -> list[str]:
        """The steps for one IdP (``generic``: any other SCIM 2.0 client)."""
        found: list[str] = getattr(self, idp, None) or self.generic
        return found


def scim_url(public_url: str, directory_id: str) -> str:
    return f"{public_url}/scim/v2/{directory_id}"


def setup_for(
    directory: Directory,
    public_url: str,
    token: str | None = None,
    placeholder: str | None = None,
    *,
    operator: bool = True,
) -> Setup:
    """The steps; ``token`` is the secret when it has just been created (shown once), else ``placeholder`` (by
    default, how the operator makes one). ``operator`` False: for the customer's IT admin (the setup page), without
    the steps only the operator can take (OAuth clients are made with the operator's CLI)."""
    url = scim_url(public_url, directory.id)
    secret = token or placeholder or "<a token of this directory: scimgate token create " + directory.id + ">"
    token_endpoint = f"{public_url}/oauth/token"
    entra = [
        "Microsoft Entra admin center > Enterprise applications > your application > Provisioning.",
        "Provisioning Mode: Automatic.",
        f"Admin Credentials > Tenant URL: {url}",
        f"Secret Token: {secret}",
        *(
            [
                "(Gallery apps using OAuth 2.0 client credentials instead: Token Endpoint "
                f"{token_endpoint}, and a Client ID and Client Secret from `scimgate client create {directory.id}`.)"
            ]
            if operator
            else []
        ),
        "Test Connection, then Save. Entra sends a userName lookup that must return an empty list: scimgate does.",
        "Mappings: keep userName (user principal name) as the matching attribute; Users and groups: assign them.",
        "Provisioning Status: On. Entra runs a cycle about every 40 minutes.",
    ]
    okta = [
        "Okta admin console > Applications > your application > General > App Settings > Edit: Provisioning = SCIM.",
        f"Provisioning > Integration > SCIM connector base URL: {url}",
        "Unique identifier field for users: userName.",
        "Supported provisioning actions: Push New Users, Push Profile Updates, Push Groups.",
        f"Authentication Mode: HTTP Header; Authorization: Bearer {secret}",
        "Test Connector Configuration, then Save.",
        "Provisioning > To App > Edit: enable Create Users, Update User Attributes and Deactivate Users.",
    ]
    onelogin = [
        "OneLogin admin > Applications > Add App: SCIM Provisioner with SAML (SCIM v2 Enterprise).",
        f"Configuration > SCIM Base URL: {url}",
        f"SCIM Bearer Token: {secret}",
        "API Connection: Enable (OneLogin tests the connection with a userName lookup).",
        "Provisioning > Enable provisioning; choose what happens when a user is deleted or suspended in OneLogin "
        "(Delete, or Suspend: a PUT with active false).",
        "Parameters: groups come from OneLogin roles (Rules map roles to groups).",
    ]
    jumpcloud = [
        "JumpCloud admin > SSO Applications > your application > Identity Management: Custom SCIM.",
        f"Base URL: {url}",
        f"Token Key: {secret}; Test Connection (JumpCloud creates and deletes a test user and group).",
        "Activate; bind user groups to the application (empty groups are not pushed).",
    ]
    authentik = [
        "authentik admin > Applications > Providers > Create: SCIM Provider.",
        f"URL: {url}",
        f"Token: {secret}",
        "Backchannel provider: add it to the application; choose the users and groups to sync.",
        "authentik reads /ServiceProviderConfig first: scimgate advertises PATCH, filters and bulk, as it needs.",
    ]
    # Google Workspace provisions only to applications of its own catalogue that support it; a custom SAML app gets
    # no SCIM, so the steps say so rather than promise a screen that is not there.
    google = [
        "Google Admin console > Apps > Web and mobile apps > your application > Auto-provisioning.",
        "Auto-provisioning appears only for applications in Google's catalogue that support it; a custom SAML app "
        "has none, and then Google Workspace cannot provision this directory (use another IdP's SCIM client).",
        f"Where Google asks for the endpoint or base URL: {url}",
        f"Where it asks for the access token: {secret}",
        "Choose the user attributes and the groups in scope, then turn Auto-provisioning on.",
    ]
    generic = [
        "In your identity provider's SCIM 2.0 (outbound provisioning) settings:",
        f"SCIM base URL: {url}",
        f"Authentication: a bearer token in the HTTP Authorization header: Bearer {secret}",
        "Users are matched by userName; groups by displayName. PATCH, filters and /Bulk are supported.",
        "Run the provider's connection test, then provision one user and one group.",
    ]
    return Setup(url, token_endpoint, entra, okta, onelogin, jumpcloud, authentik, google, generic)
