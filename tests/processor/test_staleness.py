"""Staleness: expected periods from the MDB, expiry and refresh reported once each."""

from __future__ import annotations

from falak.processor.staleness import StalenessMonitor, expected_periods

from .testsat import load_testsat

S = 1_000_000_000


def test_expected_periods_from_parameter_and_container() -> None:
    periods = expected_periods(load_testsat())
    # mdb.yaml: BATT_V and BATT_I have expected_period_s 1; HK (expected_period_s 1) holds
    # TEMP_BATT etc.; events and command acks have no period
    assert periods["/TESTSAT/BATT_V"] == 1.0
    assert periods["/TESTSAT/TEMP_OBC"] == 1.0
    assert "/TESTSAT/EVENT_ID" not in periods
    assert "/TESTSAT/APID" not in periods  # header fields belong to the abstract base


def test_expiry_and_refresh() -> None:
    mon = StalenessMonitor(load_testsat(), tolerance=1.5)
    mon.start(0)
    assert mon.check(int(1.4 * S)) == []
    expired = mon.check(int(1.6 * S))  # nothing came within 1.5 periods of the start
    assert {r.parameter for r in expired} == set(mon.periods)
    assert all(r.expired and r.last_refresh_ns is None for r in expired)
    assert mon.check(2 * S) == []  # reported once
    fresh = mon.refreshed(["/TESTSAT/BATT_V", "/TESTSAT/EVENT_ID"], 3 * S)
    assert [(r.parameter, r.expired) for r in fresh] == [("/TESTSAT/BATT_V", False)]
    assert mon.check(int(4.4 * S)) == []
    again = mon.check(int(4.6 * S))
    assert [(r.parameter, r.last_refresh_ns) for r in again] == [("/TESTSAT/BATT_V", 3 * S)]
