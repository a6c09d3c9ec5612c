"""CFDP PDUs in CCSDS 133.0-B-2 space packets: one PDU per packet's data field.

CCSDS 727.0-B-5 §2.2 leaves the underlying service to the mission; falak carries each PDU as
the whole Packet Data Field of one unsegmented space packet (no secondary header) on the APID
the mission database assigns (the orbiter: 610 down, 611 up). :func:`wrap` builds the packet
with :func:`falak.ccsds.spacepacket.encode_packet`; :func:`unwrap` checks the primary header
and returns the PDU.
"""

from __future__ import annotations

from falak.ccsds.spacepacket import PRIMARY_HEADER_BYTES, encode_packet
from falak.errors import DecodeError

__all__ = ["unwrap", "wrap"]


def wrap(pdu: bytes, apid: int, seq: int, *, packet_type: int = 0) -> bytes:
    """Return one space packet carrying ``pdu``; ``seq`` is taken modulo 2**14.

    ``packet_type`` 0 is telemetry (downlink), 1 telecommand (uplink) (133.0-B-2 §4.1.3.3.2).
    """
    return encode_packet(apid, pdu, seq_count=seq % 0x4000, packet_type=packet_type)


def unwrap(packet: bytes, apid: int | None = None) -> bytes:
    """Return the PDU in ``packet``; raise DecodeError if it is not one whole space packet."""
    if len(packet) < PRIMARY_HEADER_BYTES + 1:
        raise DecodeError(
            f"a space packet is at least 7 octets (CCSDS 133.0-B-2 §4.1), got {len(packet)}"
        )
    version = packet[0] >> 5
    if version != 0:
        raise DecodeError(f"space packet version is {version}; expected 0 (133.0-B-2 §4.1.3.2)")
    length = int.from_bytes(packet[4:6], "big") + 1
    if len(packet) != PRIMARY_HEADER_BYTES + length:
        raise DecodeError(
            f"space packet is {len(packet)} octets; its header says 6 + {length} "
            f"(133.0-B-2 §4.1.3.5)"
        )
    found = (packet[0] & 7) << 8 | packet[1]
    if apid is not None and found != apid:
        raise DecodeError(f"space packet APID is {found}; CFDP expected APID {apid}")
    return bytes(packet[PRIMARY_HEADER_BYTES:])
