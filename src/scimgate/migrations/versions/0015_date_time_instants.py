"""PostgreSQL's ``scimgate_instant(text)``: the UTC instant an xsd:dateTime names, so that declared dateTime
extension attributes are filtered and sorted as instants (``2025-06-01T00:00:00+02:00`` is before
``2025-05-31T23:00:00Z``) while their values stay as the IdP sent them.

It follows ``scimgate.instants.instant`` exactly (SQLite calls that Python function): xsd:dateTime for years 0001
to 9999, a zone up to ±14:00 (none is UTC), truncated to the millisecond; NULL for anything else, never an error,
since values stored while an extension was undeclared may be any text. Each check is its own statement, so that no
cast sees text the checks before it refused (SQL does not promise to evaluate ``AND`` left to right). IMMUTABLE:
the zone is always explicit in what is cast, so neither TimeZone nor DateStyle changes the result, and an
``indexed`` dateTime attribute's index (scimgate.scim.extensions) can hold it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = r"""
CREATE OR REPLACE FUNCTION scimgate_instant(value text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    parts text[];
    zone_minutes int := 0;
    result timestamptz;
BEGIN
    parts := regexp_match(
        value,
        '^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-]([0-9]{2}):([0-9]{2}))?$'
    );
    IF parts IS NULL OR parts[1]::int < 1 OR parts[2]::int NOT BETWEEN 1 AND 12 THEN
        RETURN NULL;
    END IF;
    IF parts[3]::int < 1
        OR parts[3]::int > extract(day FROM make_date(parts[1]::int, parts[2]::int, 1) + interval '1 month - 1 day')
        OR parts[4]::int > 23 OR parts[5]::int > 59 OR parts[6]::int > 59 THEN
        RETURN NULL;
    END IF;
    IF parts[9] IS NOT NULL THEN
        zone_minutes := parts[9]::int * 60 + parts[10]::int;
        IF parts[10]::int > 59 OR zone_minutes > 14 * 60 THEN
            RETURN NULL;
        END IF;
    END IF;
    -- At most three digits of the fraction: truncated to the millisecond, never rounded.
    result := (substr(value, 1, 19) || coalesce(substr(parts[7], 1, 4), '') || coalesce(parts[8], 'Z'))::timestamptz;
    IF result < '0001-01-01T00:00:00Z'::timestamptz OR result > '9999-12-31T23:59:59.999Z'::timestamptz THEN
        RETURN NULL;
    END IF;
    RETURN result;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(_FUNCTION)  # as written: no bind-parameter parsing of its colons


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # CASCADE: indexes of indexed dateTime attributes use it; the code before this revision made none.
        op.execute("DROP FUNCTION IF EXISTS scimgate_instant(text) CASCADE")
