"""Parameter-archive segments: numpy arrays as compact, safe bytes.

A segment holds the samples of one parameter group over a time range (like a Yamcs parameter
archive segment): one time array, and per parameter the raw and engineering values, the
monitoring status and the presence mask, each serialised by :func:`encode_array`.

Blob layout (all integers little-endian)::

    magic  b"FSG"  (3 bytes)
    kind   1 byte  1 = fixed dtype, 2 = strings (labels + codes), 3 = bytes, 4 = tagged objects
    hlen   uint32  length of the JSON header that follows
    header JSON    {"dtype": "<f4", "shape": [n, ...]} (kind 1) or {"shape": [...]} (kinds 2-4)
    pad    zeros up to a multiple of 16 bytes, so kind-1 payloads are aligned
    payload

* kind 1 (numbers, bool, datetime64, timedelta64, fixed-width ``S``/``U``): the C-order buffer,
  read back zero-copy with :func:`numpy.frombuffer`; every bit is kept (float32 NaN payloads,
  -0.0, byte order).
* kind 2 (object arrays of ``str`` only, e.g. enumeration labels): distinct labels once, then
  one uint32 code per sample.
* kind 3 (object arrays of ``bytes`` only): uint32 lengths, then the bytes concatenated.
* kind 4 (anything else in an object array): each element tagged by its Python type (None,
  bool, int, float, str, bytes, list, tuple, dict, numpy array, numpy scalar), recursively.
* kinds 5 and 6 (1-D little-endian int64 of 16 or more values, i.e. sample times): a start and
  a constant step (no payload), or a start and uint32 steps; read back with a cumulative sum
  (int64 wrap-around is exact both ways). Regular sampling costs no storage and no I/O.

No pickle: decoding never runs code, so an archive from an untrusted source is safe to read.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.errors import InputError

__all__ = ["SegmentCodecError", "decode_array", "describe", "encode_array"]

_MAGIC = b"FSG"
_FIXED = 1
_STRINGS = 2
_BYTES = 3
_TAGGED = 4
_STEPPED = 5
_DELTA32 = 6
_PACK_MIN = 16
_ALIGN = 16
_FIXED_KINDS = "biufcmMSU"


class SegmentCodecError(InputError):
    """A segment blob is not in the format :func:`encode_array` writes (corrupt archive)."""


def describe(arr: NDArray[Any]) -> str:
    """Return a short text naming an array's dtype and per-sample shape (for signatures)."""
    return arr.dtype.str + ("" if arr.ndim <= 1 else str(list(arr.shape[1:])))


def _frame(kind: int, header: dict[str, Any], payload: bytes | bytearray) -> bytes:
    return _prefix(kind, json.dumps(header, separators=(",", ":"))) + payload


def _prefix(kind: int, header_text: str) -> bytes:
    head = header_text.encode()
    pad = (-(len(_MAGIC) + 1 + 4 + len(head))) % _ALIGN
    return b"".join((_MAGIC, bytes((kind,)), struct.pack("<I", len(head) + pad), head, b" " * pad))


_FIXED_PREFIXES: dict[tuple[str, tuple[int, ...]], bytes] = {}


def _fixed_prefix(dtype: str, shape: tuple[int, ...]) -> bytes:
    """The frame prefix of a fixed-dtype array: a live archive writes few distinct ones, so
    each is built once (JSON-encoding it per column was a third of a parameter write)."""
    prefix = _FIXED_PREFIXES.get((dtype, shape))
    if prefix is None:
        header = {"dtype": dtype, "shape": list(shape)}
        prefix = _prefix(_FIXED, json.dumps(header, separators=(",", ":")))
        if len(_FIXED_PREFIXES) < 4096:
            _FIXED_PREFIXES[(dtype, shape)] = prefix
    return prefix


def encode_array(arr: NDArray[Any]) -> bytes:
    """Serialise an array (any fixed dtype, or an object array of plain values) to bytes."""
    arr = np.asarray(arr)
    shape = list(arr.shape)
    if arr.dtype == np.dtype("<i8") and arr.ndim == 1 and arr.size >= _PACK_MIN:
        packed = _pack_int64(arr)
        if packed is not None:
            return packed
    if arr.dtype.kind in _FIXED_KINDS and arr.dtype.names is None:
        return _fixed_prefix(arr.dtype.str, arr.shape) + arr.tobytes(order="C")
    if arr.dtype.kind != "O":
        raise InputError(
            f"cannot archive an array of dtype {arr.dtype}: structured and void dtypes are not "
            "supported; archive each field as its own parameter"
        )
    items = arr.ravel(order="C").tolist() if arr.ndim != 1 else arr.tolist()
    if items and all(type(x) is str for x in items):
        return _frame(_STRINGS, {"shape": shape}, _encode_strings(items))
    if items and all(type(x) is bytes for x in items):
        lengths = np.fromiter((len(x) for x in items), dtype="<u4", count=len(items))
        return _frame(_BYTES, {"shape": shape}, lengths.tobytes() + b"".join(items))
    out = bytearray()
    for x in items:
        _put(out, x)
    return _frame(_TAGGED, {"shape": shape}, out)


