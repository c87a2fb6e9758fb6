"""Accounts: register, sign in, sign out, who am I."""

from fastapi import APIRouter, Request, Response

from app.api.common import errors
from app.api.deps import CtxDep, CurrentUser, TokenDep, runtime
from app.schemas import (
    AuthOut,
    LoginIn,
    MeOut,
    PasswordIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RegisterIn,
    ServerOut,
    UserOut,
    VerifyEmailIn,
)
from app.services import accounts, emails, people, registration

router = APIRouter(tags=["accounts"])


def client_address(request: Request) -> str:
    """The caller's address (the proxy's X-Forwarded-For when uvicorn trusts the proxy)."""
    return request.client.host if request.client else "unknown"


@router.get("/server", response_model=ServerOut)
async def server(request: Request) -> ServerOut:
    """What a client needs before anyone signs in: how this server takes new accounts."""
    return registration.server_info(runtime(request).settings)


@router.post(
    "/auth/register",
    status_code=201,
    response_model=AuthOut,
    responses=errors(403, 404, 409, 410, 429, 503),
)
async def register(body: RegisterIn, request: Request, ctx: CtxDep) -> AuthOut:
    """Make an account. The password: at least 10 characters, not only spaces, without the
    handle, and not a common one (`422 weak_password`). An `email` is mailed a
    verification link (409 `email_not_configured` when the server sends no email). With
    an `invite_code` (required when registration is `invite`) the account joins that
    group; `403 registration_closed` when the server takes no new accounts."""
    user, token = await accounts.register(
        ctx,
        body.handle,
        body.display_name,
        body.password,
        client_address(request),
        body.email,
        body.invite_code,
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


@router.post("/auth/verify-email", response_model=MeOut, responses=errors(409, 429))
async def verify_email(body: VerifyEmailIn, request: Request, ctx: CtxDep) -> MeOut:
    """Confirm an address with the token of the link mailed to it (`422 invalid_token` when
    it is unknown, used, expired or for an address the account no longer has)."""
    user = await emails.verify(ctx, body.token, client_address(request))
    return people.me_out(user)


@router.post(
    "/auth/password-reset", status_code=202, response_class=Response, responses=errors(409, 429)
)
async def password_reset(body: PasswordResetIn, request: Request, ctx: CtxDep) -> Response:
    """Mail a reset link (valid one hour) to the verified address of the account with this
    handle or address. Always 202, whether or not there is one."""
    await emails.request_reset(ctx, body.login, client_address(request))
    return Response(status_code=202)


@router.post(
    "/auth/password-reset/confirm",
    status_code=204,
    response_class=Response,
    responses=errors(429, 503),
)
async def password_reset_confirm(
    body: PasswordResetConfirmIn, request: Request, ctx: CtxDep
) -> Response:
    """Set a new password with a reset token (same rules as registration): every token of
    the account is revoked and its websockets close; sign in again."""
    await accounts.reset_password(ctx, body.token, body.new_password, client_address(request))
    return Response(status_code=204)
