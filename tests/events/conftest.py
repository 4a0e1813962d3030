"""The webhook receiver the delivery tests share: a real HTTP server on loopback, stopped after the test."""

from collections.abc import Iterator

import pytest

from tests.events.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.stop()
