"""`GET /groups/{gid}/unheard`: every memo of a group the caller has not heard yet."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.common import Id, errors
from app.api.deps import CtxDep, CurrentUser
from app.schemas import Out
from app.services import unheard

router = APIRouter(tags=["messages"])


class UnheardPage(Out):
    message_ids: list[str]
    has_more: bool


@router.get("/groups/{gid}/unheard", response_model=UnheardPage, responses=errors(401, 404))
async def list_unheard(
    gid: Id,
    ctx: CtxDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> UnheardPage:
    ids, has_more = await unheard.unheard_ids(ctx, user, gid, limit)
    return UnheardPage(message_ids=ids, has_more=has_more)
