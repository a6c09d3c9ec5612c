"""Packet taps: the raw packets of chosen APIDs, handed on once archived (a CFDP receiver
takes its PDUs this way, issue 15); a tap that raises is counted, never stops the chain."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from falak.archive import open_archive
from falak.ccsds.spacepacket import encode_packet
from falak.links.base import ReceivedBatch
from falak.processor import Processor

from .testsat import hk_packet, load_testsat

S = 1_000_000_000


def _batch(packets: list[bytes], t_ns: int) -> ReceivedBatch:
    lengths = np.array([len(p) for p in packets], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    recv = t_ns + np.arange(len(packets), dtype=np.int64)
    return ReceivedBatch("t", np.frombuffer(b"".join(packets), np.uint8), offsets, lengths, recv)


def test_taps_get_their_apids_packets_in_order_after_archiving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pdus = [encode_packet(610, bytes([i]) * (5 + i), seq_count=i) for i in range(4)]
    other = encode_packet(611, b"up", seq_count=9)
    hk = hk_packet(0, 1_000.0)
    got: list[tuple[list[bytes], list[int]]] = []
    with open_archive(tmp_path / "a") as archive:
        proc = Processor(load_testsat(), archive)
        proc.tap([610], lambda p, t: got.append((p, [int(x) for x in t])))

        def broken(packets: list[bytes], t: object) -> None:
            raise RuntimeError("tap bug")

        proc.tap([611], broken)
        t0 = 1_700_000_000 * S
        with caplog.at_level(logging.ERROR, "falak.processor.processor"):
            proc.process([_batch([pdus[0], hk, pdus[1], other], t0)])
            proc.process([_batch([pdus[2], pdus[3]], t0 + S)])
        assert got == [
            ([pdus[0], pdus[1]], [t0, t0 + 2]),
            ([pdus[2], pdus[3]], [t0 + S, t0 + S + 1]),
        ]
        assert archive.packet_stats().n_packets == 6  # archived whatever the taps did
        assert proc.errors == 1
        assert proc.last_error is not None
        assert "RuntimeError('tap bug')" in proc.last_error
        assert "packet tap" in caplog.text
