"""Rate limits: a budget per directory, and a budget of failed credentials per source, 429 with Retry-After."""

import time

from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.rate_limits import TokenBuckets
from scimgate.store.database import Database
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Scim, assert_scim_error, new_directory


def client_with(database: Database, **settings: float) -> TestClient:
    made = Settings.model_validate(
        {"public_url": BASE_URL, "operator_key": OPERATOR_KEY, "webhooks_in_serve": False, **settings}
    )
    return TestClient(create_app(made, database), base_url=BASE_URL)


def test_the_default_budget_lets_an_initial_sync_through(scim: Scim) -> None:
    """300 requests as fast as the test client goes, far above Entra's 25 a second: no 429."""
    assert all(scim.get("/Users?count=1").status_code == 200 for _ in range(300))


def test_a_directory_over_its_budget_gets_429_and_the_others_do_not(database: Database) -> None:
    """Over the burst, 429 with an integer Retry-After and a SCIM error; another directory is untouched."""
    noisy, noisy_token = new_directory(database, "Noisy")
    quiet, quiet_token = new_directory(database, "Quiet")
    with client_with(database, rate_limit_per_second=1, rate_limit_burst=5) as client:
        statuses = [
            client.get(f"/scim/v2/{noisy}/Users", headers={"Authorization": f"Bearer {noisy_token}"}).status_code
            for _ in range(8)
        ]
        assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
        limited = client.get(f"/scim/v2/{noisy}/Users", headers={"Authorization": f"Bearer {noisy_token}"})
        assert_scim_error(limited, 429)
        assert int(limited.headers["retry-after"]) >= 1
        quiet_answer = client.get(f"/scim/v2/{quiet}/Users", headers={"Authorization": f"Bearer {quiet_token}"})
        assert quiet_answer.status_code == 200


def test_a_source_guessing_tokens_is_slowed_but_its_good_token_works(database: Database) -> None:
    """After the failure budget, wrong tokens from that source get 429; right ones are still checked and accepted
    (an IdP behind the same proxy as the guesser)."""
    directory, token = new_directory(database, "Target")
    with client_with(database, auth_failures_per_minute=5) as client:
        url = f"/scim/v2/{directory}/Users"
        guesses = [
            client.get(url, headers={"Authorization": f"Bearer scimgate_guess{i}"}).status_code for i in range(8)
        ]
        assert guesses[:5] == [401] * 5 and set(guesses[5:]) == {429}
        assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_admin_sign_in_and_the_management_api_are_limited_too(database: Database) -> None:
    """Wrong operator keys and admin passwords count against the same budget."""
    with client_with(database, auth_failures_per_minute=3) as client:
        answers = [client.post("/admin/login", data={"key": f"wrong{i}"}).status_code for i in range(5)]
        assert answers[:3] == [401] * 3 and answers[3:] == [429, 429]
    with client_with(database, auth_failures_per_minute=3) as client:
        headers = {"Authorization": "Bearer wrong-key-0123456789abcdef0123456789"}
        answers = [client.get("/api/v1/directories", headers=headers).status_code for _ in range(5)]
        assert answers[:3] == [401] * 3 and answers[3:] == [429, 429]
        limited = client.get("/api/v1/directories", headers=headers)
        assert int(limited.headers["retry-after"]) >= 1
        good = client.get("/api/v1/directories", headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
        assert good.status_code == 200  # the key has 256 bits: always checked, so the operator is never locked out


def test_over_budget_the_key_still_signs_in_and_a_password_does_not(database: Database) -> None:
    """The admin password can be guessed, so over budget it is refused even when right; the operator key is not."""
    settings = Settings.model_validate(
        {
            "public_url": BASE_URL,
            "operator_key": OPERATOR_KEY,
            "admin_password": "correct horse battery",
            "auth_failures_per_minute": 2,
            "webhooks_in_serve": False,
        }
    )
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        for _ in range(3):
            client.post("/admin/login", data={"key": "wrong"})
        refused = client.post("/admin/login", data={"key": "correct horse battery"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert client.post("/admin/login", data={"key": OPERATOR_KEY}).status_code == 200


def test_token_buckets_refill() -> None:
    """A bucket spends one token per request and refills at its rate."""
    buckets = TokenBuckets(rate=20, burst=2)
    assert buckets.take("k") == 0 and buckets.take("k") == 0 and buckets.take("k") > 0
    time.sleep(0.06)
    assert buckets.take("k") == 0
    assert TokenBuckets(rate=0, burst=1).take("k") == 0  # 0 switches the limit off
