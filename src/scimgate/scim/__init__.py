"""The SCIM 2.0 protocol face: resources, schemas, filters, errors and the HTTP routes (RFC 7643, RFC 7644)."""
