"""``falak tm``: telemetry commands (decode packet files with a mission database)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from falak.mdb.model import MissionDatabase

tm = typer.Typer(
    help="Telemetry: decode CCSDS packet files with a mission database.",
    no_args_is_help=True,
)

_CHUNK_PACKETS = 200_000


def decode_command(
    mdb: Annotated[
        Path, typer.Option("--mdb", help="Mission database: XTCE (.xml) or falak YAML (.yaml).")
    ],
    packets: Annotated[
        Path, typer.Option("--packets", help="File of CCSDS space packets, back to back.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output table, .csv or .parquet: one row per decoded packet; first column "
            "'packet' (0-based position among all packets found in the file), then one column "
            "per parameter (MDB short names).",
        ),
    ],
    raw: Annotated[
        bool,
        typer.Option("--raw", help="Write raw values (enumeration codes, uncalibrated numbers)."),
    ] = False,
    container: Annotated[
        str | None,
        typer.Option(
            "--container",
            help="Container to decode: a root container (for MDBs with several, e.g. "
            "CCSDSTelemetryPacket) or a derived one, to keep only its packets.",
        ),
    ] = None,
    prefix_bytes: Annotated[
        int,
        typer.Option(
            "--prefix-bytes", min=0, help="Non-CCSDS bytes before every packet (SUDA files: 4)."
        ),
    ] = 0,
    lenient: Annotated[
        bool,
        typer.Option("--lenient", help="Accept packet version numbers other than 0."),
    ] = False,
) -> None:
    """Decode a packet file to CSV or Parquet and print a summary of what was rejected.

    Engineering values by default: calibrated numbers, enumeration labels, times in ISO 8601
    UTC; binary values as hex; arrays as JSON lists.
    """
    import numpy as np
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table as RichTable

    from falak.ccsds.spacepacket import split_packets
    from falak.cli import freeze_loaded_objects
    from falak.errors import FalakError
    from falak.mdb import load
    from falak.tm.decoder import ContainerResult, Decoder, merge_results
    from falak.tm.tabular import results_table, write_table

    console = Console(stderr=True)
    try:
        if out.suffix.lower() not in (".csv", ".parquet"):
            raise typer.BadParameter("must end in .csv or .parquet", param_hint="--out")
        db = load(mdb)
        root = None
        keep: set[str] | None = None
        if container:
            c = db.container(container)
            if c.base is None:
                root = c.qualified_name
            else:
                keep = {c.qualified_name}
                keep.update(_descendants(db, c.qualified_name))
        decoder = Decoder(db, root, calibrate=not raw, check_limits=not raw)
        freeze_loaded_objects()
        data = np.fromfile(packets, dtype=np.uint8)
        split = split_packets(data, prefix_bytes=prefix_bytes, lenient_version=lenient)
        results: list[ContainerResult] = []
        failed: dict[str, int] = {}
        excess: dict[str, list[int]] = {}  # reason: [packets, bytes]
        n = split.n_packets
        with Progress(console=console, transient=True, disable=n < _CHUNK_PACKETS) as bar:
            task = bar.add_task("decoding", total=n)
            for start in range(0, max(n, 1), _CHUNK_PACKETS):
                sl = slice(start, start + _CHUNK_PACKETS)
                res = decoder.decode(data, split.offsets[sl], split.lengths[sl])
                for r in res.containers:
                    r.packet_index = r.packet_index + start
                    if keep is None or r.container in keep:
                        results.append(r)
                for k, v in res.failed_counts().items():
                    failed[k] = failed.get(k, 0) + v
                for k, v in res.excess_counts().items():
                    got = excess.setdefault(k, [0, 0])
                    got[0] += v
                    got[1] += res.excess_bytes[k]
                bar.advance(task, min(_CHUNK_PACKETS, n - start))
        merged = merge_results(results)
        write_table(results_table(merged, raw=raw), out)
    except FalakError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None

    summary = RichTable(title=f"{packets.name}: {len(data):,} bytes", show_header=True)
    summary.add_column("what")
    summary.add_column("count", justify="right")
    summary.add_column("bytes", justify="right")
    summary.add_row("packets found", f"{n:,}", f"{int(split.lengths.sum()):,}")
    decoded = sum(len(r) for r in merged)
    summary.add_row("packets decoded", f"{decoded:,}", "")
    for r in merged:
        summary.add_row(f"  into {r.container}", f"{len(r):,}", "")
    counts = split.rejected_counts()
    nbytes = split.rejected_bytes()
    for reason in sorted(r for r, c in counts.items() if c):
        summary.add_row(f"rejected bytes: {reason}", f"{counts[reason]:,}", f"{nbytes[reason]:,}")
    for reason, count in sorted(failed.items()):
        summary.add_row(f"packets not decoded: {reason}", f"{count:,}", "")
    for reason, (count, nbytes_over) in sorted(excess.items()):
        summary.add_row(
            f"decoded, longer than container: {reason}", f"{count:,}", f"{nbytes_over:,}"
        )
    Console().print(summary)
    Console().print(f"wrote {out}")


def _descendants(db: MissionDatabase, name: str) -> set[str]:
    out: set[str] = set()
    todo = [name]
    while todo:
        cur = todo.pop()
        for c in db.containers.values():
            if c.base == cur and c.qualified_name not in out:
                out.add(c.qualified_name)
                todo.append(c.qualified_name)
    return out


def register(app: typer.Typer) -> None:
    """Add the ``tm`` group to the ``falak`` command."""
    tm.command("decode")(decode_command)
    app.add_typer(tm, name="tm")
