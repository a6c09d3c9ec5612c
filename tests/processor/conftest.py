"""The archive backends (SQLite and a real PostgreSQL) for processor tests too."""

from __future__ import annotations

from ..archive.conftest import archive, backend, pg_server

__all__ = ["archive", "backend", "pg_server"]
