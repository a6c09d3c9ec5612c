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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from falak.archive import Archive, ParameterColumn, open_archive
from falak.ccsds.spacepacket import encode_packet

T0 = 1_764_000_000_000_000_000
PACKET_BYTES = 1492


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


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


def bench_append(arc: Archive, batch: int, n_batches: int) -> float:
    data, offsets, lengths = packet_batch(batch)
    t = time.perf_counter()
    for k in range(n_batches):
        times = T0 + (k * batch + np.arange(batch, dtype=np.int64)) * 1000
        arc.append_packets(data, offsets, lengths, recv_time_ns=times, link="bench")
    return batch * n_batches / (time.perf_counter() - t)


def bench_flat_file(folder: Path, batch: int, n_batches: int) -> float:
    data, _, _ = packet_batch(batch)
    with (folder / "flat.bin").open("ab") as fh:
        t = time.perf_counter()
        for _ in range(n_batches):
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return batch * n_batches / (time.perf_counter() - t)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000_000, help="long-read samples")
    ap.add_argument("--batch", type=int, default=1000, help="packets per append (one commit)")
    ap.add_argument("--batches", type=int, default=40, help="append batches per mode")
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="falak-bench-", dir=os.environ.get("BENCH_DIR")))
    rows: list[tuple[str, str, str]] = []
    try:
        flat = bench_flat_file(work, args.batch, args.batches)
        small = 10  # a live link: a few packets per commit, where the fsync dominates
        flat_small = bench_flat_file(work, small, 100)
        modes = (("WAL", "FULL"), ("WAL", "NORMAL"), ("DELETE", "FULL"), ("DELETE", "NORMAL"))
        for batch, n_batches, peer in ((args.batch, args.batches, flat), (small, 100, flat_small)):
            rows.append(
                (
                    f"append 1,492-B packets, {batch}/commit",
                    "flat file + fsync (peer)",
                    f"{peer:,.0f}/s",
                )
            )
            for journal, sync in modes:
                with open_archive(
                    work / f"a{batch}_{journal}_{sync}", journal_mode=journal, synchronous=sync
                ) as arc:
                    rate = bench_append(arc, batch, n_batches)
                rows.append(
                    (
                        "",
                        f"SQLite {journal} synchronous={sync}",
                        f"{rate:,.0f}/s ({rate / peer:.2f}× file)",
                    )
                )
        with contextlib.ExitStack() as stack:
            dsn = None if args.no_postgres else stack.enter_context(postgres_server())
            backends: list[tuple[str, Callable[[], Archive]]] = [
                ("SQLite WAL", lambda: open_archive(work / "params")),
            ]
            if dsn is not None:
                with open_archive(dsn) as arc:
                    rate = bench_append(arc, args.batch, args.batches)
                    rate_small = bench_append(arc, small, 100)
                rows.append(
                    (
                        "",
                        f"PostgreSQL (fsync on), {args.batch}/batch",
                        f"{rate:,.0f}/s ({rate / flat:.2f}× file)",
                    )
                )
                rows.append(
                    (
                        "",
                        f"PostgreSQL (fsync on), {small}/batch",
                        f"{rate_small:,.0f}/s ({rate_small / flat_small:.2f}× file)",
                    )
                )
                backends.append(("PostgreSQL", lambda: open_archive(dsn)))
            read_parameter_rows(rows, work, backends, args.samples)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)))


def read_parameter_rows(
    rows: list[tuple[str, str, str]],
    work: Path,
    backends: list[tuple[str, Callable[[], Archive]]],
    n: int,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # peers: the same data in Parquet files
    t = T0 + np.arange(n, dtype=np.int64) * 1_000_000
    pq.write_table(
        pa.table({"time": t, "x": np.sin(t.astype(np.float64) * 1e-9)}), work / "long.parquet"
    )
    idx = np.arange(1_000_000, dtype=np.int64)
    cols = {f"p{j}": idx * (0.5 + j) if j % 2 else idx.astype(np.float32) for j in range(10)}
    pq.write_table(pa.table({"time": T0 + idx * 2_000_000, **cols}), work / "ten.parquet")
    t_pq, _ = best_of(lambda: pq.read_table(work / "long.parquet").column("x").to_numpy())
    t_pq10, _ = best_of(lambda: [c.to_numpy() for c in pq.read_table(work / "ten.parquet").columns])
    rows.append(
        (
            f"read 1 parameter, {n:,} samples",
            "Parquet column (peer)",
            f"{n / t_pq / 1e6:,.1f} M samples/s",
        )
    )
    exports = []
    for label, opener in backends:
        with opener() as arc:
            t_fill = time.perf_counter()
            fill_parameters(arc, n)
            t_fill = time.perf_counter() - t_fill
            t_read, series = best_of(lambda arc=arc: arc.read_parameter("/B/long/x"))
            assert len(series) == n
            rows.append(
                (
                    "",
                    label,
                    f"{n / t_read / 1e6:,.1f} M samples/s "
                    f"({t_pq / t_read:.2f}× Parquet); written in {t_fill:.1f} s",
                )
            )
            names = [f"/B/{g}/p{j}" for g in "ab" for j in range(5)]
            t_exp, table = best_of(lambda arc=arc, names=names: arc.export(names))
            exports.append((label, t_exp, len(table)))
    rows.append(
        (
            "aligned export 10 params × 1 M",
            "Parquet 10 columns (peer, no alignment)",
            f"{t_pq10:.2f} s",
        )
    )
    for label, t_exp, nrows in exports:
        rows.append(("", label, f"{t_exp:.2f} s ({nrows:,} rows; {t_exp / t_pq10:.1f}× Parquet)"))


if __name__ == "__main__":
    main()
