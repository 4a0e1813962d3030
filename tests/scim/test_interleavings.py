"""Every interleaving of two writes to one user (security test plan G9), in the style of PostgreSQL's isolation
tester: the outcome always equals one of the two serial orders.

Two worker threads each run one operation (create, replace, patch, delete, add-member) through the operations layer
the SCIM routes use, with the routes' retry of lost races. A SQLAlchemy hook parks each worker before every SQL
statement and every commit, and a scheduler lets one statement through at a time in a chosen order. For a pair of
operations of n and m steps the schedules are "A runs k steps, then B runs to its end, then A finishes", for every
k from 0 to n, and the same with B first: every point at which one operation can cut into the other. A worker that
does not reach its next step in time is waiting for a lock (a PostgreSQL row lock, SQLite's single writer): the
scheduler runs the other one meanwhile, as the isolation tester does.

The outcome is compared, whole, with the outcomes of running the two one after the other (A then B, B then A) on a
fresh directory: every user's document and version, the group's members, the directory's events in sequence order,
and what each operation answered. SQLite takes one writer at a time, so its schedules all collapse to a serial
order (checked all the same); PostgreSQL's row locks, foreign keys and unique indexes are what is really tested.
"""

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from scimgate.scim.errors import ScimError
from scimgate.scim.operations import Operations, Single
from scimgate.scim.projection import Projection
from scimgate.scim.query import Target
from scimgate.scim.resource_types import GROUPS, USERS
from scimgate.store.database import Database, retrying
from scimgate.store.tables import events, group_members, groups, users
from tests.helpers.scim import BASE_URL, new_directory

pytestmark = pytest.mark.both_backends

# How long a step may take before its worker counts as waiting for a lock. Too short only turns a slow step into a
# different (still valid) interleaving; too long only makes the suite slower.
PATIENCE = 0.05
DEADLINE = 30.0


@dataclass(frozen=True)
class Scene:
    """One directory holding the user u@example.com and an empty group: what the operations act on."""

    ops: Operations
    directory_id: str
    user_id: str
    group_id: str


Operation = Callable[[Scene], object]


def _create(scene: Scene) -> object:
    body = {"userName": "new@example.com", "title": "Created"}
    return scene.ops.create(Target(USERS, scene.directory_id), body, Projection())


def _replace(scene: Scene) -> object:  # takes the name the create wants: the two race for one unique key
    body = {"userName": "new@example.com", "title": "Replaced"}
    return scene.ops.replace(Target(USERS, scene.directory_id, scene.user_id), body, Projection())


def _patch(scene: Scene) -> object:
    body = {"Operations": [{"op": "replace", "path": "title", "value": "Patched"}]}
    return scene.ops.patch(Target(USERS, scene.directory_id, scene.user_id), body, Projection())


def _delete(scene: Scene) -> object:
    scene.ops.delete(Target(USERS, scene.directory_id, scene.user_id))
    return None


def _add_member(scene: Scene) -> object:
    body = {"Operations": [{"op": "add", "path": "members", "value": [{"value": scene.user_id}]}]}
    return scene.ops.patch(Target(GROUPS, scene.directory_id, scene.group_id), body, Projection())


OPERATIONS: dict[str, Operation] = {
    "create": _create,
    "replace": _replace,
    "patch": _patch,
    "delete": _delete,
    "add-member": _add_member,
}
PAIRS = list(itertools.combinations_with_replacement(OPERATIONS, 2))


def _answer(operation: Operation, scene: Scene) -> str:
    """What the client would see: "ok", or the SCIM error's status and type. Lost races are retried, as by the
    routes; anything else escapes and fails the test."""
    try:
        retrying(lambda: operation(scene))
    except ScimError as error:
        return f"{error.status} {type(error).__name__}"
    return "ok"


@dataclass
class Gate:
    """Parks the named worker threads before each statement and commit; ``step`` lets one through."""

    counting: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)
    parked: dict[str, bool] = field(default_factory=lambda: {"A": False, "B": False})
    permits: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0})
    steps: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0})
    finished: set[str] = field(default_factory=set)
    local: threading.local = field(default_factory=threading.local)

    def checkpoint(self, *_args: Any) -> None:
        name: str | None = getattr(self.local, "name", None)
        if name is None:
            return  # the test's own setup and checks run freely
        with self.cond:
            self.steps[name] += 1
            if self.counting:
                return
            self.parked[name] = True
            self.cond.notify_all()
            if not self.cond.wait_for(lambda: self.permits[name] > 0, timeout=DEADLINE):
                raise RuntimeError(f"worker {name} was never scheduled again")
            self.permits[name] -= 1
            self.parked[name] = False

    def runnable(self, name: str) -> bool:
        return name not in self.finished and self.parked[name] and self.permits[name] == 0

    def step(self, name: str) -> None:
        """Let ``name`` run to its next checkpoint or its end; give up waiting after PATIENCE (it is blocked)."""
        with self.cond:
            self.permits[name] += 1
            self.cond.notify_all()
            self.cond.wait_for(lambda: name in self.finished or self.runnable(name), timeout=PATIENCE)

    def done(self, name: str) -> None:
        with self.cond:
            self.finished.add(name)
            self.cond.notify_all()

    def idle(self) -> None:
        with self.cond:
            self.cond.wait(timeout=PATIENCE)


