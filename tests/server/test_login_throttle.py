"""Login throttling: back-off per user name and per address (429 with Retry-After), no
argon2 work for throttled attempts, unknown users checked against the dummy hash, lockouts
audited. The issue's probe: 200 wrong passwords in a row all got 401."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher, extract_parameters
from fastapi.testclient import TestClient

import falak.server.auth as auth_module
from falak.server import Limits, UserStore, create_app
from falak.server.throttle import LoginThrottle, Refusal
from tests.server.conftest import USERS, Ground, ground, login

API = "/api/v1"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_back_off_doubles_per_user_and_is_forgotten_after_the_window() -> None:
    clock = Clock()
    locked: list[tuple[str, str, int, float]] = []
    th = LoginThrottle(
        Limits(login_failures=3, login_lockout_s=2, login_lockout_max_s=5, login_window_s=60),
        on_lockout=lambda *a: locked.append(a),
        clock=clock,
    )

    def fail(user: str = "otto", address: str = "10.0.0.1") -> None:
        assert th.begin(user, address) is None
        th.end(user, address, ok=False)

    for _ in range(3):
        fail()
    assert locked == [("user", "otto", 3, 2.0)]
    assert th.begin("otto", "10.0.0.2") == Refusal(
        2, "too many failed logins for user 'otto': try again in 2 s"
    )
    assert th.begin("ada", "10.0.0.1") is None  # another user from the same address may
    th.end("ada", "10.0.0.1", ok=True)
    clock.t += 2.0
    fail()  # 4th failure: 4 s
    assert th.begin("otto", "x") == Refusal(
        4, "too many failed logins for user 'otto': try again in 4 s"
    )
    clock.t += 4.0
    fail()  # 5th: 8 s, capped at 5 s
    assert th.begin("otto", "x") == Refusal(
        5, "too many failed logins for user 'otto': try again in 5 s"
    )
    assert locked == [("user", "otto", 3, 2.0)]  # audited once per lockout, not per attempt
    clock.t += 61.0  # the window has passed: forgotten
    assert th.begin("otto", "x") is None
    th.end("otto", "x", ok=True)
    assert th.refused == 3


def test_address_budget_and_success_resets_only_the_user() -> None:
    clock = Clock()
    th = LoginThrottle(Limits(login_failures=3, login_address_failures=4), clock=clock)
    for user in ("a", "b", "c", "d"):  # one guess per name from one address
        assert th.begin(user, "10.0.0.9") is None
        th.end(user, "10.0.0.9", ok=False)
    assert th.begin("e", "10.0.0.9") == Refusal(
        1, "too many failed logins from 10.0.0.9: try again in 1 s"
    )
    addresses = iter(f"10.0.1.{i}" for i in range(10))  # f's own tries, each from elsewhere
    for ok in (False, False, True, False, False):
        a = next(addresses)
        assert th.begin("f", a) is None
        th.end("f", a, ok=ok)  # the success clears f's count...
    assert th.begin("f", next(addresses)) is None  # ...so 4 failures do not throttle f
    # a success from an address does not clear the address's count (one valid account
    # must not renew an address's guessing budget)
    for user, ok in (("a", False), ("b", False), ("c", True), ("d", False), ("e", False)):
        assert th.begin(user, "10.0.2.1") is None
        th.end(user, "10.0.2.1", ok=ok)
    assert th.begin("h", "10.0.2.1") == Refusal(
        1, "too many failed logins from 10.0.2.1: try again in 1 s"
    )


def test_parallel_guessers_do_not_slip_past_the_count() -> None:
    th = LoginThrottle(Limits(login_failures=3), clock=Clock())
    assert [th.begin("otto", f"10.0.0.{i}") for i in range(3)] == [None] * 3
    assert th.begin("otto", "10.0.0.7") == Refusal(
        1, "too many logins for user 'otto' at once: try again in 1 s"
    )
    th.end("otto", "10.0.0.0", ok=None)  # undecided: frees the slot, counts nothing
    assert th.begin("otto", "10.0.0.7") is None


@pytest.fixture
def throttled(tmp_path: Path) -> Iterator[tuple[Ground, TestClient]]:
    limits = Limits(login_failures=3, login_address_failures=50, login_lockout_s=30)
    with ground(tmp_path, "silent", limits=limits) as g, TestClient(create_app(g.runtime)) as c:
        yield g, c


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2 checked a password against, in order."""
    seen: list[str] = []
    real = auth_module._hasher

    class Spy:
        def verify(self, h: str, password: str) -> bool:
            seen.append(h)
            return real.verify(h, password)

    monkeypatch.setattr(auth_module, "_hasher", Spy())
    return seen


