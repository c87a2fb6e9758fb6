"""The caller's bookmarks: private, never announced."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.common import Id, errors
from app.api.deps import CtxDep, CurrentUser, ReadCtxDep
from app.schemas import BookmarkIn, BookmarkOut, BookmarksPage
from app.services import bookmarks

router = APIRouter(tags=["bookmarks"])


@router.put("/messages/{mid}/bookmark", response_model=BookmarkOut, responses=errors(401, 404, 409))
async def set_bookmark(
    mid: Id, ctx: CtxDep, user: CurrentUser, body: BookmarkIn | None = None
) -> BookmarkOut:
    """Bookmark a message, or replace the note and place of your bookmark of it."""
    body = body or BookmarkIn()
    return await bookmarks.set_bookmark(ctx, user, mid, note=body.note, offset_ms=body.offset_ms)


@router.delete(
    "/messages/{mid}/bookmark", status_code=204, response_class=Response, responses=errors(401, 404)
)
async def remove_bookmark(mid: Id, ctx: CtxDep, user: CurrentUser) -> Response:
    await bookmarks.remove_bookmark(ctx, user, mid)
    return Response(status_code=204)


@router.get("/me/bookmarks", response_model=BookmarksPage, responses=errors(401))
async def list_bookmarks(
    ctx: ReadCtxDep,
    user: CurrentUser,
    before: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> BookmarksPage:
    page, has_more = await bookmarks.list_bookmarks(ctx, user, before=before, limit=limit)
    return BookmarksPage(bookmarks=page, has_more=has_more)


@router.get(
    "/me/bookmarks.md",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}}}, **errors(401)},
)
async def export_bookmarks(ctx: ReadCtxDep, user: CurrentUser) -> Response:
    """Every bookmark with its note and the words (text or transcript), as Markdown."""
    return Response(
        await bookmarks.markdown(ctx, user),
        media_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="earshot-bookmarks.md"',
            "Cache-Control": "no-store",
        },
    )
