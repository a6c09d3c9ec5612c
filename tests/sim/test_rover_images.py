"""Navcam images go down as NAVCAM_IMAGE segments and come back as files from the archive.

The rover model takes stereo pairs (keeping each image's truth, ``RoverModel.navcam_truth``);
their packets, encoded by the simulator runner's builder, are archived as ``falak serve``
archives a spacecraft's packets (with housekeeping in between); ``falak rover images``
rebuilds the PGM files and the index, which must equal the truth byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from falak.archive import open_archive
from falak.cli.app import app
from falak.sim.rover import create_model
from falak.sim.spacecraft import PacketBuilder
from falak.tm.images import NAVCAM, assemble
from falak.utctime import parse_ns

S = 1_000_000_000
EPOCH = 1_830_297_600 * S  # 2028-01-01T00:00:00Z


def _pgm_pixels(data: bytes) -> tuple[int, int, bytes]:
    magic, size, maxval, pixels = data.split(b"\n", 3)
    assert (magic, maxval) == (b"P5", b"255")
    w, h = (int(v) for v in size.split())
    return w, h, pixels


def test_images_are_rebuilt_from_the_archive_byte_for_byte(tmp_path: Path) -> None:
    model = create_model(EPOCH, seed=0, options={"contacts": "always", "dem_size": 64})
    builder = PacketBuilder(model.mdb)
    packets: list[bytes] = []
    t = EPOCH
    for heading in (0.0, 120.0, 240.0):  # three pairs, 10 s apart, housekeeping in between
        model.heading = model.est_heading = heading
        out = model.execute("NAVCAM_CAPTURE", {"EXPOSURE_MS": 20}, t)
        assert out.ok, out.message
        packets += [builder.build(p, p.time_ns) for p in out.packets]
        for _ in range(10):
            t += S
            packets += [builder.build(p, t) for p in model.step(t)]
    truth = model.navcam_truth
    assert len(truth) == 6
    archive = tmp_path / "archive"
    lens = np.array([len(p) for p in packets], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    with open_archive(archive, create=True, spacecraft="ROVER") as store:
        store.append_packets(b"".join(packets), offs, lens, recv_time_ns=np.int64(t), link="test")
    out_dir = tmp_path / "images"
    result = CliRunner().invoke(
        app,
        ["rover", "images", "--archive", str(archive), "--spacecraft", "ROVER", "--out",
         str(out_dir)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote 6 images to {out_dir} (0 incomplete)" in result.output
    index = json.loads((out_dir / "index.json").read_text())
    assert index["format"] == "falak-images/1"
    assert index["container"] == "NAVCAM_IMAGE"
    entries = {(e["image_id"], e["camera"]): e for e in index["images"]}
    assert set(entries) == set(truth)
    for key, want in truth.items():
        e = entries[key]
        w, h, pixels = _pgm_pixels((out_dir / e["file"]).read_bytes())
        assert (w, h) == (want.width, want.height) == (256, 192)
        assert pixels == want.pixels  # byte for byte
        assert e["sha256"] == hashlib.sha256(want.pixels).hexdigest()
        assert e["complete"] is True
        assert e["missing_segments"] == []
        assert e["segments"] == 24
        assert e["exposure_ms"] == 20
        # on-board time: CUC with 2 bytes of fraction (1/65536 s)
        assert abs(parse_ns(e["time"]) - want.time_ns) <= S // 65536 + 1
        x, y, heading = want.est_pose  # the MDB's 1 cm and 0.01 deg counts
        assert e["pose"]["x_m"] == pytest.approx(x, abs=0.0051)
        assert e["pose"]["y_m"] == pytest.approx(y, abs=0.0051)
        assert e["pose"]["heading_deg"] == pytest.approx(heading, abs=0.0051)
    assert len({e["sha256"] for e in entries.values()}) == 6  # six different images


def test_a_lost_segment_leaves_a_hole_of_zeros_and_is_listed() -> None:
    model = create_model(EPOCH, seed=0, options={"contacts": "always", "dem_size": 64})
    out = model.execute("NAVCAM_CAPTURE", {"EXPOSURE_MS": 20}, EPOCH)
    keep = [
        p for p in out.packets if (p.values["IMG_CAMERA"], p.values["IMG_SEGMENT"]) != ("RIGHT", 5)
    ]
    assert len(keep) == 47
    cols = {name: [p.values[name] for p in keep] for name in keep[0].values}
    cols["OBT"] = [p.time_ns for p in keep]
    images = {im.camera: im for im in assemble(cols, NAVCAM)}
    left, right = images["LEFT"], images["RIGHT"]
    assert left.complete
    assert left.pixels == model.navcam_truth[(1, "LEFT")].pixels
    assert right.missing_segments == [5]
    want = np.frombuffer(model.navcam_truth[(1, "RIGHT")].pixels, np.uint8).copy()
    want[5 * 2048 : 6 * 2048] = 0
    assert right.pixels == want.tobytes()
    # the same image number again (after a reboot) is a new image, not a mix of the two
    again = assemble({k: v + v for k, v in cols.items()}, NAVCAM)
    assert len(again) == 4


def test_the_albedo_texture_is_fixed_to_the_map_and_the_render_deterministic() -> None:
    """The texture is a function of the map point alone (same value whatever the query order),
    has its stated 1-sigma and bound, and the same scene renders the same bytes."""
    from falak.sim import rover_instruments as ri

    rng = np.random.default_rng(5)
    x, y = rng.uniform(-500.0, 500.0, (2, 50_000))
    t = ri.albedo_texture(x, y)
    assert np.std(t - 1.0) == pytest.approx(ri.TEXTURE_SIGMA, rel=0.1)
    assert np.abs(t - 1.0).max() <= ri.TEXTURE_AMPLITUDE
    order = rng.permutation(x.size)
    np.testing.assert_array_equal(ri.albedo_texture(x[order], y[order]), t[order])
    # octaves fade where a pixel covers them: at a 1 m footprint all (0.02-0.3 m) are gone
    assert np.std(ri.albedo_texture(x, y, 1.0) - 1.0) == 0.0
    model = create_model(EPOCH, seed=0, options={"contacts": "always", "dem_size": 64})
    args = (model.site, model.x, model.y, 90.0, 100.0, 1.5, 20)
    a = ri.render_navcam(*args, np.random.default_rng(1))
    b = ri.render_navcam(*args, np.random.default_rng(1))
    assert a.tobytes() == b.tobytes()
