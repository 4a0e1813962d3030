# scimgate's container image. Build it from the repository root with one command (docs/deployment.md):
#   docker build -t scimgate:$(python3 -c 'exec(open("src/scimgate/version.py").read()); print(__version__)') .
#   (or: podman build -t scimgate .)
# Settings come from SCIMGATE_ environment variables only; no secret is written into any layer. Data (the SQLite
# database) lives under the one volume /data; with PostgreSQL, set SCIMGATE_DATABASE_URL and the volume stays empty.
# tests/deploy/test_container.py lints this file with hadolint and checks the points above.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Stage 1: build the wheel with the project's own build backend, then install it and its dependencies into a
# virtual environment at the path it keeps in the final image.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/scimgate \
 && /opt/scimgate/bin/pip install /wheels/scimgate-*.whl "psycopg[binary]>=3.3,<4" \
 && /opt/scimgate/bin/python -m compileall -q /opt/scimgate/lib

# Stage 2: the runtime. No compiler, no build files, no pip cache; a user without a shell that owns only /data.
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 scimgate \
 && useradd --system --uid 10001 --gid scimgate --home-dir /data --no-create-home --shell /usr/sbin/nologin scimgate \
 && install -d -o scimgate -g scimgate -m 0700 /data
COPY --from=build /opt/scimgate /opt/scimgate
ENV PATH=/opt/scimgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SCIMGATE_HOST=0.0.0.0 \
    SCIMGATE_PORT=8000 \
    SCIMGATE_DATA_DIR=/data
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000
# uvicorn handles SIGTERM itself: it stops accepting connections, lets requests in flight finish, then exits. The
# exec form below makes scimgate PID 1 (no shell in between that would swallow the signal).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('SCIMGATE_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["scimgate"]
CMD ["serve"]
