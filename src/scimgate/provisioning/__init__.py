"""The provisioning log: every SCIM request with its bodies (secrets redacted) and, for each failure, a named reason
and what the IT admin should change."""
