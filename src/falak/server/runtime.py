"""What the server hosts: one or more spacecraft, and what they share (users, tokens, limits).

A :class:`SpacecraftRuntime` is one spacecraft's live system: its mission database, its
archive (its own sub-archive of the server's archive, or the archive root in the
single-spacecraft form), a processor with its own bus, links and worker thread, a command
manager with its uplink and light time, a stack executor, its CFDP entity when it delivers
files (:class:`~falak.server.files.FileService`), and the latest value of every
parameter (from a bus subscription, for ``GET /parameters/.../latest``). Nothing of one
spacecraft's chain waits for another's: a flood on one spacecraft's link fills (and, when
full, blocks) only that spacecraft's processor queue (:data:`MAX_QUEUED_BATCHES`), and the
spacecraft share the interpreter at a short switch interval (:data:`SWITCH_INTERVAL_S`).

:class:`Runtime` holds the spacecraft (the first one configured is the default: the routes
without ``/spacecraft/{sc}`` mean it) and the shared part: users, tokens, request limits,
the login throttle, the archive location and the run's clock. It starts and stops them all.
Audit events (user actions on alarms and links, dropped streams) go to the spacecraft's
archive and bus and name it; a login lockout concerns the whole server and is audited on
every spacecraft.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from falak.archive import Archive, open_archive
from falak.bus import SubscriptionClosed
from falak.clock import SYSTEM_CLOCK, Clock
from falak.commanding import CommandManager, CriticalPolicy
from falak.commanding.stack import StackExecutor
from falak.errors import InputError
from falak.links import open_link
from falak.links.tc import TcUplink, open_uplink
from falak.mdb import MissionDatabase, load
from falak.processor import EVENTS_TOPIC, ParameterValues, Processor
from falak.server.auth import TokenStore, UserStore
from falak.server.config import Limits, ServerConfig, SpacecraftConfig
from falak.server.files import FileService
from falak.server.throttle import Kind, LoginThrottle

if TYPE_CHECKING:
    from falak.planning.traverse.windows import UplinkWindows

__all__ = ["LatestValue", "Runtime", "SpacecraftRuntime"]

log = logging.getLogger(__name__)

MAX_QUEUED_BATCHES = 64
"""Received batches (up to 1024 datagrams each) a configured spacecraft's processor queues
at most: beyond, its links wait and a flood backs up into their sockets (where the kernel
drops and counts what overflows) instead of into the server's memory."""
SWITCH_INTERVAL_S = 0.0005
"""The interpreter's thread switch interval while several spacecraft are hosted (Python's
default is 5 ms): a spacecraft's chain hands the interpreter to and from the others' busy
threads a few tens of times per packet, so the interval bounds what a flooded spacecraft
adds to another's latency (``tests/server/test_isolation.py`` measures it)."""


@dataclass(frozen=True)
class LatestValue:
    """The newest sample of one parameter."""

    parameter: str
    time_ns: int
    recv_time_ns: int
    raw: Any
    eng: Any
    status: int


def spacecraft_name(mdb: MissionDatabase) -> str:
    """A spacecraft's name: its MDB's root space system name (``/TESTSAT`` → ``TESTSAT``)."""
    return mdb.root.qualified_name.strip("/").split("/")[0] or mdb.root.name


