"""Benchmark: live ingest of a Yamcs perftest2-shaped load over UDP through the whole chain.

Load (shaped like Yamcs's ``perftest2`` simulator profile): 200 packet types of 1,492 bytes,
each with 369 32-bit parameters (a 16-byte header: 6-byte CCSDS primary header, 4-byte packet
id, 6-byte time field; then 369 x 4 bytes), at 2,000 packets/s = 738,000 samples/s. The MDB is
built in code; packets are made with ``encode_packet``.

A sender process pushes the packets over UDP on loopback (127.0.0.1) at a fixed rate for a
fixed time; this process receives them with a ``UdpLink`` and runs the whole chain of
``falak.processor.Processor``: raw archive (SQLite, WAL, durable commits) → decode → limits →
bus → parameter archive. For each rate it reports packets sent / received / archived /
decoded, the time the chain needed after the sender stopped to drain its backlog, and the CPU
used by this process (``resource.getrusage``: all its threads) per wall second, i.e. the
number of cores the chain needs. A rate is *sustained without loss* when every packet sent is
received, archived and decoded, and the CPU seconds the chain used (all threads of this process,
including writing the buffered parameters at the end) divided by the seconds of traffic is at
most 1.0: one core keeps up. CPU time, not wall time, is the criterion because on a shared
machine other processes take the cores (the wall-clock drain time is printed too).

The peer is the perftest2 target itself (2,000 packets/s on at most one of the machine's
cores); Yamcs is not run here, so the ratio printed is sustained rate / target rate.

Run: ``.venv/bin/python benchmarks/ingest.py [--seconds 10] [--rates 500,1000,2000,3000]``.
Bounded: at most ``len(rates) x seconds`` of sending; loopback only.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import load_average
from numpy.typing import NDArray

N_TYPES = 200
N_PARAMS = 369
PACKET_BYTES = 1492
HEADER_BYTES = 16
TARGET_PPS = 2000


def build_mdb() -> object:
    """The perftest2-shaped MDB: header container, 200 children restricted on PACKET_ID."""
    from falak.mdb.model import (
        Comparison,
        IntegerEncoding,
        IntegerType,
        MissionDatabase,
        Parameter,
        ParameterEntry,
        ParameterRef,
        SequenceContainer,
        SpaceSystem,
    )

    types: dict[str, object] = {}
    params: dict[str, Parameter] = {}
    containers: dict[str, SequenceContainer] = {}

    def uint(name: str, bits: int) -> ParameterEntry:
        types[f"u{bits}"] = IntegerType(f"u{bits}", IntegerEncoding(bits), signed=False)
        params[name] = Parameter(name, f"/P/{name}", f"/P/u{bits}")
        return ParameterEntry(f"/P/{name}")

    header = (
        uint("VERSION", 3), uint("TYPE", 1), uint("SEC_HDR", 1), uint("APID", 11),
        uint("SEQ_FLAGS", 2), uint("SEQ_COUNT", 14), uint("LENGTH", 16),
        uint("PACKET_ID", 32), uint("TIME_COARSE", 32), uint("TIME_FINE", 16),
    )  # fmt: skip
    containers["header"] = SequenceContainer("header", "/P/header", header, abstract=True)
    for k in range(N_TYPES):
        entries = tuple(uint(f"p{k}_{j}", 32) for j in range(N_PARAMS))
        name = f"pkt{k}"
        containers[name] = SequenceContainer(
            name,
            f"/P/{name}",
            entries,
            base="/P/header",
            restriction=Comparison(ParameterRef("/P/PACKET_ID", calibrated=False), "==", str(k)),
        )
    ss = SpaceSystem("P", "/P", types=types, parameters=params, containers=containers)  # type: ignore[arg-type]
    return MissionDatabase(ss)


def make_packets() -> list[bytes]:
    """One packet per type (random parameter values), built with ``encode_packet``."""
    from falak.ccsds.spacepacket import encode_packet

    rng = np.random.default_rng(2)
    out = []
    for k in range(N_TYPES):
        body = rng.integers(0, 2**32, N_PARAMS, dtype=np.uint64).astype(">u4").tobytes()
        payload = k.to_bytes(4, "big") + (1_700_000_000).to_bytes(4, "big") + bytes(2) + body
        pkt = encode_packet(100, payload, sec_hdr_flag=True)
        assert len(pkt) == PACKET_BYTES
        out.append(pkt)
    return out


def send(port: int, rate: float, seconds: float) -> None:
    """Sender process: ``rate`` packets/s for ``seconds``, in 5 ms bursts; prints the count."""
    packets = make_packets()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    addr = ("127.0.0.1", port)
    n_total = int(rate * seconds)
    sent = 0
    t0 = time.perf_counter()
    while sent < n_total:
        due = min(n_total, int((time.perf_counter() - t0) * rate) + 1)
        while sent < due:
            sock.sendto(packets[sent % N_TYPES], addr)
            sent += 1
        time.sleep(0.005)
    print(sent, flush=True)


def run_rate(
    mdb: object, rate: float, seconds: float, batch_age_s: float, flush_s: float
) -> dict[str, float]:
    from falak.archive import open_archive
    from falak.links import UdpLink
    from falak.processor import Processor

    with tempfile.TemporaryDirectory() as tmp:
        archive = open_archive(Path(tmp) / "archive")
        link = UdpLink("udp0", "127.0.0.1", 0)
        proc = Processor(
            mdb,  # type: ignore[arg-type]
            archive,
            links=[link],
            batch_max_age_s=batch_age_s,
            batch_max_packets=100_000,
            parameter_flush_s=flush_s,
        )
        proc.start()
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.perf_counter()
        sender = subprocess.run(
            [sys.executable, __file__, "--send", str(link.port), str(rate), str(seconds)],
            capture_output=True,
            text=True,
            check=True,
        )
        w_sent = time.perf_counter()
        sent = int(sender.stdout.strip())
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            st = proc.stats()
            if st.decoded + sum(st.failed.values()) >= link.stats().packets and (
                link.stats().packets >= sent or time.perf_counter() - w_sent > 2
            ):
                break
            time.sleep(0.01)
        w1 = time.perf_counter()
        proc.stop()  # writes the buffered parameter samples: counted in the CPU and wall time
        w2 = time.perf_counter()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        ls = link.stats()
        st = proc.stats()
        n_archived = archive.packet_stats().n_packets
        archive.close()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {
        "rate": rate,
        "sent": sent,
        "received": ls.packets,
        "archived": n_archived,
        "decoded": st.decoded,
        "drain_s": w1 - w_sent,
        "cores": cpu / (w2 - w0),
        "cpu_s": cpu,
        "cores_needed": cpu / (sent / rate),
        "stop_s": w2 - w1,
        "max_latency_ms": st.max_latency_ms,
        "errors": st.errors,
    }


def latency(rate: float = 200.0, seconds: float = 5.0) -> NDArray[np.float64]:
    """Reception-to-subscriber latency (ms per sample) of TESTSAT HK parameters at ``rate``
    packets/s, with the processor's default batching (20 ms)."""
    import threading

    import falak
    from falak.archive import open_archive
    from falak.links import UdpLink
    from falak.mdb import load
    from falak.processor import ParameterValues, Processor
    from falak.tm.encoder import ContainerEncoder

    db = load(Path(falak.__file__).parent / "missions" / "testsat" / "mdb.yaml")
    enc = ContainerEncoder(db)
    values = {"CCSDS_SEC_HDR_FLAG": 1, "CCSDS_SEQ_FLAGS": 3, "CCSDS_VERSION": 0,
              "CCSDS_TYPE": 0, "CCSDS_SEQ_COUNT": 0, "CCSDS_LENGTH": 0, "OBT": 2e9,
              "BATT_V": 7400, "BATT_I": 0, "TEMP_BATT": 1600, "TEMP_OBC": 1600, "MODE": 2,
              "HEATER": 0, "HK_SPARE": 0, "SW_VERSION": "1"}  # fmt: skip
    pkt = bytearray(enc.encode("HK", values))
    pkt[4:6] = (len(pkt) - 7).to_bytes(2, "big")
    lat: list[NDArray[np.float64]] = []
    with tempfile.TemporaryDirectory() as tmp, open_archive(Path(tmp) / "a") as archive:
        link = UdpLink("udp0", "127.0.0.1", 0)
        proc = Processor(db, archive, links=[link])
        sub = proc.subscribe(["BATT_V"], maxsize=1_000_000)
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                d = sub.get(timeout=0.1)
                if d is not None and isinstance(d.payload, ParameterValues):
                    lat.append((time.time_ns() - d.payload.recv_time_ns) / 1e6)

        reader = threading.Thread(target=read)
        reader.start()
        proc.start()
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.perf_counter()
        for i in range(int(rate * seconds)):
            while time.perf_counter() - t0 < i / rate:
                time.sleep(0.0005)
            tx.sendto(bytes(pkt), ("127.0.0.1", link.port))
        time.sleep(0.5)
        proc.stop()
        done.set()
        reader.join()
        tx.close()
    return np.concatenate(lat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rates", default="500,1000,2000,3000")
    ap.add_argument("--batch-age", type=float, default=2.0, help="processing batch age (s)")
    ap.add_argument(
        "--param-flush", type=float, default=10.0, help="parameter archive write interval (s)"
    )
    ap.add_argument("--send", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--latency-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.send:
        send(int(args.send[0]), float(args.send[1]), float(args.send[2]))
        return
    if args.latency_only:
        lat = latency()
        print(f"median {np.median(lat):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms, "
              f"max {lat.max():.1f} ms over {lat.size} samples")  # fmt: skip
        return
    t = time.perf_counter()
    mdb = build_mdb()
    print(f"MDB built in {time.perf_counter() - t:.1f} s: {N_TYPES} packet types x {N_PARAMS} "
          f"parameters, {PACKET_BYTES}-byte packets; {os.cpu_count()} cores")  # fmt: skip
    rows = []
    best = 0.0
    for rate in (float(r) for r in args.rates.split(",")):
        load_before = load_average()
        r = run_rate(mdb, rate, args.seconds, args.batch_age, args.param_flush)
        r["load"] = f"{load_before} -> {load_average()}"
        ok = (
            r["received"] == r["sent"] == r["archived"] == r["decoded"]
            and r["cores_needed"] <= 1.0
            and r["errors"] == 0
        )
        r["ok"] = ok
        rows.append(r)
        if ok:
            best = max(best, rate)
        print(
            f"{rate:>7.0f} pkt/s  sent {r['sent']:>7.0f}  received {r['received']:>7.0f}  "
            f"archived {r['archived']:>7.0f}  decoded {r['decoded']:>7.0f}  "
            f"drain {r['drain_s']:5.2f} s  stop {r['stop_s']:5.2f} s  CPU {r['cpu_s']:5.1f} s  "
            f"cores needed {r['cores_needed']:4.2f}  "
            f"max latency {r['max_latency_ms']:6.0f} ms  {'OK' if ok else 'LOSS/BACKLOG'}  "
            f"load average {r['load']}",
            flush=True,
        )
    print()
    print("| rate (packets/s) | samples/s | sent | received | archived | decoded | CPU (s) | "
          "cores needed | wall drain + stop (s) | max latency (ms) | sustained |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|")
    for r in rows:
        print(
            f"| {r['rate']:.0f} | {r['rate'] * N_PARAMS:,.0f} | {r['sent']:.0f} | "
            f"{r['received']:.0f} | {r['archived']:.0f} | {r['decoded']:.0f} | "
            f"{r['cpu_s']:.1f} | {r['cores_needed']:.2f} | "
            f"{r['drain_s']:.1f} + {r['stop_s']:.1f} | {r['max_latency_ms']:.0f} | "
            f"{'yes' if r['ok'] else 'no'} |"
        )
    print()
    lat = latency()
    print(f"latency, TESTSAT HK at 200 packets/s over UDP, reception to subscriber: "
          f"{lat.size} samples, median {np.median(lat):.1f} ms, 99th percentile "
          f"{np.percentile(lat, 99):.1f} ms, max {lat.max():.1f} ms")  # fmt: skip
    print(f"highest sustained rate without loss: {best:.0f} packets/s = "
          f"{best * N_PARAMS:,.0f} samples/s; ratio to the perftest2 target "
          f"({TARGET_PPS} packets/s, from Yamcs's README: Yamcs is not run here): "
          f"{best / TARGET_PPS:.2f}; load average at end {load_average()}")  # fmt: skip


if __name__ == "__main__":
    main()
