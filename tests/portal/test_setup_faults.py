"""The setup page under faults and guessing (issue 23, security review): a busy database is a 503 page that logs no
link secret, a wrong guess never takes the database writer, and a domain added twice at once is one domain."""

import logging
import sqlite3
import time
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scimgate.directories import domains
from scimgate.directories.domains import DomainError, add_domain
from scimgate.portal import progress
from scimgate.store.database import Database
from tests.helpers.scim import Scim
from tests.helpers.setup_links import new_link


def test_a_database_fault_is_a_503_page_and_the_log_keeps_no_secret(
    database: Database, scim: Scim, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, page = new_link(database, scim.directory_id)
    secret = page.rsplit("/", 1)[1]

    def busy(*_args: Any, **_kwargs: Any) -> Any:
        raise sa.exc.OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(progress, "recent_requests", busy)
    client = TestClient(scim.client.app, base_url=str(scim.client.base_url), raise_server_exceptions=False)
    with caplog.at_level(logging.INFO):
        answer = client.get(page + "/activity")
    assert answer.status_code == 503
    server_lines = [record.getMessage() for record in caplog.records if record.name.startswith("scimgate")]
    assert server_lines and not any(secret in line for line in server_lines)  # (the test client logs its own URL)


def test_a_wrong_guess_is_answered_while_another_process_holds_the_writer(database: Database, scim: Scim) -> None:
    """SQLite: a guess costs a read, so it is answered at once even while a writer holds the database."""
    holder = sqlite3.connect(str(database.url.database), timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        client = TestClient(scim.client.app, base_url=str(scim.client.base_url))
        started = time.monotonic()
        answer = client.get("/setup/scimgate_sl_" + "x" * 43)
        assert answer.status_code == 404
        assert time.monotonic() - started < 5  # a write would wait for busy_timeout (30 s), then 503
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.both_backends
def test_a_domain_added_twice_at_once_is_one_domain(
    database: Database, scim: Scim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests both find the domain absent, then insert: the second is told it is declared (no 500)."""
    with database.write() as conn:
        add_domain(conn, scim.directory_id, "example.com")
    monkeypatch.setattr(domains, "list_domains", lambda *_args: [])  # the second request read before the first wrote
    with pytest.raises(DomainError, match="already declared"), database.write() as conn:
        add_domain(conn, scim.directory_id, "example.com")
    monkeypatch.undo()
    with database.read() as conn:
        assert [d.domain for d in domains.list_domains(conn, scim.directory_id)] == ["example.com"]