class SpacecraftRuntime:
    """One spacecraft's live system (see the module doc).

    Parameters
    ----------
    mdb, archive
        Its mission database and its (sub-)archive.
    name
        Default: the MDB's root name.
    processor
        Default: a processor on ``mdb`` and ``archive`` without links.
    uplink
        Where released telecommands go (None: dry runs and queueing only).
    light_time_s
        One-way light time (s): the command manager widens verifier windows by twice this.
    own_archive
        Close ``archive`` in :meth:`stop`.
    config
        The configuration it was built from (:meth:`from_config`).
    uplink_windows, uplink_policy
        When the uplink reaches the spacecraft
        (:class:`~falak.planning.traverse.windows.UplinkWindows`, None: always) and what a
        command ready outside them does (``wait`` or ``refuse``; the command manager's).
    """

    def __init__(
        self,
        mdb: MissionDatabase,
        archive: Archive,
        *,
        name: str | None = None,
        processor: Processor | None = None,
        uplink: TcUplink | None = None,
        critical: CriticalPolicy | None = None,
        light_time_s: float = 0.0,
        host_allowance_s: float = 0.0,
        clock: Clock = SYSTEM_CLOCK,
        own_archive: bool = False,
        config: SpacecraftConfig | None = None,
        uplink_windows: UplinkWindows | None = None,
        uplink_policy: str = "wait",
    ) -> None:
        self.name = name or spacecraft_name(mdb)
        self.uplink_windows = uplink_windows
        """When the uplink reaches the spacecraft (None: always)."""
        self.uplink_policy = uplink_policy if uplink_windows is not None else None
        self.config = config
        """What it was built from (plans, orbit, site, uplink windows); None: built in code."""
        self.mdb = mdb
        self.archive = archive
        self.clock = clock
        self.processor = processor if processor is not None else Processor(mdb, archive)
        self.bus = self.processor.bus
        self.uplink = uplink
        self.light_time_s = float(light_time_s)
        self.commands = CommandManager(
            mdb,
            bus=self.bus,
            archive=archive,
            uplink=uplink,
            critical=critical or CriticalPolicy(),
            light_time_s=self.light_time_s,
            host_allowance_s=host_allowance_s,
            clock=clock,
            uplink_windows=uplink_windows,
            uplink_policy=uplink_policy,
        )
        self.stacks = StackExecutor(self.commands, store=archive.save_stack, clock=clock)
        self.files: FileService | None = None
        """The ground's CFDP entity with this spacecraft (None: no file delivery)."""
        """Command stacks, stored in the archive; after a restart a running one is paused."""
        self.latest: dict[str, LatestValue] = {}
        self._own_archive = own_archive
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<SpacecraftRuntime {self.name}, {len(self.processor.links)} links>"

    @classmethod
    def from_config(
        cls, sc: SpacecraftConfig, archive_url: str, *, clock: Clock = SYSTEM_CLOCK
    ) -> SpacecraftRuntime:
        """Build one configured spacecraft: load its MDB, open its archive, links, uplink."""
        mdb = load(sc.mdb)
        name = sc.name or spacecraft_name(mdb)
        if name != spacecraft_name(mdb):
            raise InputError(
                f"spacecraft {name}: its MDB {sc.mdb} is the space system "
                f"{spacecraft_name(mdb)!r}: name the spacecraft {spacecraft_name(mdb)} "
                "(a spacecraft's name is its MDB's root name)"
            )
        root = None
        if sc.container is not None:
            root = mdb.container(sc.container).qualified_name
        windows = _uplink_windows(sc, name)
        archive = (
            open_archive(archive_url)
            if sc.root_archive
            else open_archive(archive_url, spacecraft=name)
        )
        try:
            links = [
                open_link(url, name=f"{url.split(':', 1)[0].lower()}{i}", clock=clock)
                for i, url in enumerate(sc.links)
            ]
            proc = Processor(
                mdb,
                archive,
                root=root,
                links=links,
                batch_max_age_s=0.01,
                max_queued_batches=MAX_QUEUED_BATCHES,
                clock=clock,
            )
            uplink = open_uplink(sc.uplink, clock=clock) if sc.uplink else None
        except BaseException:
            archive.close()
            raise
        rt = cls(
            mdb,
            archive,
            name=name,
            processor=proc,
            uplink=uplink,
            critical=CriticalPolicy(confirm_window_s=sc.confirm_window_s),
            light_time_s=sc.light_time_s,
            host_allowance_s=sc.host_allowance_s,
            clock=clock,
            own_archive=True,
            config=sc,
            uplink_windows=windows,
            uplink_policy=sc.uplink_windows.policy if sc.uplink_windows else "wait",
        )
        if sc.cfdp is not None:
            rt.files = FileService(
                name, sc.cfdp, archive, uplink, clock, windows=windows, event=rt._file_event
            )
            proc.tap([sc.cfdp.apid_down], rt.files.on_packets)
        return rt

    def _file_event(self, severity: str, message: str, **attrs: Any) -> None:
        user = str(attrs.pop("user", "") or "cfdp")
        self.record_event(user, "cfdp", message, severity, spacecraft=self.name, **attrs)

    # -- lifetime ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the latest-value tracker, the processor and the command manager."""
        if self._thread is not None:
            return
        sub = self.bus.subscribe(maxsize=1_000_000)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._track, args=(sub,), name=f"falak-latest-{self.name}", daemon=True
        )
        self._thread.start()
        self.processor.start()
        self.commands.start()
        self.stacks.restore(self.archive.read_stacks())
        if self.files is not None:
            self.files.start()

    def stop(self) -> None:
        """Stop everything started; close the uplink and (if opened here) the archive."""
        self.stacks.stop()
        if self.files is not None:
            self.files.stop()
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
            log.warning("%s: latest-value tracker stopped: %s", self.name, exc.reason)
        finally:
            sub.close()

    # -- audit ---------------------------------------------------------------------------

    def audit(
        self, user: str, action: str, message: str, *, severity: str = "info", **attrs: Any
    ) -> None:
        """Archive an audit event (source ``server``, attribute ``spacecraft``) and publish
        it on ``events``."""
        self.record_event(user, action, message, severity, spacecraft=self.name, **attrs)

    def record_event(
        self, user: str, action: str, message: str, severity: str, **attrs: Any
    ) -> None:
        """Archive a ``server`` event with exactly these attributes and publish it."""
        t = self.clock.now_ns()
        self.archive.append_event(t, "server", severity, message, user=user, action=action, **attrs)
        self.bus.publish(EVENTS_TOPIC, (t, severity, f"{user}: {message}"))


