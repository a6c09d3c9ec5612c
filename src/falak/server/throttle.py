"""Login throttling: exponential back-off per user name and per client address.

Each failed login is counted twice, under its user name (known or not: an unknown name is
throttled the same way, so a lockout tells nothing about which names exist) and under the
client's address. Failures older than ``login_window_s`` are forgotten. Once a key has
``login_failures`` (user) or ``login_address_failures`` (address) failures in the window,
the next attempt must wait ``login_lockout_s`` after the last failure, doubled with each
further failure, up to ``login_lockout_max_s``. A throttled attempt is answered with 429
and ``Retry-After`` *before* its password is checked, so it costs no argon2 work; only one
attempt per key is then let through at a time (parallel guessers do not slip past the
count). A successful login clears its user name's count (not the address's: one valid
account must not reset the guessing budget of an address). The first lockout of a key in a
window is reported through ``on_lockout`` (the server audits it).

Password checks (argon2: memory-hard, about 0.1-0.2 s of a core each) run at most
``login_concurrency`` at a time, so a burst of logins cannot take every core from the rest
of the server; a login waits for a slot up to :data:`CHECK_WAIT_S` (in the event loop, not
holding a worker thread), else it is answered 429 too.

Behind a reverse proxy every client has the proxy's address: raise
``login_address_failures`` there, or the proxy's users throttle each other.

State lives in memory and is bounded: at most :data:`MAX_KEYS` keys of each kind are kept
(those idle longest are forgotten first).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio

from falak.server.config import Limits

__all__ = ["CHECK_WAIT_S", "MAX_KEYS", "MAX_WAITING", "LoginThrottle", "Refusal"]

MAX_KEYS = 100_000
"""Keys of each kind (user names, addresses) remembered at most."""
CHECK_WAIT_S = 5.0
"""How long a login waits for a password-check slot before it is answered 429."""
MAX_WAITING = 64
"""Logins waiting for a slot at most; more are answered 429 at once."""

Kind = Literal["user", "address"]
LockoutCallback = Callable[[Kind, str, int, float], None]
"""``on_lockout(kind, key, failures, lockout_s)``."""


@dataclass(frozen=True)
class Refusal:
    """Why a login attempt is not tried now, and when to come back (whole seconds)."""

    retry_after_s: int
    detail: str


@dataclass
class _Count:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    inflight: int = 0


class LoginThrottle:
    """Decide before each login whether its password may be checked (see the module doc).

    Call :meth:`begin` first; when it returns None, check the password and then call
    :meth:`end` with the outcome (always, also on errors: it frees the attempt's slot).
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        on_lockout: LockoutCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or Limits()
        self.on_lockout = on_lockout
        self.clock = clock
        self._counts: dict[Kind, OrderedDict[str, _Count]] = {
            "user": OrderedDict(),
            "address": OrderedDict(),
        }
        self._lock = threading.Lock()
        self._checks = threading.BoundedSemaphore(self.limits.login_concurrency)
        self._waiting = 0
        self.refused = 0
        """Attempts answered 429 so far."""

    def _threshold(self, kind: Kind) -> int:
        lim = self.limits
        return lim.login_failures if kind == "user" else lim.login_address_failures

    def _count(self, kind: Kind, key: str, now: float) -> _Count:
        table = self._counts[kind]
        c = table.get(key)
        if c is None:
            c = table[key] = _Count()
            while len(table) > MAX_KEYS:
                table.popitem(last=False)
        else:
            table.move_to_end(key)
        while c.failures and c.failures[0] <= now - self.limits.login_window_s:
            c.failures.popleft()
        return c

    def begin(self, user: str, address: str) -> Refusal | None:
        """None: go ahead (and call :meth:`end`); else the refusal to answer with 429."""
        with self._lock:
            now = self.clock()
            keys: list[tuple[Kind, str]] = [("user", user), ("address", address)]
            counts = [self._count(kind, key, now) for kind, key in keys]
            for (kind, key), c in zip(keys, counts, strict=True):
                wait_s = c.locked_until - now
                n = len(c.failures)
                if wait_s <= 0 and c.inflight < max(1, self._threshold(kind) - n):
                    continue
                self.refused += 1
                retry = max(1, math.ceil(wait_s))
                who = f"for user {key!r}" if kind == "user" else f"from {key}"
                if wait_s > 0:
                    detail = f"too many failed logins {who}: try again in {retry} s"
                else:  # its allowance is taken by attempts still being checked
                    detail = f"too many logins {who} at once: try again in {retry} s"
                return Refusal(retry, detail)
            for c in counts:
                c.inflight += 1
            return None

    async def acquire_check(self, wait_s: float = CHECK_WAIT_S) -> bool:
        """Take one of the ``login_concurrency`` password-check slots, waiting up to
        ``wait_s`` without holding a thread; False when none came free (or too many
        attempts already wait). Give it back with :meth:`release_check`."""
        if self._checks.acquire(blocking=False):
            return True
        if self._waiting >= MAX_WAITING:
            return False
        self._waiting += 1
        try:
            end = time.monotonic() + wait_s  # real time even under a test clock
            while time.monotonic() < end:
                await anyio.sleep(0.01)
                if self._checks.acquire(blocking=False):
                    return True
            return False
        finally:
            self._waiting -= 1

    def release_check(self) -> None:
        """Give back a slot taken with :meth:`acquire_check`."""
        self._checks.release()

    def end(self, user: str, address: str, *, ok: bool | None) -> None:
        """Record the outcome of an attempt that :meth:`begin` let through (None: it was not
        decided, e.g. no password-check slot: only its slot is freed)."""
        lockouts: list[tuple[Kind, str, int, float]] = []
        with self._lock:
            now = self.clock()
            keys: tuple[tuple[Kind, str], ...] = (("user", user), ("address", address))
            for kind, key in keys:
                c = self._count(kind, key, now)
                c.inflight = max(0, c.inflight - 1)
                if ok is None:
                    continue
                if ok:
                    if kind == "user":
                        c.failures.clear()
                        c.locked_until = 0.0
                    continue
                c.failures.append(now)
                over = len(c.failures) - self._threshold(kind)
                if over >= 0:
                    lim = self.limits
                    doubled = lim.login_lockout_s * 2.0 ** min(over, 64)
                    lockout_s = min(doubled, lim.login_lockout_max_s)
                    c.locked_until = now + lockout_s
                    if over == 0:
                        lockouts.append((kind, key, len(c.failures), lockout_s))
        if self.on_lockout is not None:
            for lockout in lockouts:
                self.on_lockout(*lockout)
