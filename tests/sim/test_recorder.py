"""Tests for falak.sim.recorder."""

import pytest

from falak.sim.recorder import Recorder


def test_oldest_overwritten_and_counted() -> None:
    rec = Recorder(capacity_bytes=30)
    for i in range(5):
        rec.record(bytes([i]) * 10)
    assert rec.overwritten_packets == 2
    assert rec.fill_percent == 100.0
    assert rec.dump() == [bytes([2]) * 10, bytes([3]) * 10, bytes([4]) * 10]
    assert len(rec) == 0
    assert rec.used_bytes == 0


def test_oversized_packet_counted_not_stored() -> None:
    rec = Recorder(capacity_bytes=4)
    rec.record(b"12345")
    assert (len(rec), rec.overwritten_packets) == (0, 1)


def test_bad_capacity_message() -> None:
    with pytest.raises(ValueError, match=r"recorder capacity must be > 0 bytes; got 0"):
        Recorder(0)
