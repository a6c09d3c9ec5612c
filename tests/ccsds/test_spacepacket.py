"""CCSDS 133.0-B-2 space-packet splitting: real files, damaged streams and random input."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from falak.ccsds.spacepacket import (
    IDLE_APID,
    REJECT_REASONS,
    PacketSplitter,
    SkippedRange,
    SplitResult,
    encode_packet,
    primary_header_fields,
    split_packets,
)
from falak.errors import EncodeError, InputError
from tests.conftest import DATA

JPSS = "space_packet_parser/jpss/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
CTIM = "space_packet_parser/ctim/ccsds_2021_155_14_39_51"
SUDA = "space_packet_parser/suda/sciData_2022_130_17_41_53.spl"
JPSS_LOCAL = DATA / JPSS


def assert_tiles(result: SplitResult, n_bytes: int, start: int = 0) -> None:
    """Every byte of [start, start + n_bytes) is in exactly one packet, prefix or skipped range."""
    starts = [result.offsets - result.prefix_bytes]
    stops = [result.offsets + result.lengths]
    starts.append(np.array([r.start for r in result.skipped], dtype=np.int64))
    stops.append(np.array([r.stop for r in result.skipped], dtype=np.int64))
    lo = np.concatenate(starts)
    hi = np.concatenate(stops)
    assert result.span_start == start
    assert result.span_stop == start + n_bytes
    if n_bytes == 0:
        assert lo.size == 0
        return
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    assert np.all(hi > lo), "empty range"
    assert lo[0] == start
    assert hi[-1] == start + n_bytes
    np.testing.assert_array_equal(lo[1:], hi[:-1])
    assert all(r.reason in REJECT_REASONS for r in result.skipped)


@pytest.fixture(scope="module")
def jpss(testdata: Path) -> bytes:
    return (testdata / JPSS).read_bytes()


@pytest.fixture(scope="module")
def ctim(testdata: Path) -> bytes:
    return (testdata / CTIM).read_bytes()


# ---------------------------------------------------------------------------- real files


def test_jpss_7200_packets_of_71_bytes(jpss: bytes) -> None:
    # jpss/TRUTH.md: 7200 packets, APID 11, version 0, 71 bytes each, SRC_SEQ_CTR 2606..9805 +1
    res = split_packets(jpss)
    assert res.n_packets == 7200
    assert np.all(res.lengths == 71)
    np.testing.assert_array_equal(res.offsets, np.arange(7200) * 71)
    assert res.skipped == []
    assert set(res.rejected_counts().values()) == {0}
    fields = primary_header_fields(res.data, res.offsets)  # type: ignore[arg-type]
    assert np.all(fields["apid"] == 11)
    assert np.all(fields["version"] == 0)
    assert np.all(fields["sec_hdr_flag"] == 1)
    assert np.all(fields["seq_flags"] == 3)
    assert np.all(fields["data_length"] == 64)
    np.testing.assert_array_equal(fields["seq_count"], np.arange(2606, 9806))
    assert_tiles(res, len(jpss))


def test_ctim_1499_packets_per_apid(ctim: bytes) -> None:
    # ctim/TRUTH.md: 1499 packets; per APID 1→104, 20→6, 32→104, 33→1, 34→1, 39→1, 41→1147,
    # 42→72, 47→63; first packet APID 1, 114 bytes; packet 159 APID 34, PKT_LEN 151, SEQ_CTR 4
    res = split_packets(ctim)
    assert res.n_packets == 1499
    assert res.skipped == []
    fields = primary_header_fields(res.data, res.offsets)  # type: ignore[arg-type]
    apids, counts = np.unique(fields["apid"], return_counts=True)
    assert dict(zip(apids.tolist(), counts.tolist(), strict=True)) == {
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
    assert res.lengths[0] == 114
    assert fields["apid"][159] == 34
    assert fields["data_length"][159] == 151
    assert fields["seq_count"][159] == 4
    sizes = {1: {114}, 20: {30, 46}, 32: {34}, 33: {98}, 34: {158}, 39: {146}}
    for apid, expected in sizes.items():
        assert set(res.lengths[fields["apid"] == apid].tolist()) == expected
    assert set(res.lengths[np.isin(fields["apid"], [41, 42, 47])].tolist()) == {1018}
    assert_tiles(res, len(ctim))


def test_suda_four_byte_prefix(testdata: Path) -> None:
    # suda/TRUTH.md: a 4-byte prefix 60 F0 60 60 before each of 13 packets of these sizes
    raw = (testdata / SUDA).read_bytes()
    res = split_packets(raw, prefix_bytes=4)
    assert res.lengths.tolist() == [
        304,
        4080,
        4080,
        2908,
        4080,
        4080,
        2908,
        4080,
        4080,
        2908,
        1072,
        1072,
        1072,
    ]
    assert res.skipped == []
    assert res.prefix_bytes_total == 13 * 4
    assert sum(res.rejected_bytes().values()) == 0
    for off in res.offsets.tolist():
        assert raw[off - 4 : off] == b"\x60\xf0\x60\x60"
    fields = primary_header_fields(res.data, res.offsets)  # type: ignore[arg-type]
    assert np.all(fields["apid"] == 1425)
    np.testing.assert_array_equal(fields["seq_count"], np.arange(13))
    assert_tiles(res, len(raw))


def test_suda_without_prefix_is_counted_not_raised(testdata: Path) -> None:
    raw = (testdata / SUDA).read_bytes()
    res = split_packets(raw)
    assert_tiles(res, len(raw))
    assert sum(res.rejected_bytes().values()) > 0


@pytest.mark.parametrize(
    "name",
    [
        "1",
        "12",
        "21",
        "123",
        "321",
        "1234",
        "2143",
        "3412",
        "4321",
        "123456",
        "1234567",
        "12345678",
        "78563412",
        "87654321",
    ],
)
def test_ccsdspy_byte_order_files_need_lenient_version(testdata: Path, name: str) -> None:
    # ccsdspy/TRUTH.md: 10 packets, header 20 E2 = version 1, APID 226, 6 + 80 × len(ORDER) bytes
    raw = (testdata / "ccsdspy" / "byte_order" / f"byteorder_{name}.bin").read_bytes()
    size = 6 + 80 * len(name)
    strict = split_packets(raw)
    assert strict.n_packets == 0
    assert strict.rejected_counts()["bad_version"] == 10
    assert strict.rejected_bytes()["bad_version"] == len(raw) == 10 * size
    assert_tiles(strict, len(raw))
    lenient = split_packets(raw, lenient_version=True)
    assert lenient.lengths.tolist() == [size] * 10
    fields = primary_header_fields(lenient.data, lenient.offsets)  # type: ignore[arg-type]
    assert np.all(fields["version"] == 1)
    assert np.all(fields["apid"] == 226)
    assert np.all(fields["seq_flags"] == 0)
    np.testing.assert_array_equal(fields["seq_count"], np.arange(10))


@pytest.mark.parametrize(
    ("name", "pkt_len"),
    [
        # ccsdspy/TRUTH.md, var_length/: PKT_LEN per packet
        ("var_length_packets.bin", [3, 5, 9, 13, 21, 25, 33, 37, 45, 57]),
        ("var_length_packets_with_footer.bin", [5, 7, 11, 15, 23, 27, 35, 39, 47, 59]),
        (
            "var_length_packets_double_varfield_with_footer.bin",
            [17, 23, 17, 33, 31, 111, 121, 43, 55, 69],
        ),
    ],
)
def test_ccsdspy_var_length_files(testdata: Path, name: str, pkt_len: list[int]) -> None:
    raw = (testdata / "ccsdspy" / "var_length" / name).read_bytes()
    res = split_packets(raw, lenient_version=True)
    assert res.lengths.tolist() == [n + 7 for n in pkt_len]
    assert res.skipped == []
    strict = split_packets(raw)
    assert strict.n_packets == 0
    assert strict.rejected_counts()["bad_version"] == 10


# ---------------------------------------------------------------------------- damaged streams


def test_garbage_between_packets_is_one_range(jpss: bytes) -> None:
    # garbage that starts with version bits 111 and then holds a copy of a packet header that
    # claims 71 bytes: the copy must not be taken as a packet (its successor is not a header)
    garbage = b"\xe0" + jpss[71 * 5 : 71 * 5 + 20]
    stream = jpss[: 71 * 10] + garbage + jpss[71 * 10 : 71 * 20]
    res = split_packets(stream)
    assert res.n_packets == 20
    assert res.skipped == [SkippedRange(710, 710 + len(garbage), "garbage")]
    assert res.rejected_counts()["garbage"] == 1
    assert res.rejected_bytes()["garbage"] == 21
    assert res.packet_bytes(10) == jpss[710:781]
    assert_tiles(res, len(stream))


def test_garbage_at_start(jpss: bytes) -> None:
    stream = b"\xff" * 50 + jpss[: 71 * 4]
    res = split_packets(stream)
    assert res.offsets.tolist() == [50, 121, 192, 263]
    assert res.skipped == [SkippedRange(0, 50, "garbage")]


@pytest.mark.parametrize("tail", [1, 5, 6, 30, 70])
def test_truncated_tail(jpss: bytes, tail: int) -> None:
    stream = jpss[: 71 * 10 + tail]
    res = split_packets(stream)
    assert res.n_packets == 10
    assert res.skipped == [SkippedRange(710, 710 + tail, "truncated")]
    assert_tiles(res, len(stream))


def test_bad_header_at_the_end_is_garbage_not_truncated(jpss: bytes) -> None:
    stream = jpss[: 71 * 3] + b"\xff" * 13
    res = split_packets(stream)
    assert res.n_packets == 3
    assert res.skipped == [SkippedRange(213, 226, "garbage")]


def test_absurd_length_in_short_stream_is_truncated() -> None:
    stream = encode_packet(5, b"abc") + bytes([0x00, 0x05, 0xC0, 0x00, 0xFF, 0xFF]) + b"x" * 10
    res = split_packets(stream)
    assert res.n_packets == 1
    assert res.skipped == [SkippedRange(9, 25, "truncated")]


def test_max_packet_bytes_rejects_long_packets_one_by_one(ctim: bytes) -> None:
    # CTIM APIDs 41, 42 and 47 are 1018-byte packets (ctim/TRUTH.md): 1147 + 72 + 63 = 1282
    res = split_packets(ctim, max_packet_bytes=1000)
    assert res.n_packets == 1499 - 1282
    assert res.rejected_counts()["bad_length"] == 1282
    assert res.rejected_bytes()["bad_length"] == 1282 * 1018
    assert_tiles(res, len(ctim))


def test_apid_filter_counts_unknown_apids(ctim: bytes) -> None:
    res = split_packets(ctim, apids={41, 47})
    assert res.n_packets == 1147 + 63
    assert res.rejected_counts()["unknown_apid"] == 1499 - 1147 - 63
    assert_tiles(res, len(ctim))


def test_idle_packets_are_skipped_unless_kept() -> None:
    stream = (
        encode_packet(100, b"\x01\x02", seq_count=0)
        + encode_packet(IDLE_APID, b"\x55" * 9)
        + encode_packet(100, b"\x03", seq_count=1)
    )
    res = split_packets(stream)
    assert res.offsets.tolist() == [0, 23]
    assert res.skipped == [SkippedRange(8, 23, "idle")]
    assert res.rejected_counts()["idle"] == 1
    kept = split_packets(stream, keep_idle=True)
    assert kept.n_packets == 3


def test_every_version_accepted_when_lenient() -> None:
    stream = b"".join(encode_packet(7, b"ab", version=v, seq_count=v) for v in range(8))
    strict = split_packets(stream)
    assert strict.n_packets == 1
    assert strict.rejected_counts()["bad_version"] == 7
    assert split_packets(stream, lenient_version=True).n_packets == 8


def test_input_kinds_and_bad_options(jpss: bytes) -> None:
    arr = np.frombuffer(jpss, dtype=np.uint8)
    assert split_packets(arr).n_packets == 7200
    assert split_packets(memoryview(jpss)).n_packets == 7200
    assert split_packets(bytearray(jpss)).n_packets == 7200
    assert split_packets(b"").n_packets == 0
    with pytest.raises(InputError, match=r"max_packet_bytes must be within 7\.\.65542"):
        split_packets(jpss, max_packet_bytes=6)
    with pytest.raises(InputError, match=r"prefix_bytes must be an integer >= 0"):
        split_packets(jpss, prefix_bytes=-1)
    with pytest.raises(InputError, match=r"APIDs must be within 0\.\.2047"):
        split_packets(jpss, apids=[11, 4096])
    with pytest.raises(InputError, match="1-D uint8 array"):
        split_packets(arr.astype(np.int16))


# ---------------------------------------------------------------------------- encoding


def test_encode_packet_header_bits() -> None:
    # CCSDS 133.0-B-2 §4.1.3: 000 | type | sec hdr | APID, then flags | count, then length - 1
    pkt = encode_packet(0x123, b"\xaa\xbb\xcc", seq_count=0x2345, packet_type=1, sec_hdr_flag=True)
    assert pkt.hex() == "1923e3450002aabbcc"
    fields = primary_header_fields(np.frombuffer(pkt, np.uint8), np.array([0]))
    assert {k: int(v[0]) for k, v in fields.items()} == {
        "version": 0,
        "type": 1,
        "sec_hdr_flag": 1,
        "apid": 0x123,
        "seq_flags": 3,
        "seq_count": 0x2345,
        "data_length": 2,
    }


def test_encode_packet_errors() -> None:
    with pytest.raises(EncodeError, match=r"apid must be within 0\.\.2047, got 2048"):
        encode_packet(2048, b"x")
    with pytest.raises(EncodeError, match=r"seq_count must be within 0\.\.16383"):
        encode_packet(1, b"x", seq_count=1 << 14)
    with pytest.raises(EncodeError, match=r"payload \(packet data field\) must be 1\.\.65536"):
        encode_packet(1, b"")


packet_specs = st.lists(
    st.tuples(st.integers(0, 2046), st.binary(min_size=1, max_size=300), st.integers(0, 0x3FFF)),
    max_size=20,
)


@given(specs=packet_specs, prefix=st.integers(0, 5))
def test_encode_split_round_trip(specs: list[tuple[int, bytes, int]], prefix: int) -> None:
    stream = b"".join(b"\x60" * prefix + encode_packet(a, p, seq_count=c) for a, p, c in specs)
    res = split_packets(stream, prefix_bytes=prefix)
    assert res.n_packets == len(specs)
    assert res.skipped == []
    fields = primary_header_fields(res.data, res.offsets)  # type: ignore[arg-type]
    assert fields["apid"].tolist() == [a for a, _, _ in specs]
    assert fields["seq_count"].tolist() == [c for _, _, c in specs]
    assert [res.packet_bytes(i)[6:] for i in range(len(specs))] == [p for _, p, _ in specs]


# ---------------------------------------------------------------------------- streaming


def _split_streaming(stream: bytes, cuts: list[int], **options: object) -> list[SplitResult]:
    splitter = PacketSplitter(**options)  # type: ignore[arg-type]
    results = []
    last = 0
    for cut in sorted(cuts):
        results.append(splitter.feed(stream[last:cut]))
        last = cut
    results.append(splitter.feed(stream[last:]))
    results.append(splitter.finish())
    assert splitter.buffered_bytes == 0
    return results


def _joined(results: list[SplitResult]) -> tuple[list[int], list[int], list[SkippedRange]]:
    return (
        [o for r in results for o in r.offsets.tolist()],
        [n for r in results for n in r.lengths.tolist()],
        [s for r in results for s in r.skipped],
    )


def test_streaming_matches_batch_on_ctim(ctim: bytes) -> None:
    batch = split_packets(ctim)
    cuts = list(range(1, len(ctim), 997))
    results = _split_streaming(ctim, cuts)
    offsets, lengths, skipped = _joined(results)
    assert offsets == batch.offsets.tolist()
    assert lengths == batch.lengths.tolist()
    assert skipped == []
    # each result's data holds the bytes its offsets point into
    for res in results:
        for i in range(res.n_packets):
            off = int(res.offsets[i])
            assert res.packet_bytes(i) == ctim[off : off + int(res.lengths[i])]
    # consecutive results tile the stream
    assert [r.span_start for r in results[1:]] == [r.span_stop for r in results[:-1]]


# Garbage whose first byte does not read as a version-0 header. Garbage that does (a random
# blob has a 1 in 8 chance) is a header with a false length field, and there the low-latency
# mode trusts the length as documented (PacketSplitter: "on a stream whose length fields are
# damaged the two can differ"): hypothesis found a 5-byte blob whose length field, completed
# by the next packet's first byte, landed exactly on the following packet.
_NOT_A_HEADER = st.binary(min_size=1, max_size=30).map(lambda b: bytes([b[0] | 0x20]) + b[1:])


@settings(max_examples=100)
@given(
    inserts=st.lists(st.tuples(st.integers(0, 30), _NOT_A_HEADER), max_size=4),
    cuts=st.lists(st.integers(0, 3000), max_size=8),
)
def test_low_latency_streaming_equals_batch_when_lengths_are_intact(
    inserts: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    # garbage between whole packets damages no length field: both modes agree with batch
    base = JPSS_LOCAL.read_bytes()[: 71 * 30] if JPSS_LOCAL.is_file() else b""
    packets = [base[i : i + 71] for i in range(0, len(base), 71)]
    for index, blob in sorted(inserts, reverse=True):
        packets.insert(index, blob)
    stream = b"".join(packets)
    batch = split_packets(stream)
    results = _split_streaming(stream, [c for c in cuts if c <= len(stream)])
    offsets, lengths, _ = _joined(results)
    assert offsets == batch.offsets.tolist()
    assert lengths == batch.lengths.tolist()
    for res, nxt in itertools.pairwise(results):
        assert res.span_stop == nxt.span_start


def test_streaming_releases_a_packet_as_soon_as_it_is_complete(jpss: bytes) -> None:
    low = PacketSplitter()
    assert low.feed(jpss[:71]).n_packets == 1
    exact = PacketSplitter(exact=True)
    assert exact.feed(jpss[:71]).n_packets == 0
    assert exact.feed(jpss[71:76]).n_packets == 0
    # the next header continues APID 11 (same length, next count): packet 0 is certain
    assert exact.feed(jpss[76:77]).n_packets == 1
    assert exact.feed(jpss[77 : 71 * 5]).n_packets == 3
    assert exact.finish().n_packets == 1


def test_streaming_truncated_tail_on_finish(jpss: bytes) -> None:
    splitter = PacketSplitter()
    first = splitter.feed(jpss[:100])
    assert first.n_packets == 1
    assert splitter.buffered_bytes == 29
    assert splitter.position == 71
    last = splitter.finish()
    assert last.skipped == [SkippedRange(71, 100, "truncated")]


# ---------------------------------------------------------------------------- properties

options = st.fixed_dictionaries(
    {
        "prefix_bytes": st.integers(0, 4),
        "lenient_version": st.booleans(),
        "max_packet_bytes": st.sampled_from([7, 100, 65542]),
    },
    optional={"apids": st.sets(st.integers(0, 2047), max_size=3), "keep_idle": st.booleans()},
)


@settings(max_examples=300)
@given(data=st.binary(max_size=2000), opts=options)
def test_random_bytes_never_raise_and_tile(data: bytes, opts: dict[str, object]) -> None:
    res = split_packets(data, **opts)  # type: ignore[arg-type]
    assert_tiles(res, len(data))


def _mutate(base: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    buf = bytearray(base)
    for kind, pos, blob in edits:
        at = pos % (len(buf) + 1)
        if kind == 0:  # overwrite
            buf[at : at + len(blob)] = blob
        elif kind == 1:  # insert
            buf[at:at] = blob
        else:  # delete
            del buf[at : at + len(blob)]
    return bytes(buf)


edits = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.binary(min_size=1, max_size=40)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(edit_list=edits, lenient=st.booleans())
def test_mutated_real_stream_never_raises_and_tiles(
    edit_list: list[tuple[int, int, bytes]], lenient: bool
) -> None:
    base = JPSS_LOCAL.read_bytes()[: 71 * 60] if JPSS_LOCAL.is_file() else b""
    stream = _mutate(base, edit_list)
    res = split_packets(stream, lenient_version=lenient)
    assert_tiles(res, len(stream))


def test_damage_stays_local_in_almost_every_case() -> None:
    """A quality target, not an invariant: CCSDS packets carry no sync marker, so a damaged
    header can claim a length that swallows good packets after it (seen: 3 zero bytes that
    turn a header into a 3,025-byte "packet"). Over 300 random single edits of 60 JPSS
    packets (fixed seed), at most 3 packets are lost around the edit: in >= 97% of cases
    before the per-APID sequence-count evidence (issue 12), in all of them since."""
    import random

    if not JPSS_LOCAL.is_file():
        pytest.skip("JPSS test data not found")
    base = JPSS_LOCAL.read_bytes()[: 71 * 60]
    rng = random.Random(20261125)
    local = 0
    for _ in range(300):
        blob = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        edit = (rng.randrange(3), rng.randrange(len(base)), blob)
        res = split_packets(_mutate(base, [edit]))
        local += res.n_packets >= 60 - 3
    assert local == 300


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    edit_list=edits,
    cuts=st.lists(st.integers(0, 5000), max_size=6),
    opts=options,
)
def test_streaming_equals_batch(
    edit_list: list[tuple[int, int, bytes]], cuts: list[int], opts: dict[str, object]
) -> None:
    base = JPSS_LOCAL.read_bytes()[: 71 * 30] if JPSS_LOCAL.is_file() else bytes(2130)
    stream = _mutate(base, edit_list)
    batch = split_packets(stream, **opts)  # type: ignore[arg-type]
    results = _split_streaming(stream, [c for c in cuts if c <= len(stream)], exact=True, **opts)
    offsets, lengths, skipped = _joined(results)
    assert offsets == batch.offsets.tolist()
    assert lengths == batch.lengths.tolist()
    assert skipped == batch.skipped
