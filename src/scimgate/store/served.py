"""The public URL the server answers at, as the last ``serve`` resolved it.

Entra's Tenant URL is pasted from what a management command prints (``directory create``, ``client create``…).
Those commands used to compute the URL from their own defaults (``http://localhost:8000``) while the server ran
on ``--port 8841`` (issue 22). ``serve`` now stores the URL it resolved; a command given no ``public_url`` (flag or
``SCIMGATE_PUBLIC_URL``) prints that one.
"""

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scimgate.store.tables import instance_settings

_NAME = "public_url"


def remember_public_url(conn: Connection, url: str) -> None:
    updated = conn.execute(
        instance_settings.update().where(instance_settings.c.name == _NAME).values(value=url)
    ).rowcount
    if not updated:
        conn.execute(instance_settings.insert().values(name=_NAME, value=url))


def served_public_url(conn: Connection) -> str | None:
    query = sa.select(instance_settings.c.value).where(instance_settings.c.name == _NAME)
    value: str | None = conn.execute(query).scalar_one_or_none()
    return value
