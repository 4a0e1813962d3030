"""ETags and conditional requests (RFC 7644 §3.14, RFC 9110 §13): never required, honoured when sent.

Every resource response carries ``ETag: W/"<version>"`` (the same as ``meta.version``). ``If-Match`` on PUT, PATCH
and DELETE makes the write happen only on that version (412 otherwise), which is how a client avoids overwriting
a change it has not seen; ``If-None-Match`` on GET answers 304 when the client's copy is current. Entra and Okta send
neither, so nothing depends on them.
"""

from dataclasses import dataclass

from scimgate.scim.errors import NotModified, PreconditionFailed, excerpt


@dataclass(frozen=True)
class Preconditions:
    if_match: str | None = None
    if_none_match: str | None = None

    def check(self, current: str, reading: bool) -> None:
        """Raise when the request's conditions do not hold for the version ``current`` (a weak ETag)."""
        if self.if_match is not None and not _matches(self.if_match, current):
            raise PreconditionFailed(
                f"If-Match {excerpt(self.if_match)} does not name the current version {current}; read it again."
            )
        if self.if_none_match is not None and _matches(self.if_none_match, current):
            if reading:
                raise NotModified("Not modified.", headers={"ETag": current})
            raise PreconditionFailed(
                f"If-None-Match {excerpt(self.if_none_match)} matches the current version {current}."
            )


def _matches(header: str, current: str) -> bool:
    # Weak comparison (RFC 9110 §8.8.3.2): W/"3" and "3" name the same version.
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or current.removeprefix("W/") in tags
