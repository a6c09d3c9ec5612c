"""The server's configuration file (YAML) and the ready-to-run example.

.. code-block:: yaml

    mdb: ../missions/testsat/mdb.yaml     # XTCE or falak YAML; relative to this file
    container: null                       # root container (MDBs with several)
    links: [udp://127.0.0.1:10015]        # telemetry links (falak.links.open_link URLs)
    uplink: udp://127.0.0.1:10025         # telecommand uplink (optional: dry runs only)
    archive: ./archive                    # directory (SQLite) or postgresql://...
    token_ttl_s: 28800                    # bearer tokens expire after this many seconds
    confirm_window_s: 30                  # critical commands: confirm within this after arming
    limits:                               # optional; these are the defaults (see Limits)
      max_body_bytes: 1048576             # request bodies above this are refused (413)
      login_failures: 5                   # failed logins per user name in the window...
      login_address_failures: 20          # ...or per client address, before back-off
      login_window_s: 900                 # failures older than this are forgotten
      login_lockout_s: 1                  # first back-off; doubles with each failure
      login_lockout_max_s: 900            # longest back-off
      login_concurrency: 1                # password checks (argon2) running at once
    users:
      - {name: alice, roles: [operator], password_hash: "$argon2id$v=19$..."}

A user has ``password_hash`` (argon2, from :func:`falak.server.hash_password`) or, for
throw-away setups only, ``password`` in clear.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from falak.errors import InputError
from falak.server.auth import ROLES

__all__ = [
    "EXAMPLE_USERS",
    "Limits",
    "ServerConfig",
    "UserConfig",
    "example_config",
    "load_config",
]

_KEYS = {
    "mdb",
    "container",
    "links",
    "uplink",
    "archive",
    "token_ttl_s",
    "confirm_window_s",
    "limits",
    "users",
}


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
    """A user as configured: name, roles and a password or its argon2 hash."""

    name: str
    roles: tuple[str, ...]
    password: str | None = None
    password_hash: str | None = None


@dataclass
class ServerConfig:
    """Everything ``falak serve`` needs to start."""

    mdb: Path
    archive: str
    links: list[str] = field(default_factory=list)
    uplink: str | None = None
    container: str | None = None
    users: list[UserConfig] = field(default_factory=list)
    token_ttl_s: float = 8 * 3600.0
    confirm_window_s: float = 30.0
    limits: Limits = field(default_factory=Limits)


def _fail(path: Path, msg: str) -> InputError:
    return InputError(f"{path}: {msg}")


def load_config(path: str | Path) -> ServerConfig:
    """Read a server configuration (see the module doc); relative paths are relative to it."""
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
    for key in ("mdb", "archive"):
        if not isinstance(doc.get(key), str):
            raise _fail(p, f"{key!r} is required (a path)")
    base = p.parent
    archive = str(doc["archive"])
    if "://" not in archive:
        archive = str((base / archive).resolve())
    links = doc.get("links") or []
    if not isinstance(links, list) or not all(isinstance(u, str) for u in links):
        raise _fail(p, "'links' must be a list of URLs such as udp://127.0.0.1:10015")
    users = []
    for i, u in enumerate(doc.get("users") or []):
        if not isinstance(u, dict) or not isinstance(u.get("name"), str):
            raise _fail(p, f"users[{i}] must be a mapping with a name, roles and password_hash")
        roles = u.get("roles") or ["viewer"]
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise _fail(p, f"user {u['name']}: unknown roles {bad}; roles: {', '.join(ROLES)}")
        if ("password" in u) == ("password_hash" in u):
            raise _fail(p, f"user {u['name']}: give exactly one of password_hash or password")
        users.append(UserConfig(u["name"], tuple(roles), u.get("password"), u.get("password_hash")))
    limits = doc.get("limits") or {}
    known = [f.name for f in fields(Limits)]
    if not isinstance(limits, dict) or set(limits) - set(known):
        raise _fail(p, f"'limits' must be a mapping with keys among {', '.join(known)}")
    try:
        lim = Limits(**limits)
    except InputError as exc:
        raise _fail(p, str(exc)) from None
    try:
        return ServerConfig(
            mdb=(base / str(doc["mdb"])).resolve(),
            archive=archive,
            links=list(links),
            uplink=doc.get("uplink"),
            container=doc.get("container"),
            users=users,
            token_ttl_s=float(doc.get("token_ttl_s", 8 * 3600.0)),
            confirm_window_s=float(doc.get("confirm_window_s", 30.0)),
            limits=lim,
        )
    except (TypeError, ValueError) as exc:
        raise _fail(p, f"bad value: {exc}") from None


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
        mdb=mdb,
        archive=str(archive_dir),
        links=[f"udp://127.0.0.1:{tm_port}"],
        uplink=None if uplink_port is None else f"udp://127.0.0.1:{uplink_port}",
        users=[
            UserConfig(name, (role,), password=secrets.token_urlsafe(9))
            for name, role in EXAMPLE_USERS
        ],
    )
