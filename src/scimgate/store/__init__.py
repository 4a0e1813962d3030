"""Storage: the tables, the database engine, and the queries. Every table is keyed by directory first."""
