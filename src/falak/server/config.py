"""The server's configuration file (YAML) and the ready-to-run example.

Several spacecraft (Yamcs calls them instances), one archive keyed by spacecraft:

.. code-block:: yaml

    archive: ./archive                    # directory (SQLite) or postgresql://...
    clock: {epoch: "2023-09-08T00:00:00Z", speed: 60, reference_host_ns: 1765100000000000000}
    token_ttl_s: 28800                    # bearer tokens expire after this many seconds
    science: {products_dir: ./products}   # optional: what GET /api/v1/science/products serves
    limits:                               # optional; these are the defaults (see Limits)
      max_body_bytes: 1048576             # request bodies above this are refused (413)
      login_failures: 5                   # failed logins per user name in the window...
      login_address_failures: 20          # ...or per client address, before back-off
      login_window_s: 900                 # failures older than this are forgotten
      login_lockout_s: 1                  # first back-off; doubles with each failure
      login_lockout_max_s: 900            # longest back-off
      login_concurrency: 1                # password checks (argon2) running at once
    users:
      - {name: alice, roles: [operator], password_hash: "$argon2id$v=19$..."}  # every spacecraft
      - {name: bob, roles: {TIANGONG: [operator], "*": [viewer]}, password_hash: "..."}
    spacecraft:
      - name: TIANGONG                    # the MDB's root name
        mdb: ../missions/tiangong/mdb.yaml  # XTCE or falak YAML; relative to this file
        container: null                   # root container (MDBs with several)
        links: [udp://127.0.0.1:10015, udp://127.0.0.1:10016]  # falak.links.open_link URLs
        uplink: udp://127.0.0.1:10025     # telecommand uplink (optional: dry runs only)
        light_time_s: 0.0                 # one-way light time: widens verifier windows
        host_allowance_s: 0.0             # host s the ground may take to see an ack (x speed)
        confirm_window_s: 30              # critical commands: confirm within this after arming
        uplink_windows:                   # optional: when the uplink can reach the spacecraft
          file: windows.json              # falak-uplink-windows/1 JSON (falak traverse windows)
          policy: wait                    # wait: hold a command until the next window; refuse
        orbit: {tle: css.tle}             # optional, Earth orbiters: ground track, passes, eclipses
                                          # or {oem: orbiter.oem}: a lunar orbiter's CCSDS OEM
        site:                             # optional, surface spacecraft: the site map
          dem: synthetic                  # or a GeoTIFF; as falak sim rover --option dem=...
          options: {}                     # the rover simulator's site options (dem_size, ...)
          seed: 0                         # the simulator's --seed (the synthetic DEM's)
        plans: [plan.json, route.geojson]  # optional: plans the console's timeline and maps show
        cfdp:                             # optional: file delivery (CCSDS 727.0-B-5) with it
          entity_id: 1                    # the ground's CFDP entity ID
          remote_entity_id: 2             # the spacecraft's
          apid_down: 610                  # space packets carrying PDUs to the ground
          apid_up: 611                    # and to the spacecraft (through its uplink)
          timers: {nak_interval_s: 10}    # falak.cfdp.TIMER_DEFAULTS keys, run-clock seconds

The single-spacecraft form of earlier releases stays valid: ``mdb``, ``container``,
``links``, ``uplink``, ``light_time_s`` and ``confirm_window_s`` at the top level, no
``spacecraft`` list. It is one spacecraft named after its MDB's root name whose archive is
the archive root itself (as before), where the list form gives each spacecraft its own
sub-archive (:func:`falak.archive.open_archive` with ``spacecraft=``).

``clock`` (optional; default: real time) is the run's :class:`~falak.clock.ScaledClock`:
simulated UTC ``epoch`` (ISO 8601 with a zone) at host time ``reference_host_ns``
(``time.time_ns()``; default: when the file is read), running ``speed`` times real time.
Give the simulators of the run the same three numbers.

A user has ``password_hash`` (argon2, from :func:`falak.server.hash_password`) or, for
throw-away setups only, ``password`` in clear. ``roles`` is a list (on every spacecraft) or
a mapping from spacecraft name to a list, where ``"*"`` gives the roles on every spacecraft
not named; a spacecraft neither named nor covered by ``"*"`` is closed to the user.

``light_time_s`` does not delay the uplink (the spacecraft, or its simulator, is that far
away): it widens the command verifiers' windows by the round trip. An uplink URL's
``?delay_s=`` still holds packets back, for a simulator that does not model propagation.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from falak.clock import SYSTEM_CLOCK, Clock, ScaledClock
from falak.errors import FalakError, InputError
from falak.server.auth import ROLES

__all__ = [
    "ALL_SPACECRAFT",
    "EXAMPLE_USERS",
    "CfdpConfig",
    "Limits",
    "ServerConfig",
    "SiteConfig",
    "SpacecraftConfig",
    "UplinkWindowsConfig",
    "UserConfig",
    "example_config",
    "load_config",
]

_SPACECRAFT_KEYS = {
    "name",
    "mdb",
    "container",
    "links",
    "uplink",
    "light_time_s",
    "host_allowance_s",
    "confirm_window_s",
    "uplink_windows",
    "orbit",
    "site",
    "plans",
    "cfdp",
}
_SINGLE_KEYS = _SPACECRAFT_KEYS - {"name"}
_SHARED_KEYS = {"archive", "clock", "token_ttl_s", "limits", "users"}
_KEYS = _SHARED_KEYS | _SINGLE_KEYS | {"spacecraft", "science"}
_CLOCK_KEYS = ("epoch", "speed", "reference_host_ns")

ALL_SPACECRAFT = "*"
"""The key of a user's roles mapping that stands for every spacecraft not named."""


