"""The private podcast feed: made and revoked by its owner, read by a podcast app."""

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.common import Id, errors
from app.api.deps import CtxDep, CurrentUser, ReadCtxDep
from app.api.voice import send_audio
from app.schemas.notifications import FeedCreated, FeedsOut
from app.services import feeds, playback

router = APIRouter(tags=["feeds"])

Secret = Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("/me/feeds", status_code=201, response_model=FeedCreated, responses=errors(401, 409))
async def create_feed(request: Request, ctx: CtxDep, user: CurrentUser) -> FeedCreated:
    """A private podcast feed of your groups' voice memos; its `url` is shown only now."""
    feed_id, url = await feeds.create_feed(ctx, user, _base_url(request))
    return FeedCreated(id=feed_id, url=url)


@router.get("/me/feeds", response_model=FeedsOut, responses=errors(401))
async def list_feeds(ctx: ReadCtxDep, user: CurrentUser) -> FeedsOut:
    return FeedsOut(feeds=await feeds.list_feeds(ctx, user))


@router.delete(
    "/me/feeds/{fid}", status_code=204, response_class=Response, responses=errors(401, 404)
)
async def revoke_feed(fid: Id, ctx: CtxDep, user: CurrentUser) -> Response:
    """Revoke a feed: it and every enclosure it listed answer 404 from now on."""
    await feeds.revoke_feed(ctx, user, fid)
    return Response(status_code=204)


@router.get(
    "/feeds/{fid}",
    response_class=Response,
    responses={**errors(404), 200: {"content": {"application/rss+xml": {}}}},
)
async def feed(fid: Id, token: Secret, request: Request, ctx: ReadCtxDep) -> Response:
    """The feed (RSS 2.0 with the iTunes namespace) for whoever holds its secret URL."""
    found = await feeds.feed_for_token(ctx, fid, token)
    body = await feeds.render(ctx, found, _base_url(request))
    return Response(
        body,
        media_type="application/rss+xml; charset=utf-8",
        headers={"Cache-Control": "private, no-cache"},
    )


@router.get(
    "/feeds/{fid}/audio/{mid}.mp3",
    response_class=Response,
    responses={**errors(404, 409, 416), 206: {"description": "Partial content"}},
)
async def enclosure(fid: Id, mid: Id, sig: Secret, request: Request, ctx: CtxDep) -> Response:
    """A feed item's MP3, for the feed's signed enclosure URL; honours Range."""
    await feeds.enclosure(ctx, fid, mid, sig)
    blob = await playback.audio_blob(ctx, mid, "mp3")
    expires = int(time.time()) + ctx.settings.audio_url_ttl_s  # of a redirect to the store
    return await send_audio(request, ctx, blob, expires=expires)


# HEAD too, answered as GET without a body: podcast apps and feed validators check
# feeds and enclosures with it.
for _path, _endpoint in (("/feeds/{fid}", feed), ("/feeds/{fid}/audio/{mid}.mp3", enclosure)):
    router.add_api_route(
        _path,
        _endpoint,
        methods=["HEAD"],
        operation_id=f"head_{_endpoint.__name__}",
        response_class=Response,
        responses=errors(404),
    )
