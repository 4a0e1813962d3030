"""Why a SCIM request failed, named, with what the IT admin should change: the provisioning log's explanations.

Entra shows its admin a terse error; the application's team sees nothing. Every failed request in the log gets a
reason (a stable name, carried by the error that ended the request: ``scimgate.scim.errors.Reason``) and a sentence
of advice written from what the error, the request and the authentication step knew. Authentication failures are
told apart here only (a token of another directory, a revoked one, a disabled directory): the IdP itself always gets
the same 401, so responses reveal nothing.
"""

from dataclasses import dataclass

from scimgate.scim.errors import Reason, ScimError, Unauthorized


@dataclass(frozen=True)
class Explanation:
    reason: str
    advice: str


_AUTH = {
    Reason.MISSING_TOKEN: "The request had no bearer token. In Entra, fill in Secret Token (or set up OAuth client "
    "credentials); in Okta, the Authorization header.",
    Reason.MALFORMED_TOKEN: "The Authorization header is not `Bearer <token>` with a well-formed token. Paste the "
    "token exactly as scimgate printed it, without quotes or spaces.",
    Reason.TOKEN_OF_ANOTHER_DIRECTORY: "The token belongs to another directory ({other}). Each directory has its own "
    "Tenant URL and tokens: paste this directory's token, or the Tenant URL of the token's directory.",
    Reason.UNKNOWN_TOKEN: "No directory has this token: it was mistyped, or its directory was deleted. Create a token "
    "for this directory (`scimgate token create {directory}`) and paste it into the IdP.",
    Reason.REVOKED_TOKEN: "Token {token_id} was revoked. Paste a current token of this directory "
    "(`scimgate token create {directory}`).",
    Reason.EXPIRED_TOKEN: "Token {token_id} has expired: a rotated token's overlap ended, or an OAuth access token ran "
    "out. Paste the token that replaced it; for OAuth, check the client secret in the IdP.",
    Reason.DIRECTORY_DISABLED: "This directory is disabled, so every credential gets 401 and the IdP's job will stop. "
    "Enable it (`scimgate directory enable {directory}`) if provisioning should continue.",
    Reason.UNKNOWN_DIRECTORY: "The URL names no directory here. Copy the Tenant URL from `scimgate directory list`.",
}

_FIXED = {
    Reason.USER_NAME_TAKEN: "A user with this userName already exists in this directory (compared case-insensitively), "
    "and the IdP did not match it: its matching attribute (userName by default, or externalId) found nothing, so it "
    "tried to create the user. Entra logs EntryConflict and retries after 6, 12 and 24 hours, failing the same way "
    "until the IdP's value and the existing user's agree: fix the mapping, or remove the stale user here.",
    Reason.DISPLAY_NAME_TAKEN: "A group with this displayName already exists in this directory. Entra matches groups "
    "by displayName: on its next cycle it finds the existing group and updates it instead. If they are different "
    "groups, rename one in the IdP.",
    Reason.UNKNOWN_MEMBER: "The group names members this directory does not have. Assign those users to the "
    "application in the IdP so they are provisioned before the group; Entra retries the membership on its next cycle.",
    Reason.WRONG_URL: "No such SCIM endpoint. The Tenant URL must end in /scim/v2/<directory id>.",
    Reason.VERSION_CONFLICT: "The resource changed since the IdP read it (If-Match); the IdP reads it again.",
    Reason.TOO_LARGE: "The request was larger than max_body_bytes; raise the setting or send smaller batches.",
    Reason.UNSUPPORTED_MEDIA_TYPE: "Send application/scim+json or application/json.",
    Reason.RATE_LIMITED: "Too many requests for this directory; the IdP backs off and retries.",
    Reason.INTERNAL_ERROR: "A bug in scimgate; nothing was changed. The server log has the traceback.",
    Reason.DATABASE_UNAVAILABLE: "The database was busy or unreachable; nothing was changed. The IdP retries.",
}

_QUOTING = {
    Reason.STRICT_MODE: "This directory is in strict RFC mode, which refuses this IdP form ({detail}). Turn strict "
    "mode off for this directory, or make Entra send RFC PATCHes (add ?aadOptscim062020 to the Tenant URL).",
    Reason.UNSUPPORTED_FILTER: "The IdP's filter was refused: {detail}",
    Reason.READ_ONLY_ATTRIBUTE: "The IdP tried to change an attribute it may not: {detail} Remove that attribute from "
    "the IdP's mappings.",
    Reason.INVALID_REQUEST: "The IdP sent something this endpoint refuses: {detail} Check the IdP's attribute mappings "
    "for it.",
    Reason.METHOD_NOT_ALLOWED: "{detail}",
    Reason.DOMAIN_NOT_VERIFIED: "{detail}",
}


def explain(error: ScimError, method: str, resource_type: str | None, directory_id: str | None) -> Explanation | None:
    """The explanation of the error that ended a request (None when it was no failure, as a 304 is not)."""
    if error.status < 400:
        return None
    reason = error.reason
    if isinstance(error, Unauthorized) and error.failure is not None:
        template = _AUTH.get(reason, _AUTH[Reason.UNKNOWN_TOKEN])
        return Explanation(reason, template.format(directory=directory_id or "DIR", **error.failure.detail))
    if reason is Reason.RESOURCE_NOT_FOUND:
        gone = "considers it deleted" if method == "DELETE" else "will create it again on its next cycle"
        return Explanation(
            reason,
            f"The IdP referred to a {resource_type or 'resource'} this directory does not have (deleted here, or "
            f"created in another directory). Entra {gone}.",
        )
    if reason in _FIXED:
        return Explanation(reason, _FIXED[reason])
    if reason in _QUOTING:
        return Explanation(reason, _QUOTING[reason].format(detail=error.detail))
    return Explanation(reason, error.detail or f"HTTP {error.status}")


def unverified_warning(domains: list[str]) -> Explanation:
    """The warning on a request accepted under the ``flag`` domain policy (scimgate/scim/domains.py)."""
    named = ", ".join(domains[:5])
    return Explanation(
        Reason.DOMAIN_NOT_VERIFIED,
        f"Accepted, but flagged: {named} is not a verified email domain of this directory, so the user carries "
        "domain_verified: false and the application should not link it to an SSO login by email. Verify the "
        "domain (setup page, or `scimgate domain add`) if the customer owns it.",
    )
