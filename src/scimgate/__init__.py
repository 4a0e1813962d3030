"""scimgate: a SCIM 2.0 service provider that identity providers provision users and groups into.

The public API for applications that embed scimgate (docs/events.md) is what ``__all__`` names; everything else is
internal and may change between releases. The names are imported on first use, so ``import scimgate`` stays cheap.
"""

from typing import TYPE_CHECKING, Any

from scimgate.version import __version__

if TYPE_CHECKING:
    from scimgate.app import create_app
    from scimgate.client import EventFeed
    from scimgate.config import Settings
    from scimgate.scim.passwords import verify_password

__all__ = ["EventFeed", "Settings", "__version__", "create_app", "verify_password"]

_EXPORTS = {
    "create_app": "scimgate.app",
    "EventFeed": "scimgate.client",
    "Settings": "scimgate.config",
    "verify_password": "scimgate.scim.passwords",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'scimgate' has no attribute {name!r}")
