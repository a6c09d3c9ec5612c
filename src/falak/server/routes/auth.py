"""``/auth``: exchange a user name and password for a bearer token; who am I."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Request

from falak.server.routes.deps import CurrentUser, RuntimeDep
from falak.server.schemas import ErrorOut, Me, TokenRequest, TokenResponse, iso

router = APIRouter(prefix="/auth", tags=["auth"])

_LOGIN: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "bad credentials"},
    429: {
        "model": ErrorOut,
        "description": "too many failed logins: wait the `Retry-After` seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}


def _too_many(detail: str, retry_after_s: int) -> HTTPException:
    return HTTPException(429, detail, headers={"Retry-After": str(retry_after_s)})


@router.post("/token", response_model=TokenResponse, responses=_LOGIN)
async def token(body: TokenRequest, request: Request, rt: RuntimeDep) -> TokenResponse:
    """Return a bearer token (with its expiry) for a user name and password.

    Throttled per user name and per client address (429 with ``Retry-After``, see
    :mod:`falak.server.throttle`); a throttled attempt's password is not checked.
    """
    address = request.client.host if request.client is not None else "unknown"
    refusal = rt.logins.begin(body.username, address)
    if refusal is not None:
        raise _too_many(refusal.detail, refusal.retry_after_s)
    ok: bool | None = None
    try:
        if not await rt.logins.acquire_check():
            raise _too_many("too many logins being checked at once: try again in 1 s", 1)
        try:  # argon2 in a worker thread: the event loop keeps serving
            user = await to_thread.run_sync(rt.users.authenticate, body.username, body.password)
        finally:
            rt.logins.release_check()
        ok = user is not None
    finally:
        rt.logins.end(body.username, address, ok=ok)
    if user is None:
        raise HTTPException(
            401, "wrong user name or password", headers={"WWW-Authenticate": "Bearer"}
        )
    tok, expires = rt.tokens.issue(user)
    return TokenResponse(
        access_token=tok,
        expires_at=iso(int(expires * 1e9)) or "",
        user=user.name,
        roles=sorted(user.roles),
    )


@router.get("/me", response_model=Me)
def me(user: CurrentUser, rt: RuntimeDep) -> Me:
    """The authenticated user, their roles and their roles on each spacecraft."""
    return Me(
        user=user.name,
        roles=sorted(user.roles),
        spacecraft={name: sorted(user.roles_on(name)) for name in rt.spacecraft},
    )


@router.post("/logout", status_code=204)
def logout(request: Request, user: CurrentUser, rt: RuntimeDep) -> None:
    """Revoke the token used for this request."""
    header = request.headers.get("authorization", "")
    rt.tokens.revoke(header.split(" ", 1)[-1])
