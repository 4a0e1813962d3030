"""What tests share besides fixtures (those are in tests/conftest.py): clients for the app, processes and ports,
the crash workload, the IdP transcripts, the PostgreSQL test database. Test modules import from here, never from
each other."""
