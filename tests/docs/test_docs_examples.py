"""Every example in docs/*.md runs as written (yamcs runs its example scripts in CI too).

Python: every ```python block runs from the repository root, as a user following the docs in a
checkout would, with ``TESTDATA`` set to the test data folder.

Shell: every ```console or ```bash (``sh``, ``shell``) block with ``falak`` commands runs with
the venv's ``falak``, one temporary working directory per page, blocks in page order (running
one block first runs the blocks before it on its page). The directory holds a link ``src`` to
the checkout's ``src/``, so paths such as ``src/falak/missions/...`` work as in a checkout, and
``$TESTDATA`` is set. In ``console`` blocks a command starts with ``$ `` and the lines after it
are its output; in ``bash`` blocks every line is a command. A trailing ``\\`` continues a
command. Only ``falak`` commands are run; a page that needs a file writes it in a block whose
info string names it, e.g. ```yaml title="event.yaml" (written before the blocks after it run).

A command must exit 0, unless its output shown in a ``console`` block is an error (it starts
with ``error:``, ``INVALID``, ``INFEASIBLE`` or ``FILE:LINE:``): then it must fail, and the
first line shown (up to any ``...``) must be in what it printed. Other output is not compared
(solver and timing numbers differ between runs). Blocks without a language (synopses, sample
output) are not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
TITLE = re.compile(r"""title=["']?([^"'\s]+)""")
SHELLS = {"console", "bash", "sh", "shell"}
FAILURE = re.compile(r"^(error:|INVALID|INFEASIBLE|\S+:\d+: )")
#: Seconds a documented command may take before it counts as hung.
TIMEOUT_S = 600
#: Blocks that take more than a few seconds, by page and a piece of one of their commands.
SLOW = {
    ("rover.md", "falak terrain hazards"),
    ("rover.md", "falak terrain horizons"),
    ("rover.md", "falak terrain illumination"),
    ("rover.md", "falak traverse plan"),
    ("station.md", "falak campaign plan"),
    ("station.md", "falak campaign replan"),
    ("orbiter.md", "--days 30"),
}
#: Blocks known to fail, with why: they must fail (strict xfail), so fixing one shows here.
KNOWN_BROKEN: dict[str, str] = {}
#: Pages whose examples need a running ``falak demo``: tests/integration runs them against one.
LIVE_PAGES = {"ground-segment.md"}


def _examples() -> list[tuple[str, str]]:
    out = []
    for md in sorted(DOCS.glob("*.md")):
        if md.name in LIVE_PAGES:
            continue
        for i, code in enumerate(BLOCK.findall(md.read_text())):
            out.append((f"{md.name}#{i}", code))
    return out


@pytest.mark.parametrize(("where", "code"), _examples(), ids=[w for w, _ in _examples()])
def test_docs_example_runs(
    where: str, code: str, testdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(DOCS.parent)
    exec(compile(code, where, "exec"), {"TESTDATA": str(testdata), "__name__": "__docs__"})


# --- shell examples ---------------------------------------------------------------------------


@dataclass
class Command:
    """One documented command, the output the page shows for it, and where it is."""

    text: str
    shown: list[str]
    line: int

    @property
    def expect_failure(self) -> bool:
        """True if the page shows this command failing."""
        first = next((s for s in self.shown if s.strip()), "")
        return bool(FAILURE.match(first))


@dataclass
class ShellBlock:
    """A runnable block: its commands, and the files the page wrote before it."""

    page: str
    index: int
    line: int
    commands: list[Command]
    files: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Test id, e.g. ``station.md#sh2``."""
        return f"{self.page}#sh{self.index}"


def _commands(lang: str, body: str, first_line: int) -> list[Command]:
    """Split a block into commands (``$ `` prompts in console blocks, every line in bash)."""
    out: list[Command] = []
    continuing = False
    for n, raw in enumerate(body.splitlines()):
        line = raw.rstrip()
        if continuing:
            out[-1].text += "\n" + line
        elif lang == "console" and line.startswith("$ "):
            out.append(Command(line[2:], [], first_line + n))
        elif lang != "console" and line.strip() and not line.lstrip().startswith("#"):
            out.append(Command(line, [], first_line + n))
        elif out and lang == "console":
            out[-1].shown.append(line)
        continuing = bool(out) and line.endswith("\\") and (lang != "console" or not out[-1].shown)
    return [c for c in out if c.text.split(maxsplit=1)[:1] == ["falak"]]


def _shell_blocks() -> list[ShellBlock]:
    blocks: list[ShellBlock] = []
    for md in sorted(DOCS.glob("*.md")):
        if md.name in LIVE_PAGES:
            continue
        text = md.read_text(encoding="utf-8")
        files: dict[str, str] = {}
        index = 0
        for m in FENCE.finditer(text):
            lang, info, body = m.group(1), m.group(2), m.group(3)
            line = text.count("\n", 0, m.start()) + 2  # first line inside the fence
            title = TITLE.search(info)
            if title:
                files[title.group(1)] = body
            if lang in SHELLS:
                commands = _commands(lang, body, line)
                if commands:
                    blocks.append(ShellBlock(md.name, index, line, commands, dict(files)))
                    index += 1
    return blocks


SHELL_BLOCKS = _shell_blocks()


def _param(block: ShellBlock) -> object:
    slow = any(
        page == block.page and any(piece in c.text for c in block.commands) for page, piece in SLOW
    )
    marks = [pytest.mark.slow] if slow else []
    if block.id in KNOWN_BROKEN:
        marks.append(pytest.mark.xfail(reason=KNOWN_BROKEN[block.id], strict=True))
    return pytest.param(block, id=block.id, marks=marks)


@dataclass
class _Page:
    workdir: Path
    done: int = 0  # blocks of the page run so far


_PAGES: dict[str, _Page] = {}


def _run(block: ShellBlock, workdir: Path, testdata: Path) -> None:
    for name, content in block.files.items():
        (workdir / name).write_text(content, encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "falak").is_file(), f"no falak next to {sys.executable}"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "TESTDATA": str(testdata),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    for cmd in block.commands:
        where = f"docs/{block.page}:{cmd.line}"
        try:
            proc = subprocess.run(
                ["bash", "-c", cmd.text],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{where}: `{cmd.text}` did not finish in {TIMEOUT_S} s")
        printed = proc.stdout + proc.stderr
        report = f"{where}: `{cmd.text}` exited {proc.returncode}:\n{printed}"
        if not cmd.expect_failure:
            assert proc.returncode == 0, report
            continue
        assert proc.returncode != 0, f"{where}: the page shows an error, but {report}"
        first = next(s for s in cmd.shown if s.strip()).split("...")[0].strip()
        assert " ".join(first.split()) in " ".join(printed.split()), (
            f"{where}: the page shows {first!r}; {report}"
        )


def test_shell_blocks_are_found() -> None:
    """The pages that teach the command line have runnable blocks, split into commands."""
    pages = {b.page for b in SHELL_BLOCKS}
    assert {"rover.md", "station.md", "orbiter.md"} <= pages
    cmds = _commands(
        "console",
        "$ falak a \\\n      --b c\nout 1\nout 2 \\\n$ ls\n$ falak d\nerror: no\n",
        10,
    )
    assert [(c.text, c.shown, c.line, c.expect_failure) for c in cmds] == [
        ("falak a \\\n      --b c", ["out 1", "out 2 \\"], 10, False),
        ("falak d", ["error: no"], 15, True),
    ]
    assert [c.text for c in _commands("bash", "# note\nfalak x \\\n  --y\n\nfalak z\n", 1)] == [
        "falak x \\\n  --y",
        "falak z",
    ]


@pytest.mark.parametrize("block", [_param(b) for b in SHELL_BLOCKS])
def test_docs_shell_example_runs(
    block: ShellBlock, testdata: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    page = _PAGES.get(block.page)
    if page is None:
        workdir = tmp_path_factory.mktemp(block.page.removesuffix(".md"))
        (workdir / "src").symlink_to(ROOT / "src", target_is_directory=True)
        # the third-party packets the pages decode ship in tests/data
        (workdir / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
        page = _PAGES[block.page] = _Page(workdir)
    earlier = [b for b in SHELL_BLOCKS if b.page == block.page and b.index < block.index]
    for before in earlier[page.done :]:
        _run(before, page.workdir, testdata)
    _run(block, page.workdir, testdata)
    page.done = max(page.done, block.index + 1)
