"""``falak mdb``: check, show and convert mission databases (native YAML or XTCE)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.tree import Tree

    from falak.errors import MdbError
    from falak.mdb.model import DataType, Entry, MissionDatabase, SequenceContainer

mdb_app = typer.Typer(
    help=(
        "Mission databases: check, show and convert. A database is falak's native YAML "
        "(.yaml, see docs/mdb-yaml.md) or XTCE 1.1/1.2 (.xml)."
    ),
    no_args_is_help=True,
)

_PATH_HELP = "Mission database file: falak YAML (.yaml/.yml) or XTCE (.xml)."


def _error_line(e: MdbError) -> str:
    """``file:line: message (fix: ...)``, one line per error."""
    where = e.file or "<input>"
    if e.line is not None:
        where += f":{e.line}"
    kind = "warning: " if e.severity == "warning" else ""
    text = f"{where}: {kind}{e.message}"
    if e.xpath:
        text += f" (at {e.xpath})"
    if e.fix:
        text += f" (fix: {e.fix})"
    return text


def _report(exc: Exception) -> None:
    """Print the errors of a failed load, one per line, and a count (to stderr)."""
    from falak.errors import MdbError, MdbErrors

    if isinstance(exc, MdbErrors):
        errors = list(exc.errors)
    elif isinstance(exc, MdbError):
        errors = [exc]
    else:
        typer.echo(f"error: {exc}", err=True)
        return
    for e in errors:
        typer.echo(_error_line(e), err=True)
    n = len(errors)
    typer.echo(f"{n} error{'s' if n != 1 else ''}", err=True)


def _load(path: Path) -> MissionDatabase:
    """Load a database or exit 1 with its errors (never a traceback)."""
    from falak.errors import FalakError
    from falak.mdb import load

    try:
        return load(path)
    except (FalakError, OSError, UnicodeDecodeError) as exc:
        _report(exc)
        raise typer.Exit(1) from None
    except Exception as exc:  # a loader bug must still not print a traceback
        typer.echo(
            f"{path}: internal error while loading ({type(exc).__name__}: {exc}); "
            "please report it with the file",
            err=True,
        )
        raise typer.Exit(2) from None


def _summary(db: MissionDatabase) -> str:
    systems = len(db.root.walk())
    return (
        f"{systems} space system{'s' if systems != 1 else ''}, {len(db.types)} types, "
        f"{len(db.parameters)} parameters, {len(db.containers)} containers, "
        f"{len(db.commands)} commands"
    )


def check_command(
    path: Annotated[Path, typer.Argument(help=_PATH_HELP, show_default=False)],
) -> None:
    """Load a mission database and report every error with its file, line and fix.

    Exit status 0 when the database is sound (one summary line with the counts of space
    systems, types, parameters, containers and commands), 1 when it has errors (each printed as
    ``file:line: message (fix: ...)``).
    """
    db = _load(path)
    for w in db.warnings:
        typer.echo(_error_line(w), err=True)
    note = f" ({len(db.warnings)} warnings)" if db.warnings else ""
    typer.echo(f"{path}: OK, {db.root.name}: {_summary(db)}{note}")


# ---------------------------------------------------------------------------------------------
# show


def _rel(qn: str, root: str) -> str:
    """A qualified name relative to the root system (``PAYLOAD/SCIENCE``)."""
    return qn[len(root) + 1 :] if qn.startswith(root + "/") else qn


def _condition_text(cond: object, root: str) -> str:
    from falak.mdb.model import AllOf, AnyOf, Comparison, Not

    if isinstance(cond, Comparison):
        ref = cond.ref
        name = ref.parameter if ref.argument else _rel(ref.parameter, root)
        if ref.member:
            name += "." + ".".join(ref.member)
        if not ref.calibrated:
            name = f"raw({name})"
        return f"{name} {cond.operator} {cond.value}"
    if isinstance(cond, AllOf):
        return " and ".join(_condition_text(c, root) for c in cond.conditions)
    if isinstance(cond, AnyOf):
        return "(" + " or ".join(_condition_text(c, root) for c in cond.conditions) + ")"
    if isinstance(cond, Not):
        return f"not ({_condition_text(cond.condition, root)})"
    return str(cond)


def _encoding_text(t: DataType | None, db: MissionDatabase) -> tuple[str, int | None]:
    """A short description of a type's encoding and its size in bits (None if variable)."""
    from falak.mdb.model import (
        AbsoluteTimeType,
        AggregateType,
        ArrayType,
        BinaryEncoding,
        CdsTimeCode,
        CucTimeCode,
        FloatEncoding,
        IntegerEncoding,
        StringEncoding,
    )
    from falak.mdb.native import _spec_from_encoding

    if t is None:
        return "no type", None
    root = db.root.qualified_name
    if isinstance(t, AbsoluteTimeType) and t.timecode is not None:
        tc = t.timecode
        if isinstance(tc, CucTimeCode):
            return f"CUC {tc.coarse_bytes}+{tc.fine_bytes}", 8 * (tc.coarse_bytes + tc.fine_bytes)
        if isinstance(tc, CdsTimeCode):
            return f"CDS {tc.day_bytes}+4+{tc.submillis_bytes}", 8 * (
                tc.day_bytes + 4 + tc.submillis_bytes
            )
    if isinstance(t, AggregateType):
        total: int | None = 0
        for m in t.members:
            _, size = _encoding_text(db.types.get(m.type), db)
            total = None if total is None or size is None else total + size
        return f"aggregate of {len(t.members)}", total
    if isinstance(t, ArrayType):
        dims = []
        count: int | None = 1
        for d in t.dimensions:
            if d.dynamic_size is not None:
                dims.append(_rel(d.dynamic_size.ref.parameter, root))
                count = None
            else:
                dims.append(str(d.size))
                count = None if count is None or d.size is None else count * d.size
        elem = db.types.get(t.element_type)
        etext, esize = _encoding_text(elem, db)
        size = None if count is None or esize is None else count * esize
        return f"array[{', '.join(dims)}] of {_rel(t.element_type, root)} ({etext})", size
    enc = t.encoding
    if enc is None:
        return "not encoded", None
    spec = _spec_from_encoding(enc)
    if isinstance(enc, IntegerEncoding | FloatEncoding):
        if spec is None:
            spec = f"{enc.encoding} {enc.size_bits} bits"
            if enc.byte_order is not None:
                spec += f" byte order {list(enc.byte_order)}"
        return spec, enc.size_bits
    if isinstance(enc, StringEncoding | BinaryEncoding):
        kind = "string" if isinstance(enc, StringEncoding) else "binary"
        parts = []
        size = None
        if enc.fixed_size_bits is not None:
            parts.append(f"{enc.fixed_size_bits} bits")
            size = enc.fixed_size_bits if enc.fixed_size_bits >= 0 else None
        if enc.dynamic_size is not None:
            parts.append(f"size from {_rel(enc.dynamic_size.ref.parameter, root)}")
        if enc.leading_size_bits is not None:
            parts.append(f"{enc.leading_size_bits}-bit length tag")
        if isinstance(enc, StringEncoding) and enc.terminator is not None:
            parts.append(f"ends at {enc.terminator.hex().upper()}")
        return f"{kind} ({', '.join(parts)})", size
    return type(enc).__name__, None


