"""Command stacks through the API: roles, load errors, a run with verification, the history's
stack/step fields, and a restart that brings a running stack back paused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from falak.commanding.stack import StackExecutor
from falak.server import create_app
from tests.server.conftest import ground, login

API = "/api/v1"
STACK = """\
stack: api-checkout
steps:
  - {command: NOOP}
  - {command: SET_HEATER, arguments: {SETPOINT: 12.5}, offset_s: 0.2}
  - {command: NOOP, offset_s: 60}
"""


def wait_stack(c: TestClient, h: dict[str, str], name: str, check: Any) -> dict[str, Any]:
    end = time.monotonic() + 20
    while time.monotonic() < end:
        rec: dict[str, Any] = c.get(f"{API}/stacks/{name}", headers=h).json()
        if check(rec):
            return rec
        time.sleep(0.05)
    raise AssertionError(rec)


def test_stack_roles_errors_run_history_and_restart(tmp_path: Path) -> None:
    with ground(tmp_path) as g, TestClient(create_app(g.runtime)) as c:
        vera, otto = login(c, "vera"), login(c, "otto")
        r = c.post(API + "/stacks", json={"text": STACK}, headers=vera)
        assert r.status_code == 403
        assert r.json()["detail"] == (
            "user vera (roles viewer) may not do this on TESTSAT: it needs the role operator there"
        )
        r = c.post(
            API + "/stacks",
            json={"text": "stack: x\nsteps:\n  - {command: NOPE}\n", "file": "x.yaml"},
            headers=otto,
        )
        assert r.status_code == 400
        assert r.json()["detail"] == (
            "x.yaml:3: step 1: no command named 'NOPE'; commands: NOOP, REBOOT, SET_HEATER, "
            "SET_MODE"
        )
        r = c.post(API + "/stacks", json={"text": STACK}, headers=otto)
        assert r.status_code == 200, r.text
        assert (r.json()["state"], r.json()["spacecraft"]) == ("loaded", "TESTSAT")
        assert c.post(f"{API}/stacks/api-checkout/start", headers=vera).status_code == 403
        r = c.post(f"{API}/stacks/api-checkout/start", headers=otto)
        assert r.json()["state"] == "running"
        rec = wait_stack(
            c, vera, "api-checkout", lambda s: s["steps"][1]["state"] in ("completed", "failed")
        )
        assert [s["state"] for s in rec["steps"]] == ["completed", "completed", "pending"]
        assert [s["name"] for s in c.get(API + "/stacks", headers=vera).json()] == ["api-checkout"]
        history = [
            (h["command"], h["stack"], h["stack_step"])
            for h in c.get(API + "/commands", headers=vera).json()
            if h.get("stack")
        ]
        assert history == [
            ("/TESTSAT/NOOP", "api-checkout", 1),
            ("/TESTSAT/SET_HEATER", "api-checkout", 2),
        ]
        r = c.post(f"{API}/stacks/api-checkout/resume", headers=otto)
        assert r.status_code == 400
        assert r.json()["detail"] == ("stack api-checkout is running, not paused; cannot resume it")
        events = [e.attrs.get("action") for e in g.runtime.archive.read_events()]
        assert "stack_start" in events
        # a restart of the server: a new runtime over the same archive
        g.runtime.stacks.stop()
        again = StackExecutor(g.runtime.commands)
        again.restore(g.runtime.archive.read_stacks())
        back = again.get("api-checkout")
        assert back["state"] == "paused"
        assert [s["state"] for s in back["steps"]] == ["completed", "completed", "pending"]
        assert c.get(f"{API}/stacks/nope", headers=vera).status_code == 404
