"""The orbiter model in simulated time: orbit, eclipses, contacts, magnetometer, camera, files.

The model (:mod:`falak.sim.orbiter`) is stepped by hand, so nothing depends on the host
clock. References: falak's own flight dynamics (``falak.dynamics.lunar_orbit.propagate``,
``falak.dynamics.orbiter.eclipses`` and ``contacts``, the functions behind ``falak orbiter``),
skyfield for the Moon's elevation over a station, and the analytic field of a dipole.
"""

from __future__ import annotations

import math
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from falak.dynamics.lunar_orbit import elements_frame_to_icrf, elements_to_state, propagate
from falak.dynamics.orbiter import contacts, eclipses
from falak.dynamics.stations import get_station
from falak.errors import InputError
from falak.sim.model import CommandOutcome, TmPacket
from falak.sim.orbiter import (
    DEFAULT_ELEMENTS,
    OrbiterModel,
    create_model,
    reassemble_segments,
)
from falak.sim.orbiter_instruments import (
    IFOV_RAD,
    MAG_NOISE_NT,
    MAG_OFFSETS_NT,
    dipole_field_nt,
    read_mag_file,
    read_pgm,
)

S = 1_000_000_000
EPOCH_DT = datetime(2028, 9, 18, tzinfo=UTC)  # docs/orbiter.md's running example
EPOCH = 1_852_848_000 * S  # 2028-09-18T00:00:00Z


@pytest.fixture(scope="module")
def model() -> OrbiterModel:
    return create_model(EPOCH, seed=0, options={"mag_rate_hz": 0})


def _run(m: OrbiterModel, until_ns: int, step_s: float = 0.5) -> list[TmPacket]:
    out: list[TmPacket] = []
    t = m._t
    while t < until_ns:
        t = min(t + round(step_s * S), until_ns)
        out += m.step(t)
    return out


def _finish(m: OrbiterModel, outcome: CommandOutcome, until_ns: int) -> list[TmPacket]:
    """Step until the command's ``finish`` gives its end (as the runner asks after each step)."""
    assert outcome.ok, outcome.message
    out: list[TmPacket] = []
    t = m._t
    while outcome.finish is not None and outcome.finish(t) is None:
        assert t < until_ns, "the command did not end in time"
        t += S // 2
        out += m.step(t)
    return out


def test_orbit_is_falaks_propagation_across_chunks(model: OrbiterModel) -> None:
    # one 3-day propagation of the same elements (MOON_PA at the epoch) against the model's,
    # which restarts every two days from its last 60 s sample: the same integrator (rtol 1e-11)
    # restarted agrees to well under a metre; 10 m leaves room for the restart's step size.
    rot = elements_frame_to_icrf("MOON_PA", EPOCH_DT)
    r, v = elements_to_state(*DEFAULT_ELEMENTS)
    ref = propagate(EPOCH_DT, rot @ r, rot @ v, 3 * 86400.0, 60.0)
    t_s = np.array([0.0, 3600.0, 86400.0, 2 * 86400.0, 2 * 86400.0 + 7200.0, 3 * 86400.0])
    times = EPOCH + (t_s * S).astype(np.int64)
    got, _ = model.track.state(times)
    want = ref.r_km[np.searchsorted(ref.t_s, t_s)]
    assert np.max(np.linalg.norm(got - want, axis=1)) < 0.010  # km
    # the default orbit: at perilune over the south pole at the epoch (docs/orbiter.md), the
    # rounded elements' a (1 - e) = 1937.313 km: 199.913 km above the 1737.4 km sphere
    lat, _, alt = model.subpoint(EPOCH)
    assert alt == pytest.approx(6142.4 * (1 - 0.6846) - 1737.4, abs=1e-6)
    assert lat < -89.0


def test_sunlight_follows_falak_orbiter_eclipses(model: OrbiterModel) -> None:
    windows = eclipses(model.track.traj, EPOCH_DT, EPOCH_DT + timedelta(days=1))
    assert len(windows) == 2  # one per 12 h revolution (docs/orbiter.md, section 3)
    for w in windows:
        start = EPOCH + round((w.start - EPOCH_DT).total_seconds() * S)
        stop = EPOCH + round((w.stop - EPOCH_DT).total_seconds() * S)
        u0 = datetime.fromisoformat(w.fields["umbra_start"])
        u1 = datetime.fromisoformat(w.fields["umbra_stop"])
        mid = EPOCH + round(((u0 - EPOCH_DT) + (u1 - u0) / 2).total_seconds() * S)
        frac = model.track.sun_fraction(np.array([start - S, mid, stop + S]))
        # the model's fraction is the same conical-shadow computation: full Sun 1 s outside
        # the penumbra, none in mid-umbra
        assert frac[0] == 1.0
        assert frac[2] == 1.0
        assert frac[1] == 0.0


