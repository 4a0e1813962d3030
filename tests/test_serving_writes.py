"""How ``scimgate serve`` writes a response (issue 21): uvicorn writes its head and body separately; the writes of
one event-loop step leave as one, in order, and a large streamed body is not held back from flow control."""

import asyncio
from typing import Any

from scimgate.serving import _OneWritePerStep


class _Transport:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        self.sent.append("closed")

    def get_write_buffer_size(self) -> int:
        return 7


def test_the_writes_of_one_step_leave_as_one_and_big_ones_at_once() -> None:
    async def step() -> list[Any]:
        transport = _Transport()
        coalesced = _OneWritePerStep(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        coalesced.write(b"HTTP/1.1 200 OK\r\n\r\n")
        coalesced.write(b'{"id": 1}')
        assert transport.sent == []  # nothing yet: the step is not over
        await asyncio.sleep(0)
        assert transport.sent == [b'HTTP/1.1 200 OK\r\n\r\n{"id": 1}']
        coalesced.write(b"x" * 100_000)  # a large chunk goes now, where the transport's flow control sees it
        assert transport.sent[-1] == b"x" * 100_000
        coalesced.write(b"last")
        coalesced.close()  # what is pending goes before the close
        assert transport.sent[-2:] == [b"last", "closed"]
        assert coalesced.get_write_buffer_size() == 7  # everything else is the transport's own
        return transport.sent

    assert len(asyncio.run(step())) == 4
