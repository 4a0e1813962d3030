"""Issue 20, finding 6 (webhook SSRF): webhooks reach public addresses only, unless the operator allows an internal
receiver (webhook_allow_private); the resolved address is what is checked, at connect time; and the delivery log
keeps the status and a fixed error class, never what an internal service answered."""

import ipaddress
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.cli import main
from scimgate.config import Settings
from scimgate.events import egress, feed, webhooks
from scimgate.events.delivery import Dispatcher
from scimgate.events.egress import EgressPolicy
from scimgate.store.database import Database
from scimgate.store.tables import deliveries, delivery_attempts
from tests.events.receiver import LOOPBACK, Receiver, run_until
from tests.helpers.scim import BASE_URL, OPERATOR_KEY, Api, Scim

INTERNAL_URLS = [
    "http://127.0.0.1:8000/hooks",
    "http://localhost/hooks",
    "http://10.0.0.5/hooks",
    "http://192.168.1.1/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hooks",
    "http://[::ffff:127.0.0.2]/hooks",
    "http://[fd00::1]/hooks",
    "http://[fe80::1]/hooks",
    "http://2130706434/hooks",  # decimal 127.0.0.2
    "http://0177.0.0.1/hooks",  # octal
    "http://0x7f.0.0.1/hooks",  # hex
    "http://127.1/hooks",  # short form
    "http://0/hooks",  # 0.0.0.0
    "http://224.0.0.1/hooks",  # multicast
    "http://240.0.0.1/hooks",  # reserved
    "http://100.64.0.1/hooks",  # shared address space (CGNAT)
    "http://[64:ff9b::a00:1]/hooks",  # NAT64 of 10.0.0.1
    "https://user:pass@hooks.example.com/scim",  # credentials in the URL
    "https://token@hooks.example.com/scim",
]


def attempts(database: Database, endpoint_id: str) -> list[dict[str, object]]:
    with database.read() as conn:
        return [attempt for found in webhooks.list_deliveries(conn, endpoint_id) for attempt in found.log]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_webhook_urls_are_refused_at_registration(api: Api, url: str) -> None:
    """Loopback, private, link-local, multicast, reserved and unspecified addresses in every form, and URLs with
    credentials: 400 with a reason, and no endpoint made."""
    response = api.post("/webhooks", {"url": url})
    assert response.status_code == 400, response.text
    assert response.json()["title"] == "webhook URL not allowed"
    assert "webhook_allow_private" in response.json()["detail"] or "credentials" in response.json()["detail"]
    assert api.get("/webhooks").json() == []


def test_public_webhook_urls_are_still_accepted(api: Api) -> None:
    for url in ("https://hooks.example.com/scim", "http://8.8.8.8/hooks", "http://[2001:4860:4860::8888]/hooks"):
        assert api.post("/webhooks", {"url": url}).status_code == 201, url


def test_an_allowlisted_internal_receiver_can_be_registered(database: Database) -> None:
    """webhook_allow_private names the internal receivers an operator needs: those, and only those, pass."""
    settings = Settings(
        public_url=BASE_URL,
        operator_key=OPERATOR_KEY,
        webhooks_in_serve=False,
        webhook_allow_private="10.1.0.0/16, hooks.internal",
    )
    with TestClient(create_app(settings, database), base_url=BASE_URL) as client:
        api = Api(client)
        assert api.post("/webhooks", {"url": "http://10.1.2.3:8080/hooks"}).status_code == 201
        assert api.post("/webhooks", {"url": "http://hooks.internal/scim"}).status_code == 201
        assert api.post("/webhooks", {"url": "http://10.2.0.1/hooks"}).status_code == 400
        assert api.post("/webhooks", {"url": "http://u:p@10.1.2.3/hooks"}).status_code == 400


def test_the_cli_refuses_internal_webhook_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCIMGATE_WEBHOOK_ALLOW_PRIVATE", raising=False)
    data_dir = ["--data-dir", str(tmp_path)]
    refused = CliRunner().invoke(main, ["webhook", "create", "http://169.254.169.254/latest", *data_dir])
    assert refused.exit_code != 0 and "webhook_allow_private" in refused.output
    env = {"SCIMGATE_WEBHOOK_ALLOW_PRIVATE": "169.254.169.254"}
    allowed = CliRunner().invoke(main, ["webhook", "create", "http://169.254.169.254/latest", *data_dir], env=env)
    assert allowed.exit_code == 0, allowed.output


def test_a_bad_allowlist_entry_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="not an address"):
        Settings(webhook_allow_private="10.0.0.0/33")


def test_the_allowlist_reaches_serve_worker_processes() -> None:
    """serve --workers passes settings as variables: the list arrives as the list it was."""
    from scimgate.cli import _environment

    environment = _environment(Settings(webhook_allow_private=["10.0.0.0/8", "hooks.internal"]))
    assert environment["SCIMGATE_WEBHOOK_ALLOW_PRIVATE"] == "10.0.0.0/8,hooks.internal"
    parsed = Settings.model_validate({name[9:].lower(): value for name, value in environment.items()})
    assert parsed.webhook_allow_private == ["10.0.0.0/8", "hooks.internal"]


