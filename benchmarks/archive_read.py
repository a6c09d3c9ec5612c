"""Archive throughput: raw packet appends, one-parameter range reads, aligned export.

Run: ``.venv/bin/python benchmarks/archive_read.py [--samples 10000000] [--no-postgres]``

Measures, on the embedded SQLite archive and on PostgreSQL (a throwaway server started here,
fsync on, like a production server):

1. raw packet appends of 1,492-byte packets, durable per batch (one commit per batch), for
   SQLite journal modes WAL and DELETE with ``synchronous`` FULL and NORMAL; peer: the same
   bytes appended to a flat file with ``os.fsync`` per batch (the floor any durable store pays);
2. retrieval of one float64 parameter over its whole range (target >= 10 M samples/s); peer:
   reading the same column from a Parquet file with pyarrow;
3. aligned export of 10 parameters x 1 M samples from two groups with different times (target
   < 5 s); peer: reading the same 10 columns from Parquet (no alignment).

Each part runs every target and its peer through ``_harness`` (warm-up, interleaved repeats,
wall and CPU time) and asserts the results: every packet archived, the read values equal to
the Parquet file's, the exports equal between backends.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Bench, Side, expect

from falak.archive import Archive, ParameterColumn, open_archive
from falak.ccsds.spacepacket import encode_packet

T0 = 1_764_000_000_000_000_000
PACKET_BYTES = 1492


# ---------------------------------------------------------------------------------------------
# throwaway PostgreSQL (same recipe as tests/archive/conftest.py, with fsync on)


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextlib.contextmanager
def postgres_server() -> Iterator[str | None]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        print("PostgreSQL binaries not found: PostgreSQL rows skipped", file=sys.stderr)
        yield None
        return
    bindir = Path(found[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="falak-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres", group="postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = base / "data"
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]),
        check=True,
        capture_output=True,
    )
    ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-w"]
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c shared_buffers=256MB"
    subprocess.run(
        _as_postgres([*ctl, "-o", opts, "-l", str(base / "log"), "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([*ctl, "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# 1. raw appends


def packet_batch(n: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    body = rng.integers(0, 256, PACKET_BYTES - 6, dtype=np.uint8).tobytes()
    pkts = [encode_packet(100 + i % 4, body, seq_count=i) for i in range(n)]
    lengths = np.full(n, PACKET_BYTES, dtype=np.int64)
    return b"".join(pkts), np.arange(n, dtype=np.int64) * PACKET_BYTES, lengths


class Appender:
    """Append ``n_batches`` batches of ``batch`` packets, one commit (or fsync) per batch."""

    def __init__(self, batch: int, n_batches: int) -> None:
        self.data, self.offsets, self.lengths = packet_batch(batch)
        self.batch, self.n_batches, self.k = batch, n_batches, 0
        self.t_start = T0 + batch * 10**12  # each batch size its own time range

    def archive(self, arc: Archive) -> None:
        for _ in range(self.n_batches):
            t0 = self.t_start + self.k * self.batch * 1000
            self.k += 1
            times = t0 + np.arange(self.batch, dtype=np.int64) * 1000
            arc.append_packets(
                self.data, self.offsets, self.lengths, recv_time_ns=times, link="bench"
            )

    def flat_file(self, fh: Any) -> None:
        for _ in range(self.n_batches):
            self.k += 1
            fh.write(self.data)
            fh.flush()
            os.fsync(fh.fileno())


def append_rows(
    bench: Bench, work: Path, batch: int, n_batches: int, dsn: str | None, repeat: int
) -> None:
    """Every SQLite mode, PostgreSQL and the flat file, interleaved; packet counts checked."""
    with contextlib.ExitStack() as stack:
        modes = (("WAL", "FULL"), ("WAL", "NORMAL"), ("DELETE", "FULL"), ("DELETE", "NORMAL"))
        targets: list[tuple[str, Archive]] = [
            (
                f"SQLite {j} synchronous={s}" + (" (default)" if (j, s) == modes[0] else ""),
                stack.enter_context(
                    open_archive(work / f"a{batch}_{j}_{s}", journal_mode=j, synchronous=s)
                ),
            )
            for j, s in modes
        ]
        if dsn is not None:
            pg = stack.enter_context(open_archive(dsn))
            targets.append(("PostgreSQL (fsync on)", pg))
        flat_path = work / f"flat{batch}.bin"
        fh = stack.enter_context(flat_path.open("ab"))
        before = {name: arc.packet_stats().n_packets for name, arc in targets}
        appenders = {name: Appender(batch, n_batches) for name, _ in targets}
        flat = Appender(batch, n_batches)
        sides = [
            Side(name, lambda arc=arc, ap=appenders[name]: ap.archive(arc)) for name, arc in targets
        ]
        sides.insert(1, Side("flat file + fsync (peer)", lambda: flat.flat_file(fh)))

        def check(_: dict[str, Any]) -> None:
            fh.flush()
            size = flat_path.stat().st_size
            expect(size == flat.k * batch * PACKET_BYTES, f"the flat file holds {size} bytes")
            for name, arc in targets:
                got = arc.packet_stats().n_packets - before[name]
                expect(got == appenders[name].k * batch, f"{name}: {got} packets archived")

        stats = bench.compare(
            f"append 1,492-B packets, {batch} per commit, {n_batches} commits per run",
            sides,
            repeat=repeat,
            check=check,
        )
        bench.say("packets archived: all, in every target (asserted)")
        n = batch * n_batches
        peer = stats["flat file + fsync (peer)"].wall
        for name, st in stats.items():
            bench.say(f"  {name:<36} {n / st.wall:>10,.0f} packets/s ({peer / st.wall:.2f}× file)")


# ---------------------------------------------------------------------------------------------
# 2-3. parameters


def fill_parameters(arc: Archive, n: int) -> None:
    """One long float64 parameter; 10 parameters (2 groups, different times) of 1 M samples."""
    chunk = 65_536
    for lo in range(0, n, chunk):
        t = T0 + np.arange(lo, min(n, lo + chunk), dtype=np.int64) * 1_000_000
        v = np.sin(t.astype(np.float64) * 1e-9)
        arc.write_parameters(
            "/B/long", t, {"/B/long/x": ParameterColumn((v * 1000).astype(np.int32), v)}
        )
    m = 1_000_000
    for lo in range(0, m, chunk):
        idx = np.arange(lo, min(m, lo + chunk), dtype=np.int64)
        for grp, step in (("a", 2), ("b", 3)):
            t = T0 + idx * step * 1_000_000
            cols = {
                f"/B/{grp}/p{j}": ParameterColumn(
                    idx.astype(np.uint16), idx * (0.5 + j) if j % 2 else idx.astype(np.float32)
                )
                for j in range(5)
            }
            arc.write_parameters(f"/B/{grp}", t, cols)


def read_parameter_rows(
    bench: Bench, work: Path, backends: list[tuple[str, Archive]], n: int, repeat: int
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # peers: the same data in Parquet files
    t = T0 + np.arange(n, dtype=np.int64) * 1_000_000
    x = np.sin(t.astype(np.float64) * 1e-9)
    pq.write_table(pa.table({"time": t, "x": x}), work / "long.parquet")
    idx = np.arange(1_000_000, dtype=np.int64)
    cols = {f"p{j}": idx * (0.5 + j) if j % 2 else idx.astype(np.float32) for j in range(10)}
    pq.write_table(pa.table({"time": T0 + idx * 2_000_000, **cols}), work / "ten.parquet")
    for label, arc in backends:
        t_fill = time.perf_counter()
        fill_parameters(arc, n)
        bench.say(f"{label}: parameters written in {time.perf_counter() - t_fill:.1f} s")

    def same_long(r: dict[str, Any]) -> None:
        for label, _ in backends:
            series = r[label]
            expect(len(series) == n, f"{label}: {len(series):,} samples, not {n:,}")
            expect(np.array_equal(series.time_ns, t), f"{label}: times differ")
            expect(np.array_equal(series.eng, x), f"{label}: values differ from Parquet's")
        expect(np.array_equal(r["Parquet column (pyarrow, peer)"], x), "Parquet values differ")

    stats = bench.compare(
        f"read 1 parameter, {n:,} samples, whole range",
        [Side(label, lambda arc=arc: arc.read_parameter("/B/long/x")) for label, arc in backends]
        + [
            Side(
                "Parquet column (pyarrow, peer)",
                lambda: pq.read_table(work / "long.parquet").column("x").to_numpy(),
            )
        ],
        repeat=repeat,
        check=same_long,
    )
    bench.say("samples, times and values equal to the Parquet file's (asserted)")
    for label, st in stats.items():
        bench.say(f"  {label:<36} {n / st.wall / 1e6:6.1f} M samples/s")

    names = [f"/B/{g}/p{j}" for g in "ab" for j in range(5)]
    rows_expected = 1_666_666  # union of 1 M times every 2 ms and 1 M every 3 ms

    def same_export(r: dict[str, Any]) -> None:
        tables = [r[label] for label, _ in backends]
        for (label, _), table in zip(backends, tables, strict=True):
            expect(len(table) == rows_expected, f"{label}: {len(table):,} rows exported")
            expect(len(table.names) == 11, f"{label}: columns {table.names}")
        for table in tables[1:]:
            for a, b, pa_, pb in zip(
                tables[0].values, table.values, tables[0].present, table.present, strict=True
            ):
                expect(np.array_equal(pa_, pb), "exports differ in which values are present")
                expect(np.array_equal(a[pa_], b[pb]), "exports differ between backends")
        peer = r["Parquet 10 columns (pyarrow, peer, no alignment)"]
        expect(len(peer) == 11 and all(len(c) == 1_000_000 for c in peer), "Parquet read short")

    bench.compare(
        "aligned export, 10 parameters × 1 M samples in 2 groups with different times",
        [Side(label, lambda arc=arc: arc.export(names)) for label, arc in backends]
        + [
            Side(
                "Parquet 10 columns (pyarrow, peer, no alignment)",
                lambda: [c.to_numpy() for c in pq.read_table(work / "ten.parquet").columns],
            )
        ],
        repeat=repeat,
        check=same_export,
    )
    bench.say(f"{rows_expected:,} rows from every backend, equal between backends (asserted)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000_000, help="long-read samples")
    ap.add_argument("--batch", type=int, default=1000, help="packets per append (one commit)")
    ap.add_argument("--batches", type=int, default=40, help="append batches per mode")
    ap.add_argument("--no-postgres", action="store_true")
    Bench.arguments(ap)
    args = ap.parse_args()
    bench = Bench(
        "archive: raw appends, one-parameter reads, aligned export (SQLite, PostgreSQL, peers)",
        args.out,
    )
    work = Path(tempfile.mkdtemp(prefix="falak-bench-", dir=os.environ.get("BENCH_DIR")))
    try:
        with contextlib.ExitStack() as stack:
            dsn = None if args.no_postgres else stack.enter_context(postgres_server())
            small = 10  # a live link: a few packets per commit, where the fsync dominates
            for batch, n_batches in ((args.batch, args.batches), (small, 100)):
                append_rows(bench, work, batch, n_batches, dsn, args.repeat)
            backends: list[tuple[str, Archive]] = [
                ("SQLite WAL", stack.enter_context(open_archive(work / "params")))
            ]
            if dsn is not None:
                backends.append(("PostgreSQL", stack.enter_context(open_archive(dsn))))
            read_parameter_rows(bench, work, backends, args.samples, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bench.say("(PostgreSQL's own CPU time is in its server processes, not in this one's.)")
    bench.finish()


if __name__ == "__main__":
    main()
