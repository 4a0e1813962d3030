"""Email domains on the setup page: the IT admin adds a domain, sees the TXT record, publishes it (to a fake
resolver) and presses Verify; the link reaches only its own directory's domains, and never the policy."""

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from scimgate.config import Settings
from scimgate.directories.domains import list_domains, set_policy
from scimgate.store.database import Database
from tests.helpers.domains import FakeResolver, client_with
from tests.helpers.scim import Scim, new_directory
from tests.helpers.setup_links import form_token, new_link

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver()


@pytest.fixture
def client(resolver: FakeResolver, settings: Settings, database: Database) -> Iterator[TestClient]:
    with client_with(resolver, settings, database) as made:
        yield made


def shown_record(html: str) -> str:
    found = re.search(r'<code class="record"[^>]*>([^<]+)</code>', html)
    assert found is not None, html
    return found.group(1)


@pytest.mark.both_backends
def test_the_it_admin_adds_a_domain_publishes_its_record_and_verifies_it(
    client: TestClient, database: Database, resolver: FakeResolver
) -> None:
    """Add shows the record to publish; Verify before publishing says it is not there (409); after, verified, and
    under enforce the directory then accepts users at that domain and refuses others."""
    directory_id, token = new_directory(database, "Contoso")
    _, page = new_link(database, directory_id)
    csrf = form_token(client, page)
    added = client.post(page + "/domains", data={"csrf": csrf, "domain": "Example.com"})
    assert added.status_code == 201, added.text
    assert "_scimgate.example.com" in added.text and "not verified yet" in added.text
    assert added.text.count("<h2>5. Email domains</h2>") == 1  # in the page's content, not its title too
    record = shown_record(added.text)
    assert record.startswith("scimgate-verification=")
    early = client.post(page + "/domains/example.com/verify", data={"csrf": csrf})
    assert early.status_code == 409 and "No TXT record" in early.text
    resolver.publish("_scimgate.example.com", record)
    done = client.post(page + "/domains/example.com/verify", data={"csrf": csrf})
    assert done.status_code == 200 and "example.com is verified" in done.text and "✓ verified" in done.text
    with database.write() as conn:
        set_policy(conn, directory_id, "enforce")
    scim = Scim(client, directory_id, token)
    assert scim.post("/Users", {"schemas": [USER], "userName": "a@example.com"}).status_code == 201
    assert scim.post("/Users", {"schemas": [USER], "userName": "b@othercompany.com"}).status_code == 400


def test_domain_forms_need_the_csrf_token_and_refuse_what_is_no_domain(client: TestClient, database: Database) -> None:
    """No CSRF token: 403 and nothing added; a bad name: 422 with the reason on the page."""
    directory_id, _ = new_directory(database, "Contoso")
    _, page = new_link(database, directory_id)
    assert client.post(page + "/domains", data={"domain": "example.com"}).status_code == 403
    bad = client.post(page + "/domains", data={"csrf": form_token(client, page), "domain": "not a domain"})
    assert bad.status_code == 422 and "Not added" in bad.text
    with database.read() as conn:
        assert list_domains(conn, directory_id) == []


def test_a_link_for_one_directory_cannot_verify_anothers_domain(
    client: TestClient, database: Database, resolver: FakeResolver
) -> None:
    """The second directory's domain, with its record published, is "no such domain" through the first's link;
    the first's page does not show it; and no route of the page sets the policy."""
    first, _ = new_directory(database, "Contoso")
    second, _ = new_directory(database, "Fabrikam")
    _, first_page = new_link(database, first)
    _, second_page = new_link(database, second)
    second_csrf = form_token(client, second_page)
    added = client.post(second_page + "/domains", data={"csrf": second_csrf, "domain": "fabrikam.example"})
    resolver.publish("_scimgate.fabrikam.example", shown_record(added.text))
    first_csrf = form_token(client, first_page)
    assert client.post(first_page + "/domains/fabrikam.example/verify", data={"csrf": first_csrf}).status_code == 404
    assert "fabrikam.example" not in client.get(first_page).text
    with database.read() as conn:
        assert [d.verified for d in list_domains(conn, second)] == [False]
    assert client.post(first_page + "/domain-policy", data={"csrf": first_csrf, "policy": "off"}).status_code in (
        404,
        405,
    )
