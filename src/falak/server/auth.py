"""Users, roles, passwords (argon2) and bearer tokens.

Roles, from least to most trusted: ``viewer`` (reads everything), ``operator`` (also
commands, acts on alarms and links), ``flight_director`` (also arms and confirms critical
commands) and ``admin`` (everything). Each role includes the ones before it, so a
flight director is an operator too.

Tokens are random 256-bit strings kept in memory with their expiry; a restart of the server
logs everybody out. Passwords are stored as argon2id hashes (RFC 9106) only. A login for an
unknown user name checks the password against a dummy hash with the same argon2 parameters
as the configured users', so it costs the same time as a wrong password for a real user.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from argon2 import Parameters, PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi.security.utils import get_authorization_scheme_param

from falak.errors import InputError

__all__ = [
    "BAD_TOKEN",
    "NO_TOKEN",
    "ROLES",
    "TokenStore",
    "User",
    "UserStore",
    "bearer_user",
    "effective_roles",
    "hash_password",
]

ROLES: tuple[str, ...] = ("viewer", "operator", "flight_director", "admin")
"""Known roles, least trusted first; each includes those before it."""

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password`` (what a config file stores)."""
    return _hasher.hash(password)


def effective_roles(roles: tuple[str, ...] | list[str] | frozenset[str]) -> frozenset[str]:
    """Expand roles to every role they include (``operator`` → ``viewer``, ``operator``)."""
    out: set[str] = set()
    for r in roles:
        if r not in ROLES:
            raise InputError(f"unknown role {r!r}; roles: {', '.join(ROLES)}")
        out.update(ROLES[: ROLES.index(r) + 1])
    return frozenset(out)


@dataclass(frozen=True)
class User:
    """An authenticated user: name and effective roles.

    ``roles`` hold on every spacecraft not in ``spacecraft_roles`` (spacecraft name →
    effective roles there).
    """

    name: str
    roles: frozenset[str]
    spacecraft_roles: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def roles_on(self, spacecraft: str | None) -> frozenset[str]:
        """The user's effective roles on ``spacecraft`` (None: ``roles``)."""
        if spacecraft is None:
            return self.roles
        return self.spacecraft_roles.get(spacecraft, self.roles)

    def has(self, role: str, spacecraft: str | None = None) -> bool:
        """True when the user holds ``role`` (directly or through a higher role), on
        ``spacecraft`` when given."""
        return role in self.roles_on(spacecraft)


class UserStore:
    """User names → (argon2 hash, roles)."""

    def __init__(self) -> None:
        self._users: dict[str, tuple[str, User]] = {}
        self.dummy_hash = _DUMMY_HASH
        """What an unknown user's password is checked against (same cost as a real check)."""

    def add(
        self,
        name: str,
        roles: list[str],
        *,
        password: str | None = None,
        password_hash: str | None = None,
        spacecraft_roles: Mapping[str, list[str] | tuple[str, ...]] | None = None,
    ) -> None:
        """Add a user with a password (hashed here) or an argon2 hash; ``roles`` hold on
        every spacecraft not in ``spacecraft_roles`` (spacecraft name → roles there)."""
        if (password is None) == (password_hash is None):
            raise InputError(f"user {name!r}: give exactly one of password or password_hash")
        h = hash_password(password) if password is not None else str(password_hash)
        if not h.startswith("$argon2"):
            raise InputError(
                f"user {name!r}: password_hash must be an argon2 hash ($argon2id$...); "
                'make one with `python -c "from falak.server import hash_password; '
                "print(hash_password('...'))\"`"
            )
        per = {sc: effective_roles(r) for sc, r in (spacecraft_roles or {}).items()}
        self._users[name] = (h, User(name, effective_roles(roles), per))
        self._match_dummy(h)

    def _match_dummy(self, h: str) -> None:
        """Give the dummy hash the argon2 parameters of ``h`` (cost is set by them)."""
        try:
            params: Parameters = extract_parameters(h)
        except InvalidHashError:
            return  # not verifiable at all: authenticate() fails it without argon2 work
        if params != extract_parameters(self.dummy_hash):
            self.dummy_hash = PasswordHasher.from_parameters(params).hash(secrets.token_hex(8))

    def names(self) -> list[str]:
        """The user names, sorted."""
        return sorted(self._users)

    def authenticate(self, name: str, password: str) -> User | None:
        """Return the user when the password matches, else None (same cost either way)."""
        entry = self._users.get(name)
        h = entry[0] if entry is not None else self.dummy_hash
        try:
            ok: bool = _hasher.verify(h, password)
        except (VerificationError, InvalidHashError):
            ok = False  # same cost as a match: no timing oracle on user names
        if not ok or entry is None:
            return None
        return entry[1]


_DUMMY_HASH = hash_password(secrets.token_hex(8))


NO_TOKEN = (
    "not authenticated: send 'Authorization: Bearer TOKEN' "
    "(get a token with POST /api/v1/auth/token)"
)
BAD_TOKEN = "token unknown or expired: get a new one with POST /api/v1/auth/token"


def bearer_user(tokens: TokenStore, authorization: str | None) -> User | str:
    """The user of an ``Authorization: Bearer TOKEN`` header value, else why not
    (:data:`NO_TOKEN` or :data:`BAD_TOKEN`)."""
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not authorization or scheme.lower() != "bearer" or not credentials:
        return NO_TOKEN
    user = tokens.lookup(credentials)
    return BAD_TOKEN if user is None else user


class TokenStore:
    """Bearer tokens with an expiry, in memory."""

    def __init__(self, ttl_s: float = 8 * 3600.0) -> None:
        self.ttl_s = ttl_s
        self._tokens: dict[str, tuple[User, float]] = {}
        self._lock = threading.Lock()

    def issue(self, user: User) -> tuple[str, float]:
        """Return a new token for ``user`` and its expiry (UNIX seconds)."""
        token = secrets.token_urlsafe(32)
        expires = time.time() + self.ttl_s
        with self._lock:
            now = time.time()
            for t in [t for t, (_, e) in self._tokens.items() if e <= now]:
                del self._tokens[t]
            self._tokens[token] = (user, expires)
        return token, expires

    def lookup(self, token: str) -> User | None:
        """The user of a valid, unexpired token, else None."""
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                return None
            if entry[1] <= time.time():
                del self._tokens[token]
                return None
            return entry[0]

    def revoke(self, token: str) -> None:
        """Forget a token (logout)."""
        with self._lock:
            self._tokens.pop(token, None)