def _pack_int64(arr: NDArray[np.int64]) -> bytes | None:
    """Sample times: a constant step (kind 5), or a start and uint32 steps (kind 6)."""
    steps = np.diff(arr)  # wraps on overflow; decoding wraps back identically
    first = int(arr[0])
    if bool((steps == steps[0]).all()):
        return _frame(
            _STEPPED, {"shape": [int(arr.size)], "start": first, "step": int(steps[0])}, b""
        )
    if int(steps.min()) >= 0 and int(steps.max()) < 2**32:
        return _frame(
            _DELTA32, {"shape": [int(arr.size)], "start": first}, steps.astype("<u4").tobytes()
        )
    return None


def _encode_strings(items: list[str]) -> bytes:
    table: dict[str, int] = {}
    codes = np.fromiter(
        (table.setdefault(s, len(table)) for s in items), dtype="<u4", count=len(items)
    )
    encoded = [s.encode("utf-8", "surrogatepass") for s in table]
    lengths = np.fromiter((len(b) for b in encoded), dtype="<u4", count=len(encoded))
    return b"".join(
        (struct.pack("<I", len(encoded)), lengths.tobytes(), b"".join(encoded), codes.tobytes())
    )


def decode_array(blob: bytes | memoryview) -> NDArray[Any]:
    """Read back an array written by :func:`encode_array` (kind 1 arrays are read-only views)."""
    view = memoryview(blob)
    if len(view) < 8 or bytes(view[:3]) != _MAGIC:
        raise SegmentCodecError(
            "segment blob does not start with the falak segment magic b'FSG'; "
            "the archive is corrupt or was not written by falak"
        )
    kind = view[3]
    (hlen,) = struct.unpack_from("<I", view, 4)
    try:
        header = json.loads(bytes(view[8 : 8 + hlen]))
        shape = tuple(int(s) for s in header["shape"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SegmentCodecError(f"segment blob has a corrupt header: {exc}") from exc
    payload = view[8 + hlen :]
    n = int(np.prod(shape, dtype=np.int64))
    try:
        if kind == _FIXED:
            dtype = np.dtype(header["dtype"])
            if len(payload) != n * dtype.itemsize:
                raise ValueError(f"payload holds {len(payload)} bytes, expected {n}×{dtype}")
            return np.frombuffer(payload, dtype=dtype, count=n).reshape(shape)
        if kind == _STEPPED:
            if len(payload):
                raise ValueError("a stepped array has no payload")
            out64 = np.full(n, int(header["step"]), dtype=np.int64)
            out64[0] = int(header["start"])
            with np.errstate(over="ignore"):
                return np.cumsum(out64, dtype=np.int64)
        if kind == _DELTA32:
            if len(payload) != 4 * (n - 1) or n < 1:
                raise ValueError("delta payload does not match the array length")
            out64 = np.empty(n, dtype=np.int64)
            out64[0] = int(header["start"])
            out64[1:] = np.frombuffer(payload, dtype="<u4", count=n - 1)
            return np.cumsum(out64, dtype=np.int64)
        out = np.empty(n, dtype=object)
        if kind == _STRINGS:
            (n_labels,) = struct.unpack_from("<I", payload, 0)
            lengths = np.frombuffer(payload, dtype="<u4", count=n_labels, offset=4)
            at = 4 + 4 * n_labels
            labels = np.empty(n_labels, dtype=object)
            for i, ln in enumerate(lengths.tolist()):
                labels[i] = bytes(payload[at : at + ln]).decode("utf-8", "surrogatepass")
                at += ln
            codes = np.frombuffer(payload, dtype="<u4", count=n, offset=at)
            if len(payload) != at + 4 * n or (n and int(codes.max()) >= n_labels):
                raise ValueError("string codes do not match the label table")
            out[:] = labels[codes]
        elif kind == _BYTES:
            lengths = np.frombuffer(payload, dtype="<u4", count=n)
            data = bytes(payload[4 * n :])
            ends = np.cumsum(lengths, dtype=np.int64).tolist()
            total = ends[-1] if ends else 0
            if total != len(data):
                raise ValueError(f"byte strings hold {len(data)} bytes, lengths say {total}")
            starts = [0, *ends[:-1]]
            out[:] = [data[a:b] for a, b in zip(starts, ends, strict=True)]
        elif kind == _TAGGED:
            reader = _Reader(payload)
            for i in range(n):
                out[i] = reader.get()
            if reader.at != len(payload):
                raise ValueError(f"{len(payload) - reader.at} bytes left after the last element")
        else:
            raise SegmentCodecError(f"segment blob has unknown kind {kind}; expected 1 to 6")
    except (
        ValueError,
        struct.error,
        IndexError,
        UnicodeDecodeError,
        TypeError,
        OverflowError,
        KeyError,
    ) as exc:
        raise SegmentCodecError(f"segment blob is corrupt: {exc}") from exc
    return out.reshape(shape)


# ---------------------------------------------------------------------------------------------
# tagged element encoding


def _put(out: bytearray, x: Any) -> None:
    if x is None:
        out += b"N"
    elif x is True:
        out += b"T"
    elif x is False:
        out += b"F"
    elif isinstance(x, np.ndarray):
        blob = encode_array(x)
        out += b"a" + struct.pack("<I", len(blob)) + blob
    elif isinstance(x, np.generic):
        if x.dtype.kind not in _FIXED_KINDS or x.dtype.names is not None:
            raise InputError(f"cannot archive numpy scalar of dtype {x.dtype}")
        code = x.dtype.str.encode()
        raw = x.tobytes()
        out += b"g" + struct.pack("<BI", len(code), len(raw)) + code + raw
    elif type(x) is int:
        if -(2**63) <= x < 2**63:
            out += b"i" + struct.pack("<q", x)
        else:
            text = str(x).encode()
            out += b"I" + struct.pack("<I", len(text)) + text
    elif type(x) is float:
        out += b"f" + struct.pack("<d", x)
    elif type(x) is str:
        data = x.encode("utf-8", "surrogatepass")
        out += b"s" + struct.pack("<I", len(data)) + data
    elif type(x) is bytes:
        out += b"b" + struct.pack("<I", len(x)) + x
    elif type(x) is list or type(x) is tuple:
        out += (b"l" if type(x) is list else b"t") + struct.pack("<I", len(x))
        for item in x:
            _put(out, item)
    elif type(x) is dict:
        out += b"d" + struct.pack("<I", len(x))
        for k, v in x.items():
            _put(out, k)
            _put(out, v)
    else:
        raise InputError(
            f"cannot archive a value of type {type(x).__name__}; object columns may hold None, "
            "bool, int, float, str, bytes, lists, tuples, dicts and numpy arrays or scalars"
        )


class _Reader:
    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.at = 0

    def _u32(self) -> int:
        (v,) = struct.unpack_from("<I", self.buf, self.at)
        self.at += 4
        return int(v)

    def _take(self, n: int) -> bytes:
        if self.at + n > len(self.buf):
            raise ValueError("element runs past the end of the blob")
        b = bytes(self.buf[self.at : self.at + n])
        self.at += n
        return b

    def get(self) -> Any:
        tag = self._take(1)
        if tag == b"N":
            return None
        if tag == b"T":
            return True
        if tag == b"F":
            return False
        if tag == b"i":
            (v,) = struct.unpack("<q", self._take(8))
            return v
        if tag == b"I":
            return int(self._take(self._u32()))
        if tag == b"f":
            (f,) = struct.unpack("<d", self._take(8))
            return f
        if tag == b"s":
            return self._take(self._u32()).decode("utf-8", "surrogatepass")
        if tag == b"b":
            return self._take(self._u32())
        if tag in (b"l", b"t"):
            items = [self.get() for _ in range(self._u32())]
            return items if tag == b"l" else tuple(items)
        if tag == b"d":
            count = self._u32()
            d: dict[Any, Any] = {}
            for _ in range(count):
                k = self.get()
                d[k] = self.get()
            return d
        if tag == b"a":
            return decode_array(self._take(self._u32())).copy()
        if tag == b"g":
            (clen, rlen) = struct.unpack("<BI", self._take(5))
            dtype = np.dtype(self._take(clen).decode())
            return np.frombuffer(self._take(rlen), dtype=dtype, count=1)[0]
        raise ValueError(f"unknown element tag {tag!r}")
