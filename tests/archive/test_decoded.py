"""Real packets through the archive: raw store, decode from the archive, parameters back out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from falak.archive import Archive
from falak.archive.decoded import write_decoded
from falak.ccsds.spacepacket import split_packets
from falak.mdb import load
from falak.tm.decoder import Decoder

T0 = 1_617_926_400_000_000_000  # 2021-04-09T00:00:00Z, the day of the JPSS file


def test_jpss_replay_from_archive(archive: Archive, testdata: Path) -> None:
    folder = testdata / "space_packet_parser" / "jpss"
    data = (folder / "J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1").read_bytes()
    split = split_packets(data)
    times = T0 + np.arange(split.n_packets, dtype=np.int64) * 1_000_000_000
    archive.append_packets(data, split.offsets, split.lengths, recv_time_ns=times, link="file")
    decoder = Decoder(load(folder / "jpss1_geolocation_xtce_v1.xml"))
    for batch in archive.read_packets(batch_size=3000):  # replay: decode what was archived
        result = decoder.decode(batch.data, batch.offsets, batch.lengths)
        write_decoded(archive, result, batch.recv_time_ns, packet_ids=batch.ids)
    stats = archive.packet_stats()
    # jpss/TRUTH.md: 7200 packets, all APID 11, all decodable
    assert stats.by_apid == {11: 7200}
    assert stats.failed == {}
    names = archive.parameter_names()
    posx_key = next(n for n in names if n.endswith("/ADGPSPOSX"))
    posx = archive.read_parameter(posx_key)
    assert len(posx) == 7200
    assert posx.eng.dtype == np.float32
    # jpss/TRUTH.md, packets 0 and 7199 (float32 values written out as doubles): exact
    assert float(posx.eng[0]) == 6389695.5
    assert float(posx.eng[-1]) == 4388364.0
    seq = archive.read_parameter("SRC_SEQ_CTR", T0, T0 + 10 * 1_000_000_000)
    assert seq.raw.tolist() == list(range(2606, 2616))  # TRUTH.md: from 2606, +1 per packet
    table = archive.export(["ADCFAQ1", "ADCFAQ4"], T0 + 7199 * 1_000_000_000)
    assert len(table) == 1
    assert float(table.values[1][0]) == -0.04260144382715225
    assert float(table.values[2][0]) == 0.8781006932258606


def test_ctim_failures_are_marked(archive: Archive, testdata: Path) -> None:
    folder = testdata / "space_packet_parser" / "ctim"
    data = (folder / "ccsds_2021_155_14_39_51").read_bytes()
    split = split_packets(data)
    ids = archive.append_packets(
        data, split.offsets, split.lengths, recv_time_ns=np.full(split.n_packets, T0), link="file"
    )
    # ctim/TRUTH.md: 1499 packets; per APID 1 → 104, 20 → 6, 32 → 104, 33 → 1, 34 → 1,
    # 39 → 1, 41 → 1147, 42 → 72, 47 → 63
    assert archive.packet_stats().by_apid == {
        1: 104,
        20: 6,
        32: 104,
        33: 1,
        34: 1,
        39: 1,
        41: 1147,
        42: 72,
        47: 63,
    }
    # decode with an MDB that knows none of the concrete packets: every packet fails, and the
    # failures are marked on the raw packets, which stay archived
    jpss = testdata / "space_packet_parser" / "jpss" / "jpss1_geolocation_xtce_v1.xml"
    result = Decoder(load(jpss)).decode(data, split.offsets, split.lengths)
    write_decoded(archive, result, np.full(split.n_packets, T0), packet_ids=ids)
    assert result.failed_counts() == {"no_container": 1499}
    assert archive.packet_stats().failed == {"no_container": 1499}
    assert sum(len(b) for b in archive.read_packets()) == 1499
