"""The provisioning log's reason comes from the error that ended the request, never from its message's wording."""

from scimgate.provisioning.explain import explain
from scimgate.scim.errors import (
    AuthFailure,
    InvalidFilter,
    InvalidValue,
    NotFound,
    NotModified,
    Reason,
    ScimError,
    Unauthorized,
    Uniqueness,
)
from scimgate.scim.resource_types import GROUPS, USERS


def test_a_message_mentioning_strict_mode_is_not_a_strict_mode_refusal() -> None:
    """Wording is not a reason: a plain 400 whose text happens to say "strict mode" stays invalid_request."""
    explained = explain(ScimError("remove takes no value in strict mode"), "PATCH", "User", "dir_1")
    assert explained is not None and explained.reason == "invalid_request"


def test_a_reworded_unknown_member_error_keeps_its_reason() -> None:
    """The unknown-member advice follows the error's reason, whatever its message says."""
    error = InvalidValue("Those members are unknown here.", reason=Reason.UNKNOWN_MEMBER)
    explained = explain(error, "PATCH", "Group", "dir_1")
    assert explained is not None and explained.reason == "unknown_member"
    assert "provisioned before the group" in explained.advice


def test_each_resource_type_names_its_own_clash() -> None:
    """A 409 on a user is a taken userName; on a group, a taken displayName (Entra then matches the group)."""
    user = explain(USERS.clash({"userName": "a@example.com"}), "POST", "User", "dir_1")
    group = explain(GROUPS.clash({"displayName": "Sales"}), "POST", "Group", "dir_1")
    assert user is not None and user.reason == "user_name_taken"
    assert group is not None and group.reason == "display_name_taken"
    assert isinstance(USERS.clash({"userName": "a"}), Uniqueness)


def test_a_missing_resource_and_a_wrong_url_are_told_apart() -> None:
    """A 404 for a resource says what Entra will do; a 404 for a path says the Tenant URL is wrong."""
    missing = explain(USERS.not_found("usr_1"), "DELETE", "User", "dir_1")
    wrong = explain(NotFound("No such endpoint."), "GET", None, "dir_1")
    assert missing is not None and missing.reason == "resource_not_found" and "considers it deleted" in missing.advice
    assert wrong is not None and wrong.reason == "wrong_url"


def test_a_refused_token_is_explained_by_what_authentication_found() -> None:
    """The 401's explanation comes from the failure it carries (a revoked token names the token)."""
    error = Unauthorized("refused", AuthFailure(Reason.REVOKED_TOKEN, {"token_id": "tok_9"}))
    explained = explain(error, "GET", "User", "dir_1")
    assert explained is not None and explained.reason == "revoked_token" and "tok_9" in explained.advice


def test_a_filter_refusal_quotes_the_detail_and_a_304_is_no_failure() -> None:
    filtered = explain(InvalidFilter("bad filter"), "GET", "User", "dir_1")
    assert filtered is not None and filtered.reason == "unsupported_filter" and "bad filter" in filtered.advice
    assert explain(NotModified("same version"), "GET", "User", "dir_1") is None
