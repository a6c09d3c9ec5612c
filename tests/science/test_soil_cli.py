"""``falak science soil`` on spectra the rover simulator measured and the archive holds.

The rover model measures three spots (SPEC_MEASURE, 1 h each: its spectrometer draws
APXS-like spectra, falak.sim.rover_instruments); the packets are archived as falak serve
archives them; the command analyses each archived spectrum and must recover the simulator's
own truth (the site's composition, a mixture of Lunar Sourcebook Table 7.15 soils: Apollo 16
average, Luna 20, Apollo 11 10002; REFERENCES.md "Soil analysis") within 3 sigma, with a PDS4
label that pds4-tools reads back.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from falak.archive import open_archive
from falak.cli.soil import soil_command
from falak.science.soil import OXIDES
from falak.sim.rover import create_model
from falak.sim.spacecraft import PacketBuilder

S = 1_000_000_000
EPOCH = 1_830_297_600 * S  # 2028-01-01T00:00:00Z


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("soil")(soil_command)
    app.command("other")(lambda: None)  # a group, as `falak science` is
    return app


def test_archived_spectra_become_an_oxide_table_and_quicklooks(tmp_path: Path) -> None:
    opts = {"contacts": "always", "dem_size": 64}
    model = create_model(EPOCH, seed=3, options=opts)
    builder = PacketBuilder(model.mdb)
    packets: list[bytes] = []
    t = EPOCH
    spots = [(0.0, 0.0), (20.0, -15.0), (-25.0, 10.0)]
    for x, y in spots:
        model.x, model.y = model.est_x, model.est_y = x, y
        out = model.execute("SPEC_MEASURE", {"INTEGRATION_S": 3600}, t)
        assert out.ok, out.message
        packets += [builder.build(p, p.time_ns or t) for p in out.packets]
        t += 3601 * S
        packets += [builder.build(p, p.time_ns or t) for p in model.step(t)]
    assert len(model.spec_truth) == 3
    archive = tmp_path / "archive"
    lens = np.array([len(p) for p in packets], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    with open_archive(archive, create=True, spacecraft="ROVER") as store:
        store.append_packets(
            b"".join(packets),
            offs,
            lens,
            recv_time_ns=np.full(len(packets), t, dtype=np.int64),
            link="test",
        )
    out_dir = tmp_path / "soil"
    result = CliRunner().invoke(
        _app(),
        ["soil", "--archive", str(archive), "--spacecraft", "ROVER", "--out", str(out_dir),
         "--truth-seed", "3", "--site-option", "dem_size=64"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "analysed 3 spectra" in result.output
    rows = list(csv.DictReader((out_dir / "soil-oxides.csv").read_text().splitlines()))
    assert len(rows) == 3
    for row, truth, (x, y) in zip(rows, model.spec_truth, spots, strict=True):
        assert float(row["x_m"]) == pytest.approx(x, abs=0.01)
        assert float(row["y_m"]) == pytest.approx(y, abs=0.01)
        want = truth.wt_pct / truth.wt_pct.sum() * 100
        got = sum(float(row[f"{o}_wt_pct"]) for o in OXIDES)
        assert got == pytest.approx(100.0, abs=0.01)
        for o in ("FeO", "TiO2", "Al2O3", "SiO2"):
            err = abs(float(row[f"{o}_wt_pct"]) - want[OXIDES.index(o)])
            assert err < 3 * float(row[f"{o}_sigma_wt_pct"]), (o, err)
        assert float(row["sum_before_normalisation_wt_pct"]) == pytest.approx(
            100 * truth.geometry, rel=0.03
        )
    for i in (1, 2, 3):
        png = (out_dir / f"soil-{i:03d}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from pds4_tools import pds4_read  # type: ignore[import-untyped]

    struct = pds4_read(str(out_dir / "soil-oxides.xml"), quiet=True)[-1]
    assert len(struct.data) == 3
    np.testing.assert_allclose(
        np.asarray(struct.data["FeO_wt_pct"], float), [float(r["FeO_wt_pct"]) for r in rows]
    )


def test_an_archive_without_spectra_says_so(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    with open_archive(archive, create=True, spacecraft="ROVER"):
        pass
    result = CliRunner().invoke(
        _app(), ["soil", "--archive", str(archive), "--spacecraft", "ROVER", "--out",
                 str(tmp_path / "o")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no SPECTRUM_RESULT packets" in result.output
