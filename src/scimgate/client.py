"""A small client for the event feed, for applications written in Python.

    with EventFeed("http://localhost:8000", operator_key, after=load_my_cursor()) as feed:
        for event in feed.events():          # waits for new events; stop with break or Ctrl-C
            handle(event)
            save_my_cursor(feed.position)    # resume exactly here after a restart

Events come in feed order; each directory's in its own sequence. Delivery is at least once across restarts (an
event handled but whose position was not saved comes again): make handlers idempotent on ``event["id"]``.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import httpx2

__all__ = ["EventFeed", "FeedError"]


class FeedError(Exception):
    """The management API refused a feed request (a wrong key, a bad cursor): retrying will not help."""


class EventFeed:
    def __init__(
        self,
        base_url: str,
        operator_key: str,
        *,
        after: str = "0",
        directory: str | None = None,
        types: Sequence[str] | None = None,
        client: httpx2.Client | None = None,
    ) -> None:
        self.position = after
        """The ``next_after`` to resume from: save it after handling each event."""
        self._params: dict[str, Any] = {}
        if directory:
            self._params["directory"] = directory
        if types:
            self._params["types"] = ",".join(types)
        self._client = client or httpx2.Client(base_url=base_url.rstrip("/"), timeout=60)
        self._headers = {"Authorization": f"Bearer {operator_key}"}

    def _fetch(self, wait: float, limit: int) -> tuple[list[dict[str, Any]], str]:
        params = {**self._params, "after": self.position, "wait": wait, "limit": limit}
        response = self._client.get("/api/v1/events", params=params, headers=self._headers)
        if response.status_code in (400, 401, 403, 404, 422):
            raise FeedError(f"{response.status_code}: {response.json().get('detail', response.text)}")
        response.raise_for_status()
        body = response.json()
        return body["data"], body["next_after"]

    def page(self, wait: float = 0, limit: int = 100) -> list[dict[str, Any]]:
        """The next events (waiting up to ``wait`` seconds for one); ``position`` moves past them."""
        found, next_after = self._fetch(wait, limit)
        self.position = next_after
        return found

    def events(self, wait: float = 25, follow: bool = True) -> Iterator[dict[str, Any]]:
        """Every event from ``position`` on; with ``follow``, keep long-polling for new ones. ``position`` moves
        past each event once the loop body that handled it has run."""
        while True:
            found, next_after = self._fetch(wait if follow else 0, 100)
            for event in found:
                yield event
                self.position = str(event["position"])
            if len(found) < 100:
                self.position = next_after
                if not follow:
                    return

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "EventFeed":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