@contextmanager
def gated(database: Database, gate: Gate) -> Iterator[None]:
    sa.event.listen(database.engine, "before_cursor_execute", gate.checkpoint)
    sa.event.listen(database.engine, "commit", gate.checkpoint)
    try:
        yield
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", gate.checkpoint)
        sa.event.remove(database.engine, "commit", gate.checkpoint)


def _scene(database: Database) -> Scene:
    directory_id, _token = new_directory(database, "Interleavings")
    ops = Operations(database, BASE_URL)
    user = ops.create(Target(USERS, directory_id), {"userName": "u@example.com", "title": "Original"}, Projection())
    group = ops.create(Target(GROUPS, directory_id), {"displayName": "Team"}, Projection())
    return Scene(ops, directory_id, _id(user), _id(group))


def _id(single: Single) -> str:
    resource_id: str = single.resource["id"]
    return resource_id


def _outcome(database: Database, scene: Scene, answers: tuple[str, str]) -> dict[str, Any]:
    """Everything an observer could tell apart, with generated ids replaced by userNames."""
    with database.read() as conn:
        rows = conn.execute(
            sa.select(users.c.id, users.c.user_name, users.c.attributes, users.c.version)
            .where(users.c.directory_id == scene.directory_id)
            .order_by(users.c.user_name)
        ).all()
        names = {row.id: row.user_name for row in rows}
        members = conn.execute(
            sa.select(group_members.c.member_id).where(group_members.c.directory_id == scene.directory_id)
        ).scalars()
        group_version = conn.execute(
            sa.select(groups.c.version).where(groups.c.directory_id == scene.directory_id)
        ).scalar_one()
        happened = conn.execute(
            sa.select(events.c.sequence, events.c.type)
            .where(events.c.directory_id == scene.directory_id)
            .order_by(events.c.sequence)
        ).all()
    return {
        "answers": answers,
        "users": [(row.user_name, row.attributes, row.version) for row in rows],
        "members": sorted(names.get(member, f"missing user {member}") for member in members),
        "group_version": group_version,
        "events": [tuple(row) for row in happened],
    }


def _serial(database: Database, first: Operation, second: Operation, *, a_first: bool) -> dict[str, Any]:
    scene = _scene(database)
    one, two = _answer(first, scene), _answer(second, scene)
    return _outcome(database, scene, (one, two) if a_first else (two, one))


def _steps(database: Database, operation: Operation) -> int:
    scene, gate = _scene(database), Gate(counting=True)
    with gated(database, gate):
        gate.local.name = "A"
        try:
            _answer(operation, scene)
        finally:
            gate.local.name = None
    return gate.steps["A"]


def _schedules(n: int, m: int) -> list[str]:
    cuts = {"A" * k + "B" * m + "A" * (n - k) for k in range(n + 1)}
    cuts |= {"B" * k + "A" * n + "B" * (m - k) for k in range(m + 1)}
    return sorted(cuts)


def _interleaved(database: Database, a: Operation, b: Operation, schedule: str) -> dict[str, Any]:
    scene, gate = _scene(database), Gate()
    answers: dict[str, str] = {}

    def worker(name: str, operation: Operation) -> None:
        gate.local.name = name
        try:
            answers[name] = _answer(operation, scene)
        except BaseException as error:  # reported as the test's failure below
            answers[name] = f"crashed: {error!r}"
        finally:
            gate.done(name)

    with gated(database, gate):
        threads = [threading.Thread(target=worker, args=(n, op), daemon=True) for n, op in (("A", a), ("B", b))]
        for thread in threads:
            thread.start()
        _run(gate, schedule)
        for thread in threads:
            thread.join(timeout=DEADLINE)
    return _outcome(database, scene, (answers["A"], answers["B"]))


def _run(gate: Gate, schedule: str) -> None:
    """Follow the schedule; when its next worker is blocked, run the other; when it runs out, finish both."""
    pending = list(schedule)
    deadline = time.monotonic() + DEADLINE
    while len(gate.finished) < 2:
        assert time.monotonic() < deadline, f"schedule {schedule} did not finish: both workers stuck?"
        while pending and pending[0] in gate.finished:
            pending.pop(0)
        runnable = [name for name in "AB" if gate.runnable(name)]
        if not runnable:
            gate.idle()  # both are running or waiting on the database: wait for one to park or finish
            continue
        choice = pending[0] if pending and pending[0] in runnable else runnable[0]
        if pending and pending[0] == choice:
            pending.pop(0)
        gate.step(choice)


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a}|{b}" for a, b in PAIRS])
def test_every_interleaving_equals_a_serial_order(database: Database, first: str, second: str) -> None:
    a, b = OPERATIONS[first], OPERATIONS[second]
    serial = [_serial(database, a, b, a_first=True), _serial(database, b, a, a_first=False)]
    schedules = _schedules(_steps(database, a), _steps(database, b))
    for schedule in schedules:
        outcome = _interleaved(database, a, b, schedule)
        assert outcome in serial, f"schedule {schedule}:\n{outcome}\nserial outcomes:\n{serial}"
