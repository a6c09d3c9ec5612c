"""Imaging opportunities as the orbiter's IMAGE_TAKE stack (falak.planning.orbiter.commands)."""

from __future__ import annotations

import math

import pytest

from falak.errors import InputError
from falak.planning.orbiter.commands import (
    HALF_FOV_DEG,
    exposure_ms_for,
    image_stack,
    plan_images,
    read_opportunities,
)
from falak.planning.orbiter.downlink import Contact
from falak.utctime import parse_ns

S = 1_000_000_000
OPPS = [
    # falak orbiter imaging --target=-89.9,0 --min-sun-elevation 0.5 --max-off-nadir 2.8 on
    # the running example's orbit (docs/orbiter.md), 2028-09-18
    {"start": "2028-09-18T11:59:54.6Z", "stop": "2028-09-18T12:00:05.5Z", "duration_s": 10.9,
     "min_off_nadir_deg": 0.13, "sun_elevation_deg": 1.27, "min_range_km": 200.1},
    {"start": "2028-09-18T23:59:52Z", "stop": "2028-09-19T00:00:03Z", "duration_s": 11.0,
     "min_off_nadir_deg": 4.0, "sun_elevation_deg": 1.3, "min_range_km": 200.6},
]  # fmt: skip


def test_half_field_and_exposure_follow_the_camera_model() -> None:
    # README: 512 px of 195.3 µrad, 5.73° field; 10 ms on albedo 0.15 under a zenith Sun: 200 DN
    from falak.sim.orbiter_instruments import FOV_DEG

    fov_deg = 2 * HALF_FOV_DEG
    assert fov_deg == pytest.approx(FOV_DEG, abs=1e-12)
    assert fov_deg == pytest.approx(5.73, abs=0.01)  # the README's, rounded
    assert exposure_ms_for(90.0, target_dn=200.0, albedo=0.15) == 10
    # polar albedo 0.12, Sun 2° high, 100 DN: 179 ms (the README's 100–300 ms at the pole)
    assert exposure_ms_for(2.0) == round(100 / (0.12 * math.sin(math.radians(2)) * 200 / 1.5))
    assert exposure_ms_for(2.0) == 179
    assert exposure_ms_for(0.1) == 500  # held to the MDB's limit
    assert exposure_ms_for(-1.0) == 500


def test_frames_are_centred_spaced_and_out_of_field_passes_left_out() -> None:
    plan = plan_images(read_opportunities(OPPS), images=3, spacing_s=10.0)
    mid = (parse_ns(OPPS[0]["start"]) + parse_ns(OPPS[0]["stop"])) // 2
    # 10.9 s holds two frames 10 s apart, centred on the middle
    assert [f.t_ns - mid for f in plan.frames] == [-5 * S, 5 * S]
    assert plan.skipped == (
        "opportunity 0 (2028-09-18T11:59:55Z): 1 of 3 frames do not fit in 10.9 s",
        "opportunity 1 (2028-09-18T23:59:52Z): the target passes 4.00° from nadir, outside "
        "the 2.86° half field of view",
    )
    with pytest.raises(InputError, match=r"spacing 5 s is below 8\.56 s"):
        plan_images(read_opportunities(OPPS), spacing_s=5.0)


def test_frames_out_of_contact_are_left_out_with_the_reason() -> None:
    c = [Contact(parse_ns("2028-09-18T12:00:00Z"), parse_ns("2028-09-18T13:00:00Z"))]
    plan = plan_images(read_opportunities(OPPS[:1]), contacts=c)  # the frame at 12:00:00.05
    assert plan.frames == ()
    assert plan.skipped[0].endswith(
        "no contact then, so the command would not be heard (the orbiter has no time-tagged "
        "commands)"
    )
    with pytest.raises(InputError, match="the imaging plan has no frame"):
        image_stack(plan)


def test_the_stack_loads_and_encodes_against_the_orbiter_mdb() -> None:
    from falak.commanding.stack import parse_stack
    from falak.mdb import load
    from falak.planning.stackdoc import stack_yaml
    from falak.sim.orbiter import MDB_PATH
    from falak.tc.encoder import CommandEncoder

    mdb = load(MDB_PATH)
    plan = plan_images(read_opportunities(OPPS))
    doc = image_stack(plan, spacecraft=mdb.root.name, light_time_s=1.28)
    stack = parse_stack(stack_yaml(doc), mdb, file="img.yaml")
    (step,) = stack.steps
    assert step.at_ns == plan.frames[0].t_ns - 1_280_000_000  # one light time early
    assert step.verify == "complete"
    assert stack.on_failure == "continue"
    assert dict(step.arguments) == {"EXPOSURE_MS": exposure_ms_for(1.27)}
    enc = CommandEncoder(mdb)
    assert enc.encode(step.command, dict(step.arguments))  # bytes the orbiter can decode
