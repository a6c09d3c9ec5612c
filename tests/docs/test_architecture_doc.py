"""docs/architecture.md names every module of src/falak, and names none that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "falak"
DOC = ROOT / "docs" / "architecture.md"
MODULE = re.compile(r"\b([a-z_][a-z0-9_]*\.py)\b")


def _sections() -> dict[str, str]:
    """Text under each ``### `pkg/` `` heading (``""`` for the root section)."""
    out: dict[str, str] = {}
    key = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"### (?:`(\w+)/`|Root)", line)
        if m:
            key = m.group(1) or ""
            out[key] = ""
        elif line.startswith("## "):
            key = None
        elif key is not None:
            out[key] += line + "\n"
    return out


def _package(rel: Path) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else ""


def test_every_module_is_named_in_its_package_section() -> None:
    sections = _sections()
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if path.name == "__init__.py" and len(rel.parts) > 1:
            continue  # a package is named by its heading
        text = sections.get(_package(rel))
        if text is None or path.name not in MODULE.findall(text):
            missing.append(str(rel))
    assert missing == [], f"docs/architecture.md does not name: {missing}"


def test_every_module_named_exists() -> None:
    for pkg, text in _sections().items():
        where = SRC / pkg if pkg else SRC
        names = {p.name for p in where.rglob("*.py")} if pkg else {p.name for p in SRC.glob("*.py")}
        unknown = sorted(set(MODULE.findall(text)) - names)
        assert unknown == [], f"docs/architecture.md names in {pkg or 'the root'}: {unknown}"


def test_every_package_has_a_section_and_a_layer() -> None:
    sections = _sections()
    doc = DOC.read_text(encoding="utf-8")
    layers = doc.split("## Layers", 1)[1].split("## Packages", 1)[0]
    for pkg in sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()):
        assert pkg in sections, f"no section for falak.{pkg}"
        if pkg != "missions":  # data only, imported by no layer
            assert f"`{pkg}`" in layers, f"falak.{pkg} is in no row of the layers table"
