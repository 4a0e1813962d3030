"""scimgate: a SCIM 2.0 service provider that identity providers provision users and groups into."""

__version__ = "0.1.0"

__all__ = ["__version__"]
