"""Files and directories scimgate creates: private to the user it runs as (issue 20, finding 7).

The SQLite database holds the admin session and cursor MAC keys, webhook ``whsec_`` secrets and personal data, so a
new data directory is 0700 and a new database file 0600 whatever the umask (which can only take bits away). SQLite
creates the ``-wal`` and ``-shm`` files with its database file's mode, so creating that file first is enough.
Directories and files that exist already keep the mode the operator gave them: loosening or tightening them is
theirs to decide (``scimgate serve`` warns when the data is open to other users, see ``exposed``).
"""

import os
import stat
from pathlib import Path

import sqlalchemy as sa

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600


def private_directory(path: Path) -> None:
    """Create ``path`` and its missing parents, each 0700; existing ones are left as they are."""
    missing = [path, *path.parents]
    missing = missing[: next((i for i, p in enumerate(missing) if p.exists()), len(missing))]
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIRECTORY)
        except FileExistsError:
            pass  # another process made it a moment ago


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists. Any other failure (no such directory, no permission)
    is left for whoever opens the file next to report, as it would have without this."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE))
    except OSError:
        pass


def sqlite_file(url: sa.URL) -> Path | None:
    """The file of a SQLite URL; None for another backend, an in-memory database or a ``file:`` URI."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or "uri" in url.query:
        return None
    return Path(database)


def exposed(path: Path) -> str | None:
    """The octal mode of ``path`` if every user of the machine may read or enter it, else None (a group the
    operator chose is theirs to judge)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return f"{mode:04o}" if mode & 0o007 else None