@dataclass(frozen=True)
class Limits:
    """What one client may cost the server: request body size and login attempts.

    A request body above ``max_body_bytes`` is refused with 413 (the login body above
    :data:`~falak.server.guard.LOGIN_BODY_BYTES`). After ``login_failures`` failed logins for
    one user name, or ``login_address_failures`` from one client address, within
    ``login_window_s``, the next attempt must wait ``login_lockout_s``, doubling with each
    further failure up to ``login_lockout_max_s`` (429 with ``Retry-After``; the password is
    not checked). At most ``login_concurrency`` password checks (argon2, about 0.1-0.2 s of
    one core each) run at once.
    """

    max_body_bytes: int = 1_048_576
    login_failures: int = 5
    login_address_failures: int = 20
    login_window_s: float = 900.0
    login_lockout_s: float = 1.0
    login_lockout_max_s: float = 900.0
    login_concurrency: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise InputError(f"limits: {f.name} must be a positive number, got {v!r}")
            if f.type == "int" and not float(v).is_integer():
                raise InputError(f"limits: {f.name} must be a whole number, got {v!r}")
            object.__setattr__(self, f.name, int(v) if f.type == "int" else float(v))


@dataclass(frozen=True)
class UserConfig:
    """A user as configured: name, roles and a password or its argon2 hash.

    ``roles`` hold on every spacecraft not in ``spacecraft_roles`` (spacecraft name →
    roles there).
    """

    name: str
    roles: tuple[str, ...]
    password: str | None = None
    password_hash: str | None = None
    spacecraft_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


UPLINK_POLICIES = ("wait", "refuse")
"""What the uplink does with a command released outside every window of its windows file."""


@dataclass(frozen=True)
class UplinkWindowsConfig:
    """When the uplink reaches the spacecraft (``uplink_windows:``): a windows file, a policy.

    ``file`` is a ``falak-uplink-windows/1`` JSON document (``falak traverse windows``);
    ``policy`` is ``wait`` (a command released outside a window waits for the next one) or
    ``refuse`` (it is refused with the reason and the next window).
    """

    file: Path
    policy: str = "wait"


@dataclass(frozen=True)
class SiteConfig:
    """A surface spacecraft's site (``site:``): the DEM the console's map shows.

    ``dem`` is ``"synthetic"`` (the rover simulator's synthetic south pole) or a GeoTIFF
    path; ``options`` are the rover simulator's site options (``dem_size``,
    ``dem_resolution_m``, ``site_lat_deg``, ...), so ground and simulator see one terrain.
    """

    dem: str | Path = "synthetic"
    options: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    """The synthetic DEM's seed (the simulator's ``--seed``)."""


