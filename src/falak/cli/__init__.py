"""The ``falak`` command line: one module per command group, registered in :mod:`.app`."""

from __future__ import annotations

import codecs
import os
import sys


def freeze_loaded_objects() -> None:
    """Move everything alive now out of the cyclic garbage collector's reach (``gc.freeze``).

    Called by long decoding commands once the mission database is loaded: its hundreds of
    thousands of objects live until the process ends, and without this every full collection
    (which batch decoding's allocations trigger) walks them all again. On the perftest2 MDB
    (200 packet types x 369 parameters) this halves the CPU time of decoding a 1,000-packet
    batch (median 226-267 ms -> 112-135 ms) and removes the slow outliers (200 packets: up to
    0.7-1.0 s -> at most 115 ms); ``benchmarks/gc_freeze.py``, benchmarks/RESULTS_ingest.md.
    Objects frozen here are still freed by reference counting, but a cycle among them is never
    collected, so this is a decision for the process (the CLI), not something the library
    does on its own.
    """
    import gc

    gc.collect()
    gc.freeze()


def display_path(path: str | os.PathLike[str]) -> str:
    r"""Return a file name as text that any UTF-8 stream, database or log accepts.

    POSIX file names are bytes; Python keeps bytes that are not UTF-8 as lone surrogates
    (``os.fsdecode(b"x\xff.bin")`` is ``"x\udcff.bin"``), which a UTF-8 stream, an SQLite text
    column or lxml refuse with ``UnicodeEncodeError``. Such bytes are written ``\xNN`` here
    (``x\xff.bin``, as Python prints the bytes); every other name is returned unchanged.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _escape_surrogates(exc: UnicodeError) -> tuple[str, int]:
    r"""Codec error handler: undecodable file-name bytes as ``\xNN``, other characters as
    Python escapes (``\uNNNN``), so printing never raises."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start : exc.end]:
        cp = ord(ch)
        if 0xDC80 <= cp <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{cp - 0xDC00:02x}")
        else:
            out.append(ch.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out), exc.end


def safe_output_streams() -> None:
    r"""Make ``sys.stdout`` and ``sys.stderr`` write what they cannot encode as escapes.

    A file name that is not UTF-8 then prints as ``x\xff.bin`` (like :func:`display_path`)
    instead of ending the command with ``UnicodeEncodeError``; called once per ``falak``
    command, on the streams of that moment (the terminal, or a test runner's).
    """
    codecs.register_error("falak.escape", _escape_surrogates)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="falak.escape")
