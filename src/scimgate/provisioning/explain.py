"""Why a SCIM request failed, named, with what the IT admin should change: the provisioning log's explanations.

Entra shows its admin a terse error; the application's team sees nothing. Every failed request in the log gets a
reason (a stable name) and a sentence of advice, written from what the request, the response and the
authentication step knew. Authentication failures are told apart here only (a token of another directory, a
revoked one, a disabled directory): the IdP itself always gets the same 401, so responses reveal nothing.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Explanation:
    reason: str
    advice: str


@dataclass
class AuthFailure:
    """What the authentication step found, for the log only."""

    reason: str
    detail: dict[str, Any]


_AUTH = {
    "missing_token": "The request had no bearer token. In Entra, fill in Secret Token (or set up OAuth client "
    "credentials); in Okta, the Authorization header.",
    "malformed_token": "The Authorization header is not `Bearer <token>` with a well-formed token. Paste the token "
    "exactly as scimgate printed it, without quotes or spaces.",
    "token_of_another_directory": "The token belongs to another directory ({other}). Each directory has its own "
    "Tenant URL and tokens: paste this directory's token, or the Tenant URL of the token's directory.",
    "unknown_token": "No directory has this token: it was mistyped, or its directory was deleted. Create a token "
    "for this directory (`scimgate token create {directory}`) and paste it into the IdP.",
    "revoked_token": "Token {token_id} was revoked. Paste a current token of this directory "
    "(`scimgate token create {directory}`).",
    "expired_token": "Token {token_id} has expired: a rotated token's overlap ended, or an OAuth access token ran out. "
    "Paste the token that replaced it; for OAuth, check the client secret in the IdP.",
    "directory_disabled": "This directory is disabled, so every credential gets 401 and the IdP's job will stop. "
    "Enable it (`scimgate directory enable {directory}`) if provisioning should continue.",
    "unknown_directory": "The URL names no directory here. Copy the Tenant URL from `scimgate directory list`.",
}


def explain_auth(failure: AuthFailure, directory_id: str | None) -> Explanation:
    template = _AUTH.get(failure.reason, _AUTH["unknown_token"])
    return Explanation(failure.reason, template.format(directory=directory_id or "DIR", **failure.detail))


def explain(
    status: int,
    method: str,
    resource_type: str | None,
    scim_type: str | None,
    detail: str | None,
    strict: bool = False,
) -> Explanation | None:
    """The explanation of a failed response (None for a success); ``strict``: the directory is in strict mode."""
    if status < 400:
        return None
    text = detail or ""
    if status == 409:
        if resource_type == "Group":
            return Explanation(
                "display_name_taken",
                "A group with this displayName already exists in this directory. Entra matches groups by "
                "displayName: on its next cycle it finds the existing group and updates it instead. If they are "
                "different groups, rename one in the IdP.",
            )
        return Explanation(
            "user_name_taken",
            "A user with this userName already exists in this directory (compared case-insensitively), and the IdP "
            "did not match it: its matching attribute (userName by default, or externalId) found nothing, so it tried "
            "to create the user. Entra logs EntryConflict and retries after 6, 12 and 24 hours, failing the same way "
            "until the IdP's value and the existing user's agree: fix the mapping, or remove the stale user here.",
        )
    if status == 400 and "are not users or groups of this directory" in text:
        return Explanation(
            "unknown_member",
            "The group names members this directory does not have. Assign those users to the application in the "
            "IdP so they are provisioned before the group; Entra retries the membership on its next cycle.",
        )
    if status == 400 and "strict mode" in text:
        return Explanation(
            "strict_mode_rejected_patch",
            f"This directory is in strict RFC mode, which refuses this IdP form ({text}). "
            "Turn strict mode off for this directory, or make Entra send RFC PATCHes (add ?aadOptscim062020 to the "
            "Tenant URL).",
        )
    if status == 400 and "are not users or groups of this directory" in text:
        return Explanation(
            "unknown_member",
            "The group names members this directory does not have. Assign those users to the application in the "
            "IdP so they are provisioned before the group; Entra retries the membership on its next cycle.",
        )
    if status == 400 and scim_type == "invalidFilter":
        return Explanation("unsupported_filter", f"The IdP's filter was refused: {text}")
    if status == 400 and scim_type == "mutability":
        return Explanation(
            "read_only_attribute",
            f"The IdP tried to change an attribute it may not: {text} Remove that attribute from the IdP's mappings.",
        )
    if status == 400:
        return Explanation(
            "invalid_request",
            f"The IdP sent something this endpoint refuses: {text} Check the IdP's attribute mappings for it.",
        )
    return _by_status(status, method, resource_type, text)


def _by_status(status: int, method: str, resource_type: str | None, text: str) -> Explanation:
    if status == 404 and resource_type is not None:
        gone = "considers it deleted" if method == "DELETE" else "will create it again on its next cycle"
        return Explanation(
            "resource_not_found",
            f"The IdP referred to a {resource_type} this directory does not have (deleted here, or created in another "
            f"directory). Entra {gone}.",
        )
    advice = {
        404: ("wrong_url", "No such SCIM endpoint. The Tenant URL must end in /scim/v2/<directory id>."),
        405: ("method_not_allowed", text),
        412: ("version_conflict", "The resource changed since the IdP read it (If-Match); the IdP reads it again."),
        413: ("too_large", "The request was larger than max_body_bytes; raise the setting or send smaller batches."),
        415: ("unsupported_media_type", "Send application/scim+json or application/json."),
        429: ("rate_limited", "Too many requests for this directory; the IdP backs off and retries."),
        500: ("internal_error", "A bug in scimgate; nothing was changed. The server log has the traceback."),
        503: ("database_unavailable", "The database was busy or unreachable; nothing was changed. The IdP retries."),
    }
    reason, sentence = advice.get(status, ("failed", text or f"HTTP {status}"))
    return Explanation(reason, sentence)
