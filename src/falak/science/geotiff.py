"""GeoTIFF science products with a PDS4 label that describes the GeoTIFF itself.

:func:`write_geotiff` writes one 2-D raster (a DEM, an ortho-image, a projected image) as a
GeoTIFF in LOLA's south-polar stereographic projection (the site DEM's:
:data:`falak.terrain.dem.LOLA_SOUTH_POLE_PROJ4`, the CRS and affine geotransform that
:func:`falak.terrain.dem.write_dem` writes and :func:`~falak.terrain.dem.read_dem` checks)
and a PDS4 label (``STEM.xml``) whose ``Array_2D_Image`` points at the TIFF's pixel bytes.

That is the layout GDAL's PDS4 driver writes with ``IMAGE_FORMAT=GEOTIFF`` (GDAL
documentation, "PDS4 -- NASA Planetary Data System (Version 4)": the GeoTIFF is a PDS4
compliant file as long as it is uncompressed, not tiled, and its image data contiguous):
the TIFF is written uncompressed, little-endian, in one strip holding every row, so its
pixels are one contiguous C-order block at the offset GDAL reports (``BLOCK_OFFSET_0_0`` of
the ``TIFF`` metadata domain); the label gives that offset, the element type, the unit, the
missing-value constant (``Special_Constants/missing_constant``, also the GeoTIFF's nodata:
NaN is not a PDS4 constant, so float holes are written as :data:`NODATA_F32`) and the two
axes (``Line`` then ``Sample``, PDS4's names for an image's rows and columns). GIS tools read
the file as a GeoTIFF, ``pds4_tools.read(label)`` reads the same bytes as an array (masked
where missing); the tests check both against what was written.

The label's text (``Identification_Area``, ``Observation_Area``, file and checksum) is
:mod:`falak.science.pds4`'s, so every falak product is labelled alike. Reusable for any
science raster on the site's projection (the rover's DEMs and ortho-images; the orbiter's
map-projected images).
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine  # type: ignore[import-untyped]  # no type information
from numpy.typing import ArrayLike

from falak.errors import InputError
from falak.science import pds4 as _pds4
from falak.terrain.dem import LOLA_SOUTH_POLE_PROJ4

__all__ = ["NODATA_F32", "write_geotiff"]

#: Missing value of float rasters, GeoTIFF nodata and PDS4 missing_constant (float32 lowest).
NODATA_F32 = float(np.finfo(np.float32).min)

_KINDS = {"f4": "float32", "f8": "float64", "u1": "uint8", "i2": "int16", "u2": "uint16"}


def write_geotiff(
    path_stem: str | Path,
    array: ArrayLike,
    transform: Affine,
    *,
    unit: str | None,
    title: str,
    lid: str,
    start: _dt.datetime | int,
    stop: _dt.datetime | int,
    mission: str,
    instrument: str,
    target: str = "Moon",
    host: str | None = None,
    description: str = "",
    nodata: float | None = None,
) -> tuple[Path, Path]:
    """Write ``STEM.tif`` (GeoTIFF) and ``STEM.xml`` (its PDS4 label); return both paths.

    ``array`` is (rows, cols), row 0 north, on the grid ``transform`` (the
    ``Affine(res, 0, x_left, 0, -res, y_top)`` of a :class:`~falak.terrain.dem.Dem`, projected
    metres). Float arrays are written as float32 with NaN replaced by :data:`NODATA_F32`
    (``nodata`` for integer arrays, optional). ``unit`` is the value's PDS4 unit (``"m"``;
    ``None`` for DN). Other parameters as :func:`falak.science.pds4.write_array`.

    Raises
    ------
    InputError
        Not a 2-D array, an unsupported dtype, or a bad label value (LID, naive time).
    """
    import rasterio  # type: ignore[import-untyped]  # ships no type information
    from rasterio.crs import CRS  # type: ignore[import-untyped]  # ships no type information

    _pds4._check_lid(lid)
    a = np.asarray(array)
    if a.ndim != 2 or min(a.shape) < 1:
        raise InputError(f"write_geotiff takes a non-empty 2-D array; got shape {a.shape}")
    if a.dtype.kind == "f":
        a = a.astype(np.float32)
        missing: float | None = NODATA_F32
        a = np.where(np.isfinite(a), a, np.float32(NODATA_F32)).astype(np.float32)
    else:
        missing = nodata
    key = f"{a.dtype.kind}{a.dtype.itemsize}"
    if key not in _KINDS:
        raise InputError(
            f"raster dtype {a.dtype} cannot be written; give float or uint8/int16/uint16"
        )
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tif, label = stem.with_suffix(".tif"), stem.with_suffix(".xml")
    ny, nx = a.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": nx,
        "height": ny,
        "count": 1,
        "dtype": _KINDS[key],
        "crs": CRS.from_proj4(LOLA_SOUTH_POLE_PROJ4),
        "transform": transform,
        "compress": "none",
        "tiled": False,
        "blockysize": ny,  # one strip: the pixels are one contiguous block
        "interleave": "band",
        "endianness": "little",
    }
    if missing is not None:
        profile["nodata"] = missing
    try:
        with rasterio.open(tif, "w", **profile) as dst:
            dst.write(a, 1)
            if unit:
                dst.units = (unit,)
            dst.descriptions = (title,)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"{tif}: cannot write the GeoTIFF ({exc})") from None
    with rasterio.open(tif) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
        size = int(src.get_tag_item("BLOCK_SIZE_0_0", "TIFF", bidx=1))
    if size != a.nbytes:  # GDAL did not write one strip: the label would be wrong
        raise InputError(f"{tif}: pixels not in one contiguous strip ({size} of {a.nbytes} B)")
    data = tif.read_bytes()
    _label(label, tif, data, a, offset, missing, unit, transform, title, lid, description,
           _pds4.Observation(start, stop, mission, instrument, target, host))  # fmt: skip
    return tif, label


def _label(
    label: Path,
    tif: Path,
    data: bytes,
    a: np.ndarray[Any, Any],
    offset: int,
    missing: float | None,
    unit: str | None,
    transform: Affine,
    title: str,
    lid: str,
    description: str,
    obs: _pds4.Observation,
) -> None:
    sub = _pds4._sub
    ny, nx = a.shape
    res = float(transform.a)
    where = (
        f"GeoTIFF in {LOLA_SOUTH_POLE_PROJ4}; {ny} lines x {nx} samples of {res:g} m; "
        f"upper-left corner x {transform.c:.3f} m, y {transform.f:.3f} m. "
    )
    root = _pds4._label_root(title, lid, obs, where + description)
    fao = sub(root, "File_Area_Observational")
    _pds4._file_element(fao, tif, None, data)
    arr = sub(fao, "Array_2D_Image")
    sub(arr, "name", _pds4._token(title))
    sub(arr, "offset", str(offset), unit="byte")
    sub(arr, "axes", "2")
    sub(arr, "axis_index_order", "Last Index Fastest")
    sub(arr, "description", where + description)
    elem = sub(arr, "Element_Array")
    sub(elem, "data_type", _pds4._ARRAY_TYPES[f"{a.dtype.kind}{a.dtype.itemsize}"])
    if unit:
        sub(elem, "unit", unit)
    for i, (name, size) in enumerate((("Line", ny), ("Sample", nx)), start=1):
        ax = sub(arr, "Axis_Array")
        sub(ax, "axis_name", name)
        sub(ax, "elements", str(size))
        sub(ax, "sequence_number", str(i))
    if missing is not None:
        sc = sub(arr, "Special_Constants")
        text = repr(float(missing)) if a.dtype.kind == "f" else str(int(missing))
        if a.dtype.kind == "f" and not math.isfinite(float(missing)):
            raise InputError("the missing constant must be finite")
        sub(sc, "missing_constant", text)
    _pds4._write_label(root, label)
