"""A real HTTP webhook receiver on loopback, for the delivery tests: it records what arrives and can fail the
first N requests (with a status, or by hanging)."""

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scimgate.events.delivery import Dispatcher
from scimgate.events.egress import EgressPolicy

# Webhooks refuse loopback receivers (issue 20, finding 6): the tests that deliver to this receiver allow it as an
# operator would, with webhook_allow_private.
LOOPBACK = EgressPolicy.parse(["127.0.0.0/8"])


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    fail_first: int = 0
    fail_status: int = 503
    hang_first: float = 0.0
    """Seconds to sleep before answering the first request (to let a test kill the sender mid-delivery)."""
    trickle: float = 0.0
    """Seconds between the bytes of the answer (a receiver that answers, but never quite finishes)."""
    failure_body: bytes = b'{"ok": false}'
    """What a failing answer carries (an internal service's data, for the SSRF tests)."""
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                    count = len(receiver.received)
                if count == 1 and receiver.hang_first:
                    time.sleep(receiver.hang_first)
                status = receiver.fail_status if count <= receiver.fail_first else 200
                answer = receiver.failure_body if status >= 300 else b'{"ok": true}'
                self.send_response(status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                if receiver.trickle:
                    for byte in answer:
                        try:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        except OSError:
                            return  # the sender gave up
                        time.sleep(receiver.trickle)
                    return
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # stop() waits for serve_forever's next look at its shutdown flag: 0.5 s by default, after every test.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, seconds: float = 20) -> list[Received]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{count} requests expected, {len(self.received)} arrived")


def run_until(dispatcher: Dispatcher, done: Callable[[], bool], seconds: float = 20) -> None:
    """Run delivery rounds (as serve and `scimgate worker` do) until ``done()``."""

    async def rounds() -> None:
        async with dispatcher.client() as client:
            deadline = asyncio.get_running_loop().time() + seconds
            while not done():
                assert asyncio.get_running_loop().time() < deadline, "delivery did not finish in time"
                if not await dispatcher.round(client):
                    await asyncio.sleep(0.02)
        await dispatcher.drain()

    asyncio.run(rounds())
