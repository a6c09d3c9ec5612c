"""``falak science``: science products from the archive (issue 17), one command per pipeline.

Each command reads archived parameters (``falak.archive``), runs a ``falak.science`` pipeline
on the arrays and writes PDS4 products (data file + XML label) and a PNG quick-look to
``--out``. Add a pipeline with ``science_app.command("NAME")(function)`` in :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

science_app = typer.Typer(
    help="Science products from the archive, as PDS4 products (CSV or binary data with its XML "
    "label, PDS4 IM 1.16) and PNG quick-looks.",
    no_args_is_help=True,
)

ArchiveOpt = Annotated[
    str,
    typer.Option(
        "--archive", help="Archive: a directory (embedded SQLite) or postgresql://user@host/db."
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Directory for the products.")]
StartOpt = Annotated[
    str | None, typer.Option("--start", help="From this UTC time (ISO 8601), samples' time.")
]
StopOpt = Annotated[str | None, typer.Option("--stop", help="Before this UTC time (ISO 8601).")]

_SPE_GUARD_NS = 24 * 3600 * 1_000_000_000
_ROVER = ("DOSI_DOSE_RATE_UGY_H", "DOSI_COUNTS", "DOSI_INTEGRATION_S")
_STATION = (
    "DOSI_DOSE_RATE_UGY_H",
    "DOSI_INTEGRATION_S",
    "DOSI_LET_BINS",
    "STN_LAT_DEG",
    "STN_LON_DEG",
    "STN_IN_SAA",
)


def _read(store: Any, names: tuple[str, ...], start_ns: Any, stop_ns: Any) -> dict[str, Any]:
    from rich.progress import Progress

    out = {}
    with Progress(transient=True) as progress:
        task = progress.add_task("reading the archive", total=len(names))
        for name in names:
            out[name] = store.read_parameter(name, start_ns, stop_ns)
            progress.advance(task)
    return out


def radiation_command(
    archive: ArchiveOpt,
    spacecraft: Annotated[
        str,
        typer.Option(
            "--spacecraft",
            help="ROVER (the LND-like surface dosimeter) or TIANGONG (the station's LET "
            "dosimeter); also the spacecraft's part of the archive.",
        ),
    ],
    out: OutOpt,
    start: StartOpt = None,
    stop: StopOpt = None,
    root: Annotated[
        bool,
        typer.Option("--root", help="Read the archive's root, not its per-spacecraft part."),
    ] = False,
) -> None:
    """Dose products: absorbed dose rate (µGy/h, silicon and water), dose equivalent, SPEs.

    Writes to --out: SC-dose-rate.csv + .xml (PDS4 Table_Delimited: time UTC; dose rate in
    silicon and in water, µGy/h; its 1σ; dose-equivalent rate, µSv/h; cumulative dose in
    silicon, µGy), SC-dose-rate.png (quick-look) and, for TIANGONG, SC-dose-map.dat + .xml
    (PDS4 Array_2D, mean µGy/h on a 5° latitude × longitude grid, the SAA visible). Water
    dose = 1.197 × silicon dose; the rover's dose equivalent uses the Chang'e-4 LND's 4.32
    Sv/Gy(Si), the station's ICRP 60 Q(L) over its LET spectrum (docs/science.md).
    """
    from falak.archive import open_archive
    from falak.errors import FalakError, InputError
    from falak.utctime import parse_ns

    sc = spacecraft.upper()
    try:
        if sc not in ("ROVER", "TIANGONG"):
            raise InputError(f"--spacecraft {spacecraft!r}: give ROVER or TIANGONG")
        start_ns = parse_ns(start, "--start") if start else None
        stop_ns = parse_ns(stop, "--stop") if stop else None
        with open_archive(archive, create=False, spacecraft=None if root else sc) as store:
            series = _read(store, _ROVER if sc == "ROVER" else _STATION, start_ns, stop_ns)
        if series["DOSI_DOSE_RATE_UGY_H"].time_ns.size < 2:
            raise InputError(
                f"the archive has fewer than 2 dosimeter records of {sc} in that range; "
                "check --archive, --spacecraft and --start/--stop"
            )
        out.mkdir(parents=True, exist_ok=True)
        lines = (_rover if sc == "ROVER" else _station)(series, out, sc)
    except (FalakError, OSError) as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)


def _times(t_ns: Any) -> tuple[int, int]:
    return int(t_ns[0]), int(t_ns[-1])


def _rover(series: dict[str, Any], out: Path, sc: str) -> list[str]:
    import numpy as np

    from falak.science import radiation as rad
    from falak.science.pds4 import write_table

    t = series["DOSI_DOSE_RATE_UGY_H"].time_ns
    rate = np.asarray(series["DOSI_DOSE_RATE_UGY_H"].eng, dtype=np.float64)
    counts = np.asarray(series["DOSI_COUNTS"].eng, dtype=np.float64)
    dt = np.asarray(series["DOSI_INTEGRATION_S"].eng, dtype=np.float64)
    sigma = rate / np.sqrt(np.maximum(counts, 1.0))
    events = rad.detect_spes(t, rate, sigma)
    quiet = np.ones(t.size, dtype=bool)
    for e in events:
        # the event's decay goes on under the end threshold (baseline + 3 sigma of one
        # record): leave a day after its end out of the quiet-time mean as well
        quiet &= ~((t >= e.onset_ns) & (t <= e.end_ns + _SPE_GUARD_NS))
    n_q = int(quiet.sum())
    mean = float(rate[quiet].mean()) if n_q else float("nan")
    err = float(np.sqrt(np.sum(sigma[quiet] ** 2)) / n_q) if n_q else float("nan")
    cum = rad.cumulative_dose_ugy(t, rate, dt)
    h = rate * rad.LND_SV_PER_GY_SI
    a, b = _times(t)
    csv, xml = write_table(
        out / f"{sc.lower()}-dose-rate",
        {
            "time_utc": (t.astype("datetime64[ns]"), None, "Record end time, UTC"),
            "dose_rate_si": (rate, "uGy/h", "Absorbed dose rate in silicon"),
            "dose_rate_si_sigma": (sigma, "uGy/h", "Poisson 1-sigma of the silicon rate"),
            "dose_rate_water": (
                rad.water_from_silicon(rate),
                "uGy/h",
                "Absorbed dose rate in water (1.197 x silicon)",
            ),
            "dose_equivalent_rate": (h, "uSv/h", "Dose equivalent rate (LND 4.32 Sv/Gy(Si))"),
            "cumulative_dose_si": (cum, "uGy", "Absorbed dose in silicon since the first record"),
            "spe": (~quiet, None, "In a detected solar particle event or the day after it"),
        },
        title=f"{sc} surface dose rate",
        lid=f"urn:falak:{sc.lower()}:radiation:dose_rate",
        start=a,
        stop=b,
        mission=f"Falak {sc}",
        instrument="Dosimeter",
        target="Moon",
        host=sc,
    )
    png = out / f"{sc.lower()}-dose-rate.png"
    _rover_png(png, t, rate, quiet, events, sc)
    lines = [
        f"wrote {csv}, {xml} and {png}",
        f"{t.size} records, {len(events)} solar particle event(s)",
        f"quiet-time mean dose rate (silicon): {mean:.3f} ± {err:.3f} µGy/h over {n_q} records "
        f"vs Chang'e-4 LND {rad.LND_DOSE_RATE_SI_UGY_PER_H} ± "
        f"{rad.LND_DOSE_RATE_SIGMA_UGY_PER_H:.0f} µGy/h "
        f"({'within' if abs(mean - 13.2) <= 1.0 else 'outside'} the LND's ±1)",
        f"cumulative dose (silicon): {cum[-1]:.1f} µGy",
    ]
    lines += [
        f"SPE onset {_iso(e.onset_ns)}, peak {e.peak_dose_rate_ugy_per_h:.0f} µGy/h at "
        f"{_iso(e.peak_ns)}, end {_iso(e.end_ns)}{'' if e.ended else ' (ongoing)'}, "
        f"{e.excess_dose_ugy:.0f} µGy above the baseline"
        for e in events
    ]
    return lines


def _iso(t_ns: int) -> str:
    from falak.utctime import format_ns

    return format_ns(t_ns, 0)


def _rover_png(png: Path, t: Any, rate: Any, quiet: Any, events: Any, sc: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    days = (t - t[0]) / 86400e9
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    ax.axhspan(12.2, 14.2, color="tab:green", alpha=0.25, label="Chang'e-4 LND 13.2 ± 1 µGy/h")
    ax.plot(days, rate, lw=0.5, color="0.3", label="measured (60 s records)")
    if quiet.any():
        n = max(1, round(3600e9 / float(np.median(np.diff(t)))))
        k = np.ones(n) / n
        smooth = np.convolve(rate, k, mode="same") / np.convolve(np.ones(rate.size), k, "same")
        ax.plot(days, smooth, color="tab:blue", lw=1.2, label="1 h running mean")
    for e in events:
        a, b = (e.onset_ns - t[0]) / 86400e9, (e.end_ns + _SPE_GUARD_NS - t[0]) / 86400e9
        ax.axvspan(a, b, color="tab:red", alpha=0.15)
    ax.set_yscale("log" if events else "linear")
    ax.set_xlabel(f"days since {_iso(int(t[0]))}")
    ax.set_ylabel("absorbed dose rate in silicon (µGy/h)")
    ax.set_title(f"{sc} surface dosimeter: dose rate vs Chang'e-4 LND (red: solar particle events)")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(png, dpi=120)
    plt.close(fig)


def _station(series: dict[str, Any], out: Path, sc: str) -> list[str]:
    import numpy as np

    from falak.science import radiation as rad
    from falak.science.pds4 import write_array, write_table

    d = series["DOSI_DOSE_RATE_UGY_H"]
    t = d.time_ns
    rate = np.asarray(d.eng, dtype=np.float64)
    keep = rate > 0  # STANDBY/OFF records carry 0
    t, rate = t[keep], rate[keep]
    dt = np.asarray(series["DOSI_INTEGRATION_S"].eng, dtype=np.float64)[keep]
    let = np.asarray(series["DOSI_LET_BINS"].eng, dtype=np.float64).reshape(keep.size, -1)[keep]
    edges = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)  # MDB DOSI_LET_BINS
    q = rad.let_spectrum_dose(let, edges, area_cm2=6.9, integration_s=dt).mean_quality_factor
    q = np.where(np.isfinite(q), q, 1.0)
    water = rad.water_from_silicon(rate)
    h = water * q
    ts = series["STN_LAT_DEG"].time_ns
    lat = np.interp(t, ts, np.asarray(series["STN_LAT_DEG"].eng, dtype=np.float64))
    lon_raw = np.unwrap(np.radians(np.asarray(series["STN_LON_DEG"].eng, dtype=np.float64)))
    lon = (np.degrees(np.interp(t, ts, lon_raw)) + 180.0) % 360.0 - 180.0
    flag_eng = series["STN_IN_SAA"].eng
    flag = np.array([str(v).upper() in ("YES", "TRUE", "1") for v in flag_eng], dtype=float)
    in_saa = np.interp(t, series["STN_IN_SAA"].time_ns, flag) > 0.5
    passes = rad.saa_passes(t, rate, lat, lon, in_saa)
    orbits = rad.orbit_averages(t, rate, lat)
    cum = rad.cumulative_dose_ugy(t, rate, dt)
    a, b = _times(t)
    meta: dict[str, Any] = {"start": a, "stop": b, "mission": f"Falak {sc}", "target": "Earth",
                            "instrument": "Radiation dosimeter", "host": sc}  # fmt: skip
    csv, xml = write_table(
        out / f"{sc.lower()}-dose-rate",
        {
            "time_utc": (t.astype("datetime64[ns]"), None, "Record time, UTC"),
            "latitude": (lat, "deg", "Geodetic latitude of the sub-station point"),
            "longitude": (lon, "deg", "Longitude of the sub-station point, east positive"),
            "dose_rate_si": (rate, "uGy/h", "Absorbed dose rate in silicon"),
            "dose_rate_water": (water, "uGy/h", "Absorbed dose rate in water (1.197 x Si)"),
            "quality_factor": (q, None, "Mean ICRP 60 Q over the record's LET spectrum"),
            "dose_equivalent_rate": (h, "uSv/h", "Dose equivalent rate (water dose x Q)"),
            "cumulative_dose_si": (cum, "uGy", "Absorbed dose in silicon since the first record"),
            "in_saa": (in_saa, None, "Inside the South Atlantic Anomaly (on-board flag)"),
        },
        title=f"{sc} dose rate", lid=f"urn:falak:{sc.lower()}:radiation:dose_rate", **meta,
    )  # fmt: skip
    grid, _, _ = rad.dose_map(lat, lon, rate, cell_deg=5.0)
    dat, mxml = write_array(
        out / f"{sc.lower()}-dose-map", grid, unit="uGy/h", axes=("latitude", "longitude"),
        title=f"{sc} dose rate map", lid=f"urn:falak:{sc.lower()}:radiation:dose_map",
        description="Mean silicon dose rate in 5 deg cells, 90S..90N x 180W..180E, NaN empty.",
        **meta,
    )  # fmt: skip
    png = out / f"{sc.lower()}-dose-rate.png"
    _station_png(png, t, rate, lat, lon, orbits, passes, sc)
    hours = (b - a) / 3600e9
    mean = float(cum[-1] / hours) if hours > 0 else float("nan")
    orbit_mean = (
        f"{np.mean(orbits.mean_dose_rate_ugy_per_h):.2f} µGy/h over "
        f"{orbits.mean_dose_rate_ugy_per_h.size} whole orbits"
        if orbits.mean_dose_rate_ugy_per_h.size
        else "no whole orbit in the range"
    )
    saa_dose = sum(p.dose_ugy for p in passes)
    return [
        f"wrote {csv}, {xml}, {dat}, {mxml} and {png}",
        f"{t.size} records, {len(passes)} SAA passes ({saa_dose:.1f} µGy of "
        f"{cum[-1]:.1f} µGy in silicon)",
        f"mean dose rate (silicon): {mean:.2f} µGy/h; orbit-averaged {orbit_mean}; "
        f"{mean * 24:.0f} µGy/day",
        f"mean dose-equivalent rate: {float(np.mean(h)):.2f} µSv/h "
        f"(lunar surface, Chang'e-4 LND: {rad.LND_DOSE_RATE_SI_UGY_PER_H} µGy/h in silicon)",
    ]


def _station_png(
    png: Path, t: Any, rate: Any, lat: Any, lon: Any, orbits: Any, passes: Any, sc: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 8), layout="constrained")
    order = np.argsort(rate)
    sc_plot = ax1.scatter(lon[order], lat[order], c=rate[order], s=4, cmap="inferno",
                          norm=matplotlib.colors.LogNorm(vmin=max(float(rate.min()), 0.1),
                                                         vmax=float(rate.max())))  # fmt: skip
    fig.colorbar(sc_plot, ax=ax1, label="absorbed dose rate in silicon (µGy/h)")
    for p in passes:
        ax1.plot(p.peak_lon_deg, p.peak_lat_deg, "c+", ms=6)
    ax1.set_xlim(-180, 180)
    ax1.set_ylim(-90, 90)
    ax1.set_xlabel("longitude (°E)")
    ax1.set_ylabel("latitude (°N)")
    ax1.set_title(f"{sc} dosimeter along the orbit: the South Atlantic Anomaly (+: pass peaks)")
    ax1.grid(alpha=0.3)
    hours = (t - t[0]) / 3600e9
    ax2.plot(hours, rate, lw=0.6, color="0.3", label="10 s records")
    if orbits.start_ns.size:
        ax2.hlines(orbits.mean_dose_rate_ugy_per_h, (orbits.start_ns - t[0]) / 3600e9,
                   (orbits.stop_ns - t[0]) / 3600e9, color="tab:blue", lw=2,
                   label="orbit average (ascending node to ascending node)")  # fmt: skip
    ax2.set_yscale("log")
    ax2.set_xlabel(f"hours since {_iso(int(t[0]))}")
    ax2.set_ylabel("dose rate in silicon (µGy/h)")
    ax2.set_title("dose rate and its orbit average")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.savefig(png, dpi=120)
    plt.close(fig)


def register(app: typer.Typer) -> None:
    """Add the ``science`` group to the ``falak`` command."""
    from falak.cli.science_images import images_command
    from falak.cli.science_mapping import mapping_command
    from falak.cli.soil import soil_command

    science_app.command("dose")(radiation_command)
    # The name of the first release; the issue and the docs call the pipeline "dose".
    science_app.command("radiation", hidden=True)(radiation_command)
    science_app.command("soil")(soil_command)
    science_app.command("mapping")(mapping_command)
    science_app.command("images")(images_command)
    app.add_typer(science_app, name="science")
