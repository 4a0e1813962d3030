"""``/api/v1/directories/{id}/tokens`` and ``/clients``: bearer tokens and OAuth client credentials.

Secrets appear in exactly one response, the one that created them; lists show ids and short prefixes only.
"""

from datetime import datetime, timedelta

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from scimgate.api.common import ApiError, Ctx, FromStore, Text, existing_directory, now
from scimgate.api.directories import NewToken
from scimgate.directories.credentials import (
    NotRotatable,
    TokenInfo,
    get_token,
    issue_token,
    list_tokens,
    revoke_token,
    rotate_token,
)
from scimgate.directories.oauth import (
    MAX_LIFETIME,
    MIN_LIFETIME,
    Client,
    create_client,
    delete_client,
    get_client,
    list_clients,
    revoke_secret,
    rotate_secret,
)
from scimgate.tokens import shown_id

router = APIRouter(prefix="/directories/{directory_id}", tags=["credentials"])
DEFAULT_OVERLAP = 24 * 3600
MAX_OVERLAP = 30 * 24 * 3600


class TokenOut(FromStore):
    id: str
    name: str | None
    prefix: str = Field(description="The first characters of the token, to tell tokens apart.")
    status: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="Kept to the minute.")
    expires_at: datetime | None
    revoked_at: datetime | None


def token_out(info: TokenInfo) -> TokenOut:
    return TokenOut.of(info, prefix=info.display_prefix, status=info.status(now()))


class TokenIn(BaseModel):
    name: Text | None = Field(None, max_length=200, description='A label, e.g. "Entra production".')


class Rotation(BaseModel):
    overlap_seconds: int = Field(
        DEFAULT_OVERLAP, ge=0, le=MAX_OVERLAP, description="How long the old credential keeps working."
    )


@router.get("/tokens")
def tokens(directory_id: str, ctx: Ctx) -> list[TokenOut]:
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        return [token_out(info) for info in list_tokens(conn, directory_id)]


@router.post("/tokens", status_code=201)
def create_token(directory_id: str, ctx: Ctx, body: TokenIn | None = None) -> NewToken:
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        issued = issue_token(conn, directory_id, body.name if body else None)
    return NewToken(id=issued.id, token=issued.token)


@router.post("/tokens/{token_id}/rotate", status_code=201)
def rotate(directory_id: str, token_id: str, ctx: Ctx, body: Rotation | None = None) -> NewToken:
    """A new token with the same name; the old one expires after the overlap."""
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        try:
            overlap = (body or Rotation()).overlap_seconds
            issued = rotate_token(conn, directory_id, token_id, timedelta(seconds=overlap))
        except NotRotatable as error:
            raise ApiError(409, "token not active", str(error)) from None
        if issued is None:
            raise _no_token(token_id)
        old = get_token(conn, directory_id, token_id)
    ctx.forget_cached()
    return NewToken(id=issued.id, token=issued.token, expires_at=old.expires_at if old else None)


@router.delete("/tokens/{token_id}")
def revoke(directory_id: str, token_id: str, ctx: Ctx) -> TokenOut:
    """Revoke now: every worker refuses the token within ``token_cache_seconds``."""
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        info = revoke_token(conn, directory_id, token_id)
    if info is None:
        raise _no_token(token_id)
    ctx.forget_cached()
    return token_out(info)


def _no_token(token_id: str) -> ApiError:
    return ApiError(404, "no such token", f"This directory has no token {shown_id(token_id, 'tok')}.")


class SecretOut(FromStore):
    id: str
    prefix: str
    status: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ClientOut(FromStore):
    client_id: str
    name: str | None
    access_token_seconds: int
    created_at: datetime
    secrets: list[SecretOut]


def client_out(client: Client) -> ClientOut:
    current = now()
    secrets = [SecretOut.of(s, prefix=s.display_prefix, status=s.status(current)) for s in client.secrets]
    return ClientOut.of(client, client_id=client.id, secrets=secrets)


class ClientIn(BaseModel):
    name: Text | None = Field(None, max_length=200)
    access_token_seconds: int = Field(
        MIN_LIFETIME, ge=MIN_LIFETIME, le=MAX_LIFETIME, description="Lifetime of issued access tokens (1–6 h)."
    )


class NewSecret(BaseModel):
    client_id: str
    secret_id: str
    client_secret: str = Field(description="Shown only in this response; stored only as a hash.")
    token_endpoint: str


class CreatedClient(BaseModel):
    client: ClientOut
    secret: NewSecret


@router.get("/clients")
def clients(directory_id: str, ctx: Ctx) -> list[ClientOut]:
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        return [client_out(client) for client in list_clients(conn, directory_id)]


@router.post("/clients", status_code=201)
def create(directory_id: str, ctx: Ctx, body: ClientIn | None = None) -> CreatedClient:
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        wanted = body or ClientIn()
        client, issued = create_client(conn, directory_id, wanted.name, wanted.access_token_seconds)
    secret = NewSecret(
        client_id=client.id,
        secret_id=issued.id,
        client_secret=issued.secret,
        token_endpoint=f"{ctx.public_url}/oauth/token",
    )
    return CreatedClient(client=client_out(client), secret=secret)


@router.post("/clients/{client_id}/secrets", status_code=201)
def new_secret(directory_id: str, client_id: str, ctx: Ctx, body: Rotation | None = None) -> NewSecret:
    """Rotate: a new secret; the client's other secrets keep working for the overlap."""
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        overlap = (body or Rotation()).overlap_seconds
        issued = rotate_secret(conn, directory_id, client_id, timedelta(seconds=overlap))
    if issued is None:
        raise _no_client(client_id)
    return NewSecret(
        client_id=client_id,
        secret_id=issued.id,
        client_secret=issued.secret,
        token_endpoint=f"{ctx.public_url}/oauth/token",
    )


@router.delete("/clients/{client_id}/secrets/{secret_id}")
def revoke_client_secret(directory_id: str, client_id: str, secret_id: str, ctx: Ctx) -> ClientOut:
    """Revoke one secret now, and the client's access tokens with it (the IdP gets a new one with a live secret)."""
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        if not revoke_secret(conn, directory_id, client_id, secret_id):
            raise ApiError(
                404,
                "no such secret",
                f"Client {shown_id(client_id, 'cli')} has no secret {shown_id(secret_id, 'sec')}.",
            )
        client = get_client(conn, directory_id, client_id)
    ctx.forget_cached()
    assert client is not None
    return client_out(client)


@router.delete("/clients/{client_id}", status_code=204)
def delete(directory_id: str, client_id: str, ctx: Ctx) -> Response:
    """Delete a client: its secrets and every access token issued to it stop working."""
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        if not delete_client(conn, directory_id, client_id):
            raise _no_client(client_id)
    ctx.forget_cached()
    return Response(status_code=204)


def _no_client(client_id: str) -> ApiError:
    return ApiError(404, "no such client", f"This directory has no OAuth client {shown_id(client_id, 'cli')}.")