class Runtime:
    """The live system behind the API: its spacecraft and what they share (see the module doc).

    ``Runtime(mdb, archive, processor=..., uplink=..., critical=...)`` hosts one spacecraft
    built from those; ``spacecraft=[...]`` adds (or, without ``mdb``, gives) the
    :class:`SpacecraftRuntime` objects. The first is the default spacecraft.
    """

    def __init__(
        self,
        mdb: MissionDatabase | None = None,
        archive: Archive | None = None,
        *,
        processor: Processor | None = None,
        uplink: TcUplink | None = None,
        critical: CriticalPolicy | None = None,
        spacecraft: Sequence[SpacecraftRuntime] = (),
        users: UserStore | None = None,
        tokens: TokenStore | None = None,
        limits: Limits | None = None,
        clock: Clock = SYSTEM_CLOCK,
        archive_url: str | None = None,
        own_archive: bool = False,
    ) -> None:
        crafts: list[SpacecraftRuntime] = []
        if mdb is not None:
            if archive is None:
                raise InputError("Runtime(mdb, archive): give the archive too")
            crafts.append(
                SpacecraftRuntime(
                    mdb,
                    archive,
                    processor=processor,
                    uplink=uplink,
                    critical=critical,
                    clock=clock,
                    own_archive=own_archive,
                )
            )
        crafts.extend(spacecraft)
        if not crafts:
            raise InputError("a server needs at least one spacecraft: give mdb or spacecraft")
        self.spacecraft: dict[str, SpacecraftRuntime] = {}
        for sc in crafts:
            if sc.name in self.spacecraft:
                raise InputError(f"spacecraft {sc.name} is given twice: names must be distinct")
            self.spacecraft[sc.name] = sc
        self.default = crafts[0]
        """The first spacecraft: what the routes without ``/spacecraft/{sc}`` mean."""
        self.clock = clock
        self.archive_url = archive_url
        """Where the archive is (the spacecraft's sub-archives are in it); None: not known."""
        self.users = users if users is not None else UserStore()
        self.tokens = tokens if tokens is not None else TokenStore()
        self.limits = limits if limits is not None else Limits()
        self.logins = LoginThrottle(self.limits, on_lockout=self._audit_lockout)
        self.started_ns = clock.now_ns()
        self._switch_interval_s: float | None = None

    def __repr__(self) -> str:
        return f"<Runtime {', '.join(self.spacecraft)}>"

    @classmethod
    def from_config(cls, config: ServerConfig) -> Runtime:
        """Build everything a configuration names (the archives are opened here)."""
        crafts: list[SpacecraftRuntime] = []
        try:
            for sc in config.spacecraft:
                try:
                    crafts.append(
                        SpacecraftRuntime.from_config(sc, config.archive, clock=config.clock)
                    )
                except InputError as exc:
                    raise config.fail(str(exc)) from None
            if len(config.spacecraft) == 1 and not config.spacecraft[0].name:
                config.spacecraft[0] = _named(config.spacecraft[0], crafts[0].name)
            config.check_spacecraft_names()
            users = UserStore()
            for u in config.users:
                users.add(
                    u.name,
                    list(u.roles),
                    password=u.password,
                    password_hash=u.password_hash,
                    spacecraft_roles=u.spacecraft_roles,
                )
        except BaseException:
            for c in crafts:
                c.stop()
            raise
        return cls(
            spacecraft=crafts,
            users=users,
            tokens=TokenStore(config.token_ttl_s),
            limits=config.limits,
            clock=config.clock,
            archive_url=config.archive,
        )

    def get(self, name: str | None) -> SpacecraftRuntime:
        """The spacecraft of that name (None: the default); an unknown name says the known."""
        if name is None:
            return self.default
        sc = self.spacecraft.get(name)
        if sc is None:
            raise InputError(
                f"no spacecraft named {name!r}; spacecraft: {', '.join(self.spacecraft)}"
            )
        return sc

    # -- the default spacecraft, as the single-spacecraft server had them ----------------

    @property
    def mdb(self) -> MissionDatabase:
        """The default spacecraft's mission database."""
        return self.default.mdb

    @property
    def archive(self) -> Archive:
        """The default spacecraft's archive."""
        return self.default.archive

    @property
    def processor(self) -> Processor:
        """The default spacecraft's processor."""
        return self.default.processor

    @property
    def bus(self) -> Any:
        """The default spacecraft's bus."""
        return self.default.bus

    @property
    def uplink(self) -> TcUplink | None:
        """The default spacecraft's uplink."""
        return self.default.uplink

    @property
    def commands(self) -> CommandManager:
        """The default spacecraft's command manager."""
        return self.default.commands

    @property
    def stacks(self) -> StackExecutor:
        """The default spacecraft's stack executor."""
        return self.default.stacks

    @property
    def latest(self) -> dict[str, LatestValue]:
        """The default spacecraft's latest values."""
        return self.default.latest

    # -- lifetime ------------------------------------------------------------------------

    def start(self) -> None:
        """Start every spacecraft (with several, at the :data:`SWITCH_INTERVAL_S` thread
        switch interval, restored by :meth:`stop`)."""
        if len(self.spacecraft) > 1 and self._switch_interval_s is None:
            self._switch_interval_s = sys.getswitchinterval()
            sys.setswitchinterval(min(SWITCH_INTERVAL_S, self._switch_interval_s))
        for sc in self.spacecraft.values():
            sc.start()

    def stop(self) -> None:
        """Stop every spacecraft (each closes what it opened)."""
        for sc in self.spacecraft.values():
            sc.stop()
        if self._switch_interval_s is not None:
            sys.setswitchinterval(self._switch_interval_s)
            self._switch_interval_s = None

    # -- audit ---------------------------------------------------------------------------

    def audit(
        self, user: str, action: str, message: str, *, severity: str = "info", **attrs: Any
    ) -> None:
        """Audit an action that concerns the whole server (no ``spacecraft`` attribute) in
        every spacecraft's archive and events."""
        for sc in self.spacecraft.values():
            sc.record_event(user, action, message, severity, **attrs)

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


def _uplink_windows(sc: SpacecraftConfig, name: str) -> UplinkWindows | None:
    """Read a spacecraft's ``uplink_windows.file`` (None: not configured); check whose it is."""
    if sc.uplink_windows is None:
        return None
    from falak.planning.traverse.windows import read_windows

    windows = read_windows(sc.uplink_windows.file)
    if windows.spacecraft and windows.spacecraft != name:
        raise InputError(
            f"{sc.uplink_windows.file}: uplink windows of {windows.spacecraft}, configured for "
            f"{name}; write {name}'s with falak traverse windows --spacecraft {name}"
        )
    windows.spacecraft = name
    return windows


def _named(sc: SpacecraftConfig, name: str) -> SpacecraftConfig:
    from dataclasses import replace

    return replace(sc, name=name)
