"""``falak command``: encode a telecommand from a mission database (dry run) or send it once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

command_app = typer.Typer(
    help="Telecommands: encode them from a mission database (dry run) or send one over a link.",
    no_args_is_help=True,
)

_ARGS_HELP = (
    "Arguments as NAME=VALUE, in engineering units (enumeration labels, true/false, numbers, "
    "hex for binary, [1,2,3] for arrays). Missing arguments take their MDB defaults."
)


def _parse_args(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="ARGS")
        out[name.strip()] = value.strip()
    return out


def encode_command(
    command: Annotated[str, typer.Argument(help="Command name (short or qualified).")],
    mdb: Annotated[
        Path, typer.Option("--mdb", help="Mission database: XTCE (.xml) or falak YAML (.yaml).")
    ],
    args: Annotated[list[str] | None, typer.Argument(help=_ARGS_HELP, show_default=False)] = None,
    hex_only: Annotated[
        bool, typer.Option("--hex", help="Print only the packet as hex (for scripts).")
    ] = False,
    seq_count: Annotated[
        int,
        typer.Option("--seq-count", min=0, max=16383, help="CCSDS sequence count to put in."),
    ] = 0,
) -> None:
    """Encode a command without sending it: print its bytes in hex and each field.

    Fields show their bit offset and size, the raw value in the packet and the engineering
    value given. A CCSDS packet gets its length, sequence count and CRC filled.
    """
    from rich.console import Console
    from rich.table import Table

    from falak.errors import FalakError
    from falak.mdb import load
    from falak.tc import CommandEncoder

    err = Console(stderr=True)
    try:
        enc = CommandEncoder(load(mdb)).encode(
            command, _parse_args(args or []), seq_count=seq_count
        )
    except FalakError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    out = Console(highlight=False, soft_wrap=True)
    if hex_only:
        out.print(enc.hex)
        return
    out.print(f"{enc.command}: {len(enc.binary)} bytes")
    out.print(enc.hex)
    table = Table("field", "bit offset", "bits", "raw", "engineering")
    for f in enc.fields:
        raw = f"0x{f.raw:X} ({f.raw})" if isinstance(f.raw, int) else str(f.raw)
        table.add_row(f.name, str(f.offset_bits), str(f.size_bits), raw, _show(f.eng))
    out.print(table)


def _show(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def send_command(
    command: Annotated[str, typer.Argument(help="Command name (short or qualified).")],
    mdb: Annotated[
        Path, typer.Option("--mdb", help="Mission database: XTCE (.xml) or falak YAML (.yaml).")
    ],
    args: Annotated[list[str] | None, typer.Argument(help=_ARGS_HELP, show_default=False)] = None,
    link: Annotated[
        str,
        typer.Option(
            "--link",
            help="Uplink: udp://HOST:PORT or tcp://HOST:PORT, optionally ?delay_s=SECONDS "
            "(one-way delay before the packet leaves, e.g. 1.28 for lunar light time).",
        ),
    ] = "udp://127.0.0.1:10025",
    tm: Annotated[
        str | None,
        typer.Option(
            "--tm",
            help="Telemetry link to watch for the verifiers (udp://HOST:PORT binds there); "
            "without it the verifiers are not watched.",
        ),
    ] = None,
    archive: Annotated[
        Path | None,
        typer.Option(
            "--archive",
            help="Archive directory for the command history (default: a temporary one).",
        ),
    ] = None,
    user: Annotated[str, typer.Option("--user", help="Who sends (audited).")] = "cli",
    wait_s: Annotated[
        float,
        typer.Option("--wait-s", min=0.0, help="Longest wait for the verifiers, in seconds."),
    ] = 30.0,
) -> None:
    """Send a command once and print its history record as JSON.

    Critical commands cannot be sent from here: they need arming and confirmation by an
    authorised user through the server. With --tm the command's verifiers are watched
    until they end (or --wait-s passes).
    """
    import tempfile
    import time

    from rich.console import Console

    from falak.archive import open_archive
    from falak.commanding import CommandManager, CriticalPolicy
    from falak.errors import FalakError
    from falak.links import open_link
    from falak.links.tc import open_uplink
    from falak.mdb import load
    from falak.processor import Processor

    err = Console(stderr=True)
    out = Console(highlight=False, soft_wrap=True)
    tmp = None
    try:
        db = load(mdb)
        arguments = _parse_args(args or [])
        where = archive
        if where is None:
            tmp = tempfile.TemporaryDirectory(prefix="falak-command-")
            where = Path(tmp.name)
        with open_archive(where) as arch:
            proc = None
            if tm is not None:
                proc = Processor(db, arch, links=[open_link(tm, "tm")], batch_max_age_s=0.01)
            uplink = open_uplink(link)
            mgr = CommandManager(
                db,
                bus=proc.bus if proc is not None else None,
                archive=arch,
                uplink=uplink,
                critical=CriticalPolicy(arm_window_s=0.0),
            )
            try:
                if proc is not None:
                    proc.start()
                mgr.start()
                rec = mgr.issue(command, arguments, user=user, origin="cli")
                if tm is not None:
                    rec = mgr.wait(rec["id"], wait_s)
                else:
                    end = time.monotonic() + 5.0
                    while rec["state"] == "queued" and time.monotonic() < end:
                        time.sleep(0.01)
                        rec = mgr.get(rec["id"])
                uplink.flush(uplink.delay_s + 5.0)
            finally:
                mgr.stop()
                uplink.close()
                if proc is not None:
                    proc.stop()
    except FalakError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    except OSError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        if tmp is not None:
            tmp.cleanup()
    out.print(json.dumps(rec, indent=2, default=str))
    if rec.get("state") in ("rejected", "failed"):
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add the ``command`` group to the ``falak`` command."""
    command_app.command("encode")(encode_command)
    command_app.command("send")(send_command)
    app.add_typer(command_app, name="command")