def _try(c: TestClient, user: str, password: str) -> Any:
    return c.post(API + "/auth/token", json={"username": user, "password": password})


def test_wrong_passwords_are_throttled_with_429_and_audited(
    throttled: tuple[Ground, TestClient], verifications: list[str]
) -> None:
    g, c = throttled
    admin = login(c, "ada")
    verifications.clear()
    for _ in range(3):
        r = _try(c, "otto", "wrong")
        assert (r.status_code, r.json()) == (401, {"detail": "wrong user name or password"})
    assert len(verifications) == 3
    for password in ("wrong", USERS["otto"][0]):  # even the right password must wait now
        r = _try(c, "otto", password)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "30"
        assert r.json() == {"detail": "too many failed logins for user 'otto': try again in 30 s"}
    assert len(verifications) == 3  # throttled attempts ran no argon2 at all
    assert login(c, "vera")  # others are not affected
    events = c.get(API + "/events", params={"source": "server"}, headers=admin).json()
    (locked,) = [e for e in events if e["attrs"].get("action") == "login_locked"]
    assert locked["severity"] == "warning"
    assert locked["message"] == (
        "logins for user 'otto' throttled after 3 failures within 900 s: next attempt in "
        "30 s, doubling with each further failure"
    )
    assert locked["attrs"] == {
        "user": "otto",
        "action": "login_locked",
        "failures": 3,
        "lockout_s": 30.0,
    }
    assert g.runtime.logins.refused == 2


def test_unknown_users_cost_one_argon2_check_and_are_throttled_alike(
    throttled: tuple[Ground, TestClient], verifications: list[str]
) -> None:
    g, c = throttled
    for _ in range(3):
        assert _try(c, "nobody", "guess").status_code == 401
    assert verifications == [g.runtime.users.dummy_hash] * 3  # the same work as a real user
    r = _try(c, "nobody", "guess")
    assert (r.status_code, r.headers["retry-after"]) == (429, "30")
    assert r.json() == {"detail": "too many failed logins for user 'nobody': try again in 30 s"}
    assert len(verifications) == 3


def test_dummy_hash_takes_the_cost_parameters_of_the_users() -> None:
    users = UserStore()
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    users.add("u", ["viewer"], password_hash=cheap.hash("pw"))
    assert extract_parameters(users.dummy_hash) == extract_parameters(cheap.hash("x"))
    assert users.authenticate("nobody", "pw") is None
    assert users.authenticate("u", "pw") is not None


def test_login_limits_are_documented_in_openapi(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/api/v1/auth/token"]["post"]
    assert set(op["responses"]) >= {"200", "401", "413", "429"}
    assert "Retry-After" in op["responses"]["429"]["headers"]


def test_password_checks_run_at_most_login_concurrency_at_once() -> None:
    import anyio

    th = LoginThrottle(Limits(login_concurrency=1))

    async def scenario() -> list[bool]:
        first = await th.acquire_check()
        second = await th.acquire_check(wait_s=0.05)  # the one slot is taken: refused
        th.release_check()
        third = await th.acquire_check(wait_s=0.05)
        th.release_check()
        return [first, second, third]

    # in a thread of its own: the browser tests' session-wide Playwright (tests/console) keeps
    # an event loop running in the main thread, where anyio.run would refuse to start
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(anyio.run, scenario).result(timeout=30) == [True, False, True]


def test_no_free_password_check_slot_is_429_and_counts_no_failure(
    throttled: tuple[Ground, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    g, c = throttled

    async def busy(wait_s: float = 0.0) -> bool:
        return False

    monkeypatch.setattr(g.runtime.logins, "acquire_check", busy)
    for _ in range(5):  # more than login_failures (3): none of them counts as a failure
        r = _try(c, "otto", "wrong")
        assert (r.status_code, r.headers["retry-after"]) == (429, "1")
        assert r.json() == {"detail": "too many logins being checked at once: try again in 1 s"}
    monkeypatch.undo()
    assert login(c, "otto")
