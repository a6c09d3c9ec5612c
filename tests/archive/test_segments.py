"""Segment codec: decode(encode(x)) == x bit for bit, and corrupt blobs give a clear error."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from falak.archive.segments import SegmentCodecError, decode_array, encode_array
from falak.errors import InputError

FIXED_DTYPES = st.one_of(
    hnp.integer_dtypes(endianness="="),
    hnp.unsigned_integer_dtypes(endianness="="),
    hnp.floating_dtypes(endianness="=", sizes=(16, 32, 64)),
    hnp.complex_number_dtypes(endianness="="),
    hnp.datetime64_dtypes(endianness="="),
    hnp.timedelta64_dtypes(endianness="="),
    st.just(np.dtype(bool)),
    hnp.byte_string_dtypes(endianness="=", min_len=1, max_len=8),
    hnp.unicode_string_dtypes(endianness="=", min_len=1, max_len=8),
    hnp.integer_dtypes(endianness=">"),  # foreign byte order is kept too
)


def _same(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        assert a.shape == b.shape
        if a.dtype.kind == "O":
            for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True):
                _same(x, y)
        else:
            assert a.tobytes() == b.tobytes()  # bit-exact: NaN payloads, -0.0
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, float | np.floating) and np.isnan(a):
        assert np.isnan(b)
    elif isinstance(a, np.generic):
        assert a.dtype == b.dtype
        assert a.tobytes() == b.tobytes()
    else:
        assert a == b


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(FIXED_DTYPES, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6)))
def test_fixed_dtype_round_trip(arr: np.ndarray) -> None:
    _same(decode_array(encode_array(arr)), arr)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda s: [s]),  # constant step
        st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=1, max_size=4),
        st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=4),
    ),
    st.integers(min_value=0, max_value=100),
)
def test_time_arrays_round_trip(start: int, steps: list[int], n: int) -> None:
    # sample times: regular, irregular increasing, or anything (int64 wrap-around included)
    deltas = np.array([steps[i % len(steps)] for i in range(n)], dtype=np.int64)
    arr = np.empty(n + 1, dtype=np.int64)
    arr[0] = start
    arr[1:] = deltas
    arr = np.cumsum(arr, dtype=np.int64)
    blob = encode_array(arr)
    _same(decode_array(blob), arr)
    if n >= 16 and len(set(steps)) == 1:
        assert len(blob) <= 96  # a regular series is stored as start and step only


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.binary(max_size=10),
)
ELEMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        hnp.arrays(
            st.sampled_from([np.int16, np.float32, np.uint8]),
            hnp.array_shapes(max_dims=1, min_side=0, max_side=4),
        ),
    ),
    max_leaves=8,
)


def _obj(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.lists(ELEMENTS, max_size=8),
        st.lists(st.text(max_size=6), min_size=1),
        st.lists(st.binary(max_size=6), min_size=1),
    )
)
def test_object_round_trip(items: list[Any]) -> None:
    arr = _obj(items)
    _same(decode_array(encode_array(arr)), arr)


def test_numpy_scalars_and_2d_object() -> None:
    arr = np.empty((2, 2), dtype=object)
    arr[:] = [[np.float32(1.5), np.int64(-3)], [np.datetime64("2026-01-01", "ns"), None]]
    _same(decode_array(encode_array(arr)), arr)


def test_strings_are_stored_once() -> None:
    labels = _obj(["NOMINAL"] * 10_000 + ["SAFE"] * 10_000)
    blob = encode_array(labels)
    assert len(blob) < 4 * 20_000 + 100  # one uint32 code per sample plus the two labels
    _same(decode_array(blob), labels)


def test_unsupported_values_are_refused() -> None:
    with pytest.raises(InputError, match="cannot archive a value of type set"):
        encode_array(_obj([{1, 2}]))
    with pytest.raises(InputError, match="structured and void dtypes are not supported"):
        encode_array(np.zeros(2, dtype=[("a", "<f8")]))


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=64))
def test_garbage_gives_a_codec_error(blob: bytes) -> None:
    with pytest.raises(SegmentCodecError):
        decode_array(blob)


@settings(max_examples=80, deadline=None)
@given(st.lists(ELEMENTS, min_size=1, max_size=4), st.data())
def test_truncated_blob_gives_a_codec_error(items: list[Any], data: st.DataObject) -> None:
    blob = encode_array(_obj(items))
    cut = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
    with pytest.raises(SegmentCodecError):
        decode_array(blob[:cut])
