"""The embedded archive: two SQLite files in WAL mode inside one directory.

* ``archive.sqlite`` — raw packets, rejected bytes, events, alarms, command history. WAL with
  ``synchronous=FULL`` by default: a batch is on disk (WAL fsynced) when
  :meth:`~falak.archive.base.Archive.append_packets` returns, so it survives a power cut, not
  only a crash of the process (see ``benchmarks/RESULTS_archive.md`` for the cost).
* ``parameters.sqlite`` — the parameter archive. WAL with ``synchronous=NORMAL``: a crash of the
  process loses no committed transaction; a power cut may lose the last ones. Either way the
  parameters a processor had decoded but not committed yet (it buffers them for up to
  ``parameter_flush_s``), or that a power cut took, are missing: the coverage committed with
  the parameters (:mod:`falak.archive.sql`) says which raw packets they came from, and the
  next processor start decodes those again (:func:`falak.processor.catch_up`).

WAL lets other processes read while one writes (``falak archive`` next to ``falak run``);
writers wait up to ``busy_timeout_ms`` for each other.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from falak.archive.base import ArchiveError
from falak.archive.sql import MAIN_SCHEMA, PARAM_SCHEMA, SqlArchive, Store
from falak.errors import InputError

__all__ = ["MAIN_FILE", "PARAMETERS_FILE", "SqliteArchive"]

MAIN_FILE = "archive.sqlite"
PARAMETERS_FILE = "parameters.sqlite"
SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
MAIN_PAGE_BYTES = 16_384
"""Page size of new raw archives: 1,492-byte packets append ~40% faster than with 4 KiB."""
PARAMETERS_PAGE_BYTES = 65_536
"""Page size of new parameter archives: segment blobs span fewer overflow pages."""
JOURNAL_MODES = ("WAL", "DELETE", "TRUNCATE", "PERSIST", "MEMORY", "OFF")


class SqliteArchive(SqlArchive):
    """The embedded archive in directory ``path`` (created when ``create``).

    Parameters
    ----------
    path
        Directory holding ``archive.sqlite`` and ``parameters.sqlite``.
    create
        Create the directory and the files when missing; otherwise a missing archive is an
        :class:`~falak.errors.InputError`.
    synchronous
        SQLite ``synchronous`` level of the raw archive (``FULL``: durable against power loss;
        ``NORMAL``: durable against process crashes only).
    journal_mode
        ``WAL`` (default; readers never block the writer). Other modes exist for the benchmark.
    busy_timeout_ms
        How long a writer waits for another process's write lock.
    """

    DIALECT: ClassVar[dict[str, str]] = {
        "ID": "INTEGER PRIMARY KEY",
        "AUTOID": "INTEGER PRIMARY KEY",
        "BLOB": "BLOB",
    }

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        synchronous: str = "FULL",
        journal_mode: str = "WAL",
        busy_timeout_ms: int = 30_000,
    ) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._closed = True
        sync = synchronous.upper()
        journal = journal_mode.upper()
        if sync not in SYNCHRONOUS_LEVELS:
            raise InputError(
                f"synchronous={synchronous!r} is not a SQLite level; use one of "
                f"{', '.join(SYNCHRONOUS_LEVELS)}"
            )
        if journal not in JOURNAL_MODES:
            raise InputError(
                f"journal_mode={journal_mode!r} is not a SQLite journal mode; use one of "
                f"{', '.join(JOURNAL_MODES)}"
            )
        if self.path.exists() and not self.path.is_dir():
            raise InputError(
                f"{self.path} is a file; an embedded falak archive is a directory holding "
                f"{MAIN_FILE} and {PARAMETERS_FILE}; give that directory (or a new path)"
            )
        main_file = self.path / MAIN_FILE
        if not main_file.exists():
            if not create:
                raise InputError(
                    f"no falak archive at {self.path} (no {MAIN_FILE} there); check the path, "
                    "or create the archive (create=True)"
                )
            self.path.mkdir(parents=True, exist_ok=True)
        stores: list[Store] = []
        try:
            self.main = self._connect(main_file, sync, journal, busy_timeout_ms, MAIN_PAGE_BYTES)
            stores.append(self.main)
            self.params = self._connect(
                self.path / PARAMETERS_FILE,
                "NORMAL" if sync in ("FULL", "EXTRA") else sync,
                journal,
                busy_timeout_ms,
                PARAMETERS_PAGE_BYTES,
            )
            stores.append(self.params)
            self._closed = False
            self._init_schema(self.main, MAIN_SCHEMA)
            self._init_schema(self.params, PARAM_SCHEMA)
            self._check_format(self.main, str(main_file))
            self._check_format(self.params, str(self.path / PARAMETERS_FILE))
            self._init_coverage()
        except sqlite3.DatabaseError as exc:
            for s in stores:
                s.conn.close()
            self._closed = True
            raise ArchiveError(
                f"{self.path} does not hold a readable falak archive (SQLite: {exc}); "
                "the files may be corrupt or not SQLite: restore them or use another directory"
            ) from exc
        except BaseException:
            for s in stores:
                s.conn.close()
            self._closed = True
            raise

    @staticmethod
    def _connect(
        file: Path, sync: str, journal: str, busy_timeout_ms: int, page_bytes: int
    ) -> Store:
        conn = sqlite3.connect(
            str(file), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            conn.execute(f"PRAGMA page_size = {int(page_bytes)}")  # new files only
            mode = conn.execute(f"PRAGMA journal_mode = {journal}").fetchone()[0]
            if str(mode).upper() != journal:
                raise ArchiveError(
                    f"SQLite refused journal_mode={journal} for {file} (got {mode}); "
                    "put the archive on a local file system that supports it"
                )
            conn.execute(f"PRAGMA synchronous = {sync}")
            conn.execute("PRAGMA mmap_size = 268435456")
            conn.execute("PRAGMA cache_size = -65536")
        except BaseException:
            conn.close()
            raise
        return Store(conn)

    @contextlib.contextmanager
    def _transaction(self, store: Store) -> Iterator[Any]:
        with store.lock:
            self._check_open()
            cur = store.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                if store.conn.in_transaction:
                    store.conn.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def _cursor(self, store: Store) -> Any:
        return store.conn.cursor()

    def _lock_packets(self, cur: Any) -> None:
        """BEGIN IMMEDIATE already holds SQLite's single write lock."""

    def _has_column(self, cur: Any, table: str, column: str) -> bool:
        cur.execute("SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?", (table, column))
        return bool(cur.fetchone()[0])

    def checkpoint(self) -> None:
        """Copy the WAL into the database files (SQLite also does this every 1000 pages)."""
        for store in (self.main, self.params):
            with store.lock:
                self._check_open()
                store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        if self._closed:
            return
        for store in (self.main, self.params):
            with store.lock:
                store.conn.close()
        self._closed = True
