"""What the server hosts: mission database, archive, processor, command manager, users.

:class:`Runtime` owns them and their threads (``start``/``stop``). It also keeps the latest
value of every parameter (from a bus subscription) for ``GET /parameters/.../latest`` and
writes audit events (user actions on alarms and links, login lockouts) to the archive and
the bus. It holds the request limits and the login throttle.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from falak.archive import Archive, open_archive
from falak.bus import SubscriptionClosed
from falak.commanding import CommandManager, CriticalPolicy
from falak.commanding.stack import StackExecutor
from falak.links import open_link
from falak.links.tc import TcUplink, open_uplink
from falak.mdb import MissionDatabase, load
from falak.processor import EVENTS_TOPIC, ParameterValues, Processor
from falak.server.auth import TokenStore, UserStore
from falak.server.config import Limits, ServerConfig
from falak.server.throttle import Kind, LoginThrottle

__all__ = ["LatestValue", "Runtime"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatestValue:
    """The newest sample of one parameter."""

    parameter: str
    time_ns: int
    recv_time_ns: int
    raw: Any
    eng: Any
    status: int


class Runtime:
    """The live system behind the API (see the module doc)."""

    def __init__(
        self,
        mdb: MissionDatabase,
        archive: Archive,
        *,
        processor: Processor | None = None,
        uplink: TcUplink | None = None,
        users: UserStore | None = None,
        tokens: TokenStore | None = None,
        critical: CriticalPolicy | None = None,
        limits: Limits | None = None,
        own_archive: bool = False,
    ) -> None:
        self.mdb = mdb
        self.archive = archive
        self.processor = processor if processor is not None else Processor(mdb, archive)
        self.bus = self.processor.bus
        self.uplink = uplink
        self.commands = CommandManager(
            mdb,
            bus=self.bus,
            archive=archive,
            uplink=uplink,
            critical=critical or CriticalPolicy(),
        )
        self.stacks = StackExecutor(self.commands, store=archive.save_stack)
        """Command stacks, stored in the archive; after a restart a running one is paused."""
        self.users = users if users is not None else UserStore()
        self.tokens = tokens if tokens is not None else TokenStore()
        self.limits = limits if limits is not None else Limits()
        self.logins = LoginThrottle(self.limits, on_lockout=self._audit_lockout)
        self.latest: dict[str, LatestValue] = {}
        self._own_archive = own_archive
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_ns = time.time_ns()

    @classmethod
    def from_config(cls, config: ServerConfig) -> Runtime:
        """Build everything a configuration names (the archive is opened here)."""
        mdb = load(config.mdb)
        users = UserStore()
        for u in config.users:
            users.add(u.name, list(u.roles), password=u.password, password_hash=u.password_hash)
        archive = open_archive(config.archive)
        links = [
            open_link(url, name=f"{url.split(':', 1)[0].lower()}{i}")
            for i, url in enumerate(config.links)
        ]
        root = None
        if config.container is not None:
            root = mdb.container(config.container).qualified_name
        proc = Processor(mdb, archive, root=root, links=links, batch_max_age_s=0.01)
        uplink = open_uplink(config.uplink) if config.uplink else None
        return cls(
            mdb,
            archive,
            processor=proc,
            uplink=uplink,
            users=users,
            tokens=TokenStore(config.token_ttl_s),
            critical=CriticalPolicy(confirm_window_s=config.confirm_window_s),
            limits=config.limits,
            own_archive=True,
        )

    # -- lifetime ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the latest-value tracker, the processor and the command manager."""
        if self._thread is not None:
            return
        sub = self.bus.subscribe(maxsize=1_000_000)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._track, args=(sub,), name="falak-latest", daemon=True
        )
        self._thread.start()
        self.processor.start()
        self.commands.start()
        self.stacks.restore(self.archive.read_stacks())

    def stop(self) -> None:
        """Stop everything started; close the uplink and (if opened here) the archive."""
        self.stacks.stop()
        self.commands.stop()
        self.processor.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if self.uplink is not None:
            self.uplink.close()
        if self._own_archive:
            self.archive.close()

    def _track(self, sub: Any) -> None:
        try:
            while not self._stop.is_set():
                d = sub.get(timeout=0.1)
                if d is None or not isinstance(d.payload, ParameterValues):
                    continue
                pv = d.payload
                idx = len(pv) - 1
                if pv.present is not None:
                    (ok,) = pv.present.nonzero()
                    if ok.size == 0:
                        continue
                    idx = int(ok[-1])
                if idx < 0:
                    continue
                self.latest[pv.parameter] = LatestValue(
                    pv.parameter,
                    int(pv.time_ns[idx]),
                    int(pv.recv_time_ns[idx]),
                    pv.raw[idx],
                    pv.eng[idx],
                    0 if pv.status is None else int(pv.status[idx]),
                )
        except SubscriptionClosed as exc:
            log.warning("latest-value tracker stopped: %s", exc.reason)
        finally:
            sub.close()

    # -- audit ---------------------------------------------------------------------------

    def audit(
        self, user: str, action: str, message: str, *, severity: str = "info", **attrs: Any
    ) -> None:
        """Archive an audit event (source ``server``) and publish it on ``events``."""
        t = time.time_ns()
        self.archive.append_event(t, "server", severity, message, user=user, action=action, **attrs)
        self.bus.publish(EVENTS_TOPIC, (t, severity, f"{user}: {message}"))

    def _audit_lockout(self, kind: Kind, key: str, failures: int, lockout_s: float) -> None:
        who = f"user {key!r}" if kind == "user" else f"address {key}"
        self.audit(
            key if kind == "user" else "-",
            "login_locked",
            f"logins for {who} throttled after {failures} failures within "
            f"{self.limits.login_window_s:g} s: next attempt in {lockout_s:g} s, "
            "doubling with each further failure",
            severity="warning",
            **({"address": key} if kind == "address" else {}),
            failures=failures,
            lockout_s=lockout_s,
        )
