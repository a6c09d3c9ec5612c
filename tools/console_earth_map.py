"""Make the console's Earth base map from Natural Earth 1:110m countries (public domain).

The console draws the station's ground track over ``falak/server/static/console/maps/
ne_110m_countries.geojson``; this script made that file, once, and remakes it::

    pip download --no-deps geopandas==0.14.4 -d /tmp/ne    # a wheel that carries the data
    python tools/console_earth_map.py /tmp/ne/geopandas-0.14.4-py3-none-any.whl

Source: the ``naturalearth_lowres`` data set inside the geopandas 0.14.4 wheel (wheel sha256
``3bb6473cb59d51e1a7fe2dbc24a1a063fb0ebdeddf3ce08ddbf8c7ddc99689aa``), which is Natural
Earth's ``ne_110m_admin_0_countries`` (1:110m cultural vectors, naturalearthdata.com) as
geopandas' ``naturalearth_creation.py`` downloaded it; geographic WGS84 degrees. Natural
Earth is in the public domain ("All versions of Natural Earth raster + vector map data found
on this website are in the public domain", naturalearthdata.com/about/terms-of-use).

The shapefile (ESRI Shapefile Technical Description, July 1998: a 100-byte header, then
records of shape type 5, Polygon: box, part count, point count, part starts, x/y doubles) and
its dBASE attribute table are read here with ``struct`` alone, so the script needs nothing but
Python. Output: a GeoJSON FeatureCollection (RFC 7946) of one MultiPolygon per country with
its ``name`` and ``iso_a3``, coordinates rounded to 0.01° (about 1 km, finer than the 1:110m
scale holds), rings as the source gives them (outer rings clockwise, the shapefile's order).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any

OUT = (
    Path(__file__).resolve().parents[1]
    / "src/falak/server/static/console/maps/ne_110m_countries.geojson"
)
STEM = "geopandas/datasets/naturalearth_lowres/naturalearth_lowres"
WHEEL_SHA256 = "3bb6473cb59d51e1a7fe2dbc24a1a063fb0ebdeddf3ce08ddbf8c7ddc99689aa"


def read_polygons(shp: bytes) -> list[list[list[tuple[float, float]]]]:
    """Each record's rings (lists of (lon, lat)) from a Polygon shapefile's bytes."""
    (code,) = struct.unpack(">i", shp[:4])
    (shape_type,) = struct.unpack("<i", shp[32:36])
    if code != 9994 or shape_type != 5:
        raise SystemExit(f"not a Polygon shapefile (file code {code}, shape type {shape_type})")
    out: list[list[list[tuple[float, float]]]] = []
    pos = 100
    while pos < len(shp):
        _, words = struct.unpack(">ii", shp[pos : pos + 8])
        body = shp[pos + 8 : pos + 8 + 2 * words]
        pos += 8 + 2 * words
        (kind,) = struct.unpack("<i", body[:4])
        if kind == 0:  # null shape
            out.append([])
            continue
        n_parts, n_points = struct.unpack("<ii", body[36:44])
        starts = list(struct.unpack(f"<{n_parts}i", body[44 : 44 + 4 * n_parts]))
        xy = struct.unpack(f"<{2 * n_points}d", body[44 + 4 * n_parts :][: 16 * n_points])
        points = list(zip(xy[0::2], xy[1::2], strict=True))
        ends = [*starts[1:], n_points]
        out.append([points[a:b] for a, b in zip(starts, ends, strict=True)])
    return out


def read_dbf(dbf: bytes, encoding: str) -> list[dict[str, str]]:
    """The rows of a dBASE III table, every field as stripped text."""
    n_rows, header_len, row_len = struct.unpack("<IHH", dbf[4:12])
    fields = []
    pos = 32
    while dbf[pos] != 0x0D:
        name = dbf[pos : pos + 11].split(b"\0")[0].decode("ascii")
        fields.append((name, dbf[pos + 16]))
        pos += 32
    rows = []
    for i in range(n_rows):
        row = dbf[header_len + i * row_len : header_len + (i + 1) * row_len]
        at = 1  # the deletion flag
        values = {}
        for name, width in fields:
            values[name] = row[at : at + width].decode(encoding).strip()
            at += width
        rows.append(values)
    return rows


def ring_is_outer(ring: list[tuple[float, float]]) -> bool:
    """Shapefile outer rings run clockwise (negative shoelace area in lon/lat)."""
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
    return area < 0


def to_geojson(polygons: list[list[list[tuple[float, float]]]], rows: list[dict[str, str]]) -> Any:
    """One MultiPolygon Feature per country (holes follow their outer ring)."""
    features = []
    for rings, row in zip(polygons, rows, strict=True):
        multi: list[list[list[list[float]]]] = []
        for ring in rings:
            coords = [[round(x, 2), round(y, 2)] for x, y in ring]
            if ring_is_outer(ring) or not multi:
                multi.append([coords])
            else:
                multi[-1].append(coords)
        features.append(
            {
                "type": "Feature",
                "properties": {"name": row.get("name", ""), "iso_a3": row.get("iso_a3", "")},
                "geometry": {"type": "MultiPolygon", "coordinates": multi},
            }
        )
    return {
        "type": "FeatureCollection",
        "source": "Natural Earth 1:110m admin-0 countries (public domain), via the "
        "naturalearth_lowres data set of the geopandas 0.14.4 wheel; tools/console_earth_map.py",
        "features": features,
    }


def main(wheel: str) -> None:
    data = Path(wheel).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != WHEEL_SHA256:
        print(f"warning: wheel sha256 {digest} is not the recorded {WHEEL_SHA256}", file=sys.stderr)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        shp = z.read(STEM + ".shp")
        dbf = z.read(STEM + ".dbf")
        encoding = z.read(STEM + ".cpg").decode("ascii").strip() or "latin-1"
    collection = to_geojson(read_polygons(shp), read_dbf(dbf, encoding))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(collection, separators=(",", ":"), ensure_ascii=False) + "\n")
    n = sum(len(r) for f in collection["features"] for p in f["geometry"]["coordinates"] for r in p)
    print(f"{OUT}: {len(collection['features'])} countries, {n} points, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
