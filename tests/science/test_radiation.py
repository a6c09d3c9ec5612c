"""falak.science.radiation against reference values (sources named per test)."""

from __future__ import annotations

import numpy as np
import pytest

from falak.errors import InputError
from falak.science import radiation as rad

S = 1_000_000_000


def test_dose_from_one_let_bin_is_the_references_example() -> None:
    # REFERENCES.md "Radiation": 1e6 cm^-2 at L = 10 keV/um in water -> 1.602e-2 Gy
    # (D = 1.602e-9 * Phi * L, rho = 1 g/cm^3); tolerance: the 4th digit of 1.602
    assert rad.dose_from_let_gy(1e6, 10.0) == pytest.approx(1.602e-2, rel=2e-4)
    # in silicon (2.33 g/cm^3) the same energy loss per length is a smaller dose per mass
    assert rad.dose_from_let_gy(1e6, 10.0, 2.33) == pytest.approx(1.602e-2 / 2.33, rel=2e-4)


def test_quality_factor_matches_icrp60_at_its_tabulated_points() -> None:
    # ICRP Publication 60 (1991) Table 4: Q = 1 (L < 10), 0.32 L - 2.2 (10..100), 300/sqrt(L)
    let = [0.5, 9.99, 10.0, 50.0, 100.0, 400.0, 900.0]
    want = [1.0, 1.0, 1.0, 13.8, 29.8, 15.0, 10.0]
    assert rad.quality_factor_icrp60(let) == pytest.approx(want, abs=1e-9)
    with pytest.raises(InputError, match="LET must be >= 0"):
        rad.quality_factor_icrp60([-1.0])


def test_let_spectrum_dose_and_dose_equivalent() -> None:
    # one record, 1e6 particles/cm^2 in the 3.16..31.6 bin (centre 10 keV/um) over 1 h
    edges = [1.0, 3.1622776601683795, 31.622776601683793, 316.22776601683796]
    out = rad.let_spectrum_dose([[0, 1e6, 0]], edges, area_cm2=1.0, integration_s=3600.0)
    assert out.dose_rate_water_ugy_per_h[0] == pytest.approx(1.602e4, rel=2e-4)  # 1.602e-2 Gy/h
    assert out.mean_quality_factor[0] == pytest.approx(1.0)  # Q(10) = 1.0 (ICRP 60)
    hi = rad.let_spectrum_dose([0, 0, 1e4], edges, area_cm2=1.0, integration_s=3600.0)
    assert hi.mean_quality_factor[0] == pytest.approx(0.32 * 100 - 2.2)  # centre 100 keV/um


def test_silicon_to_water_factor_is_the_pdg_stopping_power_ratio() -> None:
    # PDG "Atomic and nuclear properties of materials": <dE/dx>min 1.992 (water), 1.664 (Si)
    assert pytest.approx(1.197, abs=5e-4) == rad.SI_TO_WATER
    assert rad.water_from_silicon(13.2)[()] == pytest.approx(15.80, abs=0.01)
    # Zhang et al. 2020 (LND): 1369 uSv/day from 13.2 uGy/h in silicon
    assert pytest.approx(1369.0) == rad.LND_SV_PER_GY_SI * 13.2 * 24


def test_counts_and_cumulative_dose() -> None:
    rate, sigma = rad.counts_to_dose_rate([180, 0], 60.0, 13.2 / 3600 / 3)
    assert rate[0] == pytest.approx(13.2)  # 3 counts/s of 13.2/3/3600 uGy each
    assert sigma[0] == pytest.approx(13.2 / np.sqrt(180))
    assert sigma[1] > 0  # a zero-count record still has an error bar
    t = np.arange(0, 25) * 3600 * S
    cum = rad.cumulative_dose_ugy(t, np.full(25, 10.0))
    assert cum[-1] == pytest.approx(240.0)  # 10 uGy/h for 24 h
    tiled = rad.cumulative_dose_ugy(t, np.full(25, 10.0), integration_s=3600.0)
    assert tiled[-1] == pytest.approx(250.0)
    gap = np.delete(t, np.s_[5:15])
    assert rad.cumulative_dose_ugy(gap, np.full(gap.size, 10.0))[-1] == pytest.approx(130.0)


def _surface(days: float, onsets_s: list[float], peak: float, seed: int):
    rng = np.random.default_rng(seed)
    t = np.arange(0, int(days * 86400), 60) * S
    spe = np.zeros(t.size)
    for on in onsets_s:
        tt = t / 1e9 - on
        spe += np.where(
            tt < 0, 0.0, np.where(tt < 3600, peak * tt / 3600, peak * np.exp(-(tt - 3600) / 21600))
        )
    per = 13.2 / 3600 / 3
    counts = rng.poisson((13.2 + spe) / 3600 * 60 / per)
    rate, sigma = rad.counts_to_dose_rate(counts, 60.0, per)
    return t, rate, sigma


