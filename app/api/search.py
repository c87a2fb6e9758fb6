"""Full-text search of texts and voice-memo transcripts: in one group, or in all of yours."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.common import Id, errors
from app.api.deps import CurrentUser, ReadCtxDep
from app.schemas import STORABLE
from app.schemas.search import SearchOut
from app.services import search

router = APIRouter(tags=["search"])

SearchText = Annotated[
    str,
    Query(
        min_length=1,
        max_length=200,
        pattern=STORABLE,
        description="What to look for, as typed (not query syntax): every word must match; "
        "the last one also as a prefix",
    ),
]
Limit = Annotated[int, Query(ge=1, le=50)]


@router.get("/groups/{gid}/search", response_model=SearchOut, responses=errors(401, 404))
async def search_group(
    gid: Id, q: SearchText, ctx: ReadCtxDep, user: CurrentUser, limit: Limit = 20
) -> SearchOut:
    """The group's messages that match `q`, best first (members only)."""
    return SearchOut(hits=await search.search_group(ctx, user, gid, q=q, limit=limit))


@router.get("/search", response_model=SearchOut, responses=errors(401))
async def search_everywhere(
    q: SearchText, ctx: ReadCtxDep, user: CurrentUser, limit: Limit = 20
) -> SearchOut:
    """Messages that match `q` in every group the caller is a member of, best first."""
    return SearchOut(hits=await search.search_all(ctx, user, q=q, limit=limit))
