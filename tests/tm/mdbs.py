"""Mission databases built in Python for decoder tests, independent of the MDB file loaders."""

from __future__ import annotations

import csv
from pathlib import Path

from falak.mdb.model import (
    Comparison,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    MissionDatabase,
    Parameter,
    ParameterEntry,
    ParameterRef,
    SequenceContainer,
    SpaceSystem,
)

#: CCSDS 133.0-B-2 §4.1.3 primary header fields and their sizes in bits.
PRIMARY_HEADER = (
    ("VERSION", 3),
    ("TYPE", 1),
    ("SEC_HDR_FLG", 1),
    ("PKT_APID", 11),
    ("SEQ_FLGS", 2),
    ("SRC_SEQ_CTR", 14),
    ("PKT_LEN", 16),
)


class Builder:
    """Collects types, parameters and containers of one space system ``/T``."""

    def __init__(self) -> None:
        self.types: dict[str, object] = {}
        self.params: dict[str, Parameter] = {}
        self.containers: dict[str, SequenceContainer] = {}

    def param(self, name: str, ptype: object) -> str:
        tname = f"{name}_T"
        self.types[tname] = ptype
        self.params[name] = Parameter(name, f"/T/{name}", f"/T/{tname}")
        return f"/T/{name}"

    def uint(self, name: str, bits: int, **kw: object) -> str:
        return self.param(name, IntegerType(f"{name}_T", IntegerEncoding(bits, **kw), signed=False))

    def header(self) -> tuple[ParameterEntry, ...]:
        return tuple(ParameterEntry(self.uint(n, b)) for n, b in PRIMARY_HEADER)

    def container(self, name: str, entries: tuple[object, ...], **kw: object) -> str:
        self.containers[name] = SequenceContainer(name, f"/T/{name}", tuple(entries), **kw)
        return f"/T/{name}"

    def build(self) -> MissionDatabase:
        ss = SpaceSystem(
            "T",
            "/T",
            types=dict(self.types),  # type: ignore[arg-type]
            parameters=self.params,
            containers=self.containers,
        )
        return MissionDatabase(ss)


def apid_is(apid: int) -> Comparison:
    return Comparison(ParameterRef("/T/PKT_APID", calibrated=False), "==", str(apid))


def from_ccsdspy_csv(path: Path, apid: int) -> MissionDatabase:
    """An MDB for the fields of a CCSDSPy CSV definition (name, data_type, bit_length)."""
    b = Builder()
    hdr = b.container("Header", b.header(), abstract=True)
    body = []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            name, kind, bits = row["name"], row["data_type"], int(row["bit_length"])
            if kind == "uint":
                body.append(ParameterEntry(b.uint(name, bits)))
            elif kind == "int":
                ptype = IntegerType(f"{name}_T", IntegerEncoding(bits, "twosComplement"))
                body.append(ParameterEntry(b.param(name, ptype)))
            else:
                ptype = FloatType(f"{name}_T", FloatEncoding(bits), size_bits=bits)
                body.append(ParameterEntry(b.param(name, ptype)))
    b.container("Packet", tuple(body), base=hdr, restriction=apid_is(apid))
    return b.build()
