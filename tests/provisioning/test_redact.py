"""Redaction by structure and by credential shape: secrets go, ordinary words that look like auth schemes stay."""

import base64
import json

import pytest

from scimgate.provisioning.log_search import LogFilter, search
from scimgate.provisioning.redact import redact_body, redact_query
from scimgate.store.database import Database
from tests.helpers.scim import Scim, flush

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TOKEN = "scimgate_Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTAxMjM0NTY3"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"
BASIC = base64.b64encode(b"svc-provisioning:S3cret-pw").decode()


def stored(body: object) -> dict[str, object]:
    kept = redact_body(json.dumps(body).encode(), 10_000)
    assert kept is not None
    result: dict[str, object] = json.loads(kept)
    return result


@pytest.mark.parametrize("name", ["Basic Users", "Bearer Team", "Token Ring", "basic training 2024", "Bearer"])
def test_names_that_look_like_auth_schemes_are_kept(name: str) -> None:
    """A group called "Basic Users" is logged as "Basic Users", not "[redacted]" (issue 22)."""
    assert stored({"schemas": [GROUP], "displayName": name})["displayName"] == name


def test_the_401_answer_is_logged_as_sent() -> None:
    """The refusal's own sentence ("The bearer token is missing, wrong…") is no secret."""
    answer = {"detail": "The bearer token is missing, wrong, revoked or expired, belongs to another directory."}
    assert stored(answer) == answer


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Bearer {TOKEN}", TOKEN),
        (f"token {TOKEN[9:]}", TOKEN[9:]),
        (f"Authorization: Basic {BASIC}", BASIC),
        (f"sent {JWT} as the key", JWT),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw in a note", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ],
)
def test_credential_shaped_values_are_redacted_anywhere(text: str, secret: str) -> None:
    """In any field, a value shaped like a credential goes, the words around it stay."""
    kept = stored({"nickName": text})["nickName"]
    assert isinstance(kept, str) and secret not in kept and "[redacted]" in kept
    assert kept.split("[redacted]")[0] == text.split(secret)[0]


def test_structure_decides_for_keys_and_password_operations() -> None:
    """Secret-bearing keys and the value of a PATCH on password go, however ordinary the value."""
    body = {
        "password": "plain",
        "urn:example:ext": {"apiKey": "short", "title": "Token Ring lead"},
        "Operations": [{"op": "replace", "path": "password", "value": "Basic Users"}],
    }
    kept = stored(body)
    assert kept["password"] == "[redacted]"
    assert kept["urn:example:ext"] == {"apiKey": "[redacted]", "title": "Token Ring lead"}
    assert kept["Operations"] == [{"op": "replace", "path": "password", "value": "[redacted]"}]


def test_queries_keep_filters_and_lose_credentials() -> None:
    """A filter on "Basic Users" stays readable; access_token= and a credential in a value go."""
    assert redact_query('filter=displayName+eq+"Basic+Users"') == 'filter=displayName+eq+"Basic+Users"'
    assert redact_query(f"access_token={TOKEN}&count=1") == "access_token=[redacted]&count=1"
    assert TOKEN not in (redact_query(f"filter=nickName%20eq%20%22Bearer%20{TOKEN}%22") or "")


@pytest.mark.both_backends
def test_the_log_keeps_group_names_and_loses_tokens(scim: Scim, database: Database) -> None:
    """End to end: a group "Basic Users" is stored under that name, a token in a nickname is not stored."""
    scim.create_group("Basic Users")
    scim.create_user("user1@contoso.example", nickName=f"Bearer {TOKEN}")
    flush(scim.client)
    with database.read() as conn:
        rows = search(conn, LogFilter(directory_id=scim.directory_id))
    bodies = [json.loads(body) for row in rows for body in (row.request_body, row.response_body)]
    assert [body.get("displayName") for body in bodies].count("Basic Users") == 2
    assert TOKEN not in json.dumps(bodies)


@pytest.mark.parametrize(
    "raw",
    [
        # Letters of a key or a credential hidden behind \u escapes: the text says nothing, the parsed body does.
        b'{"userName": "a", "pass\\u0077ord": "hunter2-xyzzy"}',
        b'{"userName": "a", "note": "\\u0042earer AbCdEfGh12345678ijkl"}',
        # Spellings a key-by-key check folds: case, "-" and "_" anywhere, the Kelvin sign's lowercase "k".
        '{"userName": "a", "Pass_Word": "hunter2-xyzzy", "api-\u212aey": "hunter2-xyzzy"}'.encode(),
        # A scheme spelt with U+017F (long s), which a case-insensitive match reads as "s" and lowercasing does not.
        ('{"userName": "a", "note": "ba\u017fic ' + BASIC + '"}').encode(),
        # JSON in UTF-16 (without a byte-order mark), which the parser accepts and a text scan of UTF-8 would not read.
        '{"userName": "a", "password": "hunter2-xyzzy"}'.encode("utf-16-le"),
    ],
)
def test_a_secret_the_text_does_not_show_is_still_redacted(raw: bytes) -> None:
    """Most bodies skip the walk through every key and value when their text shows no secret key and no credential
    hint (issue 21); a body whose text hides them must still be walked."""
    kept = redact_body(raw, 10_000)
    assert kept is not None and "hunter2" not in kept and "AbCdEfGh" not in kept and BASIC not in kept


def test_a_plain_body_is_kept_whole() -> None:
    """A body with nothing to redact is stored as sent, spacing included."""
    sent = '{ "userName":"zoë@contoso.example",\n  "emails": [{"value": "z@contoso.example", "type": "work"}]}'
    assert redact_body(sent.encode(), 10_000) == sent
