"""Accounts: register, sign in, sign out, who am I."""

from fastapi import APIRouter, Response

from app.api.common import errors
from app.api.deps import CtxDep, CurrentUser, TokenDep
from app.schemas import AuthOut, LoginIn, RegisterIn, UserOut
from app.services import accounts

router = APIRouter(tags=["accounts"])


@router.post("/auth/register", status_code=201, response_model=AuthOut, responses=errors(409))
async def register(body: RegisterIn, ctx: CtxDep) -> AuthOut:
    user, token = await accounts.register(ctx, body.handle, body.display_name, body.password)
    return AuthOut(user=UserOut.model_validate(user), token=token)


@router.post("/auth/login", response_model=AuthOut, responses=errors(401))
async def login(body: LoginIn, ctx: CtxDep) -> AuthOut:
    user, token = await accounts.login(ctx, body.handle, body.password)
    return AuthOut(user=UserOut.model_validate(user), token=token)


@router.post("/auth/logout", status_code=204, response_class=Response, responses=errors(401))
async def logout(ctx: CtxDep, user: CurrentUser, token: TokenDep) -> Response:
    await accounts.logout(ctx, user, token)
    return Response(status_code=204)


@router.get("/me", response_model=UserOut, responses=errors(401))
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)