def test_spe_detection_finds_known_onsets_and_nothing_in_quiet_data() -> None:
    onsets = [5 * 86400.0, 15 * 86400.0 + 1234.0]
    t, rate, sigma = _surface(30, onsets, 200.0, seed=1)
    events = rad.detect_spes(t, rate, sigma)
    assert len(events) == 2
    for ev, on in zip(events, onsets, strict=True):
        # 5 sigma (~5 uGy/h) of a 200 uGy/h/h linear rise is reached in ~90 s, plus the
        # 3-sample persistence: onset within 5 records of the truth
        assert 0 <= ev.onset_ns / S - on <= 300
        assert abs(ev.peak_ns / S - on - 3600) <= 900  # the peak at the end of the 1 h rise
        assert ev.baseline_ugy_per_h == pytest.approx(13.2, abs=0.5)
        assert ev.ended
        # excess dose: 200 * 0.5 h (rise) + 200 * 6 h (decay) = 1300 uGy, minus the tail
        # below the end threshold; within 5 %
        assert ev.excess_dose_ugy == pytest.approx(1300.0, rel=0.05)
    quiet_t, quiet, quiet_sigma = _surface(30, [], 0.0, seed=2)
    assert rad.detect_spes(quiet_t, quiet, quiet_sigma) == []


def test_saa_passes_orbit_averages_and_map() -> None:
    # a synthetic 90 min circular orbit at 42 deg inclination with a dose bump in the SAA
    t = np.arange(0, 86400, 10) * S
    phase = 2 * np.pi * (t / S) / 5400.0
    lat = np.degrees(np.arcsin(np.sin(np.radians(42)) * np.sin(phase)))
    lon = ((t / S) / 5400.0 * 360.0 * -0.0625 + np.degrees(phase)) % 360 - 180
    bump = 300 * np.exp(-0.5 * (((lat + 27) / 9) ** 2 + ((lon + 50) / 22) ** 2))
    rate = 2.0 + bump
    flag = bump > 20.0
    passes = rad.saa_passes(t, rate, lat, lon, flag)
    assert len(passes) == int(np.sum(np.diff(flag.astype(int)) == 1) + flag[0])
    assert all(p.peak_dose_rate_ugy_per_h > 20 for p in passes)
    by_rate = rad.saa_passes(t, rate, lat, lon, threshold_ugy_per_h=22.0)  # 2 + 20
    assert len(by_rate) == len(passes)
    for a, b in zip(by_rate, passes, strict=True):  # one 10 s sample of rounding either way
        assert abs(a.start_ns - b.start_ns) <= 10 * S
        assert abs(a.stop_ns - b.stop_ns) <= 10 * S
    orbits = rad.orbit_averages(t, rate, lat)
    # 16 revolutions; t = 0 is on the equator (not a crossing), so cuts at 1..15 rev: 14 whole
    assert orbits.mean_dose_rate_ugy_per_h.size == 14
    assert np.all((orbits.stop_ns - orbits.start_ns) / S == pytest.approx(5400, abs=10))
    grid, lat_e, lon_e = rad.dose_map(lat, lon, rate, cell_deg=10)
    assert grid.shape == (18, 36)
    saa = grid[np.searchsorted(lat_e, -27) - 1, np.searchsorted(lon_e, -50) - 1]
    assert saa > 100
    assert np.nanmin(grid) == pytest.approx(2.0, abs=0.5)


def test_a_30_day_record_of_the_simulators_dosimeter_recovers_13_2() -> None:
    # issue 17 acceptance, on the rover simulator's instrument model (falak.sim.rover_
    # instruments.Dosimeter: 13.2 uGy/h GCR, Zhang et al. 2020) for 30 days of 60 s records
    from falak.sim.rover_instruments import DOSE_PER_COUNT_UGY, Dosimeter

    d = Dosimeter(np.random.default_rng(7), 0)
    ends = np.arange(1, 30 * 1440 + 1) * 60 * S
    recs = [d.record(int(e) - 60 * S, int(e)) for e in ends]
    counts = np.array([c for c, _ in recs])
    rate, sigma = rad.counts_to_dose_rate(counts, 60.0, DOSE_PER_COUNT_UGY)
    assert rad.detect_spes(ends, rate, sigma) == []  # no SPE was drawn (update() not called)
    err = float(np.sqrt(np.sum(sigma**2)) / rate.size)
    assert err == pytest.approx(13.2 / np.sqrt(180 * 43200), rel=0.02)  # ~0.0047 uGy/h
    assert abs(rate.mean() - 13.2) < 3 * err
