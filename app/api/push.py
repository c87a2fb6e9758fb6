"""Web Push: the server's key, the caller's subscriptions, and per-group notification levels."""

from fastapi import APIRouter, Response

from app.api.common import Id, created_or_repeated, errors
from app.api.deps import CtxDep, CurrentUser, ReadCtxDep
from app.schemas.notifications import (
    NotificationsIn,
    NotificationsOut,
    PushKeyOut,
    PushSubscriptionIn,
    PushSubscriptionOut,
    PushSubscriptionsOut,
)
from app.services import notify, push

router = APIRouter(tags=["notifications"])


@router.get("/push/key", response_model=PushKeyOut)
async def push_key(ctx: ReadCtxDep) -> PushKeyOut:
    """The VAPID public key to pass as `applicationServerKey` to `pushManager.subscribe`."""
    return PushKeyOut(public_key=push.public_key(ctx.rt))


@router.post(
    "/push/subscriptions",
    status_code=201,
    response_model=PushSubscriptionOut,
    responses={
        **errors(401, 429),
        200: {"model": PushSubscriptionOut, "description": "This endpoint was stored already"},
    },
)
async def subscribe(
    body: PushSubscriptionIn, ctx: CtxDep, user: CurrentUser, response: Response
) -> PushSubscriptionOut:
    """Store the browser's `PushSubscription.toJSON()`; the same endpoint again answers 200
    with the same id. Only https endpoints on public addresses are accepted."""
    out, created = await push.subscribe(ctx, user, body.endpoint, body.keys.p256dh, body.keys.auth)
    created_or_repeated(response, created)
    return out


@router.get("/push/subscriptions", response_model=PushSubscriptionsOut, responses=errors(401))
async def list_subscriptions(ctx: ReadCtxDep, user: CurrentUser) -> PushSubscriptionsOut:
    return PushSubscriptionsOut(subscriptions=await push.list_subscriptions(ctx, user))


@router.delete(
    "/push/subscriptions/{sid}",
    status_code=204,
    response_class=Response,
    responses=errors(401, 404),
)
async def unsubscribe(sid: Id, ctx: CtxDep, user: CurrentUser) -> Response:
    await push.unsubscribe(ctx, user, sid)
    return Response(status_code=204)


@router.put(
    "/groups/{gid}/notifications", response_model=NotificationsOut, responses=errors(401, 404)
)
async def set_notifications(
    gid: Id, body: NotificationsIn, ctx: CtxDep, user: CurrentUser
) -> NotificationsOut:
    """Which pushes you get from this group: all, replies (to you) or none."""
    return await notify.set_level(ctx, user, gid, body.level)


@router.get(
    "/groups/{gid}/notifications", response_model=NotificationsOut, responses=errors(401, 404)
)
async def get_notifications(gid: Id, ctx: ReadCtxDep, user: CurrentUser) -> NotificationsOut:
    return await notify.get_level(ctx, user, gid)
