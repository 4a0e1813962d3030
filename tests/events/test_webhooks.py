"""Webhooks: Standard Webhooks signatures (checked with the standardwebhooks library), at-least-once delivery with
retries against a real receiver on loopback (allowed explicitly, as webhook_allow_private does), the attempt log,
disabling and redelivery, claims between workers."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from scimgate.events import feed, webhooks
from scimgate.events.delivery import Dispatcher
from scimgate.store.database import Database
from tests.events.receiver import LOOPBACK, Receiver, run_until
from tests.helpers.scim import Api, Scim

pytestmark = pytest.mark.both_backends

FAST = (0.05, 0.05, 0.05)  # the retry schedule, shortened: three retries after the first attempt


def add_endpoint(database: Database, url: str, **kwargs: object) -> webhooks.Endpoint:
    with database.write() as conn:
        return webhooks.create_endpoint(conn, url, egress=LOOPBACK, **kwargs)  # type: ignore[arg-type]


def deliveries(database: Database, endpoint_id: str) -> list[webhooks.DeliveryInfo]:
    with database.read() as conn:
        return webhooks.list_deliveries(conn, endpoint_id)


def statuses(database: Database, endpoint_id: str) -> list[str]:
    return [delivery.status for delivery in deliveries(database, endpoint_id)]


def test_messages_verify_with_the_standard_webhooks_library(database: Database, scim: Scim, receiver: Receiver) -> None:
    """Each message carries webhook-id (the feed's event id), -timestamp and -signature that the PyPI
    standardwebhooks library accepts; a tampered body or an old timestamp it refuses."""
    endpoint = add_endpoint(database, receiver.start(), directory_id=scim.directory_id)
    user = scim.create_user("ada@example.com")
    run_until(Dispatcher(database, egress=LOOPBACK), lambda: len(receiver.received) >= 1)
    assert len(receiver.received) == 1  # directory.created happened before the endpoint existed
    message = receiver.received[0]
    verified = Webhook(endpoint.secret).verify(message.body, message.headers)
    assert verified["type"] == "user.created" and verified["data"]["object"]["id"] == user["id"]
    feed_event = feed.read(database, 0, types=["user.created"]).events[0]
    assert message.headers["webhook-id"] == feed_event["id"] == verified["id"]
    assert json.loads(message.body) == feed_event
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(message.body.replace(b"ada@", b"eve@"), message.headers)
    old = {**message.headers, "webhook-timestamp": str(int(datetime.now(UTC).timestamp()) - 3600)}
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(message.body, old)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(message.body, message.headers)


def test_a_failing_receiver_gets_the_event_once_it_acknowledges(
    database: Database, scim: Scim, receiver: Receiver
) -> None:
    """The receiver fails twice; the third attempt succeeds; then nothing more is sent, and the log shows all
    three attempts with status and latency; a failed one says why, as a class, never with the answer's body."""
    receiver.fail_first = 2
    endpoint = add_endpoint(database, receiver.start(), types=["user.created"])
    scim.create_user("retry@example.com")
    dispatcher = Dispatcher(database, egress=LOOPBACK, schedule=FAST)
    run_until(dispatcher, lambda: statuses(database, endpoint.id) == ["succeeded"])
    run_until(dispatcher, lambda: True)  # one more round: nothing left to send
    assert len(receiver.received) == 3
    assert len({message.headers["webhook-id"] for message in receiver.received}) == 1
    delivery = deliveries(database, endpoint.id)[0]
    assert (delivery.attempts, delivery.event_type) == (3, "user.created")
    assert [attempt["status_code"] for attempt in delivery.log] == [503, 503, 200]
    assert [attempt["error"] for attempt in delivery.log] == ["HTTP 503", "HTTP 503", None]
    assert all(a["latency_ms"] >= 0 for a in delivery.log) and all("response" not in a for a in delivery.log)


def test_the_retry_schedule_backs_off_with_jitter(database: Database, scim: Scim, receiver: Receiver) -> None:
    """After a failure the next attempt waits the schedule's delay, ±20 %, about a day in all by default."""
    receiver.fail_first = 1
    endpoint = add_endpoint(database, receiver.start())
    scim.create_user("later@example.com")
    dispatcher = Dispatcher(database, egress=LOOPBACK)  # the real schedule: 5 s after the first failure
    run_until(dispatcher, lambda: any(d.log for d in deliveries(database, endpoint.id)))
    delivery = next(d for d in deliveries(database, endpoint.id) if d.event_type == "user.created")
    assert delivery.status == "pending" and delivery.next_attempt_at is not None
    wait = (delivery.next_attempt_at - datetime.now(UTC)).total_seconds()
    assert 3.0 < wait <= 6.0
    assert 24 < sum(Dispatcher(database, egress=LOOPBACK).schedule) / 3600 < 30


def test_an_endpoint_that_never_answers_is_disabled_and_says_why(
    api: Api, database: Database, scim: Scim, receiver: Receiver
) -> None:
    """When the whole schedule fails and nothing got through meanwhile, the delivery is failed and the endpoint
    disabled with a reason; enabled again, redeliver-failed sends it, and the receiver gets it."""
    receiver.fail_first = 100
    endpoint = add_endpoint(database, receiver.start(), types=["user.created"])
    scim.create_user("dead@example.com")
    dispatcher = Dispatcher(database, egress=LOOPBACK, schedule=FAST)
    run_until(dispatcher, lambda: statuses(database, endpoint.id) == ["failed"])
    shown = api.get("/webhooks").json()[0]
    assert shown["status"] == "disabled" and "failed" in shown["disabled_reason"]
    assert "HTTP 503" in shown["disabled_reason"] and "redeliver" in shown["disabled_reason"]
    scim.create_user("queued@example.com")  # queued for the disabled endpoint, not sent
    run_until(dispatcher, lambda: True)
    assert len(receiver.received) == 4
    receiver.fail_first = 0
    assert api.patch(f"/webhooks/{endpoint.id}", {"status": "enabled"}).json()["status"] == "enabled"
    assert api.post(f"/webhooks/{endpoint.id}/redeliver-failed").json() == {"redelivered": 1}
    run_until(dispatcher, lambda: statuses(database, endpoint.id) == ["succeeded", "succeeded"])
    names = {json.loads(m.body)["data"]["object"]["user_name"] for m in receiver.received[4:]}
    assert names == {"dead@example.com", "queued@example.com"}


def test_endpoints_get_only_their_directory_and_types(
    database: Database, scim: Scim, other_scim: Scim, receiver: Receiver
) -> None:
    """An endpoint of one directory never gets another's events; a type filter holds."""
    url = receiver.start()
    mine = add_endpoint(database, url, directory_id=scim.directory_id, types=["group.created"])
    scim.create_group("Mine")
    other_scim.create_group("Theirs")
    scim.create_user("not-a-group@example.com")
    run_until(Dispatcher(database, egress=LOOPBACK), lambda: len(receiver.received) >= 1)
    run_until(Dispatcher(database, egress=LOOPBACK), lambda: True)
    assert [json.loads(m.body)["data"]["object"]["display_name"] for m in receiver.received] == ["Mine"]
    assert len(deliveries(database, mine.id)) == 1


def test_a_rotated_secret_signs_alongside_the_old_one(database: Database, scim: Scim, receiver: Receiver) -> None:
    """During the overlap both signatures are sent, so receivers holding either secret verify the message."""
    endpoint = add_endpoint(database, receiver.start(), types=["user.created"])
    with database.write() as conn:
        rotated = webhooks.rotate_secret(conn, endpoint.id, timedelta(hours=1))
    assert rotated is not None
    scim.create_user("both@example.com")
    run_until(Dispatcher(database, egress=LOOPBACK), lambda: len(receiver.received) >= 1)
    message = receiver.received[0]
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint.secret, rotated.secret):
        Webhook(secret).verify(message.body, message.headers)


