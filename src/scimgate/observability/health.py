"""``/healthz`` (the process answers), ``/readyz`` (it can serve: database reachable, schema current, a write goes
through, and no write failed on storage lately) and ``/metrics`` (Prometheus), when the operator opens it.

``/metrics`` names every directory with its traffic, and a 401 on SCIM hides which directories exist; so it is
absent (404, as any unknown path) unless ``metrics_token`` or ``metrics_public`` is set (issue 20, finding 8).
"""

import hmac
import threading

import anyio
import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from scimgate.config import Settings
from scimgate.observability.metrics import Metrics
from scimgate.store import migrate
from scimgate.store.database import Database, fault_name
from scimgate.store.tables import counters
from scimgate.tokens import hash_token

# A probe that takes longer than this is "not ready": Kubernetes' own probe gives up after one second by default, and
# an answer after its timeout is worth nothing. The probe's thread is abandoned, not killed; it ends at the
# database's statement timeout.
PROBE_SECONDS = 2.0
# After a write fails on storage (disk full, read-only file, database down or too slow), stay unready this long even
# if the probe's one-row write goes through: a full disk still takes a small write, and a load balancer that sees
# "ready" again at once would send back the writes that fail. Recovery needs no step: the window passes.
FAULT_MEMORY_SECONDS = 30.0
_PROBES = "readiness_probes"
_probing = threading.Lock()


def health_routes(db: Database, metrics: Metrics, settings: Settings) -> list[BaseRoute]:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        try:
            with anyio.fail_after(PROBE_SECONDS):
                schema = await anyio.to_thread.run_sync(migrate.state, db, abandon_on_cancel=True)
                if not schema.up_to_date:
                    reason = f"schema at {schema.current}, this version needs {schema.head}: run `scimgate migrate`"
                    return _unavailable(reason)
                await anyio.to_thread.run_sync(_probe_write, db, abandon_on_cancel=True)
        except TimeoutError:
            return _unavailable(f"database: no answer within {PROBE_SECONDS:g} s")
        except sa.exc.SQLAlchemyError as error:
            return _unavailable(f"database: {fault_name(error)}")
        fault = db.write_fault_within(FAULT_MEMORY_SECONDS)
        if fault is not None:
            ago, why = fault
            return _unavailable(
                f"a write failed on storage {ago:.0f} s ago ({why}); ready again after "
                f"{FAULT_MEMORY_SECONDS:g} s without one"
            )
        return JSONResponse({"status": "ready"})

    return [Route("/healthz", healthz), Route("/readyz", readyz), *_metrics_routes(metrics, settings)]


def _metrics_routes(metrics: Metrics, settings: Settings) -> list[BaseRoute]:
    """``/metrics``, or nothing at all: a closed endpoint answers exactly what an unknown path answers."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token is not None else None
    if token is None and not settings.metrics_public:
        return []

    async def metrics_page(request: Request) -> Response:
        if token is not None and not _bearer_matches(request.headers.getlist("authorization"), token):
            # 401, not 404: once the operator opened /metrics its existence is no secret (what it lists is), and
            # a scrape configured with a wrong token should say so rather than look like a wrong URL.
            raise HTTPException(
                401,
                "/metrics needs Authorization: Bearer <metrics_token>.",
                {"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        body = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics_page)]


def _bearer_matches(headers: list[str], token: str) -> bool:
    """One ``Authorization: Bearer <token>`` header (scheme case-insensitive) carrying ``token``, compared in
    constant time: both sides are hashed first, so not even the length leaks."""
    if len(headers) != 1:
        return False
    scheme, _, presented = headers[0].partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(hash_token(presented.strip()), hash_token(token))


def _unavailable(reason: str) -> Response:
    return JSONResponse({"status": "unavailable", "reason": reason}, 503)


def _probe_write(db: Database) -> None:
    """One committed one-row write: proves the database takes writes (not read-only, not refusing transactions).

    One probe at a time, each bounded by the probe's deadline on PostgreSQL: an abandoned probe (its answer came too
    late) must not pile up holding pool connections the requests need."""
    if not _probing.acquire(blocking=False):
        raise sa.exc.TimeoutError("the previous readiness probe is still running")
    try:
        with db.write() as conn:
            if not db.is_sqlite:
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(PROBE_SECONDS * 1000)}")
            _bump(conn)
    finally:
        _probing.release()


def _bump(conn: Connection) -> None:
    bumped = conn.execute(counters.update().where(counters.c.name == _PROBES).values(value=counters.c.value + 1))
    if bumped.rowcount == 0:
        try:
            with conn.begin_nested():
                conn.execute(counters.insert().values(name=_PROBES, value=1))
        except sa.exc.IntegrityError:
            pass  # another worker's first probe inserted it a moment ago: that write went through too
