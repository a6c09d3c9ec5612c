"""A decoder error in the live chain is an event and a counter, not a traceback per batch;
decoded packets longer than their container are counted (issue 12)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from falak.archive import open_archive
from falak.links.base import ReceivedBatch
from falak.mdb.model import ArgumentEntry, MissionDatabase
from falak.processor import Processor
from falak.processor.processor import EVENTS_TOPIC

from ..tm.mdbs import Builder, apid_is
from .testsat import hk_packet, load_testsat

S = 1_000_000_000  # ns per second


class Clock:
    """A clock the test moves (ns)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000 * S

    def __call__(self) -> int:
        return self.now


def _batch(packets: list[bytes], t_ns: int) -> ReceivedBatch:
    lengths = np.array([len(p) for p in packets], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    recv = t_ns + np.arange(len(packets), dtype=np.int64)
    return ReceivedBatch("t", np.frombuffer(b"".join(packets), np.uint8), offsets, lengths, recv)


def _decoder_events(archive: object) -> list[tuple[str, str]]:
    return [
        (e.severity, e.message)
        for e in archive.read_events()  # type: ignore[attr-defined]
        if "decoder error" in e.message
    ]


def test_a_raising_decoder_is_counted_reported_once_and_packets_stay_archived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    with open_archive(tmp_path / "a") as archive:
        proc = Processor(load_testsat(), archive, clock=clock)
        seen = proc.subscribe([EVENTS_TOPIC])

        def broken(*args: object, **kwargs: object) -> None:
            raise ValueError("strides is incompatible with shape of requested array")

        real = proc.chain.decoder.decode
        monkeypatch.setattr(proc.chain.decoder, "decode", broken)
        caplog.set_level(logging.DEBUG, logger="falak.processor.processor")
        for k in range(5):  # 5 batches of 3 packets, 10 s apart
            clock.now += 10 * S
            proc.process([_batch([hk_packet(3 * k + j, 2e9) for j in range(3)], clock.now)])
        st = proc.stats()
        assert st.errors == 0  # not a failed batch of the worker: handled in the chain
        assert st.packets_archived == 15
        assert st.decoded == 0
        assert st.failed == {"decoder_error": 15}
        assert st.decoder_errors == {"ValueError": 5}
        assert archive.packet_stats().failed == {"decoder_error": 15}
        assert {s for b in archive.read_packets() for s in b.status.tolist()} == {"decoder_error"}
        first = (
            "critical",
            "decoder error on a batch of 3 packets: ValueError: strides is incompatible with "
            "shape of requested array; the packets are in the raw archive, marked "
            "decoder_error; further ValueError errors are counted and reported at most every "
            "60 s",
        )
        assert _decoder_events(archive) == [first]
        # one traceback in the log, for the first error only
        assert sum(1 for r in caplog.records if r.exc_info) == 1

        # a minute after the first report, the next error brings a count of the repeats
        clock.now += 30 * S
        proc.process([_batch([hk_packet(100, 2e9)], clock.now)])
        again = (
            "error",
            "decoder error ValueError again on 5 batches (13 packets) in the last 70 s; "
            "last: ValueError: strides is incompatible with shape of requested array",
        )
        assert _decoder_events(archive) == [first, again]
        # repeats still unreported are reported on flush (stop)
        clock.now += 1 * S
        proc.process([_batch([hk_packet(101, 2e9)] * 2, clock.now)])
        assert len(_decoder_events(archive)) == 2
        proc.flush()
        assert _decoder_events(archive)[2] == (
            "error",
            "decoder error ValueError again on 1 batches (2 packets) in the last 1 s; "
            "last: ValueError: strides is incompatible with shape of requested array",
        )
        proc.flush()
        assert len(_decoder_events(archive)) == 3  # nothing new: nothing reported
        on_bus = [d.payload[1:] for d in seen.drain() if d.topic == EVENTS_TOPIC]
        assert [m for m in on_bus if "decoder error" in m[1]] == _decoder_events(archive)

        # the decoder works again: the stream goes on
        monkeypatch.setattr(proc.chain.decoder, "decode", real)
        proc.process([_batch([hk_packet(200, 2e9)], clock.now)])
        assert proc.stats().decoded == 1
        assert proc.stats().failed == {"decoder_error": 18}


def _tripping_mdb() -> MissionDatabase:
    """An MDB whose APID 100 container holds a command argument entry: the decoder refuses
    it for every packet that reaches it (DecodeError), whatever the batch."""
    b = Builder()
    hdr = b.container("Header", b.header(), abstract=True)
    b.container("Bad", (ArgumentEntry("OPCODE"),), base=hdr, restriction=apid_is(100))
    return b.build()


def test_a_real_mdb_that_trips_the_decoder(tmp_path: Path) -> None:
    clock = Clock()
    packet = bytes.fromhex("0064 c000 0001 0102")  # APID 100, 2 data bytes
    with open_archive(tmp_path / "a") as archive:
        proc = Processor(_tripping_mdb(), archive, clock=clock)
        for size in (4, 4, 3, 1):  # a batch of one packet too
            proc.process([_batch([packet] * size, clock.now)])
        st = proc.stats()
        assert st.errors == 0
        assert st.packets_archived == 12
        assert st.decoder_errors == {"DecodeError": 4}
        assert st.failed == {"decoder_error": 12}
        assert archive.packet_stats().n_packets == 12
        assert [s for b in archive.read_packets() for s in b.status.tolist()] == [
            "decoder_error"
        ] * 12
        assert _decoder_events(archive) == [
            (
                "critical",
                "decoder error on a batch of 4 packets: DecodeError: argument entry OPCODE in "
                "a telemetry container; the packets are in the raw archive, marked "
                "decoder_error; further DecodeError errors are counted and reported at most "
                "every 60 s",
            )
        ]


def test_excess_is_counted_in_the_chain(tmp_path: Path) -> None:
    """A packet with bytes after its container is decoded and counted as excess."""
    good = hk_packet(0, 2e9)
    longer = good[:4] + (int.from_bytes(good[4:6], "big") + 3).to_bytes(2, "big") + good[6:]
    longer += b"\xa5" * 3
    with open_archive(tmp_path / "a") as archive:
        proc = Processor(load_testsat(), archive)
        proc.process([_batch([good, longer], 10)])
        st = proc.stats()
        assert st.decoded == 2
        assert st.failed == {}
        assert st.excess == {"excess_bytes": 1}
        assert archive.packet_stats().failed == {}
