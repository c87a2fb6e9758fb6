"""Request dependencies: the use-case context and the authenticated caller."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.errors import Unauthorized
from app.models import User
from app.services.accounts import user_for_token
from app.services.context import Ctx, Runtime, transaction

_bearer = HTTPBearer(auto_error=False)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def context(rt: Annotated[Runtime, Depends(runtime)]) -> AsyncIterator[Ctx]:
    async with transaction(rt) as ctx:
        yield ctx


async def reading_context(rt: Annotated[Runtime, Depends(runtime)]) -> AsyncIterator[Ctx]:
    """A context whose session only reads: it never waits for (or holds up) writers."""
    async with transaction(rt, reads_only=True) as ctx:
        yield ctx


CtxDep = Annotated[Ctx, Depends(context)]
ReadCtxDep = Annotated[Ctx, Depends(reading_context)]


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Sign in first: send Authorization: Bearer <token>.")
    return credentials.credentials


TokenDep = Annotated[str, Depends(bearer_token)]


async def current_user(rt: Annotated[Runtime, Depends(runtime)], token: TokenDep) -> User:
    """The caller, loaded in a reading session of its own: it waits for no writer."""
    async with rt.read_sessions() as db:
        user = await user_for_token(db, token)
    if user is None:
        raise Unauthorized("That token is not valid (signed out or never issued).")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
