"""Microsoft Entra's provisioning workload, against any SCIM base URL on this machine, verified as it goes.

    .venv/bin/python bench/entra.py --url http://127.0.0.1:8000/scim/v2/dir_… --token scimgate_… --users 5000

Phases, in Entra's order: a zero-hit ``userName eq`` precheck before each create; creates with the enterprise
extension, emails, phones and an address; ``userName eq`` lookups; Entra PATCHes (capitalised ops, a filtered path,
an enterprise attribute); groups created empty and filled by member PATCHes of 100 and then of 1; reads of a group
with ``excludedAttributes=members``; paging through every user; deactivation with ``"False"``; deletes.

Every response is checked (the lookup finds exactly the right user, the PATCH applied, the group holds exactly the
members sent, ``excludedAttributes=members`` returns none); any failure is counted and a run with failures is not a
result (exit status 1). Only loopback addresses are accepted as targets, and every phase is bounded in count.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import random
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Failure(Exception):
    pass


@dataclass
class Phase:
    name: str
    unit: str = "requests"
    latencies: list[float] = field(default_factory=list)
    units: int = 0
    failures: int = 0
    seconds: float = 0.0
    unfinished: int = 0
    server_cpu: float | None = None
    """Seconds of CPU the server process (and its workers) spent during the phase, when its pid is known."""

    def row(self) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]
        cpu_us = None
        if self.server_cpu is not None and self.latencies:
            cpu_us = round(self.server_cpu / len(self.latencies) * 1e6)
        return {
            "phase": self.name,
            "requests": len(self.latencies),
            "per_second": round(self.units / self.seconds, 1) if self.seconds else 0.0,
            "unit": self.unit,
            "p50_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
            "failures": self.failures,
            "unfinished": self.unfinished,
            "server_cpu_us": cpu_us,
        }


def server_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its descendants (uvicorn's workers), from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending, seen = 0.0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total


def loopback_only(url: str) -> None:
    host = urlsplit(url).hostname or ""
    addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise SystemExit(f"refusing to load {host!r}: this benchmark only targets loopback addresses")


@dataclass
class Reply:
    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


class Workload:
    # aiohttp rather than httpx: on this machine httpx's client, on its own core, tops out near 1,000 requests/s
    # against a bare app and aiohttp's near 4,000, and the load generator must not be what is measured.
    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        concurrency: int,
        phase_seconds: float,
        server_pid: int | None = None,
    ) -> None:
        self.session = session
        self.url = url
        self.concurrency = concurrency
        self.phase_seconds = phase_seconds
        self.server_pid = server_pid
        self.phases: list[Phase] = []

    async def send(self, method: str, path: str, json_body: Any = None) -> Reply:
        data = None if json_body is None else json.dumps(json_body).encode()
        headers = None if data is None else {"Content-Type": "application/scim+json"}
        async with self.session.request(method, self.url + path, data=data, headers=headers) as response:
            return Reply(response.status, await response.read())

    async def timed(
        self, phase: Phase, method: str, path: str, expect: int | tuple[int, ...], json: Any = None
    ) -> Reply:
        started = time.perf_counter()
        response = await self.send(method, path, json)
        phase.latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code not in (expect if isinstance(expect, tuple) else (expect,)):
            raise Failure(f"{phase.name}: {method} {path} -> {response.status_code} {response.text[:200]}")
        return response

    async def run(
        self,
        name: str,
        items: list[Any],
        work: Callable[[Phase, Any], Awaitable[int]],
        unit: str = "requests",
        concurrency: int | None = None,
    ) -> Phase:
        phase = Phase(name, unit)
        queue = list(reversed(items))

        deadline = time.perf_counter() + self.phase_seconds

        async def worker() -> None:
            # Bounded in count (the items) and in time: a server too slow to finish a phase in phase_seconds
            # is reported with the share it did, rather than holding the run for hours.
            while queue and time.perf_counter() < deadline:
                item = queue.pop()
                try:
                    done = await work(phase, item)  # not "units += await …": that reads units before awaiting
                    phase.units += done
                except (Failure, aiohttp.ClientError, TimeoutError, KeyError, ValueError) as error:
                    phase.failures += 1
                    if phase.failures <= 3:
                        print(f"  failure: {error}", file=sys.stderr)

        started = time.perf_counter()
        cpu_before = server_cpu_seconds(self.server_pid) if self.server_pid else None
        await asyncio.gather(*(worker() for _ in range(concurrency or self.concurrency)))
        phase.seconds = time.perf_counter() - started
        if self.server_pid and cpu_before is not None:
            phase.server_cpu = server_cpu_seconds(self.server_pid) - cpu_before
        if queue:
            phase.name += f" (stopped after {phase.seconds:.0f} s: {len(items) - len(queue)} of {len(items)})"
            phase.unfinished = len(queue)
        self.phases.append(phase)
        return phase


def user_body(i: int) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": f"bench.user{i}@contoso.com",
        "externalId": f"ext-{i}",
        "active": True,
        "displayName": f"Bench User {i}",
        "name": {"givenName": "Bench", "familyName": f"User{i}"},
        "emails": [{"primary": True, "type": "work", "value": f"bench.user{i}@contoso.com"}],
        "phoneNumbers": [
            {"type": "work", "value": "+1 (425) 555-0100"},
            {"type": "mobile", "value": "+1 425 555 0199"},
        ],
        "addresses": [{"type": "work", "streetAddress": "1 Microsoft Way", "locality": "Redmond", "country": "US"}],
        ENTERPRISE: {"employeeNumber": str(i), "department": "Benchmarks"},
    }


async def entra(w: Workload, users: int, group_size: int) -> None:
    ids: dict[int, str] = {}

    async def precheck(phase: Phase, i: int) -> int:
        body = (await w.timed(phase, "GET", f'/Users?filter=userName eq "bench.user{i}@contoso.com"', 200)).json()
        if body["totalResults"] != 0:
            raise Failure("precheck found a user that does not exist yet")
        return 1

    async def create(phase: Phase, i: int) -> int:
        ids[i] = (await w.timed(phase, "POST", "/Users", 201, json=user_body(i))).json()["id"]
        return 1

    async def created(phase: Phase, i: int) -> int:  # Entra's order: precheck, then create
        await precheck(prechecks, i)
        return await create(phase, i)

    # Timed inside the create phase, one precheck per create, so both share the phase's wall time.
    prechecks = Phase("precheck (userName eq, 0 hits)")
    creates = await w.run("create (enterprise, emails, phones, address)", list(range(users)), created)
    prechecks.seconds = creates.seconds
    prechecks.units = len(prechecks.latencies)
    w.phases.insert(0, prechecks)

    async def lookup(phase: Phase, i: int) -> int:
        body = (await w.timed(phase, "GET", f'/Users?filter=userName eq "bench.user{i}@contoso.com"', 200)).json()
        if [r["id"] for r in body["Resources"]] != [ids[i]]:
            raise Failure("lookup did not return exactly the user")
        return 1

    await w.run("lookup (userName eq)", random.Random(1).choices(list(ids), k=users), lookup)

    async def entra_patch(phase: Phase, i: int) -> int:
        body = {
            "schemas": [PATCH],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": f"Patched {i}"},
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": f"patched{i}@contoso.com"},
                {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Patched"},
            ],
        }
        reply = await w.timed(phase, "PATCH", f"/Users/{ids[i]}", (200, 204), json=body)
        await check_later(reply, i, lambda user: user["displayName"] == f"Patched {i}" and patched(user))
        return 1

    def patched(user: dict[str, Any]) -> bool:
        return bool(user[ENTERPRISE]["department"] == "Patched")

    # RFC 7644 §3.5.2 lets PATCH answer 200 with the resource or 204 without: a 200 is checked at once, a 204 by
    # reading the user back after the phase (outside its timing), so both kinds of server are held to the result.
    unchecked: dict[int, Callable[[dict[str, Any]], bool]] = {}

    async def check_later(reply: Reply, i: int, ok: Callable[[dict[str, Any]], bool]) -> None:
        if reply.status_code == 204:
            unchecked[i] = ok
        elif not ok(reply.json()):
            raise Failure("PATCH not applied")

    async def read_back(phase: Phase) -> None:
        for i, ok in list(unchecked.items()):
            reply = await w.send("GET", f"/Users/{ids[i]}")
            if reply.status_code != 200 or not ok(reply.json()):
                phase.failures += 1
        unchecked.clear()

    await read_back(await w.run("Entra PATCH (3 ops)", list(ids), entra_patch))
    await paging(w, users)
    await groups(w, list(ids.values()), group_size)

    async def deactivate(phase: Phase, i: int) -> int:
        body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
        reply = await w.timed(phase, "PATCH", f"/Users/{ids[i]}", (200, 204), json=body)
        await check_later(reply, i, lambda user: user["active"] is False)
        return 1

    await read_back(await w.run('deactivate (active "False")', list(ids), deactivate))

    async def delete(phase: Phase, i: int) -> int:
        await w.timed(phase, "DELETE", f"/Users/{ids[i]}", 204)
        return 1

    await w.run("delete", list(ids), delete)


async def groups(w: Workload, user_ids: list[str], group_size: int) -> None:
    """Groups created empty, one filled to ``group_size`` members by PATCHes of 100, then 200 PATCHes of 1.

    One group's member PATCHes are sent one after another, as Entra sends them: that is what shows whether a PATCH
    gets slower as the group grows (the last tenth against the first tenth). Users beyond ``--users`` that the
    group needs are created first, outside any timing, and deleted at the end.
    """
    fillers = await filler_users(w, group_size + 200 - len(user_ids))
    members = [*user_ids, *fillers]
    group_size = max(0, min(group_size, len(members) - 200))  # a slow server may not have made them all
    group_ids: list[str] = []

    async def create(phase: Phase, n: int) -> int:
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": f"Bench group {n}"}
        group_ids.append((await w.timed(phase, "POST", "/Groups", 201, json=body)).json()["id"])
        return 1

    await w.run("group create (empty)", list(range(w.concurrency)), create)
    batches = [members[start : start + 100] for start in range(0, group_size, 100)]
    big, small = group_ids[0], group_ids[1]

    async def add(phase: Phase, group: str, batch: list[str]) -> int:
        await w.timed(phase, "PATCH", f"/Groups/{group}", (200, 204), json=_add_members(batch))
        return len(batch)

    hundred = await w.run(
        f"member add, 100 per PATCH, one group to {group_size}",
        batches,
        lambda phase, batch: add(phase, big, batch),
        unit="members",
        concurrency=1,
    )
    tenth = max(1, len(hundred.latencies) // 10)
    first, last = statistics.median(hundred.latencies[:tenth]), statistics.median(hundred.latencies[-tenth:])
    hundred.name += f" (last/first tenth {last / first:.2f}x)"
    single = members[group_size : group_size + 200]
    await w.run(
        f"member add, 1 per PATCH, group of {group_size}",
        single,
        lambda phase, user: add(phase, big, [user]),
        concurrency=1,
    )
    await w.send("PATCH", f"/Groups/{small}", _add_members([members[0]]))
    for group, expected in ((big, set(members[: group_size + 200])), (small, {members[0]})):
        listed = (await w.send("GET", f"/Groups/{group}?attributes=members")).json().get("members", [])
        if {m["value"] for m in listed} != expected:
            w.phases[-1].failures += 1
            print("  failure: a group does not hold exactly the members sent", file=sys.stderr)

    async def read_group(phase: Phase, group: str) -> int:
        body = (await w.timed(phase, "GET", f"/Groups/{group}?excludedAttributes=members", 200)).json()
        if "members" in body or body.get("id") != group:
            raise Failure("excludedAttributes=members returned members, or another group")
        return 1

    await w.run(f"GET group, excludedAttributes=members ({group_size + 200} members)", [big] * 2000, read_group)
    await w.run("GET group, excludedAttributes=members (1 member)", [small] * 2000, read_group)
    for user in fillers:
        await w.send("DELETE", f"/Users/{user}")


def _add_members(users: list[str]) -> dict[str, Any]:
    return {
        "schemas": [PATCH],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": u} for u in users]}],
    }


async def filler_users(w: Workload, n: int) -> list[str]:
    created: list[str] = []

    async def one(i: int) -> None:
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"bench.member{i}@contoso.com"}
        reply = await w.send("POST", "/Users", body)
        if reply.status_code != 201:
            raise Failure(f"creating a member for the group phase: {reply.status_code} {reply.text[:200]}")
        created.append(reply.json()["id"])

    deadline = time.perf_counter() + w.phase_seconds
    for start in range(0, max(n, 0), w.concurrency):
        if time.perf_counter() > deadline:
            print(f"  only {len(created)} of {n} extra users made in {w.phase_seconds:.0f} s", file=sys.stderr)
            break
        await asyncio.gather(*(one(i) for i in range(start, min(start + w.concurrency, n))))
    return created


async def lookups_only(w: Workload, users: int, count: int, template: str | None = None) -> None:
    """Only an ``eq`` lookup, against users that already exist (bench/million.py and bench/extensions.py load
    them): ``userName eq``, or ``template`` with ``{i}`` for the user's number (e.g. a custom attribute)."""
    template = template or 'userName eq "bench.user{i}@contoso.com"'

    async def lookup(phase: Phase, i: int) -> int:
        name = f"bench.user{i}@contoso.com"
        body = (await w.timed(phase, "GET", "/Users?filter=" + template.replace("{i}", str(i)), 200)).json()
        if [r["userName"] for r in body["Resources"]] != [name] or body["totalResults"] != 1:
            raise Failure("lookup did not return exactly the user")
        return 1

    label = template.split(" ", 1)[0].rsplit(":", 1)[-1]
    await w.run(f"lookup ({label} eq)", random.Random(1).choices(range(users), k=count), lookup)


