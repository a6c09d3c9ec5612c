"""falak.client against a real server: typed results, errors, subscribe, commands."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from falak.client import ApiError, Client
from falak.errors import CommandRejected
from tests.server.conftest import USERS, RealServer, wait_for


@pytest.fixture(scope="module")
def operator(real_server: RealServer) -> Iterator[Client]:
    with Client.login(real_server.url, "otto", USERS["otto"][0]) as c:
        yield c


def test_login_and_wrong_password(real_server: RealServer, operator: Client) -> None:
    assert operator.user == "otto"
    assert operator.roles == ["operator", "viewer"]
    assert repr(operator) == f"<falak Client {real_server.url} as otto>"
    with pytest.raises(ApiError) as info:
        Client.login(real_server.url, "otto", "wrong")
    assert info.value.status == 401
    assert str(info.value) == "HTTP 401: wrong user name or password"


def test_subscribe_latest_and_history(real_server: RealServer, operator: Client) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    with operator.subscribe(["BATT_V"], timeout_s=10) as stream:
        real_server.ground.send_hk(1, batt_v_counts=7300)
        first = next(stream)
    assert first.parameter == "/TESTSAT/BATT_V"
    assert first.eng == 7.3  # 7300 counts at 1 mV per count (testsat mdb.yaml)
    assert first.seq is not None
    assert operator.latest("BATT_V").eng == 7.3
    assert wait_for(lambda: len(operator.history("BATT_V", start=start)) >= 1)
    s = operator.history("BATT_V", start=start)
    assert s.eng.dtype == np.float64
    assert s.time.dtype == np.dtype("datetime64[ns]")
    with pytest.raises(ApiError) as info:
        operator.latest("NO_SUCH")
    assert info.value.status == 404


def test_issue_and_wait_for_a_stage(operator: Client) -> None:
    cmd = operator.issue("SET_HEATER", {"SETPOINT": 20})
    assert cmd.state == "queued"
    rec = operator.wait(cmd.id, stage="complete", timeout_s=10)
    assert rec.stage("received") == "OK"
    assert rec.stage("complete") == "OK"
    # the state follows the last stage's outcome: wait for the final state
    assert operator.wait(cmd.id, timeout_s=10).state == "completed"
    with pytest.raises(CommandRejected) as info:
        operator.issue("SET_HEATER", {"SETPOINT": 1000})
    assert info.value.argument == "SETPOINT"
    with pytest.raises(ApiError) as denied:
        operator.arm(cmd.id)
    assert denied.value.status == 403