def test_a_name_resolving_to_loopback_is_refused_at_connect_time(
    database: Database, scim: Scim, receiver: Receiver
) -> None:
    """`localhost` resolves to 127.0.0.1, where a receiver listens: with the endpoint in the database (registered
    while allowed) but loopback not allowed now, the receiver gets nothing and the attempt says why."""
    url = receiver.start().replace("127.0.0.1", "localhost")
    with database.write() as conn:
        endpoint = webhooks.create_endpoint(conn, url, types=["user.created"], egress=EgressPolicy.parse(["localhost"]))
    scim.create_user("user1@contoso.example")
    run_until(Dispatcher(database), lambda: bool(attempts(database, endpoint.id)))
    assert receiver.received == []
    assert attempts(database, endpoint.id)[0]["error"] == "address not allowed"
    assert attempts(database, endpoint.id)[0]["status_code"] is None


def test_the_checked_address_is_the_one_connected_to(
    api: Api, database: Database, scim: Scim, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a public-looking name, registered fine, answers 127.0.0.1 when the delivery resolves it. It
    is refused; allowed, the delivery reaches the checked address (the name itself never resolves)."""
    resolved = {"hooks.contoso.example": [ipaddress.ip_address("127.0.0.1")]}

    async def fake_resolve(host: str, port: int) -> list[egress.Address]:
        return resolved[host]

    monkeypatch.setattr(egress, "_resolve", fake_resolve)
    port = receiver.start().split(":")[2].split("/")[0]
    made = api.post("/webhooks", {"url": f"http://hooks.contoso.example:{port}/hooks", "types": ["user.created"]})
    assert made.status_code == 201
    scim.create_user("user2@contoso.example")
    run_until(Dispatcher(database), lambda: bool(attempts(database, made.json()["id"])))
    assert receiver.received == [] and attempts(database, made.json()["id"])[0]["error"] == "address not allowed"
    with database.write() as conn:
        # The refused attempt left the delivery pending, its retry a few seconds away: sent again now, by its id
        # (an endpoint's redelivery takes only the failed ones).
        (delivery,) = webhooks.list_deliveries(conn, made.json()["id"])
        assert webhooks.redeliver(conn, made.json()["id"], delivery.id) == 1
    run_until(Dispatcher(database, egress=LOOPBACK), lambda: len(receiver.received) == 1)
    assert receiver.received[0].headers["host"] == f"hooks.contoso.example:{port}"


def test_a_failed_attempt_keeps_the_status_and_a_class_not_the_answer(
    api: Api, app_client: TestClient, database: Database, scim: Scim, receiver: Receiver
) -> None:
    """The receiver's answer and the connection error text are not readable: the API and /admin show "HTTP 503"
    and "connection refused", nothing of the body, no errno."""
    receiver.fail_first, receiver.failure_body = 100, b"root:x:0:0:internal-secret"
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    answering = webhooks_endpoint(database, receiver.start())
    refusing = webhooks_endpoint(database, f"http://127.0.0.1:{closed_port}/hooks")
    scim.create_user("user3@contoso.example")
    run_until(
        Dispatcher(database, egress=LOOPBACK),
        lambda: bool(attempts(database, answering.id)) and bool(attempts(database, refusing.id)),
    )
    assert attempts(database, answering.id)[0] | {"attempted_at": "", "latency_ms": 0} == {
        "attempted_at": "",
        "latency_ms": 0,
        "status_code": 503,
        "error": "HTTP 503",
    }
    assert attempts(database, refusing.id)[0]["error"] == "connection refused"
    app_client.post("/admin/login", data={"key": OPERATOR_KEY})
    for endpoint in (answering, refusing):
        shown = (
            api.get(f"/webhooks/{endpoint.id}/deliveries").text + app_client.get(f"/admin/webhooks/{endpoint.id}").text
        )
        assert "internal-secret" not in shown and "Errno" not in shown and "111" not in shown


def webhooks_endpoint(database: Database, url: str) -> webhooks.Endpoint:
    with database.write() as conn:
        return webhooks.create_endpoint(conn, url, types=["user.created"], egress=LOOPBACK)


@pytest.mark.both_backends
def test_answers_stored_before_the_fix_are_not_shown(api: Api, database: Database, scim: Scim) -> None:
    """Attempts recorded by an older scimgate kept the answer and the raw error text: neither is shown now."""
    endpoint = webhooks_endpoint(database, "https://hooks.example.com/scim")
    scim.create_user("user4@contoso.example")
    feed.sequence(database)
    with database.write() as conn:
        delivery_id = conn.execute(deliveries.select()).first().id  # type: ignore[union-attr]
        conn.execute(
            delivery_attempts.insert().values(
                id="att_old",
                delivery_id=delivery_id,
                attempted_at=datetime.now(UTC),
                status_code=None,
                latency_ms=3,
                response_snippet="root:x:0:0:internal-secret",
                error="ConnectError: [Errno 111] Connection refused by 10.0.0.7:6379",
            )
        )
    shown = api.get(f"/webhooks/{endpoint.id}/deliveries")
    assert shown.status_code == 200
    assert shown.json()[0]["log"][0]["error"] == "request failed"
    assert "internal-secret" not in shown.text and "6379" not in shown.text


@pytest.mark.parametrize(
    ("host", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("::ffff:10.0.0.1", False),
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("::127.0.0.1", False),  # IPv4-compatible
        ("ff02::1", False),
        ("::", False),
        ("192.0.2.1", False),  # documentation
    ],
)
def test_which_addresses_are_public(host: str, public: bool) -> None:
    assert egress.is_public(ipaddress.ip_address(host)) is public
