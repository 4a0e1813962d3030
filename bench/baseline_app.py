"""The denominator: a bare Starlette app answering a fixed SCIM ListResponse, served like scimgate."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = (
    b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,'
    b'"itemsPerPage":0,"Resources":[]}'
)


async def fixed(_request: Request) -> Response:
    return Response(BODY, media_type="application/scim+json")


app = Starlette(routes=[Route("/{path:path}", fixed, methods=["GET", "POST"])])