def _entry_label(e: Entry, db: MissionDatabase) -> str:
    from rich.markup import escape

    from falak.mdb.model import ArgumentEntry, ContainerEntry, FixedValueEntry, ParameterEntry

    root = db.root.qualified_name
    extra = []
    if e.location is not None:
        extra.append(f"at {e.location.offset_bits} bits from {e.location.reference}")
    if e.include_if is not None:
        extra.append(f"if {_condition_text(e.include_if, root)}")
    if e.repeat is not None:
        c = e.repeat.count
        extra.append("x" + (str(c) if isinstance(c, int) else _rel(c.ref.parameter, root)))
    tail = ("  [dim]" + escape("; ".join(extra)) + "[/dim]") if extra else ""
    if isinstance(e, ParameterEntry):
        p = db.parameters.get(e.parameter)
        t = db.types.get(p.type) if p is not None and p.type else None
        enc, size = _encoding_text(t, db)
        bits = "variable" if size is None else f"{size} bit" + ("s" if size != 1 else "")
        tname = _rel(p.type, root) if p is not None and p.type else "?"
        unit = getattr(t, "unit", None)
        cal = getattr(t, "calibrator", None)
        notes = []
        if cal is not None:
            notes.append(type(cal).__name__.replace("Calibrator", "").lower() + " calibration")
        if unit:
            notes.append(unit)
        note = ("  " + escape(", ".join(notes))) if notes else ""
        shown = escape(tname) + ("" if enc == tname else f"  [cyan]{escape(enc)}[/cyan]")
        return f"[bold]{escape(_rel(e.parameter, root))}[/bold]  {shown}  {bits}{note}{tail}"
    if isinstance(e, ContainerEntry):
        return f"[magenta]container {escape(_rel(e.container, root))}[/magenta]{tail}"
    if isinstance(e, ArgumentEntry):
        return f"argument [bold]{escape(e.argument)}[/bold]{tail}"
    if isinstance(e, FixedValueEntry):
        value = e.value.hex().upper() if e.value is not None else "0"
        name = f" {e.name}" if e.name else ""
        return f"fixed{escape(name)} {e.size_bits} bits = 0x{value}{tail}"
    return escape(str(e))


