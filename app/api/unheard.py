"""Unheard memos: a group's (`GET /groups/{gid}/unheard`) and every group's, oldest
first, for "Catch up" (`GET /me/unheard`)."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.common import Id, errors
from app.api.deps import CtxDep, CurrentUser
from app.schemas import CatchUpPage, UnheardItem, UnheardPage
from app.services import unheard

router = APIRouter(tags=["messages"])


@router.get("/groups/{gid}/unheard", response_model=UnheardPage, responses=errors(401, 404))
async def list_unheard(
    gid: Id,
    ctx: CtxDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> UnheardPage:
    ids, has_more = await unheard.unheard_ids(ctx, user, gid, limit)
    return UnheardPage(message_ids=ids, has_more=has_more)


@router.get("/me/unheard", response_model=CatchUpPage, responses=errors(401, 404))
async def catch_up(
    ctx: CtxDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> CatchUpPage:
    """Every memo you have not heard in every group you are in, oldest first. `after`: the
    last `message_id` of the previous page (404 `message_not_found` if it is not a
    message of one of your groups)."""
    rows, has_more = await unheard.catch_up(ctx, user, after=after, limit=limit)
    items = [UnheardItem(message_id=m, group_id=g, created_at=at) for m, g, at in rows]
    return CatchUpPage(items=items, has_more=has_more)
