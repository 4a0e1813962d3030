"""Tenancy: directories (one per customer organisation) and the bearer tokens that open them."""
