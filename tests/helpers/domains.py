"""Email-domain verification in tests: a fake DNS resolver (no lookup leaves the machine) and an app that uses it."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.store.database import Database
from tests.helpers.scim import BASE_URL


@dataclass
class FakeResolver:
    """TXT records by name, as a test publishes them; every lookup is recorded."""

    records: dict[str, list[str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def publish(self, name: str, value: str) -> None:
        self.records.setdefault(name, []).append(value)

    def txt(self, name: str) -> list[str]:
        self.asked.append(name)
        return list(self.records.get(name, []))


@contextmanager
def client_with(resolver: FakeResolver, settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database, resolver=resolver), base_url=BASE_URL) as client:
        yield client
