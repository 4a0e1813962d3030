"""File modes in tests: the mode bits of a path, and a permissive umask to create files under."""

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def common_umask() -> Iterator[None]:
    """The usual umask (022: new files 0644, directories 0755), whatever the test runner's: a private mode seen
    under it is scimgate's doing, not the environment's."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)
