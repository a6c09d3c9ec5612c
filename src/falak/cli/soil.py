"""``falak science soil``: the rover's archived X-ray spectra → oxide abundances (PDS4 + PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from falak.science.soil import Calibration, SoilResult

_ROVER_MDB = Path(__file__).resolve().parents[1] / "missions" / "rover" / "mdb.yaml"
_CONTAINER = "SPECTRUM_RESULT"


def preflight_calibration() -> Calibration:
    """The calibration of the rover simulator's spectrometer on its target (4 h, seed 0)."""
    import numpy as np

    from falak.science.soil import calibrate
    from falak.sim.rover_instruments import CALIBRATION_TARGET_WT_PCT, simulate_spectrum

    live = 4 * 3600.0
    sp = simulate_spectrum(CALIBRATION_TARGET_WT_PCT, live, np.random.default_rng(0), geometry=1.0)
    return calibrate(sp.counts, live, CALIBRATION_TARGET_WT_PCT)


def _quicklook(path: Path, r: SoilResult, title: str, truth: NDArray[np.float64] | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from falak.science.soil import ELEMENTS, OXIDES, line_table

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    e = r.energy_kev
    ax.step(e, np.maximum(r.counts, 0.5), where="mid", color="0.4", lw=0.8, label="counts")
    fitted = r.model > 0  # the fitted range
    ax.plot(e[fitted], r.model[fitted], color="C3", lw=1.0, label="fit")
    ax.plot(e[fitted], r.background[fitted], color="C0", lw=0.8, ls="--", label="continuum")
    ax.set_yscale("log")
    ax.set_xlim(0.8, 7.8)
    ax.set_ylim(max(0.5, float(r.background[fitted].min()) / 5), float(r.counts.max()) * 3)
    ax.set_xlabel("energy (keV)")
    ax.set_ylabel("counts per channel")
    for ln in line_table():
        if ln.name == "Ka1":
            ax.axvline(ln.energy_kev, color="C2", lw=0.4, alpha=0.6)
            ax.text(ln.energy_kev, float(r.counts.max()) * 1.5, ELEMENTS[ln.element],
                    ha="center", fontsize=8)  # fmt: skip
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title, fontsize=10)
    x = np.arange(len(OXIDES))
    bx.bar(x - 0.2, r.wt_pct, 0.4, yerr=2 * r.sigma_wt_pct, capsize=2, label="measured (±2σ)")
    if truth is not None:
        bx.bar(x + 0.2, truth, 0.4, color="0.7", label="site truth")
    bx.set_xticks(x, OXIDES, rotation=60, fontsize=8)
    bx.set_yscale("log")
    bx.set_ylabel("wt% (normalised to 100)")
    bx.legend(fontsize=8)
    bx.set_title("oxide abundances", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def soil_command(
    archive: Annotated[
        str,
        typer.Option(
            "--archive",
            help="Archive: a directory (embedded SQLite) or postgresql://user@host:port/db.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for the products.")],
    spacecraft: Annotated[
        str | None,
        typer.Option("--spacecraft", help="The rover's part of the archive (ROVER)."),
    ] = None,
    mdb_path: Annotated[
        Path, typer.Option("--mdb", help="The rover's mission database (default: falak's ROVER).")
    ] = _ROVER_MDB,
    calibration_path: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            help="Sensitivity factors (JSON, falak-soil-calibration/1). Default: the "
            "simulator's spectrometer measured on its Luna 20 calibration target for 4 h.",
        ),
    ] = None,
    truth_seed: Annotated[
        int | None,
        typer.Option(
            "--truth-seed",
            help="Simulator seed of the site (with --site-option as falak sim rover): the "
            "quick-looks then show the simulator's true composition at each position.",
        ),
    ] = None,
    site_option: Annotated[
        list[str] | None, typer.Option("--site-option", help="K=V site option of the simulator.")
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="From this UTC time (ISO).")] = None,
    stop: Annotated[str | None, typer.Option("--stop", help="Before this UTC time (ISO).")] = None,
) -> None:
    """Analyse every archived soil spectrum (SPECTRUM_RESULT.SPEC_COUNTS) for oxide wt%.

    Writes soil-oxides.csv + soil-oxides.xml (PDS4 table: per measurement its on-board time
    (UTC), estimated position x, y (m, the DEM's projection), integration (s), Na2O ... FeO
    and their 1-sigma (wt%, normalised to 100), the sum before normalisation (wt%), gain
    (eV/channel), offset (eV) and reduced chi-square) and soil-NNN.png quick-looks (spectrum
    with the fit and labelled lines, oxides with 2-sigma bars). Method: docs/science.md.
    """
    import numpy as np

    from falak.archive import open_archive
    from falak.cli.rover import _apid_of
    from falak.errors import FalakError
    from falak.mdb import load
    from falak.science.pds4 import write_table
    from falak.science.soil import OXIDES, Calibration, SoilError, analyse
    from falak.tm.decoder import Decoder
    from falak.utctime import parse_ns

    try:
        start_ns = parse_ns(start, "--start") if start else None
        stop_ns = parse_ns(stop, "--stop") if stop else None
        cal = (
            Calibration.from_json(calibration_path.read_text())
            if calibration_path is not None
            else preflight_calibration()
        )
        truth_map: Any = None
        if truth_seed is not None:
            from falak.sim.rover import build_site
            from falak.sim.rover_instruments import CompositionMap

            opts: dict[str, Any] = {}
            for kv in site_option or []:
                k, _, v = kv.partition("=")
                opts[k] = int(v) if v.lstrip("-").isdigit() else v
            truth_map = CompositionMap.build(build_site(opts, truth_seed), truth_seed)
        mdb = load(mdb_path)
        apid = _apid_of(mdb, _CONTAINER)
        decoder = Decoder(mdb)
        rows: dict[str, list[Any]] = {}
        names = ("OBT", "SPEC_INTEGRATION_S", "SPEC_EST_X_M", "SPEC_EST_Y_M", "SPEC_COUNTS")
        with open_archive(archive, create=False, spacecraft=spacecraft) as store:
            for batch in store.read_packets(
                start_ns, stop_ns, apids=None if apid is None else [apid], batch_size=2000
            ):
                result = decoder.decode(batch.data, batch.offsets, batch.lengths)
                try:
                    c = result.container(_CONTAINER)
                except KeyError:
                    continue
                for name in names:
                    rows.setdefault(name, []).extend(list(c.column(name).eng))
        if not rows:
            raise SoilError(f"no {_CONTAINER} packets in {archive}: did the rover SPEC_MEASURE?")
        out.mkdir(parents=True, exist_ok=True)
        results = []
        for i, counts in enumerate(rows["SPEC_COUNTS"]):
            live = float(rows["SPEC_INTEGRATION_S"][i])
            r = analyse(np.asarray(counts, dtype=np.float64), live, cal)
            x, y = float(rows["SPEC_EST_X_M"][i]), float(rows["SPEC_EST_Y_M"][i])
            truth = None
            if truth_map is not None:
                t = truth_map.spectrum_truth_wt_pct(x, y)
                truth = t / t.sum() * 100.0
            title = f"soil {i + 1}: x={x:.1f} m, y={y:.1f} m, {live:.0f} s"
            _quicklook(out / f"soil-{i + 1:03d}.png", r, title, truth)
            results.append(r)
        times = np.array(rows["OBT"], dtype="datetime64[ns]")
        cols: dict[str, Any] = {
            "time_utc": (times, None, "on-board time of the result (end of the integration)"),
            "x_m": (np.array(rows["SPEC_EST_X_M"], float), "m", "estimated position x"),
            "y_m": (np.array(rows["SPEC_EST_Y_M"], float), "m", "estimated position y"),
            "integration_s": (np.array(rows["SPEC_INTEGRATION_S"], float), "s", "live time"),
        }
        for j, ox in enumerate(OXIDES):
            cols[f"{ox}_wt_pct"] = (np.array([r.wt_pct[j] for r in results]), "%", f"{ox}")
            cols[f"{ox}_sigma_wt_pct"] = (
                np.array([r.sigma_wt_pct[j] for r in results]), "%", f"1-sigma of {ox}"
            )  # fmt: skip
        cols["sum_before_normalisation_wt_pct"] = (
            np.array([r.sum_before_normalisation_wt_pct for r in results]), "%",
            "oxide sum before normalising to 100 (100 x the geometry factor)",
        )  # fmt: skip
        cols["gain_ev_per_ch"] = (np.array([r.gain_ev_per_ch for r in results]), "eV", "gain")
        cols["offset_ev"] = (np.array([r.offset_ev for r in results]), "eV", "offset")
        cols["chi2_per_dof"] = (np.array([r.chi2_per_dof for r in results]), None, "fit quality")
        t_ns = times.astype(np.int64)
        csv_path, _ = write_table(
            out / "soil-oxides",
            cols,
            title="Rover soil oxide abundances (APXS-like X-ray spectrometer)",
            lid="urn:falak:rover:soil:oxides",
            start=int(t_ns.min()),
            stop=int(t_ns.max()),
            mission="falak ROVER",
            instrument="SPECTROMETER",
            target="Moon",
            host=spacecraft or "ROVER",
            description="oxide wt% normalised to 100 with 1-sigma (falak.science.soil)",
        )
    except (FalakError, OSError, ValueError) as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"analysed {len(results)} spectra: {csv_path} and {len(results)} quick-looks")
