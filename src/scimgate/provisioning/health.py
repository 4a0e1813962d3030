"""``/healthz`` (the process answers), ``/readyz`` (it can serve: database reachable, schema current) and
``/metrics`` (Prometheus)."""

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from scimgate.provisioning.metrics import Metrics
from scimgate.store import migrate
from scimgate.store.database import Database


def health_routes(db: Database, metrics: Metrics) -> list[BaseRoute]:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        try:
            schema = await run_in_threadpool(migrate.state, db)
        except sa.exc.SQLAlchemyError as error:
            return JSONResponse({"status": "unavailable", "reason": f"database: {type(error).__name__}"}, 503)
        if not schema.up_to_date:
            reason = f"schema at {schema.current}, this version needs {schema.head}: run `scimgate migrate`"
            return JSONResponse({"status": "unavailable", "reason": reason}, 503)
        return JSONResponse({"status": "ready"})

    async def metrics_page(_request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics_page)]