def test_power_in_eclipse_comes_from_the_battery() -> None:
    m = create_model(EPOCH, seed=0, options={"mag_rate_hz": 0, "contacts": "always"})
    w = eclipses(m.track.traj, EPOCH_DT, EPOCH_DT + timedelta(hours=12))[0]
    u0 = datetime.fromisoformat(w.fields["umbra_start"])
    t_umbra = EPOCH + round((u0 - EPOCH_DT).total_seconds() * S) + 60 * S
    soc_before = None
    packets = []
    t = EPOCH
    while t < t_umbra + 600 * S:
        t += 30 * S
        packets += m.step(t)
        if soc_before is None and t >= t_umbra:
            soc_before = m.soc
    assert m.solar_w == 0.0
    assert soc_before is not None
    assert m.soc < soc_before
    power = [p for p in packets if p.container == "POWER" and p.time_ns and p.time_ns > t_umbra]
    assert power
    assert all(p.values["PWR_BATT_I_A"] < 0 for p in power)


def test_contacts_are_falak_orbiter_contacts_while_the_moon_is_up(model: OrbiterModel) -> None:
    from skyfield.api import wgs84

    from falak.dynamics.moonframes import ephemeris, timescale

    stations = [get_station("Karachi"), get_station("Islamabad")]
    day = (EPOCH_DT, EPOCH_DT + timedelta(days=1))
    ref = contacts(model.track.traj, stations, *day)
    got = model.contact_windows(EPOCH, EPOCH + 86400 * S)
    assert got
    # each model window is the union of the overlapping station windows, to the nanosecond
    for w in got:
        inside = [
            c
            for c in ref
            if w.start_ns <= EPOCH + round((c.start - EPOCH_DT).total_seconds() * S) < w.stop_ns
        ]
        assert inside
        first = min(c.start for c in inside)
        last = max(c.stop for c in inside)
        assert abs(w.start_ns - (EPOCH + round((first - EPOCH_DT).total_seconds() * S))) < 1000
        assert abs(w.stop_ns - (EPOCH + round((last - EPOCH_DT).total_seconds() * S))) < 1000
        # one-way light time: Earth-Moon 356,400-406,700 km +- the 10,400 km apolune radius
        assert 1.15 < w.light_time_s < 1.40
    # the Moon's centre is above the station's 10 deg limit, less the orbiter's 1.6 deg
    # offset from it (10,400 km at 356,000 km), in the middle of every station's contact
    ts, eph = timescale(), ephemeris()
    for c in ref:
        st = next(s for s in stations if s.name == c.fields["station"])
        mid = c.start + (c.stop - c.start) / 2
        topo = eph["earth"] + wgs84.latlon(st.lat_deg, st.lon_deg, st.height_m)
        alt, _, _ = topo.at(ts.from_datetime(mid)).observe(eph["moon"]).apparent().altaz()
        assert alt.degrees > st.min_elevation_deg - 1.6, (c.fields["station"], mid)


