"""Where each spacecraft's archive lives inside one archive location.

One archive location holds every spacecraft of a ground segment, each in its own sub-archive
with the full set of tables (packets, parameters, events, alarms, commands, stacks), so no
query of one spacecraft can see another's rows:

* SQLite: the directory ``DIR/spacecraft/<NAME>/`` (created on first use);
* PostgreSQL: the schema ``falak_sc_<name in lower case>`` of the database (created on first
  use). PostgreSQL folds the case of the schema name, so two names that differ only in case
  are refused on both back ends (the SQLite one would otherwise differ by file system).

The archive root (no spacecraft) is the single-spacecraft archive of older configurations.
"""

from __future__ import annotations

import re
from pathlib import Path

from falak.errors import InputError

__all__ = [
    "SPACECRAFT_DIR",
    "SPACECRAFT_RULE",
    "check_spacecraft",
    "check_unique_case",
    "schema_name",
    "sqlite_spacecraft",
    "unknown_spacecraft",
]

SPACECRAFT_DIR = "spacecraft"
"""Sub-directory of an embedded archive holding one sub-archive per spacecraft."""
SCHEMA_PREFIX = "falak_sc_"
"""Prefix of the PostgreSQL schema of a spacecraft."""
_MAX_NAME = 63 - len(SCHEMA_PREFIX)  # PostgreSQL identifiers are at most 63 bytes
SPACECRAFT_RULE = f"1 to {_MAX_NAME} ASCII letters, digits, '_' and '-' (e.g. TIANGONG, test-sat_2)"
_NAME = re.compile(rf"[A-Za-z0-9_-]{{1,{_MAX_NAME}}}")


def check_spacecraft(name: str) -> str:
    """Return ``name`` if it can name a spacecraft's sub-archive, else raise InputError."""
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise InputError(
            f"spacecraft name {name!r} cannot key the archive; a spacecraft name is "
            f"{SPACECRAFT_RULE}"
        )
    return name


def check_unique_case(name: str, present: list[str]) -> None:
    """Refuse ``name`` when ``present`` holds it spelled with other case (one PG schema)."""
    same = [p for p in present if p.lower() == name.lower() and p != name]
    if same:
        raise InputError(
            f"spacecraft {name!r} differs only in case from {same[0]!r}, which the archive "
            "holds already; spacecraft names are unique regardless of case (PostgreSQL "
            f"folds them into one schema): use {same[0]!r}"
        )


def unknown_spacecraft(name: str, location: str, present: list[str]) -> InputError:
    """The error for a spacecraft that ``location`` holds no sub-archive of."""
    held = f"it holds {', '.join(present)}" if present else "it holds no spacecraft yet"
    return InputError(f"no spacecraft {name!r} in archive {location}; {held}")


def schema_name(name: str) -> str:
    """Return the PostgreSQL schema of spacecraft ``name`` (unquoted; quote it in SQL)."""
    return SCHEMA_PREFIX + check_spacecraft(name).lower()


def sqlite_spacecraft(root: Path) -> list[str]:
    """Return the spacecraft with a sub-archive under embedded archive ``root``, sorted."""
    from falak.archive.sqlite import MAIN_FILE

    base = root / SPACECRAFT_DIR
    if not base.is_dir():
        return []
    return sorted(
        p.name
        for p in base.iterdir()
        if p.is_dir() and _NAME.fullmatch(p.name) and (p / MAIN_FILE).is_file()
    )
