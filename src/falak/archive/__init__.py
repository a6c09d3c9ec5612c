"""The crash-safe archive: raw packets first, then parameters, events, alarms, commands.

``open_archive("runs/2026-11-25")`` opens (or creates) the embedded SQLite archive in a
directory; ``open_archive("postgresql://user@host:5432/falak")`` a PostgreSQL one. Both behave
the same (:class:`Archive`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from falak.archive.base import (
    ALARM_STATES,
    AlarmRecord,
    Archive,
    ArchiveError,
    Event,
    PacketBatch,
    PacketStats,
    ParameterColumn,
    ParameterSeries,
    ParameterWrite,
    SourceProgress,
    from_time_ns,
    to_time_ns,
)
from falak.archive.segments import decode_array, encode_array
from falak.archive.sqlite import SqliteArchive
from falak.errors import InputError

__all__ = [
    "ALARM_STATES",
    "AlarmRecord",
    "Archive",
    "ArchiveError",
    "Event",
    "PacketBatch",
    "PacketStats",
    "ParameterColumn",
    "ParameterSeries",
    "ParameterWrite",
    "SourceProgress",
    "SqliteArchive",
    "decode_array",
    "encode_array",
    "from_time_ns",
    "open_archive",
    "to_time_ns",
]

_FORMS = "a directory path, 'sqlite:///path/to/dir', or 'postgresql://user@host:port/database'"


def open_archive(location: str | Path, *, create: bool = True, **options: Any) -> Archive:
    """Open the archive at ``location``, creating it when missing (unless ``create=False``).

    ``location`` is a directory path or ``sqlite:///path/dir`` (embedded SQLite archive: files
    inside the directory) or ``postgresql://user@host:port/db`` (PostgreSQL). ``options`` go to
    the backend (SQLite: ``synchronous``, ``journal_mode``, ``busy_timeout_ms``).
    """
    if isinstance(location, Path):
        return SqliteArchive(location, create=create, **options)
    text = str(location)
    if not text.strip():
        raise InputError(f"empty archive location; give {_FORMS}")
    if "://" not in text:
        return SqliteArchive(Path(text), create=create, **options)
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest or rest == "/":
            raise InputError(f"archive location {text!r} names no directory; give {_FORMS}")
        return SqliteArchive(Path(rest), create=create, **options)
    if scheme in ("postgresql", "postgres"):
        from falak.archive.postgres import PostgresArchive

        return PostgresArchive(text, create=create, **options)
    raise InputError(f"archive location {text!r} has unknown scheme {scheme!r}; give {_FORMS}")
