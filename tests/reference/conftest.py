"""Fixtures of the reference-source tests: the PostgreSQL server."""

from tests.reference.postgres_server import postgres

__all__ = ["postgres"]
