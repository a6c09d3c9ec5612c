"""``falak tm decode`` shows packets longer than their container, by reason (issue 12)."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from falak.cli.app import app

runner = CliRunner()
JPSS = Path("space_packet_parser") / "jpss"
PACKET_BYTES = 71  # jpss/TRUTH.md: packets of 71 bytes


def _lengthen(packet: bytes, extra: int) -> bytes:
    """The packet with ``extra`` fill bytes and its length field (CCSDS 133.0-B-2 §4.1.3.5:
    data bytes − 1, bytes 4-5) grown to match."""
    length = int.from_bytes(packet[4:6], "big") + extra
    return packet[:4] + length.to_bytes(2, "big") + packet[6:] + b"\xa5" * extra


def test_summary_counts_excess_by_reason(testdata: Path, tmp_path: Path) -> None:
    data = (testdata / JPSS / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()
    packets = [data[k * PACKET_BYTES : (k + 1) * PACKET_BYTES] for k in range(10)]
    packets[2] = _lengthen(packets[2], 10)  # 10 bytes after a 71-byte container
    packets[5] = _lengthen(packets[5], 80)  # more after it than in it
    path = tmp_path / "long.bin"
    path.write_bytes(b"".join(packets))
    result = runner.invoke(
        app,
        [
            "tm",
            "decode",
            "--mdb",
            str(testdata / JPSS / "jpss1_geolocation_xtce_v1.xml"),
            "--packets",
            str(path),
            "--out",
            str(tmp_path / "long.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert re.search(r"packets decoded\s*│\s*10\b", text), result.output
    assert re.search(r"decoded, longer than container: excess_bytes\s*│\s*1\s*│\s*10\s*│", text), (
        result.output
    )
    assert re.search(r"decoded, longer than container: oversize\s*│\s*1\s*│\s*80\s*│", text), (
        result.output
    )
    assert "not decoded" not in text