@dataclass(frozen=True)
class CfdpConfig:
    """File delivery with a spacecraft (``cfdp:``): entity IDs, APIDs and timers."""

    entity_id: int = 1
    remote_entity_id: int = 2
    apid_down: int = 610
    apid_up: int = 611
    timers: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SpacecraftConfig:
    """One spacecraft of a server: its MDB, links, uplink and commanding settings.

    ``root_archive``: its archive is the archive root (the single-spacecraft form), not the
    sub-archive of its name.
    """

    name: str
    mdb: Path
    links: list[str] = field(default_factory=list)
    uplink: str | None = None
    container: str | None = None
    light_time_s: float = 0.0
    confirm_window_s: float = 30.0
    root_archive: bool = False
    host_allowance_s: float = 0.0
    """Host seconds added to verifier windows (times the clock's speed): the ground's own
    reaction time, which a fast simulated clock turns into many mission seconds."""
    uplink_windows: UplinkWindowsConfig | None = None
    """When the uplink can reach the spacecraft, and what to do outside (None: always)."""
    orbit_tle: Path | None = None
    """An Earth orbiter's TLE file (``orbit: {tle: ...}``): ground track, passes, eclipses."""
    orbit_oem: Path | None = None
    """A lunar orbiter's trajectory (``orbit: {oem: ...}``, a CCSDS OEM such as ``falak orbiter
    propagate`` writes and ``falak sim orbiter --option oem=...`` flies): its track over the
    Moon, contacts and eclipses."""
    site: SiteConfig | None = None
    """A surface spacecraft's site (``site:``)."""
    plans: tuple[Path, ...] = ()
    """Plan files shown by the console (campaign plan JSON, traverse GeoJSON, windows ...)."""
    cfdp: CfdpConfig | None = None
    """File delivery with the spacecraft (None: none)."""


@dataclass
class ServerConfig:
    """Everything ``falak serve`` needs to start."""

    archive: str
    spacecraft: list[SpacecraftConfig]
    users: list[UserConfig] = field(default_factory=list)
    token_ttl_s: float = 8 * 3600.0
    limits: Limits = field(default_factory=Limits)
    clock: Clock = SYSTEM_CLOCK
    source: Path | None = None
    """The file it was read from (errors found later name it)."""
    science_products_dir: Path | None = None
    """``science: {products_dir: PATH}``: what ``GET /api/v1/science/products`` serves."""

    def fail(self, msg: str) -> InputError:
        """An error about this configuration, naming its file."""
        return InputError(f"{self.source}: {msg}" if self.source else msg)

    def check_spacecraft_names(self) -> None:
        """Refuse users' roles for spacecraft the configuration does not have."""
        names = {sc.name for sc in self.spacecraft}
        for u in self.users:
            unknown = sorted(set(u.spacecraft_roles) - names)
            if unknown:
                raise self.fail(
                    f"user {u.name}: roles for unknown spacecraft {unknown}; spacecraft: "
                    + ", ".join(sorted(names))
                    + ' (use "*" for every spacecraft)'
                )

    @property
    def mdb(self) -> Path:
        """The first spacecraft's MDB file (what the single-spacecraft form called ``mdb``)."""
        return self.spacecraft[0].mdb


def _fail(path: Path, msg: str) -> InputError:
    return InputError(f"{path}: {msg}")


def _number(p: Path, where: str, key: str, v: Any, default: float) -> float:
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise _fail(p, f"{where}{key} must be a number >= 0 (seconds), got {v!r}")
    return float(v)


def _roles(p: Path, user: str, roles: Any) -> tuple[str, ...]:
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise _fail(p, f"user {user}: roles must be a list such as [operator], got {roles!r}")
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise _fail(p, f"user {user}: unknown roles {bad}; roles: {', '.join(ROLES)}")
    return tuple(roles)


