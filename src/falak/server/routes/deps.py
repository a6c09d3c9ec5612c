"""Dependencies shared by the routes: the runtime, the spacecraft, the user, role checks.

Every per-spacecraft route is served twice from one router: under ``/api/v1`` (the default
spacecraft, the first configured) and under ``/api/v1/spacecraft/{sc}``. The route resolves
its spacecraft with :data:`SpacecraftDep`, which reads ``sc`` from the path when there is
one (an unknown name is a 404 listing the known ones). Reading a spacecraft needs the
``viewer`` role on it; :func:`require` checks a role on the route's spacecraft.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from falak.server.auth import User, bearer_user
from falak.server.runtime import Runtime, SpacecraftRuntime

__all__ = [
    "CurrentUser",
    "RuntimeDep",
    "SpacecraftDep",
    "current_user",
    "forbidden",
    "get_runtime",
    "get_spacecraft",
    "require",
    "spacecraft_path",
]

_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/v1/auth/token")


def get_runtime(request: Request) -> Runtime:
    """The runtime the app was built around."""
    rt: Runtime = request.app.state.runtime
    return rt


def current_user(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user of the bearer token; 401 without a valid one.

    (:class:`~falak.server.guard.AuthGuard` has refused such requests before their body was
    read; this check stays for the roles and the OpenAPI security scheme.)"""
    user = bearer_user(get_runtime(request).tokens, request.headers.get("authorization"))
    if isinstance(user, str):
        raise HTTPException(401, user, headers={"WWW-Authenticate": "Bearer"})
    return user


def resolve_spacecraft(conn: HTTPConnection) -> SpacecraftRuntime:
    """The spacecraft a request or WebSocket names in its path (none: the default); an
    unknown name raises :class:`~falak.errors.InputError` (``no spacecraft named ...``)."""
    rt: Runtime = conn.app.state.runtime
    return rt.get(conn.path_params.get("sc"))


def forbidden(user: User, role: str, sc: SpacecraftRuntime) -> HTTPException | None:
    """The 403 for a user without ``role`` on ``sc`` (None: the user has it)."""
    if user.has(role, sc.name):
        return None
    roles = sorted(user.roles_on(sc.name))
    held = f"roles {', '.join(roles)}" if roles else "no roles"
    return HTTPException(
        403,
        f"user {user.name} ({held}) may not do this on {sc.name}: it needs the role {role} there",
    )


def get_spacecraft(
    request: Request, user: Annotated[User, Depends(current_user)]
) -> SpacecraftRuntime:
    """The route's spacecraft (see the module doc); 403 without the viewer role on it."""
    sc = resolve_spacecraft(request)
    refusal = forbidden(user, "viewer", sc)
    if refusal is not None:
        raise refusal
    return sc


def spacecraft_path(
    sc: Annotated[
        str,
        Path(
            max_length=100,
            description="A spacecraft's name (its MDB's root name; GET /api/v1/spacecraft)",
        ),
    ],
) -> str:
    """The ``{sc}`` path parameter (declared once for every route under it)."""
    return sc


SpacecraftDep = Annotated[SpacecraftRuntime, Depends(get_spacecraft)]


def require(role: str) -> Callable[..., User]:
    """A dependency that lets only users holding ``role`` on the route's spacecraft through
    (else 403 naming the spacecraft and the role)."""

    def check(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
        refusal = forbidden(user, role, resolve_spacecraft(request))
        if refusal is not None:
            raise refusal
        return user

    return check


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CurrentUser = Annotated[User, Depends(current_user)]
