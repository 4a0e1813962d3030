"""One settings object. Every setting is a CLI flag and an environment variable with the ``SCIMGATE_`` prefix.

``docs/settings.md`` lists every field; ``tests/test_docs.py`` keeps that list complete.
"""

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from scimgate.tokens import B64TOKEN

__all__ = ["Settings"]

_HOSTNAME = re.compile(r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCIMGATE_", extra="forbid")

    host: str = Field("127.0.0.1", description="Interface the HTTP server listens on.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port the HTTP server listens on.")
    workers: int = Field(
        1, ge=1, description="Worker processes serving requests; with PostgreSQL, also run several machines."
    )
    data_dir: Path = Field(
        Path("scimgate-data"), description="Directory holding the SQLite database when no database URL is given."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy database URL, e.g. sqlite:////var/lib/scimgate/scimgate.db. Overrides data_dir."
    )
    first_token_file: Path | None = Field(
        None,
        description=(
            "Where the first serve writes the first directory's bearer token (a file it creates or replaces, mode "
            "0600) instead of printing it, so that it never reaches the logs the server's output goes to."
        ),
    )
    public_url: str | None = Field(
        None,
        description=(
            "The URL identity providers reach this service at, e.g. https://scim.example.com. Used for every "
            "Location header and meta.location; never derived from the request's Host header. "
            "Defaults to http://HOST:PORT for serve; the management commands default to the URL the last serve "
            "ran at."
        ),
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted; larger bodies get 413 before parsing."
    )
    body_read_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Seconds a client has to send a request's whole body; then 408, nothing changed.",
    )
    header_read_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Seconds a client has to send a request's line and headers (scimgate serve); then 408 and the "
        "connection is closed, so slow or silent connections cannot pile up.",
    )
    default_page_size: int = Field(100, ge=1, description="Resources per page when a list request gives no count.")
    max_page_size: int = Field(
        1000, ge=1, description="Largest page a list request can ask for; larger counts are clamped."
    )
    max_bulk_operations: int = Field(
        1000, ge=1, description="Most operations one /Bulk request may carry; advertised as bulk.maxOperations."
    )
    auto_migrate: bool = Field(
        False,
        description=(
            "Let serve upgrade a database whose schema is older than this scimgate. Off by default: run "
            "`scimgate migrate` deliberately (after a backup). An empty database is always initialised."
        ),
    )
    db_pool_size: int = Field(
        10, ge=1, description="PostgreSQL connections each worker keeps open (as many again in overflow when busy)."
    )
    db_statement_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a PostgreSQL statement may run before it is cancelled and the request gets 503.",
    )
    cursor_timeout: int = Field(
        3600, ge=60, description="Seconds a paging cursor (RFC 9865) stays valid between two page requests."
    )
    token_cache_seconds: float = Field(
        2.0,
        ge=0,
        le=60,
        description="Seconds a worker trusts a token it has checked before asking the database again.",
    )

    operator_key: SecretStr | None = Field(
        None,
        min_length=32,
        description=(
            "Key that opens the management API (/api/v1) as `Authorization: Bearer <key>`; at least 32 characters, "
            "e.g. from `openssl rand -base64 32`. Unset: the management API refuses every request. SCIM tokens "
            "never open it, and it never opens SCIM."
        ),
    )

    metrics_token: SecretStr | None = Field(
        None,
        min_length=32,
        description=(
            "Token a Prometheus scrape sends as `Authorization: Bearer <token>` to read /metrics (at least 32 "
            "characters). Unset, and metrics_public off: /metrics answers 404, as if absent."
        ),
    )
    metrics_public: bool = Field(
        False, description="Serve /metrics to anyone who reaches it, with no token (a scrape on a private network)."
    )

    event_retention_days: int = Field(
        30, ge=1, description="Days the event feed keeps events (and their webhook deliveries) before pruning them."
    )
    webhooks_in_serve: bool = Field(
        True,
        description=(
            "Deliver webhooks from the serve process. Off: run `scimgate worker` (as many as you like) instead."
        ),
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=60, description="Seconds a webhook receiver has to answer before the attempt counts as failed."
    )
    webhook_claim_seconds: float = Field(
        60.0,
        ge=1,
        description=(
            "Seconds a worker owns a delivery it claimed; a worker that dies mid-delivery loses it after this, "
            "and another worker tries again. Keep it above webhook_timeout_seconds."
        ),
    )
    webhook_allow_private: Annotated[list[str], NoDecode] = Field(
        [],
        description=(
            "Internal webhook receivers allowed despite the SSRF guard: comma-separated addresses, CIDRs "
            "(10.0.0.0/8, ::1) or exact host names. Empty: webhooks reach public addresses only."
        ),
    )

    admin_password: SecretStr | None = Field(
        None,
        min_length=12,
        description="A password that signs in to the admin page (/admin) as the operator key does. Unset: key only.",
    )
    request_log_days: int = Field(14, ge=1, description="Days the provisioning log keeps each SCIM request.")
    request_log_max_rows: int = Field(
        500_000, ge=1000, description="Most SCIM requests the provisioning log keeps; the oldest go first."
    )
    request_log_max_bytes: int = Field(
        1 << 30,
        ge=1 << 20,
        description="Most text the provisioning log keeps (bodies, queries, advice), in bytes; over it the oldest "
        "requests go, those no credential opened first.",
    )
    request_log_body_chars: int = Field(
        16_384, ge=256, description="Characters of each request and response body the provisioning log keeps."
    )
    passwords: Literal["discard", "hash"] = Field(
        "discard",
        description="What happens to a password an IdP sends (Okta's password sync): discard (for SSO-only "
        "applications: never stored), or hash (kept only as an Argon2id hash, for applications with a password "
        "sign-in; checked with the management API's password/verify or scimgate.scim.passwords.verify_password).",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one JSON object per log line, with request_id and directory_id."
    )
    access_log: Literal["all", "errors", "off"] = Field(
        "all",
        description=(
            "Which requests get an access-log line: all, errors (status 400 and up), or off. Every SCIM request is "
            "in the provisioning log either way; the line costs 15-60 microseconds of a request's CPU."
        ),
    )

    rate_limit_per_second: float = Field(
        100.0,
        ge=0,
        description=(
            "Sustained SCIM requests a second each directory may send to each worker (0: no limit); over it, 429 "
            "with Retry-After. Entra needs 25."
        ),
    )
    rate_limit_burst: float = Field(
        3000.0, ge=1, description="Requests a directory may send at once above the sustained rate (an initial sync)."
    )
    directory_concurrency: int = Field(
        16,
        ge=1,
        description=(
            "Requests one directory may have in progress at once in each worker; beyond, 429 with Retry-After, so one "
            "directory cannot take every thread. Entra sends a few at a time."
        ),
    )
    heavy_read_threads: int = Field(
        4,
        ge=1,
        description=(
            "Threads in each worker for reads that may scan (filters other than an indexed eq lookup, counts, sorted "
            "pages, /.search, a group's member list), apart from the threads that writes and lookups use."
        ),
    )
    heavy_reads_per_directory: int = Field(
        1,
        ge=1,
        description="Such reads one directory may run at once in each worker; the next wait their turn.",
    )
    heavy_read_seconds: float = Field(
        10.0,
        gt=0,
        description=(
            "Deadline of such a read, waiting for its turn included: past it, 429 (still waiting) or 503 (running)."
        ),
    )
    auth_failures_per_minute: float = Field(
        30.0,
        ge=0,
        description=(
            "Failed credentials a source address may present per minute (SCIM, management API, admin sign-in, "
            "OAuth) before its unknown credentials get 429 (0: no limit)."
        ),
    )
    oauth_tokens_per_minute: float = Field(
        10.0,
        ge=0,
        description="Access tokens each OAuth client may get from /oauth/token per minute (each worker); over it, 429 "
        "with Retry-After (0: no limit). A client also holds at most 5 live access tokens: the oldest go.",
    )

    @field_validator("operator_key", "metrics_token")
    @classmethod
    def _operator_key_is_a_bearer_token(cls, key: SecretStr | None) -> SecretStr | None:
        # Each travels as `Authorization: Bearer <key>`, whose grammar (RFC 6750 §2.1) allows only these characters.
        if key is not None and not B64TOKEN.fullmatch(key.get_secret_value()):
            raise ValueError("use only letters, digits and - . _ ~ + / (then =), e.g. from `openssl rand -base64 32`")
        return key

    @model_validator(mode="after")
    def _metrics_open_one_way(self) -> "Settings":
        # Both set would leave the operator unsure whether the token is needed: say which one (issue 20, finding 8).
        if self.metrics_token is not None and self.metrics_public:
            raise ValueError("set metrics_token (scrapes send it) or metrics_public (no token), not both")
        return self

    @field_validator("webhook_allow_private", mode="before")
    @classmethod
    def _allowlist_entries(cls, value: Any) -> list[str]:
        # One comma-separated string from the environment or a flag; a list from Python. Each entry must be an
        # address, a network or a host name: a typo must not silently allow nothing (or everything).
        entries = value.split(",") if isinstance(value, str) else list(value)
        cleaned = [str(entry).strip().lower().rstrip(".") for entry in entries if str(entry).strip()]
        for entry in cleaned:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                if not _HOSTNAME.fullmatch(entry) or entry.replace(".", "").isdigit():
                    raise ValueError(f"{entry[:100]!r} is not an address, a CIDR network or a host name") from None
        return cleaned

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'scimgate.db').resolve()}"

    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "localhost" if self.host in ("0.0.0.0", "::", "127.0.0.1") else self.host
        return f"http://{host}:{self.port}"
