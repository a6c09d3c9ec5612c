"""Images sent as segments of telemetry packets, rebuilt on the ground as files.

A camera's image too large for one packet travels as numbered segments, one per packet, as
the MDB lays them out (the ROVER's ``NAVCAM_IMAGE``: image number, camera, segment number,
segment count, width, height, exposure, the estimated pose the image was taken at, and the
segment's bytes, 8-bit grey pixels row-major, at most 2048 a packet; files by CFDP come with
the space-link issue). :func:`assemble` puts the segments of decoded packets back together:
an image is keyed by its number and camera; a segment number seen again for an open image, or
a different segment count or size, starts the next image of that key (image numbers restart
at boot and wrap at 16 bits). Segment ``k`` holds bytes ``k·L … (k+1)·L`` of the image, with
``L`` the length of the segments that are not the last (all equal), so an image with missing
segments is still placed right: the missing bytes are zero and listed.

:func:`write_images` writes each image as a binary PGM (Netpbm P5, 8-bit: readable by every
image tool, no dependency) and ``index.json``::

    {"format": "falak-images/1", "container": "NAVCAM_IMAGE",
     "images": [{"file": "navcam-00001-LEFT.pgm", "image_id": 1, "camera": "LEFT",
                 "time": "2028-01-01T00:00:00.020004272Z", "width": 256, "height": 192,
                 "exposure_ms": 20, "pose": {"x_m": 3.0, "y_m": 3031.25, "heading_deg": 0.0},
                 "segments": 24, "missing_segments": [], "complete": true,
                 "sha256": "…"}]}

``time`` is the packets' on-board time (the image's, the first segment's); ``pose`` the
rover's *estimated* pose when it was taken; ``sha256`` is of the pixel bytes (the PGM's
payload, without its header), so an image can be compared with the simulator's truth.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from falak.errors import InputError

__all__ = [
    "INDEX_FORMAT",
    "NAVCAM",
    "Image",
    "ImageSegments",
    "assemble",
    "columns_of",
    "write_images",
]

#: ``format`` of the ``index.json`` :func:`write_images` writes.
INDEX_FORMAT = "falak-images/1"


@dataclass(frozen=True)
class ImageSegments:
    """Which parameters of a container carry a segmented image (names in the MDB)."""

    container: str
    image_id: str
    camera: str
    segment: str
    segments: str
    width: str
    height: str
    data: str
    time: str = "OBT"
    exposure_ms: str | None = None
    x_m: str | None = None
    y_m: str | None = None
    heading_deg: str | None = None
    #: file name prefix of the images written
    prefix: str = "image"


#: The ROVER MDB's navigation-camera images (``falak/missions/rover/mdb.yaml``, NAVCAM).
NAVCAM = ImageSegments(
    container="NAVCAM_IMAGE",
    image_id="IMG_ID",
    camera="IMG_CAMERA",
    segment="IMG_SEGMENT",
    segments="IMG_SEGMENTS",
    width="IMG_WIDTH",
    height="IMG_HEIGHT",
    data="IMG_DATA",
    exposure_ms="IMG_EXPOSURE_MS",
    x_m="IMG_EST_X_M",
    y_m="IMG_EST_Y_M",
    heading_deg="IMG_EST_HEADING_DEG",
    prefix="navcam",
)


@dataclass
class Image:
    """One image rebuilt from its segments (8-bit grey, row-major ``pixels``)."""

    image_id: int
    camera: str
    time_ns: int
    width: int
    height: int
    segments: int
    pixels: bytes
    missing_segments: list[int] = field(default_factory=list)
    exposure_ms: int | None = None
    pose: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether every segment arrived."""
        return not self.missing_segments

    @property
    def sha256(self) -> str:
        """SHA-256 of the pixel bytes, hex."""
        return hashlib.sha256(self.pixels).hexdigest()

    def pgm(self) -> bytes:
        """The image as a binary PGM (P5, maxval 255)."""
        return f"P5\n{self.width} {self.height}\n255\n".encode("ascii") + self.pixels

    def array(self) -> np.ndarray[Any, np.dtype[np.uint8]]:
        """The pixels as a (height, width) uint8 array."""
        return np.frombuffer(self.pixels, dtype=np.uint8).reshape(self.height, self.width)


@dataclass
class _Open:
    image_id: int
    camera: str
    time_ns: int
    width: int
    height: int
    segments: int
    parts: dict[int, bytes]
    extra: dict[str, Any]


