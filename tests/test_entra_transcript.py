"""What Microsoft Entra ID's provisioning service sends, in cycle order (docs: ../shared/docs/entra-provisioning.md).

Request bodies are the ones Microsoft documents (samples/idp/entra-*.json), including the odd parts a strict server
refuses: Microsoft's own schema URI on groups, client-sent meta, roles: [], explicit nulls, "True" strings,
capitalised attribute names, + for spaces in query strings and the aadOptscim062020 flag as a query parameter.
"""

import uuid
from urllib.parse import quote_plus

import pytest

from tests.helpers.scim import Scim, load_sample

pytestmark = pytest.mark.both_backends

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def eq(attribute: str, value: object) -> str:
    """A filter query parameter as Entra sends it: URL-encoded, + for spaces."""
    return "filter=" + quote_plus(f'{attribute} eq "{value}"')


class TestEntraUserCycle:
    def test_cycle(self, scim: Scim) -> None:
        """Test Connection, match, create, read, duplicate create, group match, delete, 404."""
        # Test Connection: a random userName must give 200 and an empty ListResponse.
        probe = scim.get(f"/Users?{eq('userName', uuid.uuid4())}&aadOptscim062020")
        assert probe.status_code == 200
        assert probe.json()["totalResults"] == 0 and probe.json()["Resources"] == []
        assert probe.headers["content-type"] == "application/scim+json"
        groups_probe = scim.get(f"/Groups?excludedAttributes=members&{eq('displayName', uuid.uuid4())}")
        assert groups_probe.status_code == 200 and groups_probe.json()["totalResults"] == 0

        body = load_sample("idp/entra-create-user.json")
        # Matching: by userName, then by externalId: both miss, so Entra creates.
        assert scim.get(f"/Users?{eq('userName', body['userName'])}").json()["totalResults"] == 0
        assert scim.get(f"/Users?{eq('externalId', body['externalId'])}").json()["Resources"] == []

        created = scim.post("/Users", body)
        assert created.status_code == 201
        user = created.json()
        assert user["id"]
        assert user[ENTERPRISE] == {"employeeNumber": "701984", "department": "Tour Operations"}
        assert user["phoneNumbers"] == [{"type": "mobile", "value": "+1 (425) 555-0100"}]
        assert "roles" not in user  # roles: [] is "no roles"

        # Incremental cycle: read by the cached id, and match again by userName (in another case).
        assert scim.get(f"/Users/{user['id']}").json() == user
        found = scim.get(f"/Users?{eq('userName', body['userName'].upper())}").json()
        assert [r["id"] for r in found["Resources"]] == [user["id"]]

        # A duplicate create (the user exists but was not matched): 409 uniqueness with a detail.
        duplicate = scim.post("/Users", body)
        assert duplicate.status_code == 409
        assert duplicate.json()["scimType"] == "uniqueness" and duplicate.json()["detail"]

        # Hard delete, then 404 by id and nothing by filter.
        assert scim.delete(f"/Users/{user['id']}").status_code == 204
        assert scim.get(f"/Users/{user['id']}").status_code == 404
        assert scim.get(f"/Users?{eq('userName', body['userName'])}").json()["totalResults"] == 0

    def test_legacy_body_without_the_flag(self, scim: Scim) -> None:
        """The older documented body: UserName capitalised, "True" strings, explicit nulls, roles: []."""
        response = scim.post("/Users", load_sample("idp/entra-create-user-legacy.json"))
        assert response.status_code == 201, response.text
        user = response.json()
        assert user["userName"] == "jyoung@contoso.com"
        assert user["active"] is True
        assert user["emails"] == [{"primary": True, "type": "work", "value": "jyoung@contoso.com"}]
        assert "title" not in user and "addresses" not in user


class TestEntraGroupCycle:
    def test_cycle(self, scim: Scim) -> None:
        """Match by displayName without members, create with Microsoft's schema URI, read, delete."""
        body = load_sample("idp/entra-create-group.json")
        match = scim.get(f"/Groups?excludedAttributes=members&{eq('displayName', 'Engineering')}")
        assert match.json()["totalResults"] == 0

        created = scim.post("/Groups", body)
        assert created.status_code == 201, created.text
        group = created.json()
        assert group["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"]
        assert group["externalId"] == body["externalId"]

        matched = scim.get(f"/Groups?excludedAttributes=members&{eq('displayName', 'Engineering')}")
        assert [g["id"] for g in matched.json()["Resources"]] == [group["id"]]
        assert "members" not in matched.json()["Resources"][0]
        assert "members" not in scim.get(f"/Groups/{group['id']}?excludedAttributes=members").json()

        assert scim.post("/Groups", body).status_code == 409
        assert scim.delete(f"/Groups/{group['id']}").status_code == 204
        assert scim.get(f"/Groups/{group['id']}").status_code == 404
