"""Every ```python block in docs/*.md runs (yamcs runs its example scripts in CI too).

Examples run from the repository root, as a user following the docs in a checkout would,
with ``TESTDATA`` set to the shared test data folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    out = []
    for md in sorted(DOCS.glob("*.md")):
        for i, code in enumerate(BLOCK.findall(md.read_text())):
            out.append((f"{md.name}#{i}", code))
    return out


@pytest.mark.parametrize(("where", "code"), _examples(), ids=[w for w, _ in _examples()])
def test_docs_example_runs(
    where: str, code: str, testdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(DOCS.parent)
    exec(compile(code, where, "exec"), {"TESTDATA": str(testdata), "__name__": "__docs__"})
