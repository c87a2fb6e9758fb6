"""Messages of a group and the group's durable event log."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.api.common import Id, created_or_repeated, errors, repeated
from app.api.deps import CtxDep, CurrentUser
from app.models import MAX_SEQ
from app.schemas import EventsPage, MessageOut, MessagesPage, TextCreate, TextEdit, ThreadPage
from app.services import events, messages, reactions

router = APIRouter(tags=["messages"])
Seq = Annotated[int | None, Query(ge=0, le=MAX_SEQ)]
Limit = Annotated[int, Query(ge=1, le=100)]
Emoji = Annotated[
    str, Path(description="exactly one emoji, percent-encoded UTF-8 (422 invalid_emoji)")
]


@router.get("/groups/{gid}/messages", response_model=MessagesPage, responses=errors(401, 404))
async def list_messages(
    gid: Id,
    ctx: CtxDep,
    user: CurrentUser,
    before: Seq = None,
    after: Seq = None,
    limit: Limit = 50,
) -> MessagesPage:
    page, has_more = await messages.list_messages(
        ctx, user, gid, before=before, after=after, limit=limit
    )
    return MessagesPage(messages=page, has_more=has_more)


@router.post(
    "/groups/{gid}/messages",
    status_code=201,
    response_model=MessageOut,
    responses={**errors(401, 404, 429), **repeated(MessageOut)},
)
async def post_text(
    gid: Id, body: TextCreate, ctx: CtxDep, user: CurrentUser, response: Response
) -> MessageOut:
    out, created = await messages.post_text(
        ctx,
        user,
        gid,
        text=body.text,
        reply_to=body.reply_to,
        reply_to_offset_ms=body.reply_to_offset_ms,
        client_id=body.client_id,
    )
    created_or_repeated(response, created)
    return out


@router.get("/messages/{mid}", response_model=MessageOut, responses=errors(401, 404))
async def get_message(mid: Id, ctx: CtxDep, user: CurrentUser) -> MessageOut:
    return await messages.get_message(ctx, user, mid)


@router.get("/messages/{mid}/thread", response_model=ThreadPage, responses=errors(401, 404))
async def get_thread(
    mid: Id,
    ctx: CtxDep,
    user: CurrentUser,
    before: Seq = None,
    after: Seq = None,
    limit: Limit = 50,
) -> ThreadPage:
    root, replies, has_more = await messages.thread(
        ctx, user, mid, before=before, after=after, limit=limit
    )
    return ThreadPage(root=root, replies=replies, has_more=has_more)


@router.patch(
    "/messages/{mid}", response_model=MessageOut, responses=errors(401, 403, 404, 409, 429)
)
async def edit_message(mid: Id, body: TextEdit, ctx: CtxDep, user: CurrentUser) -> MessageOut:
    return await messages.edit_text(ctx, user, mid, body.text)


@router.delete(
    "/messages/{mid}", status_code=204, response_class=Response, responses=errors(401, 403, 404)
)
async def delete_message(mid: Id, ctx: CtxDep, user: CurrentUser) -> Response:
    await messages.delete_message(ctx, user, mid)
    return Response(status_code=204)


@router.get("/groups/{gid}/events", response_model=EventsPage, responses=errors(401, 404))
async def list_events(
    gid: Id,
    ctx: CtxDep,
    user: CurrentUser,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventsPage:
    page, has_more = await events.list_events(ctx, user, gid, after=after, limit=limit)
    return EventsPage(events=page, has_more=has_more)


@router.put(
    "/messages/{mid}/reactions/{emoji}",
    response_model=MessageOut,
    responses=errors(401, 404, 409, 429),
)
async def add_reaction(mid: Id, emoji: Emoji, ctx: CtxDep, user: CurrentUser) -> MessageOut:
    return await reactions.add_reaction(ctx, user, mid, emoji)


@router.delete(
    "/messages/{mid}/reactions/{emoji}", response_model=MessageOut, responses=errors(401, 404, 429)
)
async def remove_reaction(mid: Id, emoji: Emoji, ctx: CtxDep, user: CurrentUser) -> MessageOut:
    return await reactions.remove_reaction(ctx, user, mid, emoji)
