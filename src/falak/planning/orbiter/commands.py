"""An imaging plan as the orbiter's camera stack: one ``IMAGE_TAKE`` per planned frame.

Input is the JSON of ``falak orbiter imaging --json``: a list of opportunities ``{"start",
"stop", "duration_s", "min_off_nadir_deg", "sun_elevation_deg", "min_range_km"}`` over one
surface target (UTC; angles in degrees). The ORBITER camera is body-fixed and the orbiter
points nadir (``falak/missions/orbiter/README.md``), so ``IMAGE_TAKE`` has one argument,
``EXPOSURE_MS`` (1–500 ms): *pointing is the orbit's*, and the planner's work is the time.

Frames
------
The target is in the 5.73° frame only when it is within :data:`HALF_FOV_DEG` of nadir, so an
opportunity whose ``min_off_nadir_deg`` is larger is left out (reason given; ask ``falak
orbiter imaging`` with ``--max-off-nadir 2.8`` for opportunities that are all in the frame).
Each kept opportunity gets ``images`` frames centred on its middle (where a straight pass is
closest to nadir) ``spacing_s`` apart, as many as fit inside it (at least the middle one). The
spacing is at least :data:`MIN_SPACING_S`: the camera reads out for 5 s and refuses
``IMAGE_TAKE`` meanwhile, and the stack waits for each frame's ``complete`` acknowledgement
(5 s + two light times) before releasing the next. A frame closer than that to the one
before is left out.

Exposure
--------
``EXPOSURE_MS = target_dn / (albedo · sin(sun_elevation) · DN_PER_MS)``, rounded and held to
1–500 ms: the simulator's detector (``DN = albedo · cos(incidence) · exposure_ms ·
DN_PER_MS``, :data:`DN_PER_MS` = 200 DN / (10 ms · 0.15), README "Instruments") over flat
ground lit at the opportunity's Sun elevation. With the defaults (100 DN, albedo 0.12 of the
polar terrain) a Sun 2° high gives 179 ms, the README's 100–300 ms for the south pole.
``exposure_ms`` given fixes it for every frame.

Times and contacts
------------------
The orbiter has no time-tagged commands: a command is heard only while a station sees the
orbiter. A frame's ``IMAGE_TAKE`` must reach the orbiter at the frame's time ``t``, so it is
released at ``t - light_time_s`` (``at:``, absolute UTC); with ``contacts`` (``falak orbiter
contacts --json``) a frame whose ``t`` is not inside a contact (``margin_s`` from its edges)
is left out with the reason. Without them nothing is checked and the description says so.

Each step waits for the MDB's last verifier stage, ``complete`` (windows 5 + 5 + 10 s), and
the stack's policy is ``continue`` by default: one lost frame does not hold the others. The
document is the YAML of :mod:`falak.commanding.stack`; this planner does not import
commanding (the caller checks it with ``parse_stack``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from falak.errors import InputError
from falak.planning.orbiter.downlink import Contact
from falak.planning.stackdoc import POLICIES
from falak.utctime import format_ns, parse_ns

__all__ = [
    "DN_PER_MS",
    "EXPOSURE_LIMITS_MS",
    "HALF_FOV_DEG",
    "MIN_SPACING_S",
    "Frame",
    "ImagePlan",
    "exposure_ms_for",
    "image_stack",
    "plan_images",
    "read_opportunities",
]

#: Half the camera's field of view, degrees: 512 pixels of 195.3 µrad (README "Instruments").
HALF_FOV_DEG = math.degrees(math.atan(256 * 0.1 / 512))
#: Detector response, DN per ms per unit of albedo · cos(incidence) (README: 10 ms, 0.15, 200 DN).
DN_PER_MS = 200.0 / (10.0 * 0.15)
#: ``EXPOSURE_MS`` range of the ORBITER MDB's ``ExposureArg``.
EXPOSURE_LIMITS_MS = (1, 500)
#: Camera read-out (5 s) + two light times + 1 s: the least time between two frames, s.
MIN_SPACING_S = 5.0 + 2 * 1.28 + 1.0
_NS = 1_000_000_000


@dataclass(frozen=True)
class Frame:
    """One planned image: when it is taken on board, its exposure, where it came from."""

    t_ns: int
    """When the command reaches the orbiter (the frame is taken), ns since 1970 UTC."""
    exposure_ms: int
    opportunity: int
    """Index of the opportunity in the input list."""
    sun_elevation_deg: float
    off_nadir_deg: float


@dataclass(frozen=True)
class ImagePlan:
    """Frames in time order, and the opportunities or frames left out with the reason."""

    frames: tuple[Frame, ...]
    skipped: tuple[str, ...]
    contacts_checked: bool


def read_opportunities(doc: Any, *, file: str = "imaging JSON") -> list[dict[str, Any]]:
    """Return the opportunities of ``falak orbiter imaging --json`` (a list of windows)."""
    items = doc.get("opportunities") if isinstance(doc, Mapping) else doc
    if not isinstance(items, list):
        raise InputError(
            f"{file}: expected the list printed by 'falak orbiter imaging --json' "
            '([{"start": ISO, "stop": ISO, "sun_elevation_deg": ..., ...}])'
        )
    out = []
    for i, o in enumerate(items):
        if not isinstance(o, Mapping) or "start" not in o or "stop" not in o:
            raise InputError(f"{file}: opportunity {i} has no 'start' and 'stop'")
        start = parse_ns(str(o["start"]), f"{file}: opportunity {i} start")
        stop = parse_ns(str(o["stop"]), f"{file}: opportunity {i} stop")
        if stop < start:
            raise InputError(f"{file}: opportunity {i} ends before it starts")
        out.append(
            {
                "start_ns": start,
                "stop_ns": stop,
                "sun_elevation_deg": float(o.get("sun_elevation_deg", 90.0)),
                "min_off_nadir_deg": float(o.get("min_off_nadir_deg", 0.0)),
            }
        )
    return out


def exposure_ms_for(
    sun_elevation_deg: float, *, target_dn: float = 100.0, albedo: float = 0.12
) -> int:
    """Return the exposure giving ``target_dn`` on flat ground at this Sun elevation, ms."""
    lo, hi = EXPOSURE_LIMITS_MS
    s = math.sin(math.radians(sun_elevation_deg))
    if s <= 0.0:
        return hi
    return int(min(hi, max(lo, round(target_dn / (albedo * s * DN_PER_MS)))))


def plan_images(
    opportunities: Sequence[Mapping[str, Any]],
    *,
    images: int = 1,
    spacing_s: float = 10.0,
    max_off_nadir_deg: float = HALF_FOV_DEG,
    exposure_ms: int | None = None,
    target_dn: float = 100.0,
    albedo: float = 0.12,
    contacts: Sequence[Contact] | None = None,
    margin_s: float = 2.0,
) -> ImagePlan:
    """Choose the frames of an imaging plan (see the module doc).

    Parameters
    ----------
    opportunities
        From :func:`read_opportunities`.
    images
        Frames per opportunity (≥ 1), centred on its middle, ``spacing_s`` apart.
    contacts
        Contact windows: frames outside them are left out (the command would not be heard).
    """
    if images < 1:
        raise InputError(f"images per opportunity must be at least 1, got {images}")
    if not spacing_s >= MIN_SPACING_S:
        raise InputError(
            f"spacing {spacing_s:g} s is below {MIN_SPACING_S:.2f} s (camera read-out 5 s + "
            "two light times + 1 s); give a larger spacing"
        )
    if (
        exposure_ms is not None
        and not EXPOSURE_LIMITS_MS[0] <= exposure_ms <= EXPOSURE_LIMITS_MS[1]
    ):
        raise InputError(f"exposure {exposure_ms} ms is outside the MDB's 1..500 ms")
    frames: list[Frame] = []
    skipped: list[str] = []
    step_ns = round(spacing_s * _NS)
    margin_ns = round(margin_s * _NS)
    for i, o in enumerate(sorted(opportunities, key=lambda o: int(o["start_ns"]))):
        start, stop = int(o["start_ns"]), int(o["stop_ns"])
        label = f"opportunity {i} ({format_ns(start, 0)})"
        off = float(o["min_off_nadir_deg"])
        if off > max_off_nadir_deg:
            skipped.append(
                f"{label}: the target passes {off:.2f}° from nadir, outside the "
                f"{max_off_nadir_deg:.2f}° half field of view"
            )
            continue
        fit = (stop - start) // step_ns + 1
        n = min(images, fit)
        if n < images:
            skipped.append(
                f"{label}: {images - n} of {images} frames do not fit in "
                f"{(stop - start) / _NS:.1f} s"
            )
        mid = (start + stop) // 2
        sun = float(o["sun_elevation_deg"])
        exp = (
            exposure_ms
            if exposure_ms is not None
            else exposure_ms_for(sun, target_dn=target_dn, albedo=albedo)
        )
        for k in range(n):
            t = mid + round((k - (n - 1) / 2) * step_ns)
            when = f"{label} frame {k + 1} at {format_ns(t, 0)}"
            if frames and t - frames[-1].t_ns < step_ns:
                skipped.append(f"{when}: within {spacing_s:g} s of the frame before")
                continue
            if contacts is not None and not any(
                c.start_ns + margin_ns <= t <= c.end_ns - margin_ns for c in contacts
            ):
                skipped.append(
                    f"{when}: no contact then, so the command would not be heard (the "
                    "orbiter has no time-tagged commands)"
                )
                continue
            frames.append(Frame(t, exp, i, sun, off))
    return ImagePlan(tuple(frames), tuple(skipped), contacts is not None)


def image_stack(
    plan: ImagePlan,
    *,
    name: str | None = None,
    spacecraft: str | None = None,
    policy: str = "continue",
    light_time_s: float = 1.28,
    target: str | None = None,
) -> dict[str, Any]:
    """Return the plan as a stack document: ``IMAGE_TAKE`` released ``light_time_s`` early.

    Raises
    ------
    InputError
        A bad policy, or a plan without frames.
    """
    if policy not in POLICIES:
        raise InputError(f"stack policy {policy!r} is not one of {', '.join(POLICIES)}")
    if not plan.frames:
        raise InputError(
            "the imaging plan has no frame: "
            + ("; ".join(plan.skipped[:3]) if plan.skipped else "no opportunity given")
        )
    lt_ns = round(light_time_s * _NS)
    steps = []
    for f in plan.frames:
        at = f.t_ns - lt_ns
        steps.append(
            {
                "command": "IMAGE_TAKE",
                "arguments": {"EXPOSURE_MS": f.exposure_ms},
                "at": format_ns(at, 0 if at % _NS == 0 else 3),
                "verify": "complete",
                "comment": (
                    f"opportunity {f.opportunity}: frame at {format_ns(f.t_ns, 3)} on board, "
                    f"Sun {f.sun_elevation_deg:.1f}° high, {f.off_nadir_deg:.2f}° off nadir"
                ),
            }
        )
    first = plan.frames[0].t_ns
    doc: dict[str, Any] = {
        "stack": name
        or "imaging-" + format_ns(first, 0)[:16].replace("-", "").replace(":", "").lower(),
    }
    if spacecraft is not None:
        doc["spacecraft"] = spacecraft
    what = f" of {target}" if target else ""
    doc["description"] = (
        f"{len(steps)} nadir frames{what} from {len(set(f.opportunity for f in plan.frames))} "
        f"opportunities; released {light_time_s:g} s (one light time) before each frame; "
        + ("every frame inside a contact" if plan.contacts_checked else "contacts NOT checked")
    )
    doc["on_failure"] = policy
    doc["steps"] = steps
    return doc
