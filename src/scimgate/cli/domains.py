"""``scimgate domain add|list|verify|remove`` and ``scimgate directory policy``: a directory's email domains
(scimgate/directories/domains.py) and what happens to users outside them (scimgate/scim/domains.py).

``verify`` looks the TXT record up through the system's DNS; a caller may put another resolver in click's context
object (``{"resolver": …}``), which is how the tests avoid the network.
"""

from typing import Any

import click

from scimgate.api.domains import domain_out
from scimgate.cli.common import (
    DATABASE_SETTINGS,
    NotFound,
    current_database,
    emit,
    json_option,
    load_settings,
    settings_options,
)
from scimgate.cli.directories import existing
from scimgate.directories.domains import (
    DomainError,
    add_domain,
    list_domains,
    mark_verified,
    remove_domain,
    set_policy,
    verify_by_dns,
)
from scimgate.directories.resolver import DnsResolver, Resolver
from scimgate.scim.domains import POLICIES

database_options = settings_options(DATABASE_SETTINGS)


def _record_lines(data: dict[str, Any]) -> list[str]:
    if data["verified"]:
        return [f"{data['domain']}: verified ({data['verified_by']})."]
    names = " or ".join(data["record_names"])
    return [f"{data['domain']}: not verified. Publish a TXT record at {names} holding:", f"  {data['record_value']}"]


def _missing(directory_id: str, domain: str) -> NotFound:
    return NotFound(f"Directory {directory_id} has no domain {domain!r}: `scimgate domain list` lists them.")


@click.group()
def domain() -> None:
    """A directory's email domains, verified by a DNS TXT record."""


@domain.command()
@click.argument("directory_id")
@click.argument("name")
@json_option
@database_options
def add(directory_id: str, name: str, as_json: bool, **flags: Any) -> None:
    """Declare a domain; prints the TXT record that verifies it."""
    with current_database(load_settings(flags)) as db:
        existing(db, directory_id)
        try:
            with db.write() as conn:
                data = domain_out(add_domain(conn, directory_id, name)).model_dump(mode="json")
        except DomainError as error:
            raise click.ClickException(str(error)) from None
    emit(as_json, data, lambda: _record_lines(data))


@domain.command(name="list")
@click.argument("directory_id")
@json_option
@database_options
def list_(directory_id: str, as_json: bool, **flags: Any) -> None:
    """The directory's domains, verified or with the record still to publish."""
    with current_database(load_settings(flags)) as db:
        existing(db, directory_id)
        with db.read() as conn:
            found = [domain_out(d).model_dump(mode="json") for d in list_domains(conn, directory_id)]
    empty = [f"No domains: `scimgate domain add {directory_id} example.com` declares one."]
    emit(as_json, found, lambda: [line for d in found for line in _record_lines(d)] or empty)


@domain.command()
@click.argument("directory_id")
@click.argument("name")
@click.option("--operator", is_flag=True, help="Mark verified on your own word, without looking at DNS.")
@json_option
@database_options
@click.pass_context
def verify(ctx: click.Context, /, directory_id: str, name: str, operator: bool, as_json: bool, **flags: Any) -> None:
    """Look the domain's TXT record up now (exit 1 while it is not there), or --operator: mark it verified."""
    resolver: Resolver = (ctx.obj or {}).get("resolver") or DnsResolver()
    with current_database(load_settings(flags)) as db:
        existing(db, directory_id)
        if operator:
            with db.write() as conn:
                found = mark_verified(conn, directory_id, name)
        else:
            found = verify_by_dns(db, resolver, directory_id, name)
    if found is None:
        raise _missing(directory_id, name)
    data = domain_out(found).model_dump(mode="json")
    emit(as_json, data, lambda: _record_lines(data))
    if not found.verified:
        raise click.ClickException("The TXT record is not there yet; DNS changes can take a few minutes.")


@domain.command()
@click.argument("directory_id")
@click.argument("name")
@json_option
@database_options
def remove(directory_id: str, name: str, as_json: bool, **flags: Any) -> None:
    """Forget a domain: under flag or enforce, its users count as outside again."""
    with current_database(load_settings(flags)) as db:
        existing(db, directory_id)
        with db.write() as conn:
            removed = remove_domain(conn, directory_id, name)
    if not removed:
        raise _missing(directory_id, name)
    emit(as_json, {"removed": name}, lambda: [f"Domain {name} removed from {directory_id}."])


@click.command()
@click.argument("directory_id")
@click.argument("policy", type=click.Choice(POLICIES))
@json_option
@database_options
def policy(directory_id: str, policy: str, as_json: bool, **flags: Any) -> None:
    """What happens to users outside the verified domains: off, flag (accepted, marked) or enforce (refused)."""
    with current_database(load_settings(flags)) as db:
        existing(db, directory_id)
        with db.write() as conn:
            set_policy(conn, directory_id, policy)
    emit(as_json, {"policy": policy}, lambda: [f"Domain policy of {directory_id}: {policy}."])
