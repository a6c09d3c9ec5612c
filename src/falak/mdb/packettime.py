"""How the time of a packet is built: the recipe, as an MDB or ``--packet-time`` gives it.

The recipe is text: ``auto``, ``reception``, an absolute-time parameter ``NAME``, or
``cds:DAY,MS[,US][@EPOCH]`` (meanings in :mod:`falak.processor.packettime`, which applies a
recipe to decoded packets). It is parsed here, in the mission-database layer, so that
``falak mdb check`` and every load refuse a bad ``falak:packet_time`` item with its file and
line, before ``falak run`` or ``falak archive ingest`` would trip on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Self

from falak.errors import FalakError, InputError
from falak.mdb.model import AbsoluteTimeType, MissionDatabase, Parameter
from falak.timecodes import iso_to_datetime64_ns

__all__ = ["RECIPES", "PacketTimeRecipe"]

RECIPES = "auto, reception, an absolute-time parameter NAME, or cds:DAY,MS[,US][@EPOCH]"
"""The recipe forms, for messages."""


@dataclass(frozen=True)
class PacketTimeRecipe:
    """A parsed packet-time recipe; build it with :meth:`parse`."""

    kind: Literal["auto", "reception", "parameter", "cds"]
    text: str = "auto"
    parameters: tuple[str, ...] = ()
    """Qualified names: the parameter, or the CDS day, ms and (optional) µs fields."""
    epoch: str = "1958-01-01"

    @classmethod
    def parse(cls, text: str | None, mdb: MissionDatabase, *, what: str = "") -> Self:
        """Parse ``text`` (None: the MDB's ``falak:packet_time``, else ``auto``).

        ``what`` names where the text came from in messages (default: ``--packet-time`` or
        the MDB item).
        """
        if text is None:
            text = mdb.packet_time
            what = what or f"falak:packet_time of {mdb.source_file or 'the mission database'}"
            if text is None:
                return cls("auto")
        what = what or "--packet-time"
        s = text.strip()
        if s in ("auto", "reception"):
            return cls(s, s)  # type: ignore[arg-type]
        if s.startswith("cds:"):
            body, _, epoch = s[4:].partition("@")
            names = [n.strip() for n in body.split(",")]
            if len(names) not in (2, 3) or not all(names):
                raise InputError(
                    f"{what} {text!r}: cds: needs 2 or 3 fields, day,ms[,us] "
                    "(e.g. cds:DOY,MSEC,USEC)"
                )
            epoch = epoch.strip() or "1958-01-01"
            try:
                iso_to_datetime64_ns(epoch)
            except ValueError:
                raise InputError(
                    f"{what} {text!r}: epoch {epoch!r} is not a date; write e.g. @1958-01-01"
                ) from None
            except InputError as exc:
                raise InputError(f"{what} {text!r}: epoch {exc}") from None
            quals = tuple(_parameter(mdb, n, what, text).qualified_name for n in names)
            return cls("cds", s, quals, epoch.rstrip("Zz"))
        p = _parameter(mdb, s, what, text)
        ptype = mdb.types.get(p.type or "")
        if not isinstance(ptype, AbsoluteTimeType):
            kind = "has no type" if ptype is None else f"is of kind {type(ptype).__name__}"
            raise InputError(
                f"{what} {text!r}: parameter {p.qualified_name} {kind}, not an absolute "
                "time; name an absolute-time parameter, or build the time from day/ms/µs "
                "fields with cds:DAY,MS,US"
            )
        return cls("parameter", s, (p.qualified_name,))


def _parameter(mdb: MissionDatabase, name: str, what: str, text: str) -> Parameter:
    try:
        return mdb.parameter(name)
    except FalakError as exc:  # names the candidates
        raise InputError(f"{what} {text!r}: {' '.join(str(exc).split())}") from None