def _add_container(
    tree: Tree, c: SequenceContainer, db: MissionDatabase, parameters: bool, depth: int = 0
) -> None:
    from rich.markup import escape

    root = db.root.qualified_name
    flags = []
    if c.abstract:
        flags.append("abstract")
    if c.crc:
        flags.append(c.crc)
    if c.expected_period_s is not None:
        flags.append(f"every {c.expected_period_s:g} s")
    label = f"[bold magenta]{escape(_rel(c.qualified_name, root))}[/bold magenta]"
    if c.restriction is not None:
        label += f"  [yellow]when {escape(_condition_text(c.restriction, root))}[/yellow]"
    if flags:
        label += f"  [dim]({escape(', '.join(flags))})[/dim]"
    if c.description:
        label += f"  {escape(c.description)}"
    node = tree.add(label)
    if parameters:
        for e in c.entries:
            node.add(_entry_label(e, db))
    if depth < 32:  # inheritance cycles are reported by check; stop here instead of looping
        for child in db.children(c.qualified_name):
            _add_container(node, child, db, parameters, depth + 1)


def show_command(
    path: Annotated[Path, typer.Argument(help=_PATH_HELP, show_default=False)],
    container: Annotated[
        str | None,
        typer.Option(
            "--container",
            help="Show only this container (qualified name, or short name if unambiguous), "
            "its base chain and the containers that extend it.",
        ),
    ] = None,
    parameters: Annotated[
        bool,
        typer.Option(
            "--parameters/--no-parameters",
            help="List each container's entries: parameter, type, encoding and size in bits.",
        ),
    ] = True,
) -> None:
    """Print a mission database as a tree of containers and commands.

    Containers appear under the container they extend, with the restriction that selects them
    ("when APID == 100"); each entry shows its parameter, type, encoding and size in bits.
    Commands appear under their base command with their arguments, fixed fields and verifiers.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    from falak.errors import MdbError

    db = _load(path)
    root = db.root.qualified_name
    console = Console(highlight=False)
    title = f"[bold]{escape(db.root.name)}[/bold]  [dim]{escape(_summary(db))}[/dim]"
    tree = Tree(title)
    if container is not None:
        try:
            c = db.container(container)
        except MdbError as exc:
            _report(MdbError(exc.message, file=str(path), fix=exc.fix))
            raise typer.Exit(1) from None
        chain: list[str] = []
        cur = c.base
        while cur is not None and cur in db.containers and len(chain) < 32:
            chain.append(_rel(cur, root))
            cur = db.containers[cur].base
        if chain:
            tree.add("[dim]extends " + escape(" -> ".join(chain)) + "[/dim]")
        _add_container(tree, c, db, parameters)
        console.print(tree)
        return
    systems = tree.add("[bold]space systems[/bold]")
    for ss in db.root.walk():
        counts = (
            f"{len(ss.parameters)} parameters, {len(ss.containers)} containers, "
            f"{len(ss.commands)} commands"
        )
        desc = f"  {escape(ss.description)}" if ss.description else ""
        systems.add(f"{escape(ss.qualified_name)}  [dim]{counts}[/dim]{desc}")
    if db.containers:
        branch = tree.add("[bold]containers[/bold]")
        roots = [c for c in db.containers.values() if c.base is None or c.base not in db.containers]
        for c in roots:
            _add_container(branch, c, db, parameters)
    if db.commands:
        branch = tree.add("[bold]commands[/bold]")

        def add_cmd(node: Tree, qn: str, depth: int) -> None:
            cmd = db.commands[qn]
            flags = []
            if cmd.abstract:
                flags.append("abstract")
            if cmd.significance:
                flags.append(cmd.significance.name.lower())
            args = ", ".join(
                f"{a.name}: {_rel(a.type, root) if a.type else '?'}" for a in cmd.arguments
            )
            assign = ", ".join(f"{k}={v}" for k, v in cmd.argument_assignments)
            label = f"[bold green]{escape(_rel(qn, root))}[/bold green]"
            if args:
                label += f"({escape(args)})"
            if assign:
                label += f"  [yellow]{escape(assign)}[/yellow]"
            if flags:
                label += f"  [dim]({escape(', '.join(flags))})[/dim]"
            sub = node.add(label)
            if parameters:
                for e in cmd.entries:
                    sub.add(_entry_label(e, db))
                for v in cmd.verifiers:
                    what = []
                    if v.container:
                        what.append(f"packet {_rel(v.container, root)}")
                    if v.condition is not None:
                        what.append(_condition_text(v.condition, root))
                    sub.add(
                        f"[dim]verify {escape(v.stage)} within {v.window_start_s:g}.."
                        f"{v.window_stop_s:g} s: {escape(' and '.join(what))}[/dim]"
                    )
            if depth < 32:
                for child in db.commands.values():
                    if child.base == qn:
                        add_cmd(sub, child.qualified_name, depth + 1)

        for cmd in db.commands.values():
            if cmd.base is None or cmd.base not in db.commands:
                add_cmd(branch, cmd.qualified_name, 0)
    console.print(tree)


def convert_command(
    source: Annotated[Path, typer.Argument(help=_PATH_HELP, show_default=False)],
    target: Annotated[
        Path,
        typer.Argument(
            help="Output file: .yaml/.yml writes falak YAML, .xml writes XTCE 1.2.",
            show_default=False,
        ),
    ],
) -> None:
    """Convert a mission database between falak YAML and XTCE (by the output's extension)."""
    from falak.errors import FalakError

    db = _load(source)
    suffix = target.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            from falak.mdb.native import dump_yaml

            target.write_text(dump_yaml(db), encoding="utf-8")
        elif suffix == ".xml":
            try:
                from falak.mdb.xtce import dump_xtce
            except ImportError:
                typer.echo("error: XTCE export is not available in this installation", err=True)
                raise typer.Exit(1) from None
            target.write_bytes(dump_xtce(db))
        else:
            typer.echo(
                f"error: cannot tell the output format from {target.name!r}; "
                "give a .yaml, .yml or .xml file name",
                err=True,
            )
            raise typer.Exit(1)
    except OSError as exc:
        typer.echo(f"error: cannot write {target}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    except FalakError as exc:
        _report(exc)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {target}: {_summary(db)}")


def register(app: typer.Typer) -> None:
    """Add the ``mdb`` group to the ``falak`` command."""
    mdb_app.command("check")(check_command)
    mdb_app.command("show")(show_command)
    mdb_app.command("convert")(convert_command)
    app.add_typer(mdb_app, name="mdb")
