"""``falak run`` counts decoder errors and overlong packets and says so (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from falak.archive import open_archive
from falak.cli.app import app

from ..processor.testsat import MDB_PATH, hk_packet


def _lengthen(packet: bytes, extra: int) -> bytes:
    """The packet with ``extra`` fill bytes and its length field grown to match."""
    length = int.from_bytes(packet[4:6], "big") + extra
    return packet[:4] + length.to_bytes(2, "big") + packet[6:] + b"\xa5" * extra


def _run(tmp_path: Path) -> str:
    res = CliRunner().invoke(
        app,
        [
            "run",
            "--mdb",
            str(MDB_PATH),
            "--link",
            f"file://{tmp_path / 'tm.bin'}",
            "--archive",
            str(tmp_path / "a"),
            "--until-done",
            "--no-status",
        ],
    )
    assert res.exit_code == 0, res.output
    return res.output


def test_run_counts_packets_longer_than_their_container(tmp_path: Path) -> None:
    packets = [hk_packet(i, 2e9 + i) for i in range(50)]
    packets[7] = _lengthen(packets[7], 3)
    (tmp_path / "tm.bin").write_bytes(b"".join(packets))
    out = _run(tmp_path)
    assert (
        "stopped: 50 packets archived, 50 decoded, 0 not decoded, "
        "1 longer than their container (excess_bytes 1), 0 decoder errors, "
    ) in out


def test_run_decoder_error_is_a_counter_and_one_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from falak.tm.decoder import Decoder

    def broken(self: Decoder, *args: object) -> None:
        raise RuntimeError("the decoder tripped")

    monkeypatch.setattr(Decoder, "decode", broken)
    (tmp_path / "tm.bin").write_bytes(b"".join(hk_packet(i, 2e9 + i) for i in range(200)))
    out = _run(tmp_path)
    m = re.search(
        r"stopped: 200 packets archived, 0 decoded, 200 not decoded \(decoder_error 200\), "
        r"0 longer than their container, (\d+) decoder errors \(RuntimeError \1\), "
        r"0 active alarms, 0 processing errors",
        out,
    )
    assert m, out
    assert out.count("Traceback") <= 1, out
    with open_archive(tmp_path / "a", create=False) as a:
        assert a.packet_stats().n_packets == 200
        assert a.packet_stats().failed == {"decoder_error": 200}
        critical = [e.message for e in a.read_events() if e.severity == "critical"]
        assert len(critical) == 1
        assert re.fullmatch(
            r"decoder error on a batch of [\d,]+ packets: RuntimeError: the decoder tripped; "
            r"the packets are in the raw archive, marked decoder_error; further RuntimeError "
            r"errors are counted and reported at most every 60 s",
            critical[0],
        ), critical[0]
