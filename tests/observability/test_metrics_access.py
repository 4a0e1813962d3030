"""Issue 20, finding 8: ``/metrics`` lists every directory id with its traffic, which a SCIM 401 never reveals.
It is absent (404, as any unknown path) unless the operator opens it with ``metrics_token`` or ``metrics_public``."""

from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from scimgate.app import create_app
from scimgate.config import Settings
from scimgate.store.database import Database
from tests.helpers.scim import BASE_URL, METRICS_TOKEN, new_directory


def _client(database: Database, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(public_url=BASE_URL, **settings), database), base_url=BASE_URL)  # type: ignore[arg-type]


def _traffic(client: TestClient, database: Database) -> str:
    """A directory that has had a request through this app, so its /metrics would name it; its id."""
    directory_id, token = new_directory(database, "Contoso")
    response = client.get(f"/scim/v2/{directory_id}/Users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return directory_id


@pytest.fixture
def closed(database: Database) -> Iterator[TestClient]:
    with _client(database) as client:
        yield client


@pytest.fixture
def with_token(database: Database) -> Iterator[TestClient]:
    with _client(database, metrics_token=METRICS_TOKEN) as client:
        yield client


def test_metrics_is_absent_unless_the_operator_opens_it(closed: TestClient) -> None:
    """By default /metrics answers exactly what a path that does not exist answers: nothing to learn from it."""
    metrics = closed.get("/metrics")
    unknown = closed.get("/no-such-page")
    assert metrics.status_code == 404
    assert (metrics.headers["content-type"], metrics.text) == (unknown.headers["content-type"], unknown.text)


def test_closed_metrics_names_no_directory(closed: TestClient, database: Database) -> None:
    """A directory with traffic is named nowhere in what a stranger gets from /metrics."""
    directory_id = _traffic(closed, database)
    response = closed.get("/metrics")
    assert response.status_code == 404 and directory_id not in response.text


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token-0123456789abcdef0123456789",
        f"Bearer {METRICS_TOKEN}x",
        f"Bearer {METRICS_TOKEN[:-1]}",
        f"Basic {METRICS_TOKEN}",
        f"Token {METRICS_TOKEN}",
        METRICS_TOKEN,
    ],
)
def test_metrics_token_is_required(with_token: TestClient, database: Database, authorization: str | None) -> None:
    """With metrics_token set, a scrape without it, with another, or with it under another scheme gets 401 and a
    Bearer challenge, not the metrics."""
    directory_id = _traffic(with_token, database)
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = with_token.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert "scimgate_" not in response.text and directory_id not in response.text


def test_two_authorization_headers_are_refused(with_token: TestClient) -> None:
    """The right token beside a wrong one is not an answer: which one would count is ambiguous."""
    headers = [("Authorization", f"Bearer {METRICS_TOKEN}"), ("Authorization", "Bearer other")]
    assert with_token.get("/metrics", headers=headers).status_code == 401


def test_the_right_token_reads_the_metrics(with_token: TestClient, database: Database) -> None:
    """Prometheus with `authorization: credentials_file` (any case of the scheme) gets every series."""
    directory_id = _traffic(with_token, database)
    for scheme in ("Bearer", "bearer"):
        response = with_token.get("/metrics", headers={"Authorization": f"{scheme} {METRICS_TOKEN}"})
        assert response.status_code == 200
        assert f'directory="{directory_id}"' in response.text


def test_metrics_public_opens_it_without_a_token(database: Database) -> None:
    """metrics_public: the operator's explicit choice to serve /metrics to anyone who reaches it."""
    with _client(database, metrics_public=True) as client:
        directory_id = _traffic(client, database)
        response = client.get("/metrics")
    assert response.status_code == 200 and f'directory="{directory_id}"' in response.text


def test_a_token_and_public_together_are_refused() -> None:
    """Both set would leave unclear whether a scrape needs the token: the settings say which to choose."""
    with pytest.raises(ValidationError, match="not both"):
        Settings(metrics_token=METRICS_TOKEN, metrics_public=True)


def test_a_short_metrics_token_is_refused() -> None:
    """A token a guesser could find is refused at start-up, as the operator key is."""
    with pytest.raises(ValidationError, match=r"metrics_token\n.*at least 32"):
        Settings(metrics_token="short")