def test_two_workers_never_send_the_same_attempt(database: Database, scim: Scim, receiver: Receiver) -> None:
    """Deliveries are claimed: two dispatchers on one database send each message exactly once."""
    add_endpoint(database, receiver.start(), types=["user.created"])
    for i in range(12):
        scim.create_user(f"claim{i}@example.com")

    async def both() -> None:
        async def worker() -> None:
            dispatcher = Dispatcher(database, egress=LOOPBACK, batch=3)
            async with dispatcher.client() as client:
                for _ in range(200):
                    if len(receiver.received) >= 12:
                        return
                    if not await dispatcher.round(client):
                        await asyncio.sleep(0.01)

        await asyncio.gather(worker(), worker())

    asyncio.run(both())
    ids = [m.headers["webhook-id"] for m in receiver.received]
    assert len(ids) == 12 and len(set(ids)) == 12


def test_webhook_management_api(api: Api, scim: Scim) -> None:
    """Endpoints are created with their secret (shown then), listed without it, validated, rotated and deleted."""
    made = api.post("/webhooks", {"url": "https://app.example.com/hooks", "directory_id": scim.directory_id})
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    assert made.json()["secret"] not in api.get("/webhooks").text
    for bad in (
        {"url": "ftp://x"},
        {"url": "https://x", "types": ["user.exploded"]},
        {"url": "https://x", "directory_id": "dir_nope"},
    ):
        assert api.post("/webhooks", bad).status_code in (404, 422)
    rotated = api.post(f"/webhooks/{made.json()['id']}/rotate-secret")
    assert rotated.json()["secret"] != made.json()["secret"]
    assert api.get(f"/webhooks/{made.json()['id']}/deliveries").json() == []
    assert api.delete(f"/webhooks/{made.json()['id']}").status_code == 204
    assert api.get("/webhooks").json() == []


def test_a_receiver_that_trickles_its_answer_fails_within_the_timeout(
    database: Database, scim: Scim, receiver: Receiver
) -> None:
    """The timeout covers the whole attempt, answer included: an answer dripping in fails, and is retried."""
    receiver.trickle = 0.3
    endpoint = add_endpoint(database, receiver.start(), types=["user.created"])
    scim.create_user("slow@example.com")
    dispatcher = Dispatcher(database, egress=LOOPBACK, timeout=0.5, schedule=FAST)
    run_until(dispatcher, lambda: any(d.log for d in deliveries(database, endpoint.id)))
    attempt = deliveries(database, endpoint.id)[0].log[0]
    assert attempt["status_code"] is None and attempt["error"] == "timeout: no complete answer within 0.5 s"
    assert attempt["latency_ms"] < 2000


def test_redelivering_an_attempt_in_flight_keeps_its_claim(database: Database, scim: Scim, receiver: Receiver) -> None:
    """Redeliver does not hand a delivery being attempted to a second worker: the claim stays."""
    from scimgate.store.tables import deliveries as table

    endpoint = add_endpoint(database, receiver.start(), types=["user.created"])
    scim.create_user("busy@example.com")
    feed.sequence(database)
    claimed = Dispatcher(database, egress=LOOPBACK)._claim(1)
    assert len(claimed) == 1
    with database.write() as conn:
        assert webhooks.redeliver(conn, endpoint.id, claimed[0].delivery_id) == 1
    assert Dispatcher(database, egress=LOOPBACK)._claim(1) == []  # still claimed by the first worker
    with database.read() as conn:
        row = conn.execute(table.select().where(table.c.id == claimed[0].delivery_id)).one()
    assert row.claimed_until is not None and row.status == "pending"