def _user(p: Path, i: int, u: Any) -> UserConfig:
    if not isinstance(u, dict) or not isinstance(u.get("name"), str):
        raise _fail(p, f"users[{i}] must be a mapping with a name, roles and password_hash")
    name = u["name"]
    roles_doc = u.get("roles") or ["viewer"]
    per: dict[str, tuple[str, ...]] = {}
    if isinstance(roles_doc, dict):
        for sc, rs in roles_doc.items():
            per[str(sc)] = _roles(p, f"{name} (spacecraft {sc})", rs)
        roles = per.pop(ALL_SPACECRAFT, ())
    else:
        roles = _roles(p, name, roles_doc)
    if ("password" in u) == ("password_hash" in u):
        raise _fail(p, f"user {name}: give exactly one of password_hash or password")
    return UserConfig(name, roles, u.get("password"), u.get("password_hash"), per)


def _clock(p: Path, doc: Any) -> Clock:
    if doc is None:
        return SYSTEM_CLOCK
    if not isinstance(doc, dict) or set(doc) - set(_CLOCK_KEYS) or "epoch" not in doc:
        raise _fail(
            p,
            "'clock' must be a mapping {epoch: ISO 8601 UTC, speed: N, reference_host_ns: N}, "
            'e.g. {epoch: "2023-09-08T00:00:00Z", speed: 60} (speed and reference_host_ns '
            "optional: 1 and now)",
        )
    from falak.utctime import parse_ns

    try:
        epoch_ns = parse_ns(str(doc["epoch"]), "clock: epoch", zone_required=True)
    except FalakError as exc:
        raise _fail(p, str(exc)) from None
    ref = doc.get("reference_host_ns")
    if ref is not None and (isinstance(ref, bool) or not isinstance(ref, int)):
        raise _fail(
            p, f"clock: reference_host_ns must be whole ns since 1970 (time.time_ns()), got {ref!r}"
        )
    try:
        return ScaledClock(epoch_ns, doc.get("speed", 1.0), ref)
    except ValueError as exc:
        raise _fail(p, f"clock: {exc}") from None


