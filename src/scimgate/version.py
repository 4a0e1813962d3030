"""The version of scimgate: the one place it is written (the package metadata reads it from here)."""

__version__ = "0.1.0"

# /ServiceProviderConfig's documentationUri (RFC 7643 §5), under the public URL: the documentation this server itself
# serves, which documents this version (its OpenAPI document's version is __version__). scimgate publishes no
# documentation site; if it gets one, this is the one place to point at that version's pages.
DOCUMENTATION_PATH = "/api/v1/docs"
