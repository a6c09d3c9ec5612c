"""CRC-16-CCITT as used for CCSDS and ECSS packet error control.

The Packet Error Control field of ECSS-E-ST-70-41C (PUS-C, §7.4.3.1 and annex B.1) and the
Frame Error Control Field of CCSDS 132.0-B-3 (TM Space Data Link Protocol, §4.1.6) and
CCSDS 232.0-B-4 (TC, §4.1.4.2) use the same code: generator polynomial
x^16 + x^12 + x^5 + 1 (0x1021), register preset to all ones (0xFFFF), no reflection of input
or output, no final XOR. In the CRC catalogue (Greg Cook, *Catalogue of parametrised CRC
algorithms*) this is CRC-16/IBM-3740, alias CRC-16/CCITT-FALSE, with check value 0x29B1 for
the ASCII string "123456789".

The batch functions run a table-driven loop compiled with numba over many packets at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

from falak.errors import InputError

__all__ = ["CRC16_INIT", "CRC16_POLY", "check_packet_crc", "crc16_ccitt", "crc16_ccitt_batch"]

CRC16_POLY = 0x1021
"""Generator polynomial x^16 + x^12 + x^5 + 1, without the x^16 term."""
CRC16_INIT = 0xFFFF
"""Register preset (all ones) for CCSDS and ECSS packet error control."""


def _make_table() -> NDArray[np.uint16]:
    """Return the 256-entry table for a byte-at-a-time, MSB-first CRC with ``CRC16_POLY``."""
    table = np.zeros(256, dtype=np.uint16)
    for byte in range(256):
        reg = byte << 8
        for _ in range(8):
            reg = ((reg << 1) ^ CRC16_POLY) if reg & 0x8000 else (reg << 1)
        table[byte] = reg & 0xFFFF
    return table


_TABLE = _make_table()


@njit(cache=True)
def _crc_range(data: Any, start: Any, stop: Any, init: Any, table: Any) -> Any:
    reg = np.int64(init)
    for i in range(start, stop):
        reg = ((reg << 8) & 0xFFFF) ^ np.int64(table[((reg >> 8) ^ np.int64(data[i])) & 0xFF])
    return reg


@njit(cache=True)
def _crc_batch(data: Any, offsets: Any, lengths: Any, init: Any, table: Any, out: Any) -> None:
    for k in range(offsets.shape[0]):
        out[k] = _crc_range(data, offsets[k], offsets[k] + lengths[k], init, table)


def _as_bytes_array(data: bytes | bytearray | memoryview | NDArray[np.uint8]) -> NDArray[np.uint8]:
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 1:
            raise InputError(
                f"CRC input must be a 1-D uint8 array, got {data.ndim}-D {data.dtype}; "
                "fix: pass bytes or np.frombuffer(raw, dtype=np.uint8)"
            )
        return np.ascontiguousarray(data)
    if isinstance(data, bytes | bytearray | memoryview):
        return np.frombuffer(data, dtype=np.uint8)
    raise InputError(f"CRC input must be bytes or a uint8 array, got {type(data).__name__}")


def _check_init(init: int) -> None:
    if not 0 <= init <= 0xFFFF:
        raise InputError(f"CRC init must be within 0..0xFFFF, got {init:#x}")


def crc16_ccitt(
    data: bytes | bytearray | memoryview | NDArray[np.uint8], init: int = CRC16_INIT
) -> int:
    """Return the CRC-16/CCITT-FALSE of ``data`` (poly 0x1021, preset ``init``, no reflection).

    ``init`` lets a CRC continue over several pieces: ``crc16_ccitt(b, crc16_ccitt(a))`` equals
    ``crc16_ccitt(a + b)``.
    """
    _check_init(init)
    arr = _as_bytes_array(data)
    return int(_crc_range(arr, 0, arr.shape[0], init, _TABLE))


def _ranges(
    arr: NDArray[np.uint8], offsets: NDArray[np.integer[Any]], lengths: NDArray[np.integer[Any]]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    off = np.ascontiguousarray(offsets, dtype=np.int64)
    lng = np.ascontiguousarray(lengths, dtype=np.int64)
    if off.shape != lng.shape or off.ndim != 1:
        raise InputError(
            f"offsets and lengths must be 1-D arrays of one shape, got {off.shape} and {lng.shape}"
        )
    if off.size and (off.min() < 0 or lng.min() < 0 or int((off + lng).max()) > arr.shape[0]):
        raise InputError(
            f"every range [offset, offset + length) must lie inside the data (0..{arr.shape[0]})"
        )
    return off, lng


def crc16_ccitt_batch(
    data: bytes | bytearray | memoryview | NDArray[np.uint8],
    offsets: NDArray[np.integer[Any]],
    lengths: NDArray[np.integer[Any]],
    init: int = CRC16_INIT,
) -> NDArray[np.uint16]:
    """Return the CRC-16/CCITT-FALSE of each ``data[offsets[k] : offsets[k] + lengths[k]]``."""
    _check_init(init)
    arr = _as_bytes_array(data)
    off, lng = _ranges(arr, offsets, lengths)
    out = np.empty(off.shape[0], dtype=np.uint16)
    _crc_batch(arr, off, lng, init, _TABLE, out)
    return out


def check_packet_crc(
    data: bytes | bytearray | memoryview | NDArray[np.uint8],
    offsets: NDArray[np.integer[Any]],
    lengths: NDArray[np.integer[Any]],
) -> NDArray[np.bool_]:
    """Return, per packet, whether its last 2 bytes hold the CRC of the bytes before them.

    This is the ECSS-E-ST-70-41C packet error control: the CRC (big-endian) covers the whole
    packet, primary header included, except the 2-byte field itself. Packets shorter than 3
    bytes are reported False.
    """
    arr = _as_bytes_array(data)
    off, lng = _ranges(arr, offsets, lengths)
    ok = lng >= 3
    body = np.where(ok, lng - 2, 0)
    crc = crc16_ccitt_batch(arr, off, body)
    end = off + body
    stored = np.zeros(off.shape[0], dtype=np.uint16)
    stored[ok] = (arr[end[ok]].astype(np.uint16) << 8) | arr[end[ok] + 1]
    result: NDArray[np.bool_] = ok & (crc == stored)
    return result
