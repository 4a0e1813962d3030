"""The schema, as SQLAlchemy Core tables. Alembic migrations in ``scimgate/migrations`` create exactly this.

Design (it decides what later features can reach):

* Each resource keeps the attributes exactly as the IdP sent them in one JSON ``attributes`` column, plus indexed
  columns for what is looked up: ``user_name_key``, ``display_name_key``, ``external_id``.
* ``*_key`` columns hold the comparison key of a case-insensitive attribute (NFKC + casefold, computed in Python,
  because SQLite's ``lower()`` folds only ASCII). A unique index on ``(directory_id, user_name_key)`` is what makes
  ``userName`` unique per directory, so a lost race is an IntegrityError (409), never a second row.
* Group membership is its own table, never part of the group's document: adding or removing members costs
  O(members changed), and reading a group without members never touches it. A member is a user or a group; the
  matching foreign key cascades, so deleting a user or group removes its memberships in the same transaction.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSONDocument = sa.JSON().with_variant(JSONB(), "postgresql")
# A JSON value that may be absent: Python's None is SQL NULL, not the JSON text null (what JSONDocument makes of it).
OptionalJSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
Timestamp = sa.DateTime(timezone=True)

directories = sa.Table(
    "directories",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # Strict RFC 7644 mode: the IdP dialects scimgate tolerates by default (scim/patch.py) are refused.
    sa.Column("strict", sa.Boolean, nullable=False, server_default=sa.false()),
    # The application's own key for the customer (its tenant or organisation id); not unique: a customer may run
    # two IdPs, each provisioning into its own directory.
    sa.Column("external_id", sa.String(200), nullable=True),
    # entra, okta, onelogin, google or generic: which setup steps scimgate shows, and named in error explanations.
    sa.Column("idp", sa.String(20), nullable=False, server_default="generic"),
    # Set while the directory is disabled: its credentials open nothing (401), its data stays.
    sa.Column("disabled_at", Timestamp, nullable=True),
    # When a credential of this directory last authenticated a request (kept to the minute).
    sa.Column("last_request_at", Timestamp, nullable=True),
    # The sequence number of the directory's last event. Incrementing it locks this row until the transaction
    # ends, so a directory's events commit in sequence order (scimgate.events.outbox).
    sa.Column("event_seq", sa.BigInteger, nullable=False, server_default="0"),
    # The mass-deletion alarm (scimgate.events.deletions): users deleted since deletions_since (a window of an
    # hour), and when the alarm last went off.
    sa.Column("deletions_since", Timestamp, nullable=True),
    sa.Column("deletions", sa.Integer, nullable=False, server_default="0"),
    sa.Column("mass_deletion_at", Timestamp, nullable=True),
    # off, flag or enforce: what happens to a user whose userName or an email is outside the directory's verified
    # email domains (scimgate/scim/domains.py).
    sa.Column("domain_policy", sa.String(10), nullable=False, server_default="off"),
    sa.Index(None, "external_id"),
)

directory_domains = sa.Table(
    "directory_domains",
    metadata,
    # An email domain a directory claims (scimgate/directories/domains.py), verified by a DNS TXT record holding
    # its token, or by the operator's word.
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("directory_id", sa.String(40), sa.ForeignKey("directories.id", ondelete="CASCADE"), nullable=False),
    # Lower case, without a trailing dot, IDNA-encoded (xn--…): what the users' addresses are compared with.
    sa.Column("domain", sa.String(253), nullable=False),
    # What the TXT record must hold: not a secret (it is published in DNS), random so that another directory
    # claiming the same domain needs its own record.
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("verified_at", Timestamp, nullable=True),
    # dns or operator.
    sa.Column("verified_by", sa.String(20), nullable=True),
    sa.Column("checked_at", Timestamp, nullable=True),
    sa.UniqueConstraint("directory_id", "domain"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("directory_id", sa.String(40), sa.ForeignKey("directories.id", ondelete="CASCADE"), nullable=False),
    # SHA-256 of the whole token, hex. The token itself is never stored.
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    # The first characters of the token, so an operator can tell tokens apart without the secret.
    sa.Column("display_prefix", sa.String(24), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_used_at", Timestamp, nullable=True),
    sa.Column("revoked_at", Timestamp, nullable=True),
    # A label an operator gives a long-lived token ("Entra production"); access tokens carry their client's name.
    sa.Column("name", sa.String(200), nullable=True),
    # Rotation sets the old token's expiry (the overlap window); OAuth access tokens always expire.
    sa.Column("expires_at", Timestamp, nullable=True),
    # Set for an OAuth access token: the client it was issued to (deleting the client deletes its tokens).
    sa.Column("client_id", sa.String(40), sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=True),
    sa.Index(None, "directory_id"),
    sa.Index(None, "client_id"),
)

setup_links = sa.Table(
    "setup_links",
    metadata,
    # A link the operator gives a customer's IT admin (scimgate/directories/links.py): it opens the setup page of
    # one directory, and nothing else, until it expires or is revoked.
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("directory_id", sa.String(40), sa.ForeignKey("directories.id", ondelete="CASCADE"), nullable=False),
    # SHA-256 of the link's secret, hex; the secret (the last part of the URL) is never stored.
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("display_prefix", sa.String(24), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # Every link expires: a URL travels in email and chat, so it must not open the directory for ever.
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp, nullable=True),
    sa.Column("last_used_at", Timestamp, nullable=True),
    sa.Index(None, "directory_id"),
)

oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    # The OAuth client id (``cli_…``): what the IdP admin pastes as Client ID.
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("directory_id", sa.String(40), sa.ForeignKey("directories.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    # Lifetime of the access tokens the token endpoint issues to this client (1 to 6 hours).
    sa.Column("access_token_seconds", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index(None, "directory_id"),
)

client_secrets = sa.Table(
    "client_secrets",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("client_id", sa.String(40), sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False),
    # SHA-256 of the secret (full-entropy, like a token), hex. The secret itself is never stored.
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("display_prefix", sa.String(24), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_used_at", Timestamp, nullable=True),
    # Rotation gives the old secret an expiry, so the IdP can be updated while both work.
    sa.Column("expires_at", Timestamp, nullable=True),
    sa.Column("revoked_at", Timestamp, nullable=True),
    sa.Index(None, "client_id"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("directory_id", sa.String(40), sa.ForeignKey("directories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_name", sa.Text, nullable=False),
    sa.Column("user_name_key", sa.Text, nullable=False),
    sa.Column("external_id", sa.Text, nullable=True),
    sa.Column("display_name", sa.Text, nullable=True),
    sa.Column("display_name_key", sa.Text, nullable=True),
    # NULL when the IdP removed `active` (PATCH remove): absent, as the IdP left it.
    sa.Column("active", sa.Boolean, nullable=True),
    sa.Column("attributes", JSONDocument, nullable=False),
    sa.Column("created", Timestamp, nullable=False),
    sa.Column("last_modified", Timestamp, nullable=False),
    # With passwords=hash only: the Argon2id hash of the password the IdP sent (scimgate.scim.passwords).
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.UniqueConstraint("directory_id", "user_name_key"),
    sa.Index(None, "directory_id", "external_id"),
    sa.Index(None, "directory_id", "display_name_key"),
)

groups = sa.Table(
    "groups",
    metadata,
    sa.Column("directory_id", sa.String(40), sa.ForeignKey("directories.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("display_name_key", sa.Text, nullable=False),
    sa.Column("external_id", sa.Text, nullable=True),
    sa.Column("attributes", JSONDocument, nullable=False),
    sa.Column("created", Timestamp, nullable=False),
    sa.Column("last_modified", Timestamp, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.UniqueConstraint("directory_id", "display_name_key"),
    sa.Index(None, "directory_id", "external_id"),
)

group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("directory_id", sa.String(40), primary_key=True),
    sa.Column("group_id", sa.String(40), primary_key=True),
    sa.Column("member_id", sa.String(40), primary_key=True),
    # Exactly one of these equals member_id; the other is NULL, which switches its foreign key off.
    sa.Column("user_id", sa.String(40), nullable=True),
    sa.Column("child_group_id", sa.String(40), nullable=True),
    sa.ForeignKeyConstraint(["directory_id", "group_id"], ["groups.directory_id", "groups.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["directory_id", "user_id"], ["users.directory_id", "users.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(
        ["directory_id", "child_group_id"], ["groups.directory_id", "groups.id"], ondelete="CASCADE"
    ),
    sa.CheckConstraint(
        "(user_id = member_id AND child_group_id IS NULL) OR (child_group_id = member_id AND user_id IS NULL)",
        name="one_member",
    ),
    # User.groups and "which groups is this user in" read by member.
    sa.Index(None, "directory_id", "member_id"),
)

instance_secrets = sa.Table(
    "instance_secrets",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    # Random keys created by migration 0002; "cursor" seals paging cursors (scimgate.scim.cursors).
    sa.Column("value", sa.String(128), nullable=False),
)

instance_settings = sa.Table(
    "instance_settings",
    metadata,
    # What one command leaves for the others: "public_url", the URL the last `serve` answered at, so that the
    # management commands print the URLs the server serves without being told again (scimgate/store/served.py).
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # No foreign key: directory.deleted outlives its directory.
    sa.Column("directory_id", sa.String(40), nullable=False),
    # Per directory, from 1, without gaps: written in the transaction of the change.
    sa.Column("sequence", sa.BigInteger, nullable=False),
    # Order across directories, given after commit by the sequencer (scimgate.events.feed); NULL until then.
    sa.Column("position", sa.BigInteger, nullable=True, unique=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("data", JSONDocument, nullable=False),
    # The audit trail: the request (its X-Request-Id, as in the provisioning log) and the credential (tokens.id:
    # a bearer token or an OAuth access token) that made the change; NULL for the operator's or the CLI's changes.
    sa.Column("request_id", sa.String(40), nullable=True),
    sa.Column("token_id", sa.String(40), nullable=True),
    # What the event is about, copied out of ``data`` when it is written: a user's or a group's page lists its
    # events through these indexes, at any age, without reading the directory's other events.
    sa.Column("object_id", sa.String(40), nullable=True),
    sa.Column("group_id", sa.String(40), nullable=True),  # membership events only
    sa.UniqueConstraint("directory_id", "sequence"),
    sa.Index(None, "occurred_at"),
    sa.Index(None, "directory_id", "object_id", "sequence"),
    sa.Index(
        None,
        "directory_id",
        "group_id",
        "sequence",
        # Partial: the other events (nearly all) cost this index nothing when they are written.
        sqlite_where=sa.text("group_id IS NOT NULL"),
        postgresql_where=sa.text("group_id IS NOT NULL"),
    ),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    # NULL: the events of every directory.
    sa.Column("directory_id", sa.String(40), sa.ForeignKey("directories.id", ondelete="CASCADE"), nullable=True),
    sa.Column("url", sa.Text, nullable=False),
    # Event types to send (a JSON list); NULL: all.
    sa.Column("types", sa.JSON, nullable=True),
    sa.Column("description", sa.String(200), nullable=True),
    # Standard Webhooks signing key (whsec_…): the server must keep it to sign, so it is stored as is.
    sa.Column("secret", sa.String(100), nullable=False),
    # After a rotation, messages are signed with both keys until this one expires.
    sa.Column("previous_secret", sa.String(100), nullable=True),
    sa.Column("previous_secret_expires_at", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("disabled_at", Timestamp, nullable=True),
    sa.Column("disabled_reason", sa.Text, nullable=True),
    sa.Column("last_success_at", Timestamp, nullable=True),
    sa.Index(None, "directory_id"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_id", sa.String(40), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    # pending (to be attempted at next_attempt_at), succeeded, or failed (every attempt of the schedule failed).
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Timestamp, nullable=True),
    # A worker that claimed the delivery owns it until then; a worker that died loses it when this passes.
    sa.Column("claimed_until", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_attempt_at", Timestamp, nullable=True),
    sa.UniqueConstraint("endpoint_id", "event_id"),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "event_id"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("delivery_id", sa.String(40), sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("attempted_at", Timestamp, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    # No longer written nor shown (issue 20, finding 6: an internal service's answer was readable here).
    sa.Column("response_snippet", sa.Text, nullable=True),
    # What went wrong, as a fixed class (events/egress.py: timeout, connection refused, address not allowed, HTTP 503).
    sa.Column("error", sa.Text, nullable=True),
    sa.Index(None, "delivery_id"),
)

role_mappings = sa.Table(
    "role_mappings",
    metadata,
    # Members of this IdP group get this application role (scimgate.events.roles).
    sa.Column("directory_id", sa.String(40), primary_key=True),
    sa.Column("group_id", sa.String(40), primary_key=True),
    sa.Column("role", sa.String(200), primary_key=True),
    sa.ForeignKeyConstraint(["directory_id", "group_id"], ["groups.directory_id", "groups.id"], ondelete="CASCADE"),
)

request_log = sa.Table(
    "request_log",
    metadata,
    # Every SCIM request, for the admin page's provisioning log (scimgate/provisioning). Bounded by age and count.
    sa.Column("id", sa.String(40), primary_key=True),
    # The directory of the URL, when it names one (even when the credential was refused).
    sa.Column("directory_id", sa.String(40), nullable=True),
    sa.Column("time", Timestamp, nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("query", sa.Text, nullable=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("resource_type", sa.String(20), nullable=True),
    sa.Column("resource_id", sa.String(40), nullable=True),
    sa.Column("scim_type", sa.String(40), nullable=True),
    # For failures: a named reason and what the IT admin should change (scimgate/provisioning/explain.py).
    sa.Column("reason", sa.String(60), nullable=True),
    sa.Column("advice", sa.Text, nullable=True),
    # Bodies with secrets redacted and cut to request_log_body_bytes.
    sa.Column("request_body", sa.Text, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),
    sa.Column("token_id", sa.String(40), nullable=True),
    # What tolerant mode accepted the request without (unknown attributes, PATCH paths naming nothing): the names,
    # never the values, so the admin page can say which mapping to check.
    sa.Column("ignored", OptionalJSON, nullable=True),
    # The client's address; and the bytes of text the row holds, which the log's size cap adds up.
    sa.Column("source", sa.String(64), nullable=True),
    sa.Column("size", sa.Integer, nullable=False, server_default="0"),
    # What the request was about, for the log's rows: the userName or group name it carried, or its filter.
    sa.Column("target", sa.String(200), nullable=True),
    # On a refused credential: the first characters of the token presented (its kind's prefix and four more), so
    # the admin can tell which token the IdP holds. Never the secret.
    sa.Column("presented_prefix", sa.String(24), nullable=True),
    sa.Index(None, "directory_id", "time"),
    sa.Index(None, "time"),
    # One directory's entries newest first (the log's pages are ordered by id, which is time-ordered).
    sa.Index(None, "directory_id", "id"),
)

# Byte order on PostgreSQL as on SQLite, so that a prefix search is a range of the index on every backend.
SearchKey = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")

request_log_terms = sa.Table(
    "request_log_terms",
    metadata,
    # What the provisioning log is searched by (scimgate/provisioning/log_search.py): the comparison keys of the
    # userNames, group names, externalIds, emails, resource ids and filter values each request carried or got back.
    # Deleting a log entry deletes its terms.
    sa.Column("entry_id", sa.String(40), sa.ForeignKey("request_log.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("term", SearchKey, primary_key=True),
    sa.Index(None, "term", "entry_id"),
)

schema_extensions = sa.Table(
    "schema_extensions",
    metadata,
    # Extension schemas an operator declared (scimgate/scim/extensions.py): advertised in /Schemas, their values
    # validated, filtered and sorted in SQL and mapped into the normalised user. Undeclared extensions need no row:
    # they are stored as sent.
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("schema_id", sa.String(300), nullable=False),
    sa.Column("resource_type", sa.String(20), nullable=False),
    # NULL: every directory of the instance; else only this one (a directory's own declaration wins).
    sa.Column("directory_id", sa.String(40), sa.ForeignKey("directories.id", ondelete="CASCADE"), nullable=True),
    # The declaration as given: the RFC 7643 §7 schema, plus scimgate's options (indexed attributes, names).
    sa.Column("definition", JSONDocument, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index(None, "directory_id"),
)

counters = sa.Table(
    "counters",
    metadata,
    # Numbers that only ever go up, whatever rows are deleted: "feed_position" is the last position the sequencer
    # gave (scimgate.events.feed), so a reader's cursor is never reused after a prune or a directory deletion.
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
