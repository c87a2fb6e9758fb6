"""Accounts: register, sign in, sign out, who am I."""

from fastapi import APIRouter, Request, Response

from app.api.common import errors
from app.api.deps import CtxDep, CurrentUser, TokenDep
from app.schemas import AuthOut, LoginIn, PasswordIn, RegisterIn, UserOut
from app.services import accounts

router = APIRouter(tags=["accounts"])


def client_address(request: Request) -> str:
    """The caller's address (the proxy's X-Forwarded-For when uvicorn trusts the proxy)."""
    return request.client.host if request.client else "unknown"


@router.post(
    "/auth/register", status_code=201, response_model=AuthOut, responses=errors(409, 429, 503)
)
async def register(body: RegisterIn, request: Request, ctx: CtxDep) -> AuthOut:
    """Make an account. The password: at least 10 characters, not only spaces, without the
    handle, and not a common one (`422 weak_password`)."""
    user, token = await accounts.register(
        ctx, body.handle, body.display_name, body.password, client_address(request)
    )
    return AuthOut(user=UserOut.model_validate(user), token=token)


@router.post("/auth/login", response_model=AuthOut, responses=errors(401, 429, 503))
async def login(body: LoginIn, request: Request, ctx: CtxDep) -> AuthOut:
    user, token = await accounts.login(ctx, body.handle, body.password, client_address(request))
    return AuthOut(user=UserOut.model_validate(user), token=token)


@router.post("/auth/password", response_model=AuthOut, responses=errors(401, 403, 429, 503))
async def change_password(
    body: PasswordIn, request: Request, ctx: CtxDep, user: CurrentUser
) -> AuthOut:
    """Change the password: every token of the account is revoked (its websockets close),
    and a new token for this client is returned."""
    token = await accounts.change_password(
        ctx,
        user,
        current=body.current_password,
        new=body.new_password,
        address=client_address(request),
    )
    return AuthOut(user=UserOut.model_validate(user), token=token)


@router.post("/auth/logout", status_code=204, response_class=Response, responses=errors(401))
async def logout(ctx: CtxDep, user: CurrentUser, token: TokenDep) -> Response:
    await accounts.logout(ctx, user, token)
    return Response(status_code=204)