def test_dipole_field_matches_the_analytic_formula() -> None:
    # Griffiths, Introduction to Electrodynamics (4th ed.) eq. 5.89 / Jackson 3rd ed. eq. 5.56:
    # B = mu0 m / (4 pi r^3) (2 cos(theta) r_hat + sin(theta) theta_hat); mu0/4pi = 1e-7 T m/A.
    # m = 1e14 A m^2 along z, r = 100 km: mu0 m / (4 pi r^3) = 1e-7 * 1e14 / 1e15 T = 10 nT.
    m = np.array([[0.0, 0.0, 1e14]])
    c = np.zeros((1, 3))
    on_axis = dipole_field_nt(m, c, np.array([[0.0, 0.0, 100.0]]))[0]
    np.testing.assert_allclose(on_axis, [0.0, 0.0, 20.0], atol=1e-12)
    equator = dipole_field_nt(m, c, np.array([[100.0, 0.0, 0.0]]))[0]
    np.testing.assert_allclose(equator, [0.0, 0.0, -10.0], atol=1e-12)
    th = math.radians(30.0)
    at = 100.0 * np.array([[math.sin(th), 0.0, math.cos(th)]])
    b = dipole_field_nt(m, c, at)[0]
    r_hat = at[0] / 100.0
    theta_hat = np.array([math.cos(th), 0.0, -math.sin(th)])
    np.testing.assert_allclose(b @ r_hat, 20.0 * math.cos(th), rtol=1e-12)
    np.testing.assert_allclose(b @ theta_hat, 10.0 * math.sin(th), rtol=1e-12)
    # and the 1/r^3 fall-off: twice as far, an eighth
    far = dipole_field_nt(m, c, np.array([[0.0, 0.0, 200.0]]))[0]
    np.testing.assert_allclose(far, on_axis / 8, rtol=1e-12)


