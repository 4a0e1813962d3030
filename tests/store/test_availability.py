"""A database that is down, locked or slow gives 503 with Retry-After (never a hang or a 500), and lost races
are retried; the service recovers by itself."""

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.ids import new_id
from scimgate.store.database import Database, DatabaseLimits, retrying
from scimgate.store.tables import users
from tests.helpers.scim import BASE_URL, Scim, assert_scim_error, new_directory

pytestmark = pytest.mark.both_backends


def test_unreachable_database_is_503_quickly() -> None:
    """Nothing listens on the database port: every SCIM request answers 503 with Retry-After within seconds."""
    db = Database("postgresql+psycopg://postgres@127.0.0.1:1/none", DatabaseLimits(connect_timeout=1))
    try:
        with TestClient(create_app(Settings(public_url=BASE_URL), db), base_url=BASE_URL) as client:
            started = time.monotonic()
            response = client.get("/scim/v2/dir_x/Users", headers={"Authorization": "Bearer scimgate_x"})
            assert time.monotonic() - started < 5
        body = assert_scim_error(response, 503)
        assert int(response.headers["retry-after"]) > 0 and "nothing was changed" in body["detail"]
    finally:
        db.dispose()


def _slow_database(database: Database) -> Database:
    """The same database, with a statement (and lock wait) timeout of half a second."""
    return Database(database.url.render_as_string(hide_password=False), DatabaseLimits(statement_timeout=0.5))


def test_a_locked_resource_times_out_into_503_then_works(scim: Scim, database: Database) -> None:
    """Another transaction holds the row (PostgreSQL) or the write lock (SQLite) past the statement timeout:
    the PATCH answers 503 and changes nothing; once the lock is gone the same PATCH succeeds."""
    user = scim.create_user("locked@example.com")
    slow = _slow_database(database)
    body = {"Operations": [{"op": "replace", "path": "title", "value": "T"}]}
    headers = scim.headers({"Content-Type": "application/scim+json"})
    blocker = database.engine.connect()
    try:
        blocker = blocker.execution_options(scimgate_write=True)
        transaction = blocker.begin()
        blocker.exec_driver_sql(
            "UPDATE users SET version = version WHERE id = ?"
            if database.is_sqlite
            else "UPDATE users SET version = version WHERE id = %(id)s",
            (user["id"],) if database.is_sqlite else {"id": user["id"]},
        )
        with TestClient(create_app(Settings(public_url=BASE_URL), slow), base_url=BASE_URL) as client:
            started = time.monotonic()
            response = client.patch(f"{scim.base}/Users/{user['id']}", json=body, headers=headers)
            assert time.monotonic() - started < 5
            assert_scim_error(response, 503)
            assert client.get("/readyz").status_code == 503  # too slow to take writes: not ready (plan H4)
            transaction.rollback()
            assert client.patch(f"{scim.base}/Users/{user['id']}", json=body, headers=headers).status_code == 200
    finally:
        blocker.close()
        slow.dispose()
    assert scim.get(f"/Users/{user['id']}").json()["title"] == "T"


def test_service_recovers_when_connections_are_killed(pg_database: Database) -> None:
    """PostgreSQL drops every connection of the app (a restart, a failover): the next requests just work."""
    with TestClient(create_app(Settings(public_url=BASE_URL), pg_database), base_url=BASE_URL) as client:
        directory_id, token = new_directory(pg_database, "Failover")
        scim = Scim(client, directory_id, token)
        scim.create_user("before@example.com")
        _terminate_connections(pg_database)
        assert scim.get("/Users").json()["totalResults"] == 1
        scim.create_user("after@example.com")