async def paging(w: Workload, users: int) -> None:
    async def walk(phase: Phase, _: int) -> int:
        seen, start = 0, 1
        while True:
            body = (await w.timed(phase, "GET", f"/Users?startIndex={start}&count=100", 200)).json()
            seen += len(body["Resources"])
            start += 100
            if start > body["totalResults"]:
                break
        if seen != users:
            raise Failure(f"paging saw {seen} users, not {users}")
        return seen

    await w.run("paging all users, 100 per page", [0], walk, unit="users")


async def main_async(args: argparse.Namespace) -> int:
    loopback_only(args.url)
    headers = {"Authorization": f"Bearer {args.token}"}
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as session:
        workload = Workload(session, args.url.rstrip("/"), args.concurrency, args.phase_seconds, args.server_pid)
        if args.lookups_only:
            await lookups_only(workload, args.users, args.lookups_only, args.lookup_filter)
        else:
            await entra(workload, args.users, args.group_size)
    rows = [phase.row() for phase in workload.phases]
    for row in rows:
        print(
            f"{row['phase']:<60} {row['per_second']:>9} {row['unit']}/s  p50 {row['p50_ms']:>7} ms  "
            f"p99 {row['p99_ms']:>7} ms  failures {row['failures']}"
            + (f"  server CPU {row['server_cpu_us']} µs/request" if row["server_cpu_us"] is not None else "")
        )
    failures = sum(row["failures"] for row in rows)
    unfinished = sum(row["unfinished"] for row in rows)
    summary = {"label": args.label, "users": args.users, "concurrency": args.concurrency}
    print(json.dumps({**summary, "failures": failures, "unfinished": unfinished, "phases": rows}))
    return 1 if failures or unfinished else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--group-size", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server-pid", type=int, help="the server's pid: report its CPU per request (Linux)")
    parser.add_argument("--phase-seconds", type=float, default=300, help="stop a phase after this long")
    parser.add_argument("--lookups-only", type=int, metavar="N", help="only N lookups of existing bench.user<i>")
    parser.add_argument(
        "--lookup-filter", help="with --lookups-only: the filter, {i} for the user number (default userName eq)"
    )
    parser.add_argument("--label", default="")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
