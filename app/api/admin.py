"""The instance admins' API: accounts and the server's size (admins only, 403
`admin_required` for everyone else). Nothing here opens a group's content."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.api.common import Id, errors
from app.api.deps import CtxDep, CurrentUser, ReadCtxDep
from app.models import User
from app.schemas import STORABLE
from app.schemas.admin import (
    AdminStatsOut,
    AdminUserCreate,
    AdminUserCreated,
    AdminUserOut,
    AdminUsersPage,
    DisableIn,
)
from app.services import admin

router = APIRouter(prefix="/admin", tags=["admin"])


def admin_user(user: CurrentUser) -> User:
    admin.require_admin(user)
    return user


AdminUser = Annotated[User, Depends(admin_user)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Search = Annotated[str | None, Query(max_length=100, pattern=STORABLE)]


@router.get("/users", response_model=AdminUsersPage, responses=errors(401, 403, 404))
async def list_users(
    ctx: ReadCtxDep, user: AdminUser, q: Search = None, before: Cursor = None, limit: Limit = 50
) -> AdminUsersPage:
    """Accounts, newest first; `q`: those whose handle, name or address starts with it
    (any case). `before`: the id of the previous page's last account."""
    page, has_more = await admin.list_users(ctx, search=q, before=before, limit=limit)
    return AdminUsersPage(users=page, has_more=has_more)


@router.post(
    "/users", status_code=201, response_model=AdminUserCreated, responses=errors(401, 403, 409)
)
async def create_user(body: AdminUserCreate, ctx: CtxDep, user: AdminUser) -> AdminUserCreated:
    """Make an account (whatever `EARSHOT_REGISTRATION` says) and a one-time link where
    its person sets a password: hand it over; it is shown this once."""
    made, link = await admin.create_user(
        ctx,
        user.id,
        handle=body.handle,
        display_name=body.display_name,
        email=body.email,
        admin=body.admin,
    )
    return AdminUserCreated(user=admin.user_out(made), password_link=link)


@router.post(
    "/users/{uid}/disable", response_model=AdminUserOut, responses=errors(401, 403, 404, 409)
)
async def disable(uid: Id, body: DisableIn, ctx: CtxDep, user: AdminUser) -> AdminUserOut:
    """Disable an account: every token revoked (its websockets close with 4001), sign-in
    answers 403 `account_disabled`. 409 `last_admin` for the last enabled admin."""
    return await admin.disable(ctx, user.id, uid, body.reason)


@router.post("/users/{uid}/enable", response_model=AdminUserOut, responses=errors(401, 403, 404))
async def enable(uid: Id, ctx: CtxDep, user: AdminUser) -> AdminUserOut:
    return await admin.enable(ctx, user.id, uid)


@router.post("/users/{uid}/promote", response_model=AdminUserOut, responses=errors(401, 403, 404))
async def promote(uid: Id, ctx: CtxDep, user: AdminUser) -> AdminUserOut:
    return await admin.set_admin(ctx, user.id, uid, True)


@router.post(
    "/users/{uid}/demote", response_model=AdminUserOut, responses=errors(401, 403, 404, 409)
)
async def demote(uid: Id, ctx: CtxDep, user: AdminUser) -> AdminUserOut:
    """409 `last_admin` for the last enabled admin."""
    return await admin.set_admin(ctx, user.id, uid, False)


@router.get("/stats", response_model=AdminStatsOut, responses=errors(401, 403))
async def stats(ctx: ReadCtxDep, user: AdminUser) -> AdminStatsOut:
    """Accounts, groups, messages, memos, minutes of audio and bytes stored."""
    return await admin.stats(ctx)