def _spacecraft(p: Path, where: str, doc: dict[str, Any], name: str | None) -> SpacecraftConfig:
    if not isinstance(doc.get("mdb"), str):
        raise _fail(p, f"{where}'mdb' is required (a path)")
    links = doc.get("links") or []
    if not isinstance(links, list) or not all(isinstance(u, str) for u in links):
        raise _fail(p, f"{where}'links' must be a list of URLs such as udp://127.0.0.1:10015")
    for key in ("uplink", "container"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise _fail(p, f"{where}{key!r} must be text, got {doc[key]!r}")
    return SpacecraftConfig(
        name=name or "",
        mdb=(p.parent / str(doc["mdb"])).resolve(),
        links=list(links),
        uplink=doc.get("uplink"),
        container=doc.get("container"),
        light_time_s=_number(p, where, "light_time_s", doc.get("light_time_s"), 0.0),
        host_allowance_s=_number(p, where, "host_allowance_s", doc.get("host_allowance_s"), 0.0),
        confirm_window_s=_number(p, where, "confirm_window_s", doc.get("confirm_window_s"), 30.0),
        root_archive=name is None,
        uplink_windows=_uplink_windows(p, where, doc.get("uplink_windows")),
        orbit_tle=_orbit(p, where, doc.get("orbit"), "tle"),
        orbit_oem=_orbit(p, where, doc.get("orbit"), "oem"),
        site=_site(p, where, doc.get("site")),
        plans=_plans(p, where, doc.get("plans")),
        cfdp=_cfdp(p, where, doc.get("cfdp")),
    )


def _cfdp(p: Path, where: str, v: Any) -> CfdpConfig | None:
    if v is None:
        return None
    keys = {"entity_id", "remote_entity_id", "apid_down", "apid_up", "timers"}
    form = (
        f"{where}cfdp must be a mapping with keys among {', '.join(sorted(keys))}, e.g. "
        "{entity_id: 1, remote_entity_id: 2, apid_down: 610, apid_up: 611}"
    )
    if not isinstance(v, dict) or set(v) - keys:
        raise _fail(p, form)
    out: dict[str, Any] = {}
    for key, top in (
        ("entity_id", 2**64 - 1),
        ("remote_entity_id", 2**64 - 1),
        ("apid_down", 2047),
        ("apid_up", 2047),
    ):
        n = v.get(key, getattr(CfdpConfig, key))
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= top:
            raise _fail(p, f"{where}cfdp.{key} must be an integer 0..{top}, got {n!r}")
        out[key] = n
    if out["entity_id"] == out["remote_entity_id"]:
        raise _fail(p, f"{where}cfdp: entity_id and remote_entity_id must differ")
    timers = v.get("timers") or {}
    if not isinstance(timers, dict) or not all(
        isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0 for t in timers.values()
    ):
        raise _fail(p, f"{where}cfdp.timers must map timer names to numbers >= 0")
    return CfdpConfig(**out, timers={str(k): float(t) for k, t in timers.items()})


def _existing(p: Path, where: str, key: str, v: Any) -> Path:
    if not isinstance(v, str) or not v:
        raise _fail(p, f"{where}{key} must be a file path, got {v!r}")
    f = (p.parent / v).resolve()
    if not f.is_file():
        raise _fail(p, f"{where}{key}: no file {f} (paths are relative to this file)")
    return f


def _uplink_windows(p: Path, where: str, v: Any) -> UplinkWindowsConfig | None:
    if v is None:
        return None
    if not isinstance(v, dict) or set(v) - {"file", "policy"} or "file" not in v:
        raise _fail(
            p,
            f"{where}uplink_windows must be a mapping {{file: WINDOWS.json, policy: wait|refuse}}",
        )
    policy = v.get("policy", "wait")
    if policy not in UPLINK_POLICIES:
        raise _fail(
            p,
            f"{where}uplink_windows.policy must be one of {', '.join(UPLINK_POLICIES)}, "
            f"got {policy!r}",
        )
    return UplinkWindowsConfig(_existing(p, where, "uplink_windows.file", v["file"]), policy)


def _orbit(p: Path, where: str, v: Any, kind: str) -> Path | None:
    if v is None:
        return None
    if not isinstance(v, dict) or len(v) != 1 or not set(v) <= {"tle", "oem"}:
        raise _fail(
            p,
            f"{where}orbit must be a mapping {{tle: FILE.tle}} (Earth orbit) or {{oem: FILE.oem}}"
            " (a lunar orbiter's CCSDS OEM)",
        )
    return _existing(p, where, f"orbit.{kind}", v[kind]) if kind in v else None


def _site(p: Path, where: str, v: Any) -> SiteConfig | None:
    if v is None:
        return None
    if not isinstance(v, dict) or set(v) - {"dem", "options", "seed"}:
        raise _fail(
            p,
            f"{where}site must be a mapping {{dem: synthetic|DEM.tif, options: {{...}}, seed: N}}",
        )
    dem = v.get("dem", "synthetic")
    options = v.get("options") or {}
    if not isinstance(options, dict):
        raise _fail(p, f"{where}site.options must be a mapping, got {options!r}")
    if dem != "synthetic":
        dem = _existing(p, where, "site.dem", dem)
    seed = v.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise _fail(p, f"{where}site.seed must be an integer, got {seed!r}")
    return SiteConfig(dem, dict(options), seed)


def _plans(p: Path, where: str, v: Any) -> tuple[Path, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise _fail(p, f"{where}plans must be a list of file paths")
    return tuple(_existing(p, where, f"plans[{i}]", f) for i, f in enumerate(v))


def _science(p: Path, v: Any) -> Path | None:
    if v is None:
        return None
    if (
        not isinstance(v, dict)
        or set(v) != {"products_dir"}
        or not isinstance(v["products_dir"], str)
    ):
        raise _fail(p, "science must be a mapping {products_dir: PATH} (a directory)")
    return (p.parent / v["products_dir"]).resolve()


def _spacecraft_list(p: Path, doc: Any) -> list[SpacecraftConfig]:
    how = (
        "'spacecraft' must be a list of mappings with keys among "
        + ", ".join(sorted(_SPACECRAFT_KEYS))
        + " (name and mdb required)"
    )
    if not isinstance(doc, list) or not doc:
        raise _fail(p, how)
    out: list[SpacecraftConfig] = []
    for i, sc in enumerate(doc):
        if not isinstance(sc, dict):
            raise _fail(p, f"spacecraft[{i}]: {how}")
        name = sc.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(p, f"spacecraft[{i}] needs a name (its MDB's root name, e.g. TIANGONG)")
        where = f"spacecraft {name}: "
        unknown = set(sc) - _SPACECRAFT_KEYS
        if unknown:
            raise _fail(
                p,
                f"{where}unknown keys {sorted(unknown)}; allowed: "
                + ", ".join(sorted(_SPACECRAFT_KEYS)),
            )
        if any(o.name == name for o in out):
            raise _fail(p, f"spacecraft {name} is configured twice: give each a distinct name")
        out.append(_spacecraft(p, where, sc, name))
    return out


def load_config(path: str | Path) -> ServerConfig:
    """Read a server configuration (see the module doc); relative paths are relative to it.

    A spacecraft's ``name`` is checked against its MDB's root name when the server loads the
    MDB (:meth:`falak.server.Runtime.from_config`).
    """
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise InputError(f"cannot read server config {p}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise _fail(p, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise _fail(p, "must be a YAML mapping with keys " + ", ".join(sorted(_KEYS)))
    unknown = set(doc) - _KEYS
    if unknown:
        raise _fail(p, f"unknown keys {sorted(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    if not isinstance(doc.get("archive"), str):
        raise _fail(p, "'archive' is required (a directory or postgresql://...)")
    if "spacecraft" in doc:
        mixed = sorted(set(doc) & _SINGLE_KEYS)
        if mixed:
            raise _fail(
                p,
                f"{', '.join(mixed)} at the top level and a 'spacecraft' list: move "
                f"{'it' if len(mixed) == 1 else 'them'} into each spacecraft's entry",
            )
        spacecraft = _spacecraft_list(p, doc["spacecraft"])
    else:
        if not isinstance(doc.get("mdb"), str):
            raise _fail(p, "'mdb' is required (a path), or a 'spacecraft' list")
        spacecraft = [_spacecraft(p, "", doc, None)]
    archive = str(doc["archive"])
    if "://" not in archive:
        archive = str((p.parent / archive).resolve())
    users = [_user(p, i, u) for i, u in enumerate(doc.get("users") or [])]
    limits = doc.get("limits") or {}
    known = [f.name for f in fields(Limits)]
    if not isinstance(limits, dict) or set(limits) - set(known):
        raise _fail(p, f"'limits' must be a mapping with keys among {', '.join(known)}")
    try:
        lim = Limits(**limits)
    except InputError as exc:
        raise _fail(p, str(exc)) from None
    try:
        cfg = ServerConfig(
            archive=archive,
            spacecraft=spacecraft,
            users=users,
            token_ttl_s=float(doc.get("token_ttl_s", 8 * 3600.0)),
            limits=lim,
            clock=_clock(p, doc.get("clock")),
            source=p,
            science_products_dir=_science(p, doc.get("science")),
        )
    except (TypeError, ValueError) as exc:
        raise _fail(p, f"bad value: {exc}") from None
    if "spacecraft" in doc:  # the single form's name is the MDB's: checked once it is read
        cfg.check_spacecraft_names()
    return cfg


EXAMPLE_USERS: tuple[tuple[str, str], ...] = (
    ("viewer", "viewer"),
    ("operator", "operator"),
    ("flight", "flight_director"),
    ("admin", "admin"),
)
"""(user name, role) of the example configuration's users."""


def example_config(
    archive_dir: str | Path, *, tm_port: int = 10015, uplink_port: int | None = 10025
) -> ServerConfig:
    """The ready example: TESTSAT, a UDP link on ``tm_port``, an archive in ``archive_dir``,
    a UDP uplink to ``uplink_port`` (None: none) and one user per role with a random
    password (read them from ``users``)."""
    from falak.missions import __file__ as missions_init

    mdb = Path(missions_init).parent / "testsat" / "mdb.yaml"
    return ServerConfig(
        archive=str(archive_dir),
        spacecraft=[
            SpacecraftConfig(
                name="TESTSAT",
                mdb=mdb,
                links=[f"udp://127.0.0.1:{tm_port}"],
                uplink=None if uplink_port is None else f"udp://127.0.0.1:{uplink_port}",
                root_archive=True,
            )
        ],
        users=[
            UserConfig(name, (role,), password=secrets.token_urlsafe(9))
            for name, role in EXAMPLE_USERS
        ],
    )
