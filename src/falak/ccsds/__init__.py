"""CCSDS codecs, one module per standard.

- :mod:`falak.ccsds.spacepacket`: CCSDS 133.0-B-2 Space Packet Protocol (split, header fields,
  encode).
- :mod:`falak.ccsds.crc`: CRC-16/CCITT-FALSE of ECSS packet error control and CCSDS frames.
"""

from __future__ import annotations

from falak.ccsds.crc import check_packet_crc, crc16_ccitt, crc16_ccitt_batch
from falak.ccsds.spacepacket import (
    IDLE_APID,
    PRIMARY_HEADER_BYTES,
    PacketSplitter,
    SkippedRange,
    SplitResult,
    encode_packet,
    primary_header_fields,
    split_packets,
)

__all__ = [
    "IDLE_APID",
    "PRIMARY_HEADER_BYTES",
    "PacketSplitter",
    "SkippedRange",
    "SplitResult",
    "check_packet_crc",
    "crc16_ccitt",
    "crc16_ccitt_batch",
    "encode_packet",
    "primary_header_fields",
    "split_packets",
]