def _close(o: _Open) -> Image:
    size = o.width * o.height
    lengths = {len(b) for k, b in o.parts.items() if k != o.segments - 1}
    seg_len = max(lengths) if lengths else -(-size // max(o.segments, 1))
    buf = bytearray(size)
    for k, b in o.parts.items():
        start = k * seg_len
        chunk = b[: max(0, size - start)]
        buf[start : start + len(chunk)] = chunk
    missing = [k for k in range(o.segments) if k not in o.parts]
    pose = {
        name: float(o.extra[name])
        for name in ("x_m", "y_m", "heading_deg")
        if o.extra.get(name) is not None
    }
    exposure = o.extra.get("exposure_ms")
    return Image(
        o.image_id,
        o.camera,
        o.time_ns,
        o.width,
        o.height,
        o.segments,
        bytes(buf),
        missing,
        None if exposure is None else int(exposure),
        pose,
    )


def assemble(
    columns: Mapping[str, Sequence[Any] | np.ndarray[Any, Any]],
    layout: ImageSegments = NAVCAM,
) -> list[Image]:
    """Rebuild the images of decoded segment packets (module text), sorted by time.

    ``columns`` maps the layout's parameter names to their values, one per packet in the order
    the packets were received (e.g. the engineering values of a decoder result's container,
    :func:`columns_of`). The time column is ``datetime64[ns]`` or int nanoseconds.
    """
    required = [layout.image_id, layout.camera, layout.segment, layout.segments, layout.width]
    required += [layout.height, layout.data, layout.time]
    absent = [n for n in required if n not in columns]
    if absent:
        raise InputError(
            f"no column {', '.join(absent)} for the images of {layout.container}; give the "
            "decoded packets of that container"
        )
    n = len(columns[layout.data])
    times = np.asarray(columns[layout.time])
    if np.issubdtype(times.dtype, np.datetime64):
        times = times.astype("datetime64[ns]").astype(np.int64)
    extras = {
        key: columns[name]
        for key, name in (
            ("exposure_ms", layout.exposure_ms),
            ("x_m", layout.x_m),
            ("y_m", layout.y_m),
            ("heading_deg", layout.heading_deg),
        )
        if name is not None and name in columns
    }
    open_: dict[tuple[int, str], _Open] = {}
    done: list[Image] = []
    for i in range(n):
        key = (int(columns[layout.image_id][i]), str(columns[layout.camera][i]))
        seg = int(columns[layout.segment][i])
        count = int(columns[layout.segments][i])
        w, h = int(columns[layout.width][i]), int(columns[layout.height][i])
        data = bytes(columns[layout.data][i])
        o = open_.get(key)
        if o is not None and (seg in o.parts or (o.segments, o.width, o.height) != (count, w, h)):
            done.append(_close(o))
            o = None
        if o is None:
            extra = {k: v[i] for k, v in extras.items()}
            o = _Open(key[0], key[1], int(times[i]), w, h, count, {}, extra)
            open_[key] = o
        o.parts[seg] = data
        if len(o.parts) == o.segments:
            done.append(_close(o))
            del open_[key]
    done.extend(_close(o) for o in open_.values())
    done.sort(key=lambda im: (im.time_ns, im.image_id, im.camera))
    return done


def columns_of(container: Any, layout: ImageSegments = NAVCAM) -> dict[str, Any]:
    """The layout's columns of a :class:`~falak.tm.decoder.ContainerResult` (engineering)."""
    names = [layout.image_id, layout.camera, layout.segment, layout.segments, layout.width]
    names += [layout.height, layout.data, layout.time]
    names += [
        n for n in (layout.exposure_ms, layout.x_m, layout.y_m, layout.heading_deg) if n is not None
    ]
    out: dict[str, Any] = {}
    for name in names:
        try:
            out[name] = container.column(name).eng
        except KeyError:
            continue
    return out


def write_images(
    images: Iterable[Image], out_dir: Path, layout: ImageSegments = NAVCAM
) -> dict[str, Any]:
    """Write each image as ``PREFIX-NNNNN-CAMERA.pgm`` and ``index.json`` in ``out_dir``.

    A second image of the same number and camera (after a reboot or wrap) gets ``-2``,
    ``-3``… An incomplete image is written too (missing bytes zero), its entry says which
    segments are missing. Returns the index.
    """
    from falak.utctime import format_ns

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    used: set[str] = set()
    for im in images:
        camera = "".join(ch if ch.isalnum() else "_" for ch in im.camera) or "CAM"
        stem = f"{layout.prefix}-{im.image_id:05d}-{camera}"
        name, k = f"{stem}.pgm", 1
        while name in used:
            k += 1
            name = f"{stem}-{k}.pgm"
        used.add(name)
        (out_dir / name).write_bytes(im.pgm())
        entries.append(
            {
                "file": name,
                "image_id": im.image_id,
                "camera": im.camera,
                "time": format_ns(im.time_ns),
                "width": im.width,
                "height": im.height,
                "exposure_ms": im.exposure_ms,
                "pose": im.pose,
                "segments": im.segments,
                "missing_segments": im.missing_segments,
                "complete": im.complete,
                "sha256": im.sha256,
            }
        )
    index = {"format": INDEX_FORMAT, "container": layout.container, "images": entries}
    (out_dir / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return index
