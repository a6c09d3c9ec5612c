"""``falak serve``: help, bad configurations, and the ready example run as a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from falak.cli.app import app

runner = CliRunner()


def test_help_explains_the_example_and_ports() -> None:
    r = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    assert "ready example starts" in r.output
    assert "--port" in r.output
    assert "--host" in r.output
    assert "--ws-deflate" in r.output


def test_bad_config_is_reported(tmp_path: Path) -> None:
    cfg = tmp_path / "server.yaml"
    cfg.write_text("mdb: x.yaml\narchive: a\nlinks: [udp://127.0.0.1:1]\nfoo: 1\n")
    r = runner.invoke(app, ["serve", "--config", str(cfg)])
    assert r.exit_code == 1
    assert "unknown keys ['foo']" in r.output
    r = runner.invoke(app, ["serve", "--config", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 1
    assert "cannot read server config" in r.output


def test_example_server_runs_and_stops_on_sigint() -> None:
    cmd = [
        sys.executable,
        "-c",
        "from falak.cli.app import main; main()",
        "serve",
        "--port",
        "0",
        "--tm-port",
        "0",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"COLUMNS": "200"},
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(ln.startswith("  admin") for ln in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        text = "".join(lines)
        url = re.search(r"falak server on (http://127\.0\.0\.1:\d+)", text)
        assert url, text
        creds = dict(re.findall(r"^  (\w+) / (\S+) / \w+$", text, re.M))
        assert set(creds) == {"viewer", "operator", "flight", "admin"}
        with httpx.Client(base_url=url.group(1), timeout=10) as c:
            for _ in range(100):
                try:
                    health = c.get("/health")
                    break
                except httpx.ConnectError:
                    time.sleep(0.05)
            assert health.json()["processor_running"] is True
            tok = c.post(
                "/api/v1/auth/token", json={"username": "operator", "password": creds["operator"]}
            )
            assert tok.status_code == 200
            h = {"Authorization": "Bearer " + tok.json()["access_token"]}
            assert c.get("/api/v1/mdb", headers=h).json()["name"] == "/TESTSAT"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.rstrip().endswith("stopped")
