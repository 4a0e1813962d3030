"""``/api/v1/directories/{id}/domains`` and ``…/domain-policy``: a directory's email domains and what happens to
users outside them (scimgate/directories/domains.py, scimgate/scim/domains.py)."""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from scimgate.api.common import ApiError, Ctx, FromStore, Text, existing_directory
from scimgate.directories.domains import (
    Domain,
    DomainError,
    add_domain,
    get_policy,
    list_domains,
    mark_verified,
    remove_domain,
    set_policy,
    verify_by_dns,
)

router = APIRouter(prefix="/directories/{directory_id}", tags=["email domains"])


class DomainIn(BaseModel):
    domain: Text = Field(
        max_length=300, description="A domain the customer owns, such as example.com (400 for what is no domain name)."
    )


class VerifyIn(BaseModel):
    operator: bool = Field(False, description="true: mark verified on the operator's word, without looking at DNS.")


class DomainOut(FromStore):
    domain: str
    verified: bool
    verified_at: datetime | None
    verified_by: str | None = Field(description="dns or operator.")
    checked_at: datetime | None = Field(description="When DNS was last looked at for it.")
    record_names: list[str] = Field(description="Where the TXT record may be published (either one).")
    record_value: str = Field(description="What the TXT record must hold.")


class PolicyIn(BaseModel):
    policy: Literal["off", "flag", "enforce"]


class PolicyOut(BaseModel):
    policy: str = Field(description="off, flag or enforce (docs/directories.md).")


def domain_out(found: Domain) -> DomainOut:
    return DomainOut.of(found, verified=found.verified, record_names=list(found.record_names))


def _missing(domain: str) -> ApiError:
    return ApiError(404, "no such domain", f"This directory has no domain {domain[:80]!r}.")


@router.get("/domains")
def domains(directory_id: str, ctx: Ctx) -> list[DomainOut]:
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        return [domain_out(found) for found in list_domains(conn, directory_id)]


@router.post("/domains", status_code=201)
def add(directory_id: str, body: DomainIn, ctx: Ctx) -> DomainOut:
    """Declare a domain: the response says which TXT record to publish."""
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        try:
            return domain_out(add_domain(conn, directory_id, body.domain))
        except DomainError as error:
            raise ApiError(400, "invalid domain", str(error)) from None


@router.post("/domains/{domain}/verify")
def verify(directory_id: str, domain: str, ctx: Ctx, body: VerifyIn | None = None) -> DomainOut:
    """Look the TXT record up (or, with ``operator``, mark verified). 409 when the record is not there yet."""
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        if body is not None and body.operator:
            marked = mark_verified(conn, directory_id, domain)
            if marked is None:
                raise _missing(domain)
            return domain_out(marked)
    found = verify_by_dns(ctx.db, ctx.resolver, directory_id, domain)
    if found is None:
        raise _missing(domain)
    if not found.verified:
        raise ApiError(
            409,
            "record not found",
            f"No TXT record {found.record_value} at {' or '.join(found.record_names)} yet. DNS changes can take "
            "a few minutes to appear; try again.",
        )
    return domain_out(found)


@router.delete("/domains/{domain}", status_code=204)
def remove(directory_id: str, domain: str, ctx: Ctx) -> None:
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        if not remove_domain(conn, directory_id, domain):
            raise _missing(domain)


@router.get("/domain-policy")
def policy(directory_id: str, ctx: Ctx) -> PolicyOut:
    with ctx.db.read() as conn:
        existing_directory(conn, directory_id)
        return PolicyOut(policy=get_policy(conn, directory_id) or "off")


@router.put("/domain-policy")
def change_policy(directory_id: str, body: PolicyIn, ctx: Ctx) -> PolicyOut:
    """off: nothing checked; flag: users outside the verified domains are accepted and marked; enforce: refused."""
    with ctx.db.write() as conn:
        existing_directory(conn, directory_id)
        set_policy(conn, directory_id, body.policy)
    return PolicyOut(policy=body.policy)
