"""Mission database: model, native YAML format and XTCE import/export.

``load(path)`` picks the format from the file: XML is XTCE (1.1 or 1.2), anything else is
falak's native YAML.
"""

from __future__ import annotations

from pathlib import Path

from falak.mdb.model import MissionDatabase

__all__ = ["MissionDatabase", "load"]


def load(path: str | Path) -> MissionDatabase:
    """Load a mission database from an XTCE (``.xml``) or native YAML (``.yaml``) file.

    Raises :class:`falak.errors.MdbError` naming the file, line and fix when it is wrong.
    """
    p = Path(path)
    if not p.exists():
        from falak.errors import MdbError

        raise MdbError(
            "file not found", file=str(p), fix="give the path of a .yaml or XTCE .xml file"
        )
    with p.open("rb") as fh:
        head = fh.read(512).lstrip()
    if p.suffix.lower() == ".xml" or head.startswith(b"<"):
        from falak.mdb.xtce import load_xtce

        return load_xtce(p)
    from falak.mdb.native import load_yaml

    return load_yaml(p)
