"""Times at the API edge follow falak.utctime: range, leap second, order, exact formatting."""

from __future__ import annotations

from fastapi.testclient import TestClient

from falak.server.schemas import iso
from falak.utctime import format_ns
from tests.server.conftest import Ground, wait_for

API = "/api/v1"
RANGE = "1677-09-21T00:12:43.145224193Z .. 2262-04-11T23:47:16.854775807Z"


def test_far_future_start_is_400_naming_the_range(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    # it used to be clamped to 2262 silently; now it is refused like the CLI refuses it
    r = client.get(
        API + "/archive/export",
        params={"names": ["BATT_V"], "start": "9999-12-31T23:59:59+00:00"},
        headers=auth["vera"],
    )
    assert r.status_code == 400
    assert r.json()["detail"] == (
        f"start '9999-12-31T23:59:59+00:00' is outside the times falak can store, {RANGE} "
        "(int64 nanoseconds since 1970, numpy datetime64[ns]); give a time within it"
    )


def test_leap_second_and_order(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    h = auth["vera"]
    url = API + "/parameters/BATT_V/history"
    r = client.get(url, params={"stop": "2016-12-31T23:59:60Z"}, headers=h)
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["msg"].startswith(
        "Value error, stop '2016-12-31T23:59:60Z' lies in the leap second at the end of "
        "2016-12-31 (IERS Bulletin C)"
    )
    r = client.get(
        url, params={"start": "2028-01-02T00:00:00Z", "stop": "2028-01-01T00:00:00Z"}, headers=h
    )
    assert r.status_code == 400
    assert r.json()["detail"] == (
        "stop 2028-01-01T00:00:00.000000000Z is before start 2028-01-02T00:00:00.000000000Z; "
        "give a stop at or after the start"
    )


def test_iso_is_exact_integer_formatting() -> None:
    # float seconds (t_ns / 1e9) printed this as ...09.629100Z: 533 ns round up to the µs
    assert iso(7_236_675_549_629_100_533) == "2199-04-27T19:39:09.629101Z"
    assert iso(None) is None


def test_query_times_keep_their_nanoseconds(
    live: Ground, client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    # pydantic's datetime kept microseconds: start = a sample's time + 1 ns returned that
    # sample again (a client paging by time_ns looped), stop = time + 1 ns left it out, and
    # the earliest storable time (…43.145224193Z, truncated to …43.145224Z) was "outside"
    h = auth["vera"]
    url = API + "/parameters/BATT_V/history"
    live.send_hk(1)
    assert wait_for(lambda: client.get(url, headers=h).json()["time_ns"])
    t_ns = client.get(url, headers=h).json()["time_ns"][-1]
    after = client.get(url, params={"start": format_ns(t_ns + 1)}, headers=h)
    assert after.status_code == 200
    assert t_ns not in after.json()["time_ns"]
    upto = client.get(url, params={"stop": format_ns(t_ns + 1)}, headers=h)
    assert upto.json()["time_ns"][-1] == t_ns
    first = client.get(url, params={"start": "1677-09-21T00:12:43.145224193Z"}, headers=h)
    assert first.status_code == 200
    assert t_ns in first.json()["time_ns"]


def test_unencoded_plus_in_a_query_time_is_explained(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    # "?start=2028-01-01T00:00:00+00:00" typed into a URL arrives with a space for the '+'
    r = client.get(
        API + "/parameters/BATT_V/history",
        params={"start": "2028-01-01T00:00:00 00:00"},
        headers=auth["vera"],
    )
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["msg"] == (
        "Value error, start '2028-01-01T00:00:00 00:00' is not an ISO 8601 time: a '+' in a "
        "URL query arrives as a space; send the offset as %2B00:00 or use Z"
    )


def test_naive_query_time_is_400_in_http_words(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    r = client.get(
        API + "/parameters/BATT_V/history",
        params={"start": "2028-01-01T00:00:00"},
        headers=auth["vera"],
    )
    assert r.status_code == 400
    assert r.json()["detail"] == (
        "start '2028-01-01T00:00:00' has no time zone; add Z (UTC) or an offset, "
        "e.g. 2028-01-01T00:00:00Z"
    )
