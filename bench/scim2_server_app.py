"""scim2-server (PyPI), served like scimgate for the comparison in bench/run.py.

Its ASGI application over its in-memory storage, with the policy that accepts what Entra sends (unknown attributes
ignored, a ``remove`` whose ``value`` selects members, a filtered path that matches nothing creates the entry),
behind one static bearer token from ``SCIM2_SERVER_TOKEN``. Base URL: ``http://host:port/v2``.
"""

import os

from scim2_models import ScimPolicy, ScimProvider, UnauthorizedException
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

TOKEN = os.environ.get("SCIM2_SERVER_TOKEN", "")

POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


class BearerApplication(ASGIApplication):
    def check_auth(self, request: ScimRequest) -> None:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if not TOKEN or scheme.lower() != "bearer" or token != TOKEN:
            raise UnauthorizedException


provider = ScimProvider.from_discovery(
    load_default_schemas().values(),
    load_default_resource_types().values(),
    config=load_default_service_provider_config(),
    policy=POLICY,
)
app = BearerApplication(AsyncInMemoryStorage(), provider)
