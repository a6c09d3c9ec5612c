"""``falak archive``: ingest packet files, export parameters, replay, statistics."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from falak.archive import Archive
    from falak.mdb.model import MissionDatabase
    from falak.processor.packettime import PacketTime

archive_app = typer.Typer(
    help="Telemetry archive: ingest CCSDS packet files, export parameters by time, replay "
    "raw packets to rebuild parameters, statistics, received files. ARCHIVE is a directory "
    "(SQLite, created on ingest) or postgresql://user@host:port/db; one archive holds several "
    "spacecraft, each apart (--spacecraft NAME).",
    no_args_is_help=True,
)

_CHUNK_PACKETS = 20_000

ArchiveOpt = Annotated[
    str,
    typer.Option(
        "--archive",
        help="Archive: a directory (embedded SQLite) or postgresql://user@host:port/db.",
    ),
]
SpacecraftOpt = Annotated[
    str | None,
    typer.Option(
        "--spacecraft",
        help="The spacecraft whose part of the archive to use: one archive holds several "
        "(falak serve --config keeps each apart: DIR/spacecraft/NAME, or the PostgreSQL "
        "schema falak_sc_name). Without it, the archive root (a one-spacecraft archive, as "
        "falak run and older falak serve write it). Names: letters, digits, _ and -.",
    ),
]
MdbOpt = Annotated[
    Path, typer.Option("--mdb", help="Mission database: XTCE (.xml) or falak YAML (.yaml).")
]
ContainerOpt = Annotated[
    str | None,
    typer.Option(
        "--container",
        help="Root container to decode from, for MDBs with several (e.g. CCSDSTelemetryPacket).",
    ),
]
StartOpt = Annotated[
    str | None,
    typer.Option(
        "--start",
        help="Start of the time range (inclusive), ISO 8601 UTC, e.g. 2026-11-25T10:00:00Z "
        "(also +00:00 or another offset, decimals to the ns, a date alone; a time without "
        "zone is UTC), within 1677-09-21..2262-04-11.",
    ),
]
PacketTimeOpt = Annotated[
    str | None,
    typer.Option(
        "--packet-time",
        help="How packet time is built (overrides the MDB's falak:packet_time): auto (first "
        "absolute-time parameter, else reception time), reception, an absolute-time "
        "parameter NAME, or cds:DAY,MS[,US]\\[@EPOCH] for CCSDS day-segmented fields (days "
        "since EPOCH, default 1958-01-01; JPSS: cds:DOY,MSEC,USEC).",
    ),
]
StopOpt = Annotated[
    str | None,
    typer.Option(
        "--stop", help="End of the time range (exclusive), ISO 8601 like --start; not before it."
    ),
]


def time_range_ns(start: str | None, stop: str | None) -> tuple[int | None, int | None]:
    """Parse ``--start``/``--stop`` to ns since 1970 UTC (:mod:`falak.utctime` rules).

    None stays None (an open end); a stop before the start is an
    :class:`~falak.errors.InputError`, as on the server.
    """
    from falak.utctime import check_order, parse_ns

    start_ns = None if start is None else parse_ns(start, "--start")
    stop_ns = None if stop is None else parse_ns(stop, "--stop")
    check_order(start_ns, stop_ns, "--start", "--stop")
    return start_ns, stop_ns


def iso_ns(t_ns: int | None) -> str:
    """ns since the epoch to ISO 8601 UTC with nanoseconds and ``Z`` (``-`` for None)."""
    from falak.utctime import format_ns

    return "-" if t_ns is None else format_ns(t_ns)


def check_archived(store: Archive, names: list[str], option: str) -> None:
    """Refuse names that no archived parameter has (qualified, or a short name), as the server
    refuses names its MDB does not know."""
    from falak.errors import InputError

    known = store.parameter_names()
    shorts = {k.rsplit("/", 1)[-1] for k in known}
    for name in names:
        if name in known or name in shorts:
            continue
        near = [k for k in known if name.lower() in k.lower()][:5]
        if near:
            hint = "did you mean " + ", ".join(near)
        elif known:
            listed = sorted(shorts)
            hint = f"it holds {len(known):,} parameters: " + ", ".join(listed[:10])
            hint += ", ..." if len(listed) > 10 else ""
        else:
            hint = "it holds no parameters yet (falak archive ingest writes them)"
        raise InputError(
            f"{option}: no parameter named {name!r} in archive {store.location}; {hint}"
        )


def root_container(db: MissionDatabase, container: str | None) -> str | None:
    """Check that ``container`` is a root container (one without a base) and qualify it."""
    from falak.errors import InputError

    if container is None:
        return None
    c = db.container(container)
    if c.base is not None:
        raise InputError(
            f"--container {container} extends {c.base}; give a root container (one without "
            "a base), e.g. " + ", ".join(r.qualified_name for r in db.root_containers()[:3])
        )
    return c.qualified_name


def _fail(console: Console, exc: BaseException) -> None:
    """Print ``error: ...`` on one line (never wrapped) and exit 1."""
    text = " ".join(str(exc).split())
    typer.echo(f"error: {text}", err=True)
    raise typer.Exit(1) from None


def _open(location: str, *, create: bool, spacecraft: str | None = None) -> Archive:
    from falak.archive import open_archive

    return open_archive(location, create=create, spacecraft=spacecraft)


def _catch_up(
    store: Archive,
    db: MissionDatabase,
    root: str | None,
    given: PacketTime | None,
    default: PacketTime,
) -> tuple[int, int]:
    """Decode the packets an interrupted run left without parameters; return how many were
    behind and how many were decoded.

    Each is stamped with the ``given`` recipe, else the one archived with it at ingest, else
    ``default``.
    """
    from falak.processor import catch_up
    from falak.processor.packettime import PacketTime

    missing = store.packets_without_parameters()
    if not missing:
        return 0, 0
    groups: list[tuple[list[tuple[int, int]], PacketTime]] = []
    if given is not None:
        groups.append((missing, given))
    else:
        rest = missing
        for a, b, text in store.packet_time_recipes():
            inside = [(max(x, a), min(y, b)) for x, y in rest if max(x, a) <= min(y, b)]
            if inside:
                what = f"the packet-time recipe {text!r} archived at ingest"
                groups.append((inside, PacketTime.parse(text, db, what=what)))
                rest = [
                    (lo, hi)
                    for x, y in rest
                    for lo, hi in ((x, min(y, a - 1)), (max(x, b + 1), y))
                    if lo <= hi
                ]
        if rest:
            groups.append((rest, default))
    behind = caught = 0
    for ranges, recipe in groups:
        res = catch_up(store, db, root=root, ranges=ranges, packet_time=recipe)
        if given is not None:
            store.set_packet_time(ranges, given.text)
        behind += res.behind
        caught += res.packets
    return behind, caught


def ingest_command(
    mdb: MdbOpt,
    packets: Annotated[
        Path, typer.Option("--packets", help="File of CCSDS space packets, back to back.")
    ],
    archive: ArchiveOpt,
    container: ContainerOpt = None,
    prefix_bytes: Annotated[
        int,
        typer.Option(
            "--prefix-bytes", min=0, help="Non-CCSDS bytes before every packet (SUDA files: 4)."
        ),
    ] = 0,
    lenient: Annotated[
        bool, typer.Option("--lenient", help="Accept packet version numbers other than 0.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Ingest the file from its start even if this archive has it already, wholly "
            "or in part (its packets are then archived twice).",
        ),
    ] = False,
    packet_time: PacketTimeOpt = None,
    spacecraft: SpacecraftOpt = None,
) -> None:
    """Ingest a packet file: raw packets first (durable), then decoded parameters, alarms.

    Resumable, and a no-op for a file already ingested: the archive records the file by its
    content (size and SHA-256) and, in the same transaction as each batch of raw packets, the
    byte offset committed. Run again after a kill or an error, it goes on after the last
    committed byte (first decoding the packets an interrupted run left without parameters);
    run again on a file it finished (under any name), it says so and stores nothing. --force
    ingests the file again.

    Reception times are the ingest times (ns, strictly increasing). Each packet's parameters
    are stamped with its packet time, built as --packet-time or the MDB's falak:packet_time
    says, by default its first absolute-time parameter (on-board time); a packet without one
    gets its reception time, and a warning says how many did.
    """
    import hashlib
    import json
    import time

    import numpy as np
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table as RichTable

    from falak.ccsds.spacepacket import split_packets
    from falak.cli import display_path
    from falak.errors import FalakError, InputError
    from falak.mdb import load
    from falak.processor import Processor
    from falak.processor.packettime import PacketTime
    from falak.processor.replay import same_recipe

    console = Console(stderr=True)
    try:
        db = load(mdb)
        root = root_container(db, container)
        recipe = PacketTime.parse(packet_time, db)
        data = np.fromfile(packets, dtype=np.uint8)
        split = split_packets(data, prefix_bytes=prefix_bytes, lenient_version=lenient)
        store = _open(archive, create=True, spacecraft=spacecraft)
    except (FalakError, OSError) as exc:
        _fail(console, exc)
    where = archive if spacecraft is None else f"{archive} (spacecraft {spacecraft})"
    link = f"file:{display_path(packets.name)}"  # stored as text: no lone surrogates
    name = display_path(packets.name)
    size = int(data.size)
    key = "sha256:" + hashlib.sha256(data.data).hexdigest()
    options = json.dumps({"lenient": lenient, "prefix_bytes": prefix_bytes}, sort_keys=True)
    try:
        behind, caught = _catch_up(store, db, root, None if packet_time is None else recipe, recipe)
        if behind:
            console.print(
                f"caught up {caught:,} packets that an interrupted run had left without parameters",
                soft_wrap=True,
            )
        progress = store.source_progress(key)
        if progress is not None and not force:
            if progress.done:
                store.close()
                Console().print(
                    f"{name} is in {where} already ({size:,} bytes, {key[:19]}..., ingested "
                    f"as {progress.name} at {iso_ns(progress.updated_ns)}): nothing to do; "
                    "--force ingests it again",
                    soft_wrap=True,
                )
                return
            if progress.options != options:
                was = json.loads(progress.options)
                raise InputError(
                    f"{name} was partly ingested with --prefix-bytes {was['prefix_bytes']}"
                    f"{' --lenient' if was['lenient'] else ''}; run again with those options "
                    "to resume, or --force to start again"
                )
            if progress.packet_time is not None:  # resume stamps as the first run did
                what = f"the --packet-time {name} was started with"
                stored = PacketTime.parse(progress.packet_time, db, what=what)
                if packet_time is None:
                    if not same_recipe(stored, recipe):
                        console.print(
                            f"resuming {name} with --packet-time {stored.text}, as it was started",
                            soft_wrap=True,
                        )
                    recipe = stored
                elif not same_recipe(stored, recipe):
                    console.print(
                        f"warning: {name} was started with --packet-time {stored.text}; its "
                        f"remaining packets are stamped with --packet-time {recipe.text} as "
                        "given, those archived before keep their times (falak archive replay "
                        "--packet-time restamps them; without --packet-time the resume goes on "
                        "as started)",
                        soft_wrap=True,
                    )
        if progress is None or force:
            progress = store.start_source(
                key, name, size, options, restart=force, packet_time=recipe.text
            )
        pos = progress.committed_bytes
        if pos:
            console.print(
                f"resuming {name}: bytes 0..{pos:,} of {size:,} were archived before",
                soft_wrap=True,
            )
        proc = Processor(db, store, root=root, packet_time=recipe)
        keep = split.offsets >= pos
        offs, lens = split.offsets[keep], split.lengths[keep]
        skipped = [r for r in split.skipped if r.start >= pos]
        t0 = time.time_ns()
        last_ns = 0
        n_archived = 0
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"ingesting {name}", total=int(offs.size))
            i = 0
            # in file order, so that the committed offset always has everything before it
            for r in [*skipped, None]:
                j = int(offs.size) if r is None else int(np.searchsorted(offs, r.start))
                while i < j:
                    k = min(j, i + _CHUNK_PACKETS)
                    end = max(pos, int(offs[k - 1] + lens[k - 1]))
                    first = max(time.time_ns(), last_ns + 1)
                    recv = first + np.arange(k - i, dtype=np.int64)
                    last_ns = int(recv[-1])
                    ids = store.append_packets(
                        data, offs[i:k], lens[i:k], recv_time_ns=recv, link=link,
                        source=(key, pos, end), packet_time=recipe.text,
                    )  # fmt: skip
                    pos = end
                    proc.chain.run(data, offs[i:k], lens[i:k], recv, ids)
                    n_archived += k - i
                    bar.advance(task, k - i)
                    i = k
                if r is not None:
                    end = max(pos, r.stop)
                    store.append_rejected(
                        data, r.start, r.stop, recv_time_ns=t0, link=link, reason=r.reason,
                        source=(key, pos, end),
                    )  # fmt: skip
                    pos = end
        proc.flush()
        if pos < size:  # bytes after the last packet or range (none in a well-formed file)
            store.advance_source(key, pos, size)
        stats = proc.stats()
    except (FalakError, OSError) as exc:
        store.close()
        _fail(console, exc)
    store.close()
    summary = RichTable(title=f"{name} → {where}")
    summary.add_column("what")
    summary.add_column("count", justify="right")
    summary.add_column("bytes", justify="right")
    summary.add_row("packets archived", f"{n_archived:,}", f"{int(lens.sum()):,}")
    summary.add_row("packets decoded", f"{stats.decoded:,}", "")
    for reason, count in sorted(stats.failed.items()):
        summary.add_row(f"packets not decoded: {reason}", f"{count:,}", "")
    for reason, count in sorted(stats.excess.items()):
        summary.add_row(f"decoded, longer than container: {reason}", f"{count:,}", "")
    counts: dict[str, list[int]] = {}
    for r in skipped:
        c = counts.setdefault(r.reason, [0, 0])
        c[0] += 1
        c[1] += r.stop - r.start
    for reason, (count, nbytes) in sorted(counts.items()):
        summary.add_row(f"rejected bytes: {reason}", f"{count:,}", f"{nbytes:,}")
    summary.add_row("parameter samples written", f"{stats.samples_written:,}", "")
    summary.add_row("alarm changes", f"{len(proc.alarms.records):,}", "")
    Console().print(summary)
    if stats.reception_time_packets and recipe.kind != "reception":
        found = (
            "no absolute-time parameter in their containers"
            if recipe.kind == "auto"
            else f"no time from --packet-time {recipe.text}"
        )
        console.print(
            f"warning: {stats.reception_time_packets:,} of {stats.decoded:,} decoded packets "
            f"have {found}: their parameters are stamped with the ingest time, 1 ns apart, so "
            "an export aligned by time follows the ingest order, not the on-board clock; give "
            "--packet-time NAME (an absolute-time parameter) or --packet-time cds:DAY,MS,US "
            "(day, ms, µs fields), or set falak:packet_time in the MDB (--packet-time "
            "reception accepts the ingest time)",
            soft_wrap=True,
        )


def export_command(
    archive: ArchiveOpt,
    parameters: Annotated[
        str,
        typer.Option(
            "--parameters",
            help="Comma-separated parameter names (short or qualified), e.g. BATT_V,MODE.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output .csv or .parquet: one row per distinct time, first column 'time' "
            "(ISO 8601 UTC with ns in CSV, timestamp[ns] in Parquet), then one column per "
            "parameter (empty where it has no sample at that time).",
        ),
    ],
    start: StartOpt = None,
    stop: StopOpt = None,
    raw: Annotated[
        bool,
        typer.Option("--raw", help="Raw values (uncalibrated numbers, enumeration codes)."),
    ] = False,
    with_raw: Annotated[
        bool,
        typer.Option(
            "--with-raw",
            help="Engineering values AND raw values side by side: a column NAME.raw after "
            "each column NAME.",
        ),
    ] = False,
    spacecraft: SpacecraftOpt = None,
) -> None:
    """Export parameters aligned by time to CSV or Parquet (engineering values by default)."""
    import numpy as np
    from rich.console import Console

    from falak.errors import FalakError, InputError
    from falak.timecodes import format_utc
    from falak.tm.tabular import Table, write_table

    console = Console(stderr=True)
    try:
        if out.suffix.lower() not in (".csv", ".parquet"):
            raise InputError(f"--out {out} must end in .csv or .parquet")
        if raw and with_raw:
            raise InputError("give --raw (raw values only) or --with-raw (both), not both")
        names = [n.strip() for n in parameters.split(",") if n.strip()]
        if not names:
            raise InputError("--parameters is empty; give names such as BATT_V,MODE")
        start_ns, stop_ns = time_range_ns(start, stop)
        store = _open(archive, create=False, spacecraft=spacecraft)
        try:
            check_archived(store, names, "--parameters")
            table = store.export(names, start_ns, stop_ns, raw=raw)
            if with_raw:
                raws = store.export(names, start_ns, stop_ns, raw=True)
                names_out = ["time"]
                values: list[Any] = [table.values[0]]
                present = [table.present[0]]
                for i in range(1, len(table.names)):
                    names_out += [table.names[i], table.names[i] + ".raw"]
                    values += [table.values[i], raws.values[i]]
                    present += [table.present[i], raws.present[i]]
                table = Table(names_out, values, present)
        finally:
            store.close()
        if out.suffix.lower() == ".csv":
            text = np.array(format_utc(table.values[0], digits=9), dtype=object)
            table = Table(table.names, [text, *table.values[1:]], table.present)
        write_table(table, out)
    except (FalakError, OSError) as exc:
        _fail(console, exc)
    Console().print(f"wrote {len(table):,} rows × {len(table.names) - 1} parameters to {out}")


def replay_command(
    archive: ArchiveOpt,
    mdb: MdbOpt,
    start: StartOpt = None,
    stop: StopOpt = None,
    container: ContainerOpt = None,
    packet_time: PacketTimeOpt = None,
    spacecraft: SpacecraftOpt = None,
) -> None:
    """Rebuild the parameter archive from the raw packets (e.g. with a new MDB version).

    The range selects packets by reception time; their old parameter samples are deleted,
    whatever their packet time, and decoded again, so a replay never doubles a sample nor
    loses one. Without a range everything is rebuilt.
    """
    from rich.console import Console
    from rich.progress import Progress

    from falak.errors import FalakError
    from falak.mdb import load
    from falak.processor import replay
    from falak.processor.packettime import PacketTime

    console = Console(stderr=True)
    try:
        db = load(mdb)
        root = root_container(db, container)
        recipe = None if packet_time is None else PacketTime.parse(packet_time, db)
        start_ns, stop_ns = time_range_ns(start, stop)
        store = _open(archive, create=False, spacecraft=spacecraft)
    except (FalakError, OSError) as exc:
        _fail(console, exc)
    try:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("replaying", total=None)

            def progress(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            res = replay(
                store, db, root=root, start_ns=start_ns, stop_ns=stop_ns, progress=progress,
                packet_time=recipe,
            )  # fmt: skip
    except (FalakError, OSError) as exc:
        store.close()
        _fail(console, exc)
    store.close()
    failed = ", ".join(f"{k} {v:,}" for k, v in sorted(res.failed.items())) or "none"
    excess = ", ".join(f"{k} {v:,}" for k, v in sorted(res.excess.items())) or "none"
    Console().print(
        f"replayed {res.packets:,} packets: {res.decoded:,} decoded, not decoded: {failed}, "
        f"longer than their container: {excess}; "
        f"{res.samples_deleted:,} old samples deleted, "
        f"{res.samples_written:,} parameter samples written"
    )
    if res.restamped and recipe is not None:
        was = ", ".join(f"--packet-time {k} ({v:,})" for k, v in sorted(res.restamped.items()))
        console.print(
            f"warning: {sum(res.restamped.values()):,} packets were ingested with another "
            f"packet-time recipe ({was}); they are now stamped with --packet-time "
            f"{recipe.text} as given, and the archive records it for them",
            soft_wrap=True,
        )


def _summary(store: Archive) -> dict[str, Any]:
    """What ``falak archive stats`` reports of one (sub-)archive, as JSON-ready data."""
    st = store.packet_stats()
    missing = store.packets_without_parameters()
    return {
        "spacecraft": store.spacecraft,
        "location": store.location,
        "packets": st.n_packets,
        "parameters": len(store.parameter_names()),
        "first_recv": None if st.first_recv_ns is None else iso_ns(st.first_recv_ns),
        "last_recv": None if st.last_recv_ns is None else iso_ns(st.last_recv_ns),
        "packets_by_apid": {str(a): n for a, n in sorted(st.by_apid.items())},
        "packets_without_parameters": sum(b - a + 1 for a, b in missing),
        "missing_ranges": [list(r) for r in missing],
        "rejected": {k: {"ranges": c, "bytes": b} for k, (c, b) in sorted(st.rejected.items())},
        "failed": dict(sorted(st.failed.items())),
    }


def _print_summary(out: Console, title: str, sm: dict[str, Any]) -> None:
    from rich.table import Table as RichTable

    from falak.processor.processor import ranges_text

    out.print(
        f"{title}: {sm['packets']:,} packets, {sm['parameters']:,} parameters", soft_wrap=True
    )
    out.print(f"received from {sm['first_recv'] or '-'} to {sm['last_recv'] or '-'}")
    n_missing = sm["packets_without_parameters"]
    if n_missing:
        missing = [tuple(r) for r in sm["missing_ranges"]]
        out.print(
            f"parameters behind raw by {n_missing:,} packets (ids {ranges_text(missing)}); "
            "the next falak run or falak archive ingest catches up",
            soft_wrap=True,
        )
    else:
        out.print("parameters up to date with the raw packets")
    by_apid = RichTable(title="packets by APID")
    by_apid.add_column("APID", justify="right")
    by_apid.add_column("packets", justify="right")
    for apid, count in sm["packets_by_apid"].items():
        by_apid.add_row(apid, f"{count:,}")
    out.print(by_apid)
    rej = RichTable(title="rejected")
    rej.add_column("what")
    rej.add_column("count", justify="right")
    rej.add_column("bytes", justify="right")
    for reason, r in sm["rejected"].items():
        rej.add_row(f"bytes in no packet: {reason}", f"{r['ranges']:,}", f"{r['bytes']:,}")
    for reason, count in sm["failed"].items():
        rej.add_row(f"packets not decoded: {reason}", f"{count:,}", "")
    if not sm["rejected"] and not sm["failed"]:
        rej.add_row("nothing rejected", "0", "0")
    out.print(rej)


def stats_command(
    archive: ArchiveOpt,
    spacecraft: Annotated[
        str | None,
        typer.Option(
            "--spacecraft",
            help="Only this spacecraft's part of the archive (DIR/spacecraft/NAME, or the "
            "PostgreSQL schema falak_sc_name). Without it: every spacecraft the archive "
            "holds, and the archive root if it holds data (one-spacecraft archives).",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print JSON instead of tables: {"archive": ARCHIVE, "archives": [{"spacecraft": '
            'NAME or null for the root, "packets", "packets_by_apid": {"APID": n}, ...}]}.',
        ),
    ] = False,
) -> None:
    """Show what the archive holds: packets by APID, time span, rejected bytes, failures,
    and how many raw packets have no parameters yet (a processor was killed before writing
    them; the next ``falak run`` or ``falak archive ingest`` catches up).

    An archive holding several spacecraft shows each (packets per spacecraft and APID), and
    its root if that holds data; --spacecraft NAME shows one."""
    import json

    from rich.console import Console
    from rich.table import Table as RichTable

    from falak.archive import list_spacecraft
    from falak.errors import FalakError, InputError

    console = Console(stderr=True)
    summaries: list[dict[str, Any]] = []
    try:
        names = [spacecraft] if spacecraft is not None else list_spacecraft(archive)
        if spacecraft is None:
            try:
                store = _open(archive, create=False)
            except InputError:
                if not names:
                    raise  # neither a root archive nor spacecraft: say there is no archive
            else:
                try:
                    root = _summary(store)
                finally:
                    store.close()
                if not names or root["packets"] or root["parameters"] or root["rejected"]:
                    summaries.append(root)
        for name in names:
            store = _open(archive, create=False, spacecraft=name)
            try:
                summaries.append(_summary(store))
            finally:
                store.close()
    except (FalakError, OSError) as exc:
        _fail(console, exc)
    out = Console()
    if as_json:
        typer.echo(json.dumps({"archive": archive, "archives": summaries}, indent=2))
        return
    if spacecraft is None and names:
        table = RichTable(title="packets by spacecraft and APID")
        table.add_column("spacecraft")
        table.add_column("APID", justify="right")
        table.add_column("packets", justify="right")
        for sm in summaries:
            who = sm["spacecraft"] or "(root archive)"
            if not sm["packets_by_apid"]:
                table.add_row(who, "-", "0")
            for apid, count in sm["packets_by_apid"].items():
                table.add_row(who, apid, f"{count:,}")
                who = ""
        out.print(table)
    for sm in summaries:
        if sm["spacecraft"] is None:
            title = f"archive {archive}" if not names else f"archive {archive} (root)"
        else:
            title = f"archive {archive}, spacecraft {sm['spacecraft']}"
        _print_summary(out, title, sm)


def files_command(
    archive: ArchiveOpt,
    spacecraft: SpacecraftOpt = None,
    start: StartOpt = None,
    stop: StopOpt = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the files into this directory (their names as received, subfolders "
            "kept; an incomplete file holds what arrived, as the receiver stored it, and "
            "gets the suffix .partial), with index.json (metadata: time, source, size, checksum, "
            "SHA-256, missing byte ranges).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List the files received from a spacecraft (CFDP transfers), or write them out.

    Each file shows its time (of its last part), source, size, the transfer's checksum,
    whether it is complete and, if not, the byte ranges still missing."""
    import json

    from rich.console import Console
    from rich.table import Table as RichTable

    from falak.errors import FalakError

    console = Console(stderr=True)
    try:
        t0, t1 = time_range_ns(start, stop)
        store = _open(archive, create=False, spacecraft=spacecraft)
        try:
            files = store.list_files(t0, t1)
            rows = [
                {
                    "id": f.id,
                    "time": iso_ns(f.time_ns),
                    "name": f.name,
                    "source": f.source,
                    "size": f.size,
                    "checksum": f.checksum,
                    "sha256": f.sha256,
                    "complete": f.complete,
                    "missing": [list(m) for m in f.missing],
                    **({"attrs": f.attrs} if f.attrs else {}),
                }
                for f in files
            ]
            if out_dir is not None:
                root = out_dir.resolve()
                root.mkdir(parents=True, exist_ok=True)
                for f, row in zip(files, rows, strict=True):
                    meta, data = store.read_file(f.id)
                    rel = Path(meta.name.lstrip("/")) if meta.name else Path(f"file-{meta.id}")
                    target = (root / rel).resolve()
                    if not target.is_relative_to(root) or ".." in rel.parts:
                        target = root / f"file-{meta.id}"  # a name that leaves --out
                    if not meta.complete:
                        target = target.with_name(target.name + ".partial")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                    row["path"] = str(target.relative_to(root))
                (root / "index.json").write_text(json.dumps(rows, indent=1) + "\n")
        finally:
            store.close()
    except (FalakError, OSError) as exc:
        _fail(console, exc)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = RichTable(title=f"files received ({len(rows)})")
    for col in ("id", "time (UTC)", "name", "source", "bytes", "checksum", "state"):
        table.add_column(col, justify="right" if col in ("id", "bytes") else "left")
    for row in rows:
        state = "complete" if row["complete"] else f"missing {row['missing']}"
        table.add_row(
            str(row["id"]), str(row["time"]), str(row["name"]), str(row["source"]),
            f"{row['size']:,}", str(row["checksum"]), state,
        )  # fmt: skip
    Console().print(table)
    if out_dir is not None:
        typer.echo(f"wrote {len(rows)} files and index.json to {out_dir}")


def register(app: typer.Typer) -> None:
    """Add the ``archive`` group to the ``falak`` command."""
    archive_app.command("ingest")(ingest_command)
    archive_app.command("export")(export_command)
    archive_app.command("replay")(replay_command)
    archive_app.command("stats")(stats_command)
    archive_app.command("files")(files_command)
    app.add_typer(archive_app, name="archive")
