"""``GET /clock`` and ``GET /spacecraft/{sc}/timeline``: the run clock, and items from real
plan files (made by the CLI), the CSS orbit (passes, relay contacts, eclipses) and stacks."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from falak.dynamics.datarelay import load_relays, relay_windows
from falak.dynamics.passes import find_passes
from falak.dynamics.stations import load_stations
from falak.dynamics.tle import read_tle_file
from falak.planning.campaign.orbit_env import eclipse_intervals
from falak.server import Runtime, create_app, load_config
from falak.server.timeline import CHUNK_S, read_plan
from falak.utctime import parse_ns
from tests.server.timeline_plans import (
    CSS_TLE,
    EPOCH,
    TIMELINE_USERS,
    WINDOWS,
    Plans,
    make_plans,
)

OPERATOR = ("olga", "olga-pw")


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Plans:
    p = make_plans(tmp_path_factory.mktemp("timeline"))
    text = p.config.read_text(encoding="utf-8").replace(
        "users:\n",
        f"users:\n  - {{name: {OPERATOR[0]}, roles: [operator], password: {OPERATOR[1]}}}\n",
    )
    p.config.write_text(text, encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def runtime(plans: Plans) -> Iterator[Runtime]:
    rt = Runtime.from_config(load_config(plans.config))
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(scope="module")
def tc(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def _login(tc: TestClient, user: str, password: str) -> dict[str, str]:
    r = tc.post("/api/v1/auth/token", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def h(tc: TestClient) -> dict[str, dict[str, str]]:
    out = {u: _login(tc, u, pw) for u, (pw, _) in TIMELINE_USERS.items()}
    out[OPERATOR[0]] = _login(tc, *OPERATOR)
    return out


def _timeline(tc: TestClient, h: dict[str, str], sc: str, start: str, end: str) -> Any:
    r = tc.get(f"/api/v1/spacecraft/{sc}/timeline", params={"start": start, "end": end}, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def _of(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [i for i in items if i["kind"] == kind]


def _utc(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_clock_is_the_config_s_run_clock(tc: TestClient, h: dict[str, dict[str, str]]) -> None:
    r = tc.get("/api/v1/clock", headers=h["vera"])
    assert r.status_code == 200, r.text
    c = r.json()
    assert set(c) == {"utc", "utc_ns", "speed", "epoch", "host_ns"}
    # server.yaml: clock {epoch: 2023-09-08T06:00:00Z, speed: 60}
    assert c["speed"] == 60.0
    assert c["epoch"] == "2023-09-08T06:00:00.000000Z"
    assert abs(parse_ns(c["utc"]) - c["utc_ns"]) <= 500  # utc: utc_ns rounded to the µs
    epoch_ns = parse_ns(EPOCH)
    # the config was read in this module's fixture, a few host seconds ago: at 60x, minutes
    assert 0 <= c["utc_ns"] - epoch_ns < 60 * 120 * 10**9
    assert abs(c["host_ns"] - time.time_ns()) < 10 * 10**9
    # the run clock turns at 60x: 0.5 host s is about 30 simulated s
    time.sleep(0.5)
    later = tc.get("/api/v1/clock", headers=h["vera"]).json()
    run_s = (later["utc_ns"] - c["utc_ns"]) / 1e9
    host_s = (later["host_ns"] - c["host_ns"]) / 1e9
    assert run_s == pytest.approx(60 * host_s, rel=0.01)


def test_clock_and_timeline_need_a_token(tc: TestClient) -> None:
    for path in ("/api/v1/clock", "/api/v1/timeline", "/api/v1/spacecraft/ROVER/timeline"):
        r = tc.get(path)
        assert r.status_code == 401, path


def test_a_spacecraft_the_user_may_not_see_is_403(
    tc: TestClient, h: dict[str, dict[str, str]]
) -> None:
    r = tc.get("/api/v1/spacecraft/ROVER/timeline", headers=h["sam"])
    assert r.status_code == 403
    assert "needs the role viewer" in r.json()["detail"]
    assert tc.get("/api/v1/spacecraft/TIANGONG/timeline", headers=h["sam"]).status_code == 200


def test_campaign_plan_sessions_come_from_the_plan_file(
    tc: TestClient, h: dict[str, dict[str, str]], plans: Plans
) -> None:
    items = _timeline(tc, h["vera"], "TIANGONG", "2023-09-08T00:00Z", "2023-09-09T00:00Z")["items"]
    acts = json.loads(plans.campaign.read_text())["activities"]
    camp = _of(items, "campaign")
    assert len(camp) == len(acts) == 3  # prep, run, stow of the one session
    for item, act in zip(camp, acts, strict=True):
        assert parse_ns(item["start"]) == parse_ns(act["start"])
        assert parse_ns(item["end"]) == parse_ns(act["end"])
        assert item["label"] == "melt s"
        assert item["lane"] == "campaign"
        assert item["detail"]["activity"] == act["kind"]
        assert item["detail"]["crew"] == "Ayesha"
    # the orbiter imaging list (falak orbiter imaging --json's shape)
    (img,) = _of(items, "imaging")
    assert img["start"] == "2023-09-08T07:10:00.000Z"
    assert img["end"] == "2023-09-08T07:12:30.000Z"
    assert img["label"] == "imaging 4.2° off nadir"


def test_orbit_windows_are_the_dynamics_functions_windows(
    tc: TestClient, h: dict[str, dict[str, str]]
) -> None:
    start, end = "2023-09-08T03:00Z", "2023-09-08T15:00Z"  # crosses the 06:00 and 12:00 chunk edges
    items = _timeline(tc, h["vera"], "TIANGONG", start, end)["items"]
    tle = read_tle_file(CSS_TLE)[0]
    # the reference: the same functions over the whole 00:00-18:00 of the chunks, at once
    a, b = dt.datetime(2023, 9, 8, 0, tzinfo=dt.UTC), dt.datetime(2023, 9, 8, 18, tzinfo=dt.UTC)
    lo, hi = _utc(start + ":00"), _utc(end + ":00")

    def overlapping(ws: list[tuple[dt.datetime, dt.datetime, str]]) -> list[tuple[Any, ...]]:
        return sorted((s, e, k) for s, e, k in ws if e >= lo and s <= hi)

    passes = find_passes(tle, load_stations(), a, b)
    want = overlapping([(p.rise, p.set, p.station) for p in passes])
    got = sorted((_utc(i["start"]), _utc(i["end"]), i["label"]) for i in _of(items, "pass"))
    assert len(got) == len(want) > 5
    for (gs, ge, gl), (ws, we, wl) in zip(got, want, strict=True):
        assert gl == wl
        # 1 s: the root finder's edges, recomputed per 6 h chunk, agree far better
        assert abs((gs - ws).total_seconds()) < 1.0
        assert abs((ge - we).total_seconds()) < 1.0

    relays = relay_windows(tle, load_relays(), a, b)
    want = overlapping([(w.start, w.stop, f"{w.relay} relay") for w in relays])
    got = sorted((_utc(i["start"]), _utc(i["end"]), i["label"]) for i in _of(items, "contact"))
    assert [x[2] for x in got] == [x[2] for x in want]
    for (gs, ge, _), (ws, we, _) in zip(got, want, strict=True):
        # linear interpolation on a 10 s grid whose phase differs per chunk: ~0.1 s (datarelay)
        assert abs((gs - ws).total_seconds()) < 1.0
        assert abs((ge - we).total_seconds()) < 1.0

    ecl = overlapping([(s, e, "eclipse") for s, e in eclipse_intervals(tle, a, b)])
    got = sorted((_utc(i["start"]), _utc(i["end"]), i["label"]) for i in _of(items, "eclipse"))
    assert len(got) == len(ecl) >= 7  # CSS: a 92 min orbit, one eclipse each over 12 h
    for (gs, ge, _), (ws, we, _) in zip(got, ecl, strict=True):
        assert abs((gs - ws).total_seconds()) < 1.0
        assert abs((ge - we).total_seconds()) < 1.0
        # a LEO's eclipse with penumbra: about 30-38 min
        assert 25 * 60 < (ge - gs).total_seconds() < 40 * 60

    # no window is cut at a chunk edge: the pieces on either side were joined, also at the
    # edges of the request's own chunks (a window starting at 06:13 begins in 00:00-06:00)
    for sub in (items, _timeline(tc, h["vera"], "TIANGONG", "2023-09-08T06:13Z", end)["items"]):
        for i in sub:
            if i["kind"] in ("pass", "contact", "eclipse"):
                for t in (i["start"], i["end"]):
                    assert parse_ns(t) % (CHUNK_S * 10**9) != 0, i


def test_a_bad_plan_file_is_an_error_item_not_a_500(
    tc: TestClient, h: dict[str, dict[str, str]]
) -> None:
    body = _timeline(tc, h["vera"], "TIANGONG", "2023-09-08T00:00Z", "2023-09-09T00:00Z")
    (err,) = _of(body["items"], "error")
    assert err["label"] == (
        "broken.json: not JSON (line 1, column 17: Expecting value); expected a campaign plan "
        "(falak campaign plan), a traverse route (falak traverse plan --depart), uplink windows "
        "(falak traverse windows) or a JSON list from falak orbiter "
        "imaging|contacts|eclipses --json"
    )
    assert err["lane"] == "errors"
    # placed at the run clock's now, within the window
    assert err["start"] == err["end"]
    assert abs(parse_ns(err["start"]) - parse_ns(body["now"])) < 60 * 10 * 10**9


def test_traverse_legs_holds_and_uplink_windows(
    tc: TestClient, h: dict[str, dict[str, str]], plans: Plans
) -> None:
    items = _timeline(tc, h["vera"], "ROVER", "2028-01-03T12:00Z", "2028-01-05T00:00Z")["items"]
    rows = json.loads(plans.route.read_text())["properties"]["timeline"]
    trav = _of(items, "traverse")
    assert len(trav) == len(rows) > 2
    for item, row in zip(trav, rows, strict=True):
        assert parse_ns(item["start"]) == parse_ns(row["start"])
        assert parse_ns(item["end"]) == parse_ns(row["end"])
        assert item["detail"]["segment"] == row["kind"]
        assert item["label"] == (
            f"drive {row['distance_m']:.0f} m" if row["kind"] == "drive" else "wait"
        )
    # windows.json is both a plan and the uplink_windows file: shown once
    ups = _of(items, "uplink_window")
    assert [(u["start"][:19], u["end"][:19]) for u in ups] == [
        (w["start"][:19], w["end"][:19]) for w in WINDOWS["windows"]
    ]
    assert ups[0]["detail"]["what"] == WINDOWS["what"]
    assert _of(items, "error") == []
    assert _of(items, "pass") == []  # no orbit for the rover


def test_a_changed_plan_file_is_read_again(
    tc: TestClient, h: dict[str, dict[str, str]], plans: Plans
) -> None:
    one = {**WINDOWS, "windows": WINDOWS["windows"][:1]}
    plans.windows.write_text(json.dumps(one), encoding="utf-8")
    try:
        items = _timeline(tc, h["vera"], "ROVER", "2028-01-03T12:00Z", "2028-01-05T00:00Z")["items"]
        assert len(_of(items, "uplink_window")) == 1
    finally:
        plans.windows.write_text(json.dumps(WINDOWS, indent=1), encoding="utf-8")


def test_stack_steps_are_instants_at_their_release_times(
    tc: TestClient, h: dict[str, dict[str, str]]
) -> None:
    text = (
        "stack: timeline-check\nsteps:\n"
        "  - {command: NOOP, at: '2023-09-08T10:00:00Z'}\n"
        "  - {command: NOOP, at: '2023-09-08T10:05:00Z', comment: second}\n"
    )
    r = tc.post("/api/v1/spacecraft/TIANGONG/stacks", json={"text": text}, headers=h["olga"])
    assert r.status_code == 200, r.text
    items = _timeline(tc, h["vera"], "TIANGONG", "2023-09-08T09:00Z", "2023-09-08T11:00Z")["items"]
    steps = _of(items, "stack")
    assert [(s["start"], s["end"], s["label"]) for s in steps] == [
        ("2023-09-08T10:00:00.000Z", "2023-09-08T10:00:00.000Z", "timeline-check #1 NOOP"),
        ("2023-09-08T10:05:00.000Z", "2023-09-08T10:05:00.000Z", "timeline-check #2 NOOP"),
    ]
    assert steps[1]["detail"]["comment"] == "second"
    assert steps[0]["detail"]["state"] == "pending"


def test_default_window_legacy_route_and_bad_windows(
    tc: TestClient, h: dict[str, dict[str, str]]
) -> None:
    r = tc.get("/api/v1/timeline", headers=h["vera"])  # the default spacecraft: TIANGONG
    assert r.status_code == 200, r.text
    body = r.json()
    now = parse_ns(body["now"])
    assert parse_ns(body["start"]) == pytest.approx(now - 6 * 3600 * 10**9, abs=10**6)
    assert parse_ns(body["end"]) == pytest.approx(now + 18 * 3600 * 10**9, abs=10**6)
    assert _of(body["items"], "pass")

    bad = tc.get(
        "/api/v1/spacecraft/TIANGONG/timeline",
        params={"start": "2023-09-09T00:00Z", "end": "2023-09-08T00:00Z"},
        headers=h["vera"],
    )
    assert bad.status_code == 400
    assert bad.json()["detail"] == (
        "timeline: end 2023-09-08T00:00:00Z is not after start 2023-09-09T00:00:00Z"
    )
    r = tc.get(
        "/api/v1/spacecraft/TIANGONG/timeline",
        params={"start": "yesterday", "end": "2023-09-08T00:00Z"},
        headers=h["vera"],
    )
    assert r.status_code == 400
    assert "start" in r.json()["detail"]
    # a month: the plans, and an error item instead of 30 days of passes
    long = _timeline(tc, h["vera"], "TIANGONG", "2023-09-01T00:00Z", "2023-10-01T00:00Z")["items"]
    assert _of(long, "pass") == []
    assert any("zoom in" in e["label"] for e in _of(long, "error"))


def test_spacecraft_route_gives_the_light_time(
    tc: TestClient, h: dict[str, dict[str, str]]
) -> None:
    r = tc.get("/api/v1/spacecraft/ROVER", headers=h["vera"])
    assert r.json()["light_time_s"] == 1.28  # server.yaml (C2: the demo's ROVER ≈ 1.28 s)


def test_openapi_lists_the_timeline_routes(tc: TestClient) -> None:
    paths = tc.get("/openapi.json").json()["paths"]
    assert "/api/v1/clock" in paths
    assert "/api/v1/spacecraft/{sc}/timeline" in paths
    assert "/api/v1/timeline" in paths


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"foo": 1}', "odd.json: not a campaign plan (falak campaign plan), a traverse route"),
        (
            '[{"start": "2023-09-08T07:10:00Z", "stop": "2023-09-08T07:12:00Z"}]',
            "odd.json: [0]: not an orbiter imaging, contact or eclipse window (no "
            "min_off_nadir_deg, station or body field)",
        ),
        (
            '[{"start": "2023-09-08T07:10:00Z", "stop": "2023-09-08T07:12:00Z", '
            '"min_off_nadir_deg": "low"}]',
            "odd.json: unexpected content (ValueError: Unknown format code 'f' for object of "
            "type 'str')",
        ),
        (
            '{"activities": [{"experiment": "melt", "start": "08:00", "end": "09:00"}]}',
            "odd.json: activities[0].start",
        ),
        (
            '{"format": "falak-uplink-windows/2", "windows": []}',
            "odd.json: format 'falak-uplink-windows/2' is not supported; this server reads "
            "falak-uplink-windows/1",
        ),
    ],
)
def test_plans_of_no_known_form_say_what_they_should_be(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "odd.json"
    path.write_text(content, encoding="utf-8")
    (item,) = read_plan(path)
    assert item.kind == "error"
    assert item.label.startswith(message), item.label