def _terminate_connections(database: Database) -> None:
    admin = sa.create_engine(database.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    admin.dispose()


class _Lost(Exception):
    sqlstate = "40P01"


def test_retrying_reruns_lost_races_only() -> None:
    """A deadlock or serialization failure is retried; any other error is raised at once."""
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise sa.exc.OperationalError("UPDATE …", {}, _Lost())
        return "done"

    assert retrying(flaky) == "done" and len(attempts) == 3

    def broken() -> None:
        raise sa.exc.IntegrityError("INSERT …", {}, Exception("duplicate"))

    with pytest.raises(sa.exc.IntegrityError):
        retrying(broken)


def test_a_real_deadlock_is_retried(pg_database: Database) -> None:
    """Two transactions take two rows in opposite orders; PostgreSQL kills one, which runs again and succeeds.
    (SQLite serialises writers, so it cannot deadlock.)"""
    database = pg_database
    with database.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO directories (id, name, created_at) VALUES ('dir_a', 'a', now()), ('dir_b', 'b', now())"
        )
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def work(first: str, second: str) -> None:
        calls = 0

        def transaction() -> None:
            nonlocal calls
            calls += 1
            with database.write() as conn:
                conn.exec_driver_sql("UPDATE directories SET name = name WHERE id = %(id)s", {"id": first})
                if calls == 1:
                    barrier.wait(timeout=5)
                conn.exec_driver_sql("UPDATE directories SET name = name WHERE id = %(id)s", {"id": second})

        retrying(transaction)
        results.append(calls)

    threads = [threading.Thread(target=work, args=pair) for pair in (("dir_a", "dir_b"), ("dir_b", "dir_a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [1, 2]  # both finished; the deadlock victim ran twice


def test_a_connection_reset_mid_transaction_is_503_and_writes_nothing(
    pg_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL drops the connection in the middle of a create (after the user row, before the commit): 503
    with Retry-After, no user and no event left behind, and the next request works."""
    import scimgate.scim.changes as record
    from scimgate.store.tables import events, users

    original = record.user_created

    def reset_then_continue(change: Any, *args: Any, **kwargs: Any) -> None:
        original(change, *args, **kwargs)
        pid = change.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        admin = sa.create_engine(pg_database.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        admin.dispose()

    with TestClient(create_app(Settings(public_url=BASE_URL), pg_database), base_url=BASE_URL) as client:
        directory_id, token = new_directory(pg_database, "Reset")
        scim = Scim(client, directory_id, token)
        scim.create_user("before@example.com")
        monkeypatch.setattr(record, "user_created", reset_then_continue)
        response = scim.post(
            "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@e.org"}
        )
        assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1
        monkeypatch.setattr(record, "user_created", original)
        with pg_database.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar() == 1
            assert conn.execute(sa.select(sa.func.count()).where(events.c.type == "user.created")).scalar() == 1
        scim.create_user("after@example.com")


@pytest.mark.parametrize("sqlstate", ["serialization_failure", "deadlock_detected"])
def test_a_race_lost_every_time_is_503_after_the_retries(pg_database: Database, sqlstate: str) -> None:
    """G8 end to end: PostgreSQL itself fails every update of the user with a lost race (a trigger raises it).
    scimgate runs the whole request again a few times, then answers 503 with Retry-After and no SQL in the body;
    the user is unchanged; once the database stops failing, the same request succeeds."""
    with TestClient(create_app(Settings(public_url=BASE_URL), pg_database), base_url=BASE_URL) as client:
        directory_id, token = new_directory(pg_database, "Races")
        scim = Scim(client, directory_id, token)
        user = scim.create_user("contended@example.com", title="Before")
        with pg_database.engine.begin() as conn:
            conn.exec_driver_sql("CREATE SEQUENCE lost_races")
            conn.exec_driver_sql(
                "CREATE FUNCTION lose_the_race() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"PERFORM nextval('lost_races'); RAISE EXCEPTION 'lost' USING ERRCODE = '{sqlstate}'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER lose_the_race BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION lose_the_race()"
            )
        body = {"Operations": [{"op": "replace", "path": "title", "value": "After"}]}
        headers = scim.headers({"Content-Type": "application/scim+json"})
        try:
            response = client.patch(f"{scim.base}/Users/{user['id']}", json=body, headers=headers)
            error = assert_scim_error(response, 503)
            assert int(response.headers["retry-after"]) >= 1
            assert "lost" not in error["detail"] and "UPDATE" not in error["detail"]
            with pg_database.engine.connect() as conn:  # nextval is not rolled back: it counts the attempts
                assert conn.exec_driver_sql("SELECT last_value FROM lost_races").scalar_one() == 4
        finally:
            with pg_database.engine.begin() as conn:
                conn.exec_driver_sql("DROP TRIGGER lose_the_race ON users")
                conn.exec_driver_sql("DROP FUNCTION lose_the_race()")
                conn.exec_driver_sql("DROP SEQUENCE lost_races")
        assert scim.get(f"/Users/{user['id']}").json()["title"] == "Before"
        assert client.patch(f"{scim.base}/Users/{user['id']}", json=body, headers=headers).status_code == 200


def _many_users(database: Database, directory_id: str, n: int) -> str:
    """n users with three emails each, inserted directly (the SCIM API would take minutes); the first one's id."""
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        name = f"user{i:06d}@example.com"
        emails = [{"value": f"{kind}{i}@example.com", "type": kind} for kind in ("work", "home", "other")]
        rows.append(
            {
                "directory_id": directory_id,
                "id": new_id("usr"),
                "user_name": name,
                "user_name_key": name,
                "active": True,
                "attributes": {"userName": name, "active": True, "title": f"T{n - i}", "emails": emails},
                "created": now,
                "last_modified": now,
                "version": 1,
            }
        )
    with database.write() as conn:
        for start in range(0, n, 5000):
            conn.execute(users.insert(), rows[start : start + 5000])
    return str(rows[0]["id"])


def test_a_pathological_query_stops_at_the_statement_timeout(database: Database) -> None:
    """F10: a valid but expensive query (a substring of any email, sorted on an unindexed attribute, over 40,000
    users) is cut off at the statement timeout with 503 and Retry-After, on SQLite as on PostgreSQL; the next
    request on the same pool works; with the default timeout the same query simply answers."""
    directory_id, token = new_directory(database, "Big")
    first = _many_users(database, directory_id, 40_000)
    query = {"filter": 'emails.value co "nowhere"', "sortBy": "title"}
    headers = {"Authorization": f"Bearer {token}"}
    hasty = Database(database.url.render_as_string(hide_password=False), DatabaseLimits(statement_timeout=0.02))
    try:
        with TestClient(create_app(Settings(public_url=BASE_URL), hasty), base_url=BASE_URL) as client:
            url = f"/scim/v2/{directory_id}/Users"
            started = time.monotonic()
            response = client.get(url, params=query, headers=headers)
            assert_scim_error(response, 503)
            assert int(response.headers["retry-after"]) >= 1 and time.monotonic() - started < 5
            # The pool is fine: a cheap read answers. (On a busy machine one may itself outlast 20 ms: a few tries;
            # a connection left broken by the cancelled statement would fail them all.)
            assert any(client.get(f"{url}/{first}", headers=headers).status_code == 200 for _ in range(5))
    finally:
        hasty.dispose()
    with TestClient(create_app(Settings(public_url=BASE_URL), database), base_url=BASE_URL) as client:
        answer = client.get(f"/scim/v2/{directory_id}/Users", params=query, headers=headers)
        assert answer.status_code == 200 and answer.json()["totalResults"] == 0


def test_a_read_only_postgresql_is_503_and_not_ready(pg_database: Database) -> None:
    """H4 on PostgreSQL: the database turned read-only (a replica promoted the wrong way, an operator's
    default_transaction_read_only): writes get 503 with Retry-After, not 500; readiness is false; reads work."""
    name = pg_database.url.database
    with TestClient(create_app(Settings(public_url=BASE_URL), pg_database), base_url=BASE_URL) as client:
        directory_id, token = new_directory(pg_database, "Read-only")
        scim = Scim(client, directory_id, token)
        scim.create_user("before@example.com")
        with pg_database.engine.begin() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        pg_database.engine.dispose()  # new connections read the setting
        try:
            response = scim.post("/Users", {"userName": "during@example.com"})
            assert_scim_error(response, 503)
            assert scim.get("/Users").json()["totalResults"] == 1
            assert client.get("/readyz").status_code == 503
        finally:
            with pg_database.engine.begin() as conn:
                conn.exec_driver_sql("SET TRANSACTION READ WRITE")
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            pg_database.engine.dispose()
        assert scim.post("/Users", {"userName": "after@example.com"}).status_code == 201


def test_a_connection_given_back_after_dispose_is_closed(pg_database: Database) -> None:
    """A request still running when its Database is disposed (a scan abandoned at its deadline, a shutdown) gives
    its connection back afterwards: it is closed then, not parked in the discarded pool until the garbage collector
    finds it open (psycopg's "deleted while still open" warning, and a server backend held until then)."""
    db = Database(pg_database.url.render_as_string(hide_password=False))
    conn = db.engine.connect()
    conn.exec_driver_sql("SELECT 1")
    raw = conn.connection.dbapi_connection
    db.dispose()
    conn.close()
    assert raw is not None and raw.closed