def test_magnetometer_file_calibrated_matches_the_truth_within_the_noise() -> None:
    m = create_model(EPOCH, seed=3, options={"mag_rate_hz": 16, "contacts": "always"})
    _run(m, EPOCH + 600 * S, step_s=2.0)  # ten minutes round the perilune at 16 Hz
    outcome = m.execute("MAG_FILE_CLOSE", {}, EPOCH + 600 * S)
    assert outcome.ok
    f = next(f for f in m.store.files.values() if f.kind == "MAGNETOMETER")
    assert f.name == f"MAG_{f.file_id:06d}.bin"
    rate, times, raw = read_mag_file(f.data)
    assert rate == 16.0
    assert len(times) == 600 * 16 + 1  # samples on the 1/16 s grid from 0 to 600 s
    np.testing.assert_array_equal(np.diff(times), S // 16)
    _, truth = m.field_body_nt(times)
    assert np.median(np.linalg.norm(truth, axis=1)) > 5 * MAG_NOISE_NT  # a field to see
    resid = m.mag.calibrate(raw) - truth
    # white noise of 0.1 nT per axis (scaled by 1/scale ~ 0.5 %), 1 pT quantisation: the
    # sample standard deviation of 9601 samples is within 5 % of it, the mean within 5 sigma
    np.testing.assert_allclose(resid.std(axis=0), MAG_NOISE_NT, rtol=0.05)
    assert np.all(np.abs(resid.mean(axis=0)) < 5 * MAG_NOISE_NT / math.sqrt(len(times)))
    # without the calibration the offsets stand out (the test could fail)
    raw_err = (raw - truth).mean(axis=0)
    np.testing.assert_allclose(raw_err, MAG_OFFSETS_NT, atol=0.05)


def _time_with_sun(m: OrbiterModel, want_day: bool) -> int:
    for k in range(0, 43200, 60):
        t = EPOCH + k * S
        el = m.subpoint_sun_elevation_deg(t)
        if (el > 45.0) if want_day else (el < -45.0):
            return t
    raise AssertionError("no such time in the first revolution")


def test_image_take_stores_a_pgm_lit_only_on_the_day_side(model: OrbiterModel) -> None:
    day = _time_with_sun(model, True)
    night = _time_with_sun(model, False)
    images: dict[str, Any] = {}
    for label, t in sorted({"day": day, "night": night}.items(), key=lambda kv: kv[1]):
        model.step(t)  # a jump: no packets for a gap (the model's catch-up rule)
        outcome = model.execute("IMAGE_TAKE", {"EXPOSURE_MS": 10}, t)
        assert outcome.ok, outcome.message
        rec = next(p for p in outcome.packets if p.container == "CAMERA_IMAGE")
        fid = rec.values["IMG_FILE_ID"]
        f = model.store.files[fid]
        assert (f.name, f.kind) == (f"IMG_{fid:06d}.pgm", "IMAGE")
        images[label] = (read_pgm(f.data), model.image_truth[fid], rec)
    for label, (img, truth, rec) in images.items():
        assert img.shape == (512, 512)
        lit = img > 8  # 8 DN: eight times the 1 DN read noise
        el = truth["sun_elevation_deg"]
        # the global relief's slopes are a few degrees: nothing is lit with the Sun more than
        # 20 degrees below the sphere's horizon
        assert not np.any(lit & (el < -20.0)), label
        if label == "night":
            assert not np.any(lit)
        else:
            assert np.mean(lit[el > 20.0]) > 0.95
        # the record says where it looked: the pixel scale is the range times the IFOV
        assert rec.values["IMG_PIXEL_SCALE_M"] == pytest.approx(
            truth["centre_range_km"] * 1000.0 * IFOV_RAD, rel=1e-9
        )
        assert rec.values["IMG_LIT_PCT"] == pytest.approx(100.0 * np.mean(lit))


def test_image_at_perilune_sees_the_south_pole_at_39_m_per_pixel() -> None:
    m = create_model(EPOCH, seed=0, options={"mag_rate_hz": 0, "contacts": "always"})
    outcome = m.execute("IMAGE_TAKE", {"EXPOSURE_MS": 200}, EPOCH)
    rec = next(p for p in outcome.packets if p.container == "CAMERA_IMAGE")
    truth = m.image_truth[rec.values["IMG_FILE_ID"]]
    # 199.9 km (the perilune) x 195.3 urad = 39.04 m; the jitter tilts it by < 1e-6
    assert rec.values["IMG_PIXEL_SCALE_M"] == pytest.approx(199_913 * 0.1 / 512, rel=1e-4)
    assert truth["in_polar_dem"].all()  # the frame is inside the synthetic south-pole DEM
    img = read_pgm(m.store.files[rec.values["IMG_FILE_ID"]].data)
    # the Sun skims the pole: some slopes lit, many in shadow
    assert 0.01 < np.mean(img > 8) < 0.99


@pytest.mark.slow  # three full renders
def test_file_store_fills_and_overwrites_the_oldest_with_an_event() -> None:
    m = create_model(
        EPOCH, seed=0, options={"mag_rate_hz": 0, "recorder_mib": 0.6, "polar_terrain": False}
    )
    t0 = EPOCH + 3 * 3600 * S
    m.step(t0)
    packets: list[TmPacket] = []
    fill: list[float] = []
    for k in range(3):
        t = t0 + k * 10 * S
        packets += _run(m, t)
        out = m.execute("IMAGE_TAKE", {"EXPOSURE_MS": 10}, t)
        assert out.ok, out.message
        packets += _run(m, t + 5 * S)
        fill.append(m.store.fill_percent)
    # 262,159 bytes per image in 629,146 bytes: two fit, the third overwrites the first
    assert fill[0] < fill[1]
    assert m.store.overwritten == 1
    assert sorted(m.store.files) == [2, 3]
    events = [p.values["EVENT_MESSAGE"] for p in packets if p.container == "EVENT"]
    assert (
        "file store full: file 1 IMG_000001.pgm (262159 bytes, never sent) overwritten by "
        "IMG_000003.pgm" in events
    )
    hk = [p.values for p in packets if p.container == "ORBITER_HK"]
    assert hk[-1]["FS_OVERWRITTEN"] == 1
    assert hk[-1]["FS_FILES"] == 2
    assert hk[-1]["FS_OLDEST_ID"] == 2
    assert hk[-1]["FS_NEWEST_ID"] == 3
    assert max(h["FS_FILL_PCT"] for h in hk) == pytest.approx(100 * 2 * 262159 / 629146)


def test_file_dump_sends_segments_that_reassemble_byte_identical() -> None:
    opts = {"mag_rate_hz": 0, "contacts": "always", "polar_terrain": False}
    m = create_model(EPOCH, seed=0, options={**opts, "file_downlink": "segments"})
    t = EPOCH + 3 * 3600 * S
    m.step(t)
    assert m.execute("IMAGE_TAKE", {"EXPOSURE_MS": 10}, t).ok
    f = m.store.files[1]
    dump = m.execute("FILE_DUMP", {"FILE_ID": 1}, t + S)
    packets = _finish(m, dump, t + 60 * S)
    end = dump.finish(m._t) if dump.finish else None
    assert end is not None
    assert end.ok
    seg = [p.values for p in packets if p.container == "FILE_SEGMENT"]
    assert len(seg) == math.ceil(f.size / 1024)
    assert reassemble_segments(seg) == {1: f.data}
    fin = next(p.values for p in packets if p.container == "FILE_END")
    assert (fin["END_FILE_SIZE"], fin["END_CRC32"], fin["END_NAME"]) == (
        f.size,
        zlib.crc32(f.data),
        "IMG_000001.pgm",
    )
    # 128 kbit/s of packet bytes: 262,159 bytes and 257 packets' headers take about 17 s
    span = (packets[-1].time_ns or 0) - (t + S)
    assert 15 * S < span < 20 * S
    assert m.store.files[1].state == "SENT"
    missing = m.execute("FILE_DUMP", {"FILE_ID": 99}, m._t)
    assert (missing.ok, missing.reason, missing.message) == (
        False,
        "NO_SUCH_FILE",
        "no file 99 in the store",
    )


def test_a_transfer_pauses_out_of_contact_and_goes_on_at_the_next() -> None:
    opts = {"mag_rate_hz": 0, "polar_terrain": False, "file_downlink": "segments"}
    m = create_model(EPOCH, seed=0, options=opts)
    w = m.contact_windows(EPOCH, EPOCH + 86400 * S)
    first, second = w[0], w[1]
    t = first.stop_ns - 5 * S  # five seconds before the end of a contact
    m.step(t - 10 * S)
    assert m.execute("IMAGE_TAKE", {"EXPOSURE_MS": 10}, t - 10 * S).ok
    dump = m.execute("FILE_DUMP", {"FILE_ID": 1}, t)
    packets = _run(m, first.stop_ns + 60 * S, step_s=1.0)
    sent = [p for p in packets if p.container == "FILE_SEGMENT"]
    assert sent
    assert all((p.time_ns or 0) < first.stop_ns for p in sent)
    assert dump.finish is not None
    assert dump.finish(m._t) is None
    m.step(second.start_ns - S)
    packets = _run(m, second.start_ns + 30 * S, step_s=1.0)
    packets += _finish(m, dump, second.start_ns + 120 * S)
    rest = [p for p in packets if p.container == "FILE_SEGMENT"]
    assert rest
    assert all((p.time_ns or 0) >= second.start_ns for p in rest)
    f = m.store.files[1]
    assert reassemble_segments([p.values for p in sent + rest]) == {1: f.data}


def test_cfdp_class_2_brings_an_image_down_whole_through_5_percent_loss() -> None:
    # the ground is falak's own CFDP entity (tests/cfdp checks it against cfdp-py); the link
    # loses 5 % of the packets each way and delays them by the 1.3 s light time
    from falak.cfdp import Entity, LossyLink, ReceivedFile, wrap

    opts = {
        "mag_rate_hz": 0,
        "contacts": "always",
        "polar_terrain": False,
        "file_downlink": "cfdp",
        "cfdp_timers": {"ack_interval_s": 5, "nak_interval_s": 5},
    }
    m = create_model(EPOCH, seed=0, options=opts)
    t = EPOCH + 3 * 3600 * S
    m.step(t)
    assert m.execute("IMAGE_TAKE", {"EXPOSURE_MS": 10}, t).ok
    f = m.store.files[1]
    clock = [t / S]
    received: list[ReceivedFile] = []
    seq = [0]

    def to_orbiter(pdu: bytes) -> None:
        seq[0] += 1
        up.send(wrap(pdu, 611, seq[0], packet_type=1))

    ground = Entity(1, to_orbiter, now=lambda: clock[0], on_received=received.append)
    down = LossyLink(ground.receive, lambda: clock[0], loss=0.05, delay_s=1.3, seed=2)

    def up_deliver(pkt: bytes) -> None:
        m.take_uplink_packet(pkt, round(clock[0] * S))

    up = LossyLink(up_deliver, lambda: clock[0], loss=0.05, delay_s=1.3, seed=3)
    dump = m.execute("FILE_DUMP", {"FILE_ID": 1}, t + S)
    assert dump.finish is not None
    tt = t + S
    lost_pdus = 0

    def step() -> None:
        nonlocal tt, lost_pdus
        tt += S // 2
        clock[0] = tt / S
        for p in m.step(tt):
            if p.container == "CFDP_PDU_DOWN":
                down.send(bytes(p.values["CFDP_PDU"]))
        ground.tick()
        down.poll()
        up.poll()

    while dump.finish(tt) is None:
        assert tt < t + 600 * S, "the transfer did not end in 10 minutes"
        step()
    end = dump.finish(tt)
    assert end is not None
    assert end.ok, end.message
    (rf,) = received
    assert rf.complete
    assert rf.name == "IMG_000001.pgm"
    assert rf.data == f.data  # byte-identical to what the simulator wrote
    status = m.sender.entity.transactions()[0]  # type: ignore[attr-defined]
    assert status.retransmitted_bytes > 0  # the NAKs were needed: the loss was real
    assert m.store.files[1].state == "SENT"
    # and a file up: the ground puts a camera table, the orbiter stores it
    ground.put(2, b"exposure_ms: 20\n", "camera_table.yaml", cls=2)
    for _ in range(240):
        step()
        if any(x.name == "camera_table.yaml" for x in m.store.files.values()):
            break
    table = next(x for x in m.store.files.values() if x.name == "camera_table.yaml")
    assert (table.kind, table.data) == ("OTHER", b"exposure_ms: 20\n")


def test_recorder_dump_delete_abort_and_list() -> None:
    opts = {
        "mag_rate_hz": 16,
        "contacts": "always",
        "downlink_kbps": 8,
        "file_downlink": "segments",
    }
    m = create_model(EPOCH, seed=0, options=opts)
    t = EPOCH
    for _ in range(3):  # three magnetometer files of 10 s (161 samples, 3232 bytes each)
        t += 10 * S
        m.step(t)
        assert m.execute("MAG_FILE_CLOSE", {}, t).ok
    files = [f for f in m.store.files.values() if f.kind == "MAGNETOMETER"]
    assert [f.size for f in files] == [16 + 20 * 161, 16 + 20 * 160, 16 + 20 * 160]
    listing = m.execute("FILE_LIST", {}, t)
    entries = [p.values for p in listing.packets if p.container == "FILE_DIRECTORY"]
    assert [(e["DIR_FILE_ID"], e["DIR_INDEX"], e["DIR_COUNT"]) for e in entries] == [
        (f.file_id, i, 3) for i, f in enumerate(files)
    ]
    assert m.execute("RECORDER_DUMP", {}, t).ok
    assert [d.file_id for d in m.queue] == [f.file_id for f in files]  # oldest first
    m.step(t + S // 2)  # the first file starts going down
    assert m.sending is not None
    busy = m.execute("FILE_DELETE", {"FILE_ID": m.sending.file_id}, t + S // 2)
    assert (busy.ok, busy.reason) == (False, "NOT_ALLOWED_IN_STATE")
    dump = m.execute("FILE_DUMP", {"FILE_ID": files[2].file_id}, t + S // 2)
    assert m.execute("FILE_DUMP_ABORT", {}, t + S).ok
    assert dump.finish is not None
    end = dump.finish(t + S)
    assert end is not None
    assert (end.ok, end.message) == (False, "aborted by FILE_DUMP_ABORT")
    gone = m.execute("FILE_DELETE", {"FILE_ID": files[0].file_id}, t + S)
    assert gone.ok
    assert files[0].file_id not in m.store.files
    assert [p.values["DIR_STATE"] for p in gone.packets] == ["DELETED"]


def test_an_oem_is_flown_as_given_and_propagated_on_past_its_end(tmp_path: Any) -> None:
    from falak.dynamics.oem import write_oem
    from falak.dynamics.orbiter import trajectory_to_oem

    rot = elements_frame_to_icrf("MOON_PA", EPOCH_DT)
    r, v = elements_to_state(6142.4, 0.6846, 90.0, 0.0, 270.0, 90.0)  # another phase
    tr = propagate(EPOCH_DT, rot @ r, rot @ v, 6 * 3600.0, 60.0)
    path = tmp_path / "orbit.oem"
    write_oem(path, trajectory_to_oem(tr))
    start = EPOCH + 3600 * S  # the simulator may start inside the OEM's span
    m = create_model(start, seed=0, options={"oem": str(path), "mag_rate_hz": 0})
    got, _ = m.track.state(start)
    np.testing.assert_allclose(got[0], tr.r_km[60], atol=1e-6)  # the OEM's state (1 mm print)
    later, _ = m.track.state(EPOCH + 8 * 3600 * S)  # two hours past the OEM's end
    assert 1737.4 < float(np.linalg.norm(later[0])) < 6142.4 * (1 + 0.6846) + 50
    with pytest.raises(InputError) as err:
        create_model(EPOCH + 7 * 3600 * S, options={"oem": str(path)})
    assert str(err.value) == (
        "the simulator's epoch 2028-09-18T07:00:00+00:00 is outside the OEM's span "
        "(2028-09-18T00:00:00+00:00 + 21600 s); give an --epoch inside it"
    )


def test_an_aborted_cfdp_transfer_stays_stopped_across_contacts() -> None:
    opts = {"mag_rate_hz": 16, "contacts": "always", "downlink_kbps": 8}  # CFDP, the default
    m = create_model(EPOCH, seed=0, options=opts)
    t = EPOCH + 10 * S
    m.step(t)
    assert m.execute("MAG_FILE_CLOSE", {}, t).ok
    assert m.execute("RECORDER_DUMP", {}, t).ok
    sent = [p for p in _run(m, t + 2 * S) if p.container == "CFDP_PDU_DOWN"]
    assert sent  # Metadata and the first File Data PDUs
    assert m.execute("FILE_DUMP_ABORT", {}, t + 2 * S).ok
    m.sender.pause()  # type: ignore[attr-defined]  # a contact ends ...
    m.sender.resume()  # type: ignore[attr-defined]  # ... and the next begins
    after = [p for p in _run(m, t + 20 * S) if p.container == "CFDP_PDU_DOWN"]
    assert after == []


def test_images_reach_the_grounds_archive_by_cfdp_through_5_percent_loss(tmp_path: Any) -> None:
    # the ground is the server's FileService (falak.server.files) with its archive: what the
    # acceptance test of issue 15 asks of the demo, here in simulated time without sockets
    from falak.archive import open_archive
    from falak.cfdp import LossyLink, wrap
    from falak.links.tc import TcUplink
    from falak.server.config import CfdpConfig
    from falak.server.files import FileService

    opts = {"mag_rate_hz": 0, "contacts": "always", "polar_terrain": False}
    m = create_model(EPOCH, seed=0, options=opts)
    t = EPOCH + 3 * 3600 * S
    m.step(t)
    for k in range(2):  # two images, 10 s apart
        assert m.execute("IMAGE_TAKE", {"EXPOSURE_MS": 10}, t + k * 10 * S).ok
        m.step(t + k * 10 * S + 5 * S)
    t += 20 * S

    class Clock:
        speed = 1.0
        now = t

        def now_ns(self) -> int:
            return self.now

        def host_seconds(self, s: float) -> float:
            return s

    clock = Clock()

    class Uplink(TcUplink):
        def __init__(self) -> None:
            super().__init__("uplink")

        @property
        def url(self) -> str:
            return "test://uplink"

        def send(self, data: bytes) -> int:
            up.send(data)
            return 0

        def _transmit(self, data: bytes) -> None:  # pragma: no cover - send() is overridden
            raise AssertionError

        def _close(self) -> None:
            pass

    ground = FileService("ORBITER", CfdpConfig(), open_archive(tmp_path / "a"), Uplink(), clock)
    secs = lambda: clock.now / S  # noqa: E731
    down = LossyLink(
        lambda pkt: ground.on_packets([pkt], np.array([clock.now])), secs, loss=0.05, delay_s=1.3
    )

    def to_orbiter(pkt: bytes) -> None:
        m.take_uplink_packet(pkt, clock.now)

    up = LossyLink(to_orbiter, secs, loss=0.05, delay_s=1.3, seed=1)
    assert m.execute("RECORDER_DUMP", {}, t).ok
    seq = 0
    deadline = t + 900 * S
    while len(ground.archive.list_files()) < 2:
        assert clock.now < deadline, ground.transactions()
        clock.now += S // 2
        for p in m.step(clock.now):
            if p.container == "CFDP_PDU_DOWN":
                seq += 1
                down.send(wrap(bytes(p.values["CFDP_PDU"]), 610, seq))
        ground.tick()
        down.poll()
        up.poll()
    for f in ground.archive.list_files():
        meta, data = ground.archive.read_file(f.id)
        assert meta.complete
        mine = next(x for x in m.store.files.values() if x.name == meta.name)
        assert data == mine.data  # byte-identical to what the simulator wrote
    assert down.dropped > 0  # loss happened and was repaired
