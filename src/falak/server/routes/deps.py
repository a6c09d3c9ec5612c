"""Dependencies shared by the routes: the runtime, the authenticated user, role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from falak.server.auth import User, bearer_user
from falak.server.runtime import Runtime

__all__ = ["CurrentUser", "RuntimeDep", "current_user", "get_runtime", "require"]

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


def require(role: str) -> Callable[[User], User]:
    """A dependency that lets only users holding ``role`` through (else 403)."""

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        if not user.has(role):
            raise HTTPException(
                403,
                f"user {user.name} (roles {', '.join(sorted(user.roles))}) may not do this: "
                f"it needs the role {role}",
            )
        return user

    return check


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CurrentUser = Annotated[User, Depends(current_user)]
