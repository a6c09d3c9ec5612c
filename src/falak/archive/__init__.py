"""The crash-safe archive: raw packets first, then parameters, events, alarms, commands.

``open_archive("runs/2026-11-25")`` opens (or creates) the embedded SQLite archive in a
directory; ``open_archive("postgresql://user@host:5432/falak")`` a PostgreSQL one. Both behave
the same (:class:`Archive`). ``open_archive(location, spacecraft="TIANGONG")`` opens one
spacecraft's part of a shared archive; :func:`list_spacecraft` names those present.
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
    StoredFile,
    from_time_ns,
    to_time_ns,
)
from falak.archive.segments import decode_array, encode_array
from falak.archive.spacecraft import (
    SPACECRAFT_DIR,
    check_spacecraft,
    check_unique_case,
    sqlite_spacecraft,
    unknown_spacecraft,
)
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
    "StoredFile",
    "decode_array",
    "encode_array",
    "from_time_ns",
    "list_spacecraft",
    "open_archive",
    "to_time_ns",
]

_FORMS = "a directory path, 'sqlite:///path/to/dir', or 'postgresql://user@host:port/database'"


def _parse(location: str | Path) -> tuple[str, Any]:
    """Return ``("sqlite", directory)`` or ``("postgres", dsn)`` for an archive location."""
    if isinstance(location, Path):
        return "sqlite", location
    text = str(location)
    if not text.strip():
        raise InputError(f"empty archive location; give {_FORMS}")
    if "://" not in text:
        return "sqlite", Path(text)
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest or rest == "/":
            raise InputError(f"archive location {text!r} names no directory; give {_FORMS}")
        return "sqlite", Path(rest)
    if scheme in ("postgresql", "postgres"):
        return "postgres", text
    raise InputError(f"archive location {text!r} has unknown scheme {scheme!r}; give {_FORMS}")


def open_archive(
    location: str | Path,
    *,
    spacecraft: str | None = None,
    create: bool = True,
    **options: Any,
) -> Archive:
    """Open the archive at ``location``, creating it when missing (unless ``create=False``).

    ``location`` is a directory path or ``sqlite:///path/dir`` (embedded SQLite archive: files
    inside the directory) or ``postgresql://user@host:port/db`` (PostgreSQL). ``options`` go to
    the backend (SQLite: ``synchronous``, ``journal_mode``, ``busy_timeout_ms``).

    With ``spacecraft``, open that spacecraft's sub-archive in the location (SQLite: the
    directory ``DIR/spacecraft/<NAME>/``; PostgreSQL: the schema ``falak_sc_<name lower>``),
    created on first use unless ``create=False``; its tables hold that spacecraft only
    (:mod:`falak.archive.spacecraft`). Without, the archive root (one-spacecraft archives).
    """
    kind, where = _parse(location)
    if spacecraft is not None:
        check_spacecraft(spacecraft)
    if kind == "postgres":
        from falak.archive.postgres import PostgresArchive

        return PostgresArchive(where, create=create, spacecraft=spacecraft, **options)
    if spacecraft is None:
        return SqliteArchive(where, create=create, **options)
    present = sqlite_spacecraft(where)
    check_unique_case(spacecraft, present)
    if not create and spacecraft not in present:
        raise unknown_spacecraft(spacecraft, str(location), present)
    arc = SqliteArchive(where / SPACECRAFT_DIR / spacecraft, create=create, **options)
    arc.spacecraft = spacecraft
    return arc


def list_spacecraft(location: str | Path) -> list[str]:
    """Return the spacecraft that have a sub-archive in ``location``, sorted by name.

    The archive root (data written without a spacecraft) is not listed. A location that
    holds no archive at all has none.
    """
    kind, where = _parse(location)
    if kind == "postgres":
        from falak.archive.postgres import postgres_spacecraft

        return postgres_spacecraft(where)
    return sqlite_spacecraft(where)
