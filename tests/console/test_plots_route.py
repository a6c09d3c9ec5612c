"""The plot route: min/max per pixel column, checked against a brute-force reference; and the
console's static files served without a token while the API keeps asking for one."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from falak.errors import InputError
from falak.server import create_app
from falak.server.routes.plots import decimate
from tests.server.conftest import Ground, ground, login, wait_for

S = 1_000_000_000


def brute_force(
    t: np.ndarray, v: np.ndarray, start: int, stop: int, width: int
) -> list[tuple[int, float, float, int]]:
    """(centre, min, max, count) of each non-empty column, one sample at a time in Python:
    column k is [start + k*span//width, start + (k+1)*span//width) (plots.decimate's doc)."""
    span = stop - start
    edges = [start + k * span // width for k in range(width + 1)]
    cols: dict[int, list[float]] = {}
    for ti, vi in zip(t.tolist(), v.tolist(), strict=True):
        if not (start <= ti < stop) or not np.isfinite(vi):
            continue
        k = next(j for j in range(width) if edges[j] <= ti < edges[j + 1])
        cols.setdefault(k, []).append(vi)
    return [
        (edges[k] + (edges[k + 1] - edges[k]) // 2, min(vs), max(vs), len(vs))
        for k, vs in sorted(cols.items())
    ]


def as_rows(d: Any) -> list[tuple[int, float, float, int]]:
    return list(
        zip(d.time_ns.tolist(), d.min.tolist(), d.max.tolist(), d.count.tolist(), strict=True)
    )


def test_decimate_matches_brute_force_on_random_series() -> None:
    rng = np.random.default_rng(7)
    t = np.sort(rng.integers(0, 100 * S, 5000))
    v = rng.normal(size=t.size)
    v[::97] = np.nan  # not counted
    v[::131] = np.inf
    for width in (1, 7, 640, 5000, 9000):
        start, stop = 3 * S + 17, 91 * S - 5
        assert as_rows(decimate(t, v, start, stop, width)) == brute_force(t, v, start, stop, width)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-50, 1050), st.floats(allow_nan=True)), max_size=60),
    st.integers(1, 40),
    st.integers(0, 500),
    st.integers(1, 600),
)
def test_decimate_matches_brute_force_any_order(
    samples: list[tuple[int, float]], width: int, start: int, span: int
) -> None:
    t = np.array([s[0] for s in samples], dtype=np.int64)
    v = np.array([s[1] for s in samples], dtype=np.float64)
    got = as_rows(decimate(t, v, start, start + span, width))
    assert got == brute_force(t, v, start, start + span, width)


