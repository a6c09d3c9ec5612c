"""``falak stack`` end to end: the CLI against a real uvicorn server (fixture ``real_server``
of tests/server/conftest.py) hosting TESTSAT with the loopback spacecraft."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from falak.cli.app import app
from tests.server.conftest import USERS, RealServer, real_server  # noqa: F401 - the fixture

runner = CliRunner()

STACK = """\
stack: cli-checkout
steps:
  - {command: NOOP, comment: ping}
  - {command: SET_HEATER, arguments: {SETPOINT: 12.5}, offset_s: 0.2, verify: complete}
  - {command: NOOP, offset_s: 120}
"""


def falak(server: RealServer, *args: str, user: str = "otto") -> tuple[int, str]:
    env = {"FALAK_URL": server.url, "FALAK_USER": user, "FALAK_PASSWORD": USERS[user][0]}
    r = runner.invoke(app, ["stack", *args], env=env)
    return r.exit_code, r.output


def test_load_start_show_pause_abort(real_server: RealServer, tmp_path: Path) -> None:  # noqa: F811
    bad = tmp_path / "bad.yaml"
    bad.write_text("stack: bad\nsteps:\n  - {command: NOOP, offset_s: -2}\n")
    code, out = falak(real_server, "load", str(bad))
    assert code == 1
    assert f"{bad}:3: step 1: offset_s -2 is negative; give seconds >= 0" in " ".join(out.split())
    good = tmp_path / "checkout.yaml"
    good.write_text(STACK)
    code, out = falak(real_server, "load", str(good))
    assert code == 0, out
    assert out.startswith("stack cli-checkout (TESTSAT): loaded")
    code, out = falak(real_server, "start", "cli-checkout", user="vera")
    assert code == 1
    assert "HTTP 403: user vera (roles viewer) may not do this" in out
    code, out = falak(real_server, "start", "cli-checkout")
    assert code == 0, out
    end = time.monotonic() + 20
    while time.monotonic() < end:
        code, out = falak(real_server, "show", "cli-checkout", "--json", user="vera")
        rec = json.loads(out)
        if rec["steps"][1]["state"] != "pending" and rec["steps"][1]["state"] != "released":
            break
        time.sleep(0.1)
    assert [s["state"] for s in rec["steps"]] == ["completed", "completed", "pending"]
    code, out = falak(real_server, "pause", "cli-checkout")
    assert out.startswith("stack cli-checkout (TESTSAT): paused")
    code, out = falak(real_server, "abort", "cli-checkout")
    assert code == 0, out
    assert out.startswith("stack cli-checkout (TESTSAT): aborted - aborted by otto")
    assert "cancelled" in out
    history = [
        (r["stack_step"], r["user"])
        for r in real_server.ground.runtime.archive.read_commands()
        if r.get("stack") == "cli-checkout"
    ]
    assert history == [(1, "otto"), (2, "otto")]
