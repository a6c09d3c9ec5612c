"""``/auth``: exchange a user name and password for a bearer token; who am I."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from falak.server.routes.deps import CurrentUser, RuntimeDep
from falak.server.schemas import Me, TokenRequest, TokenResponse, iso

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/token", response_model=TokenResponse, responses={401: {"description": "bad credentials"}}
)
def token(body: TokenRequest, rt: RuntimeDep) -> TokenResponse:
    """Return a bearer token (with its expiry) for a user name and password."""
    user = rt.users.authenticate(body.username, body.password)
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
def me(user: CurrentUser) -> Me:
    """The authenticated user and their roles."""
    return Me(user=user.name, roles=sorted(user.roles))


@router.post("/logout", status_code=204)
def logout(request: Request, user: CurrentUser, rt: RuntimeDep) -> None:
    """Revoke the token used for this request."""
    header = request.headers.get("authorization", "")
    rt.tokens.revoke(header.split(" ", 1)[-1])
