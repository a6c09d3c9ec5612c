"""``falak run``: receive, archive and process live telemetry in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from falak.cli.archive import PacketTimeOpt

if TYPE_CHECKING:
    from rich.console import RenderableType

    from falak.processor import Processor


def run_command(
    mdb: Annotated[
        Path, typer.Option("--mdb", help="Mission database: XTCE (.xml) or falak YAML (.yaml).")
    ],
    link: Annotated[
        list[str],
        typer.Option(
            "--link",
            help="Telemetry link URL, repeatable: udp://HOST:PORT (bind), tcp://HOST:PORT "
            "(client, reconnects), tcp://HOST:PORT?mode=server, file:///PATH?rate=PACKETS_PER_S "
            "(replay a file; no rate = full speed). Add ?prefix_bytes=N&lenient=1 if needed.",
        ),
    ],
    archive: Annotated[
        str,
        typer.Option(
            "--archive",
            help="Archive: a directory (embedded SQLite, created if missing) or "
            "postgresql://user@host:port/db.",
        ),
    ],
    container: Annotated[
        str | None,
        typer.Option("--container", help="Root container to decode from (MDBs with several)."),
    ] = None,
    batch_age_ms: Annotated[
        float,
        typer.Option(
            "--batch-age-ms",
            min=0,
            help="Longest wait (ms) of a received packet before its batch is processed.",
        ),
    ] = 20.0,
    batch_packets: Annotated[
        int, typer.Option("--batch-packets", min=1, help="Largest processing batch (packets).")
    ] = 20_000,
    commit_log: Annotated[
        Path | None,
        typer.Option(
            "--commit-log",
            help="Append a line 'LINK FIRST_ID LAST_ID' to this file after each durable "
            "raw-archive commit (packet ids FIRST..LAST inclusive are safe on disk).",
        ),
    ] = None,
    until_done: Annotated[
        bool,
        typer.Option(
            "--until-done",
            help="Exit when every file link has replayed its file (and the start-up catch-up "
            "of parameters is done).",
        ),
    ] = False,
    duration_s: Annotated[
        float | None, typer.Option("--duration", min=0, help="Exit after this many seconds.")
    ] = None,
    status: Annotated[
        bool,
        typer.Option(
            "--status/--no-status",
            help="Live status table (rates, alarms); on by default on a terminal.",
        ),
    ] = True,
    packet_time: PacketTimeOpt = None,
) -> None:
    """Run the live processor: links → raw archive → decode → alarms → bus → parameters.

    Stops cleanly on Ctrl-C or SIGTERM: the links stop, what was received is processed and
    archived, the archive is closed, and the exit code is 0. On start, raw packets that have no
    parameters yet (a previous run was killed before it wrote them) are decoded beside live
    processing, and a line says so.
    """
    import signal
    import threading
    import time

    import numpy as np
    from numpy.typing import NDArray
    from rich.console import Console
    from rich.live import Live

    from falak.archive import open_archive
    from falak.cli.archive import root_container
    from falak.errors import FalakError
    from falak.links import FileLink, open_link
    from falak.mdb import load
    from falak.processor import Processor
    from falak.processor.packettime import PacketTime

    console = Console(stderr=True)
    log_fh = None
    try:
        db = load(mdb)
        root = root_container(db, container)
        recipe = PacketTime.parse(packet_time, db)
        links = []
        for i, url in enumerate(link):
            links.append(open_link(url, name=f"{url.split(':', 1)[0].lower()}{i}"))
        if commit_log is not None:
            log_fh = commit_log.open("a", buffering=1)
        store = open_archive(archive)
    except (FalakError, OSError) as exc:
        for made in locals().get("links", []):
            made.stop()
        typer.echo("error: " + " ".join(str(exc).split()), err=True)
        raise typer.Exit(1) from None

    def on_commit(name: str, ids: NDArray[np.int64]) -> None:
        if log_fh is None or ids.size == 0:
            return
        breaks = np.flatnonzero(np.diff(ids) != 1)
        starts = np.concatenate([[0], breaks + 1])
        stops = np.concatenate([breaks, [ids.size - 1]])
        log_fh.write(
            "".join(f"{name} {ids[a]} {ids[b]}\n" for a, b in zip(starts, stops, strict=True))
        )

    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stop.set()

    old = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    proc = Processor(
        db,
        store,
        root=root,
        links=links,
        batch_max_packets=batch_packets,
        batch_max_age_s=batch_age_ms / 1000,
        on_commit=on_commit,
        packet_time=recipe,
    )
    started = time.monotonic()
    files = [lk for lk in links if isinstance(lk, FileLink)]
    try:
        proc.start()
        first = proc.stats()
        if first.catch_up_behind:
            console.print(
                f"parameters behind raw by {first.catch_up_behind:,} packets "
                "(a previous run stopped before writing them): catching up",
                soft_wrap=True,
            )
        live = None
        if status and console.is_terminal:
            live = Live(_status(proc), console=console, refresh_per_second=2)
            live.start()
        try:
            while not stop.wait(0.25):
                if live is not None:
                    live.update(_status(proc))
                if duration_s is not None and time.monotonic() - started >= duration_s:
                    break
                if (
                    until_done
                    and files
                    and all(f.done.is_set() for f in files)
                    and not proc.catching_up
                ):
                    break
        finally:
            if live is not None:
                live.stop()
    finally:
        proc.stop()
        st = proc.stats()
        store.close()
        if log_fh is not None:
            log_fh.close()
        for s, h in old.items():
            signal.signal(s, h)
    caught_up = ""
    if st.catch_up_behind:
        caught_up = f", caught up {st.catch_up_done:,} of {st.catch_up_behind:,} packets"
    typer.echo(
        f"stopped: {st.packets_archived:,} packets archived, {st.decoded:,} decoded, "
        f"{sum(st.failed.values()):,} not decoded{_by_reason(st.failed)}, "
        f"{sum(st.excess.values()):,} longer than their container{_by_reason(st.excess)}, "
        f"{sum(st.decoder_errors.values()):,} decoder errors{_by_reason(st.decoder_errors)}, "
        f"{st.active_alarms} active alarms, "
        f"{st.errors} processing errors{caught_up}"
    )


def _status(proc: Processor) -> RenderableType:
    import time

    from rich.console import Group
    from rich.table import Table

    links = Table(title="links", expand=False)
    for col in ("link", "state", "packets", "packets/s", "kB/s", "rejected", "last packet"):
        links.add_column(col, justify="right" if col not in ("link", "state") else "left")
    now = time.time_ns()
    for lk in proc.links.values():
        s = lk.stats()
        age = (
            "-" if s.last_reception_ns is None else f"{(now - s.last_reception_ns) / 1e9:.1f} s ago"
        )
        state = s.state if s.enabled else f"{s.state} (disabled)"
        links.add_row(
            s.name,
            state,
            f"{s.packets:,}",
            f"{s.packets_per_s:,.1f}",
            f"{s.bytes_per_s / 1e3:,.1f}",
            f"{sum(s.rejected.values()):,}",
            age,
        )
    st = proc.stats()
    summary = (
        f"archived {st.packets_archived:,}  decoded {st.decoded:,}  "
        f"not decoded {sum(st.failed.values()):,}  "
        f"longer than container {sum(st.excess.values()):,}  "
        f"decoder errors {sum(st.decoder_errors.values()):,}  "
        f"latency {st.last_latency_ms:.0f} ms  "
        f"expired {st.expired_parameters}  errors {st.errors}"
    )
    if st.catching_up:
        summary += f"  catching up {st.catch_up_done:,}/{st.catch_up_behind:,}"
    alarms = Table(title=f"alarms ({st.active_alarms} active)")
    for col in ("parameter", "level", "state", "value"):
        alarms.add_column(col)
    for a in proc.alarms.active()[:10]:
        alarms.add_row(a.parameter, a.max_level.name, a.state, str(a.value))
    return Group(links, summary, alarms)


def _by_reason(counts: dict[str, int]) -> str:
    """`` (reason n, ...)`` for non-zero counts, else nothing."""
    parts = [f"{k} {v:,}" for k, v in sorted(counts.items()) if v]
    return f" ({', '.join(parts)})" if parts else ""


def register(app: typer.Typer) -> None:
    """Add the top-level ``run`` command to ``falak``."""
    app.command(name="run")(run_command)