def test_decimate_months_of_ns_at_full_width_do_not_overflow() -> None:
    # 400 days in ns times 10,000 columns is 3.5e20: beyond int64 (9.2e18) if multiplied there
    start, stop = 1_700_000_000 * S, (1_700_000_000 + 400 * 86_400) * S
    t = np.array([start, stop - 1, start + (stop - start) // 2])
    d = decimate(t, np.array([1.0, 3.0, 2.0]), start, stop, 10_000)
    assert d.count.tolist() == [1, 1, 1]
    assert d.min.tolist() == [1.0, 2.0, 3.0]  # columns 0, 5000 and 9999, in time order
    assert as_rows(d) == brute_force(t, np.array([1.0, 3.0, 2.0]), start, stop, 10_000)


def test_decimate_refuses_bad_ranges_with_the_reason() -> None:
    with pytest.raises(InputError, match=r"width must be at least 1 column, got 0"):
        decimate([], [], 0, 10, 0)
    with pytest.raises(InputError, match=r"stop \(5 ns\) must be after start \(5 ns\)"):
        decimate([], [], 5, 5, 10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ground, TestClient]]:
    with ground(tmp_path_factory.mktemp("plots")) as g, TestClient(create_app(g.runtime)) as c:
        yield g, c


def test_plot_route_decimates_the_archived_history(server: tuple[Ground, TestClient]) -> None:
    g, client = server
    counts = [7000 + 10 * i for i in range(40)]
    for c in counts:
        g.send_hk(1, batt_v_counts=c)
    h = login(client, "vera")
    # BATT_V is 1 mV per count (tests/processor/testsat.py hk_packet), eng in V
    assert wait_for(
        lambda: len(client.get("/api/v1/parameters/BATT_V/history", headers=h).json()["eng"]) >= 40,
        10.0,
    )
    hist = client.get("/api/v1/parameters/BATT_V/history", headers=h).json()
    r = client.get("/api/v1/spacecraft/TESTSAT/parameters/BATT_V/plot?width=5", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["parameter"] == "/TESTSAT/BATT_V"
    assert body["value"] == "eng"
    assert body["samples"] == len(hist["eng"])
    t = np.array(hist["time_ns"])
    ref = brute_force(t, np.array(hist["eng"]), body["start_ns"], body["stop_ns"], 5)
    rows = list(zip(body["time_ns"], body["min"], body["max"], body["count"], strict=True))
    assert rows == ref
    assert body["start_ns"] == int(t.min())
    assert body["stop_ns"] == int(t.max()) + 1
    assert min(body["min"]) == pytest.approx(7.0, abs=1e-9)
    assert max(body["max"]) == pytest.approx(7.39, abs=1e-9)


def test_plot_route_refuses_text_and_needs_a_token(server: tuple[Ground, TestClient]) -> None:
    g, client = server
    h = login(client, "vera")
    g.send_hk(1)
    assert wait_for(
        lambda: client.get("/api/v1/parameters/SW_VERSION/history", headers=h).json()["eng"],
        10.0,
    )
    r = client.get("/api/v1/parameters/SW_VERSION/plot", headers=h)
    assert r.status_code == 400
    assert "/TESTSAT/SW_VERSION is not numeric" in r.json()["detail"]
    assert "it cannot be plotted" in r.json()["detail"]
    assert client.get("/api/v1/parameters/BATT_V/plot").status_code == 401
    r = client.get("/api/v1/parameters/BATT_V/plot?width=0", headers=h)
    assert r.status_code == 422


def test_console_files_need_no_token_and_the_api_still_does(
    server: tuple[Ground, TestClient],
) -> None:
    _, client = server
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == "/console/"
    page = client.get("/console/")
    assert page.status_code == 200
    assert '<script type="module" src="js/app.js"></script>' in page.text
    assert client.get("/console/js/app.js").status_code == 200
    assert client.get("/console/js/vendor/uPlot.esm.js").status_code == 200
    assert client.get("/console/nothing.js").status_code == 404
    assert client.get("/api/v1/spacecraft").status_code == 401
    assert client.get("/api/v1/auth/me").status_code == 401


def test_console_prefix_does_not_open_the_api_by_dot_segments(tmp_path: Path) -> None:
    """A raw ``/console/../api/...`` path (no client normalises it here) stays refused."""
    import threading

    import uvicorn

    from falak.server import uvicorn_config

    with ground(tmp_path) as g:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn_config(create_app(g.runtime)))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            assert wait_for(lambda: server.started, 10.0)
            for path in ("/console/../api/v1/spacecraft", "/console/%2e%2e/api/v1/spacecraft"):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                    c.sendall(
                        f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                    )
                    answer = b""
                    while chunk := c.recv(65536):
                        answer += chunk
                status = answer.split(b"\r\n", 1)[0]
                assert status in (b"HTTP/1.1 404 Not Found", b"HTTP/1.1 401 Unauthorized"), path
                assert b"TESTSAT" not in answer
        finally:
            server.should_exit = True
            thread.join(10.0)
            sock.close()


def test_zooming_in_is_answered_from_the_cache_until_the_parameter_changes(
    server: tuple[Ground, TestClient],
) -> None:
    from falak.server.routes import plots
    from falak.utctime import format_ns

    g, client = server
    h = login(client, "vera")
    archive = g.runtime.archive
    n = len(archive.read_parameter("BATT_V"))
    for c in range(7100, 7130):
        g.send_hk(1, batt_v_counts=c)
    assert wait_for(lambda: len(archive.read_parameter("BATT_V")) == n + 30, 10.0)
    base = "/api/v1/parameters/BATT_V/plot"
    full = client.get(f"{base}?width=50", headers=h).json()
    t0, t1 = full["start_ns"], full["stop_ns"]
    mid = t0 + (t1 - t0) // 2
    hits = plots._CACHE.hits
    # an open range (first to last sample) covers every zoom: answered from memory
    zoom = client.get(
        base, params={"width": 9, "start": format_ns(t0 + 1), "stop": format_ns(mid)}, headers=h
    )
    assert zoom.status_code == 200, zoom.text
    assert plots._CACHE.hits == hits + 1
    hist = client.get("/api/v1/parameters/BATT_V/history", headers=h).json()
    ref = brute_force(np.array(hist["time_ns"]), np.array(hist["eng"]), t0 + 1, mid, 9)
    body = zoom.json()
    assert list(zip(body["time_ns"], body["min"], body["max"], body["count"], strict=True)) == ref
    # a new sample changes the parameter's version: the next request reads the archive
    version = archive.parameter_version("/TESTSAT/BATT_V")
    g.send_hk(1, batt_v_counts=7300)
    assert wait_for(lambda: len(archive.read_parameter("BATT_V")) == n + 31, 10.0)
    assert archive.parameter_version("/TESTSAT/BATT_V") != version
    misses = plots._CACHE.misses
    again = client.get(f"{base}?width=50", headers=h).json()
    assert plots._CACHE.misses == misses + 1
    assert again["samples"] == n + 31  # the new sample is in


def test_live_appends_are_read_alone_and_merges_read_again(tmp_path: Path) -> None:
    """A parameter written again and again (live): each plot reads only the new segments
    while nothing was merged or deleted, and the whole range once a merge replaced segments;
    every answer equals a fresh read of the archive."""
    from types import SimpleNamespace

    from falak.archive import ParameterColumn, open_archive
    from falak.archive.sql import MERGE_FANOUT
    from falak.server.routes import plots

    with open_archive(tmp_path / "a") as archive:
        rt = SimpleNamespace(archive=archive)
        appended = reads = 0
        real_read = archive.read_parameter

        def counting_read(*args: Any, **kwargs: Any) -> Any:
            nonlocal appended, reads
            if kwargs.get("after_segment_id") is not None:
                appended += 1
            else:
                reads += 1
            return real_read(*args, **kwargs)

        archive.read_parameter = counting_read  # type: ignore[method-assign]
        for k in range(2 * MERGE_FANOUT + 3):  # small writes: merges every MERGE_FANOUT
            t = np.arange(10, dtype=np.int64) * S + k * 10 * S
            v = np.sin(t / 1e10)
            archive.write_parameters("/L/hk", t, {"/L/x": ParameterColumn(v, v)})
            got = plots._series(rt, "/L/x", None, None)  # type: ignore[arg-type]
            ref = real_read("/L/x")
            assert got.time_ns.tolist() == ref.time_ns.tolist()
            assert got.values.tolist() == pytest.approx(np.asarray(ref.eng).tolist())
        assert appended >= MERGE_FANOUT  # most writes were read alone
        assert reads >= 2  # the first read, and again after merges


def test_column_edges_are_exact_for_months_at_full_width() -> None:
    from falak.server.routes.plots import column_edges

    # k*span overflows int64 here (400 days of ns x 10,000 columns): compare with Python ints
    for start, stop, width in [
        (1_700_000_000 * S + 7, (1_700_000_000 + 400 * 86_400) * S - 3, 10_000),
        (-5 * S, 17 * S + 1, 957),
        (0, 7, 3),
        (0, 1, 1),
    ]:
        span = stop - start
        ref = [start + k * span // width for k in range(width + 1)]
        assert column_edges(start, stop, width).tolist() == ref


def test_decimate_sorted_matches_brute_force_on_a_sub_range() -> None:
    from falak.server.routes.plots import decimate_sorted

    rng = np.random.default_rng(16)
    t = np.sort(rng.choice(200 * S, 4000, replace=False)).astype(np.int64)
    v = rng.normal(size=t.size)
    for start, stop, width in [(13 * S + 5, 150 * S, 640), (-S, 300 * S, 9), (50 * S, 51 * S, 1)]:
        got = as_rows(decimate_sorted(t, v, start, stop, width))
        assert got == brute_force(t, v, start, stop, width)
    assert as_rows(decimate_sorted(t, v, 500 * S, 600 * S, 10)) == []  # nothing in range
    with pytest.raises(InputError, match=r"stop \(5 ns\) must be after start \(5 ns\)"):
        decimate_sorted(t, v, 5, 5, 10)


def test_plot_answer_keeps_the_schema_and_says_the_server_time(
    server: tuple[Ground, TestClient],
) -> None:
    from falak.server.routes.plots import PlotOut

    g, client = server
    h = login(client, "vera")
    g.send_hk(1, batt_v_counts=7200)
    assert wait_for(
        lambda: client.get("/api/v1/parameters/BATT_V/history", headers=h).json()["eng"], 10.0
    )
    r = client.get("/api/v1/parameters/BATT_V/plot?width=3", headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = PlotOut.model_validate(r.json())  # the documented schema, every field
    assert len(body.time_ns) == len(body.min) == len(body.max) == len(body.count) <= 3
    assert sum(body.count) == body.samples > 0
    timing = dict(
        (part.split(";dur=")[0].strip(), float(part.split(";dur=")[1]))
        for part in r.headers["server-timing"].split(",")
    )
    assert set(timing) == {"read", "decimate", "encode", "cpu"}
    assert all(ms >= 0 for ms in timing.values())
    # the OpenAPI document still describes the answer as PlotOut
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    op = next(v["get"] for k, v in paths.items() if k.endswith("/parameters/{name}/plot"))
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PlotOut"
    )


def test_a_zoom_reads_wider_so_the_next_zoom_out_is_from_memory(tmp_path: Path) -> None:
    """A read for [t0, t1) reads its span more on each side, open past the first or last
    sample: zooming out by 1.25 (or panning a little) is answered from the cache, and every
    answer equals the decimation of a fresh read."""
    from types import SimpleNamespace

    from falak.archive import ParameterColumn, open_archive
    from falak.server.routes import plots

    with open_archive(tmp_path / "a") as archive:
        t = np.arange(10_000, dtype=np.int64) * S
        v = np.cos(t / 3e11)
        archive.write_parameters("/W/hk", t, {"/W/y": ParameterColumn(v, v)})
        rt = SimpleNamespace(archive=archive)
        plots._CACHE._items.clear()
        a, b = 4_000 * S, 6_000 * S
        got = plots._series(rt, "/W/y", a, b)  # type: ignore[arg-type]
        assert got.time_ns.tolist() == t[4_000:6_000].tolist()
        cached = plots._CACHE.peek((id(archive), "/W/y"))
        assert cached is not None
        assert (cached.lo_ns, cached.hi_ns) == (2_000 * S, 8_000 * S)
        hits = plots._CACHE.hits
        span = b - a
        out = plots._series(rt, "/W/y", a - span // 8, b + span // 8)  # type: ignore[arg-type]
        assert plots._CACHE.hits == hits + 1
        assert out.time_ns.tolist() == t[3_750:6_250].tolist()
        assert out.values.tolist() == v[3_750:6_250].tolist()
        # a range reaching past the last sample reads open-ended: anything later is covered
        plots._CACHE._items.clear()
        plots._series(rt, "/W/y", 9_000 * S, 9_900 * S)  # type: ignore[arg-type]
        cached = plots._CACHE.peek((id(archive), "/W/y"))
        assert cached is not None
        assert (cached.lo_ns, cached.hi_ns) == (8_100 * S, None)
