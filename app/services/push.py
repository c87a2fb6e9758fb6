"""Web Push: people's subscriptions, and which pushes a new message causes.

Posting a message adds one `push.message` item to the outbox in the posting
transaction (`announce`). The outbox worker fans it out moments later: one
`push.send` item per subscription of every member who should hear of it
(`app.services.notify`), written in the same transaction that completes the
fan-out item, so each push is queued exactly once; `app.services.webpush` sends
them. Items carry ids only, never content: a message deleted meanwhile leaves
nothing behind in the queue and is not pushed.
"""

import base64
import binascii
import hashlib
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from sqlalchemy import delete, select

from app import outbound
from app.errors import Invalid, NotFound
from app.models import Message, PushSubscription, User, utcnow
from app.schemas.notifications import PushSubscriptionOut
from app.services import notify, outbox
from app.services.context import Ctx, Runtime

MESSAGE_CHANNEL = "push.message"  # fan a new message out to its recipients' subscriptions
SEND_CHANNEL = "push.send"  # one push to one subscription
MAX_SUBSCRIPTIONS = 20  # per person; a new one beyond replaces the oldest


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


@lru_cache(maxsize=4)
def vapid(private_key: str) -> Vapid:
    """The server's VAPID signer (RFC 8292) for its private key (base64url, 32 bytes)."""
    return Vapid.from_raw(private_key.encode())


def public_key(rt: Runtime) -> str:
    """The VAPID public key, as browsers take it (`applicationServerKey`)."""
    key = vapid(rt.settings.resolved_vapid_key).public_key
    return b64url(
        key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


def _check_keys(p256dh: str, auth: str) -> None:
    """The browser's keys: a P-256 public point and a 16-byte auth secret (RFC 8291)."""
    try:
        point, secret = b64url_decode(p256dh), b64url_decode(auth)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        valid = len(point) == 65 and len(secret) == 16
    except (ValueError, binascii.Error):
        valid = False
    if not valid:
        raise Invalid(
            "keys.p256dh must be a P-256 public key and keys.auth 16 bytes, both base64url.",
            code="invalid_push_keys",
            details={"field": "keys"},
        )


def _out(sub: PushSubscription) -> PushSubscriptionOut:
    return PushSubscriptionOut(id=sub.id, endpoint=sub.endpoint, created_at=sub.created_at)


async def subscribe(
    ctx: Ctx, user: User, endpoint: str, p256dh: str, auth: str
) -> tuple[PushSubscriptionOut, bool]:
    """Store a subscription; the same endpoint again is the same one (created False).

    An endpoint is one browser: subscribing it for another account moves it there."""
    await ctx.limit("push-subscribe", user.id)  # counted before the endpoint is resolved
    _check_keys(p256dh, auth)
    try:  # before any query: no transaction waits on DNS
        await outbound.resolve(endpoint, allow_insecure=ctx.settings.push_allow_insecure)
    except outbound.Refused as refused:
        raise Invalid(
            f"This push endpoint is not accepted: {refused}",
            code="invalid_push_endpoint",
            details={"field": "endpoint", "reason": refused.reason},
        ) from None
    endpoint_hash = hashlib.sha256(endpoint.encode()).hexdigest()
    found = await ctx.db.scalar(
        select(PushSubscription).where(PushSubscription.endpoint_hash == endpoint_hash)
    )
    if found is not None and found.user_id == user.id:
        found.p256dh, found.auth = p256dh, auth
        out = _out(found)
        await ctx.commit()
        return out, False
    if found is not None:  # before the insert: the session would insert first
        await ctx.db.execute(delete(PushSubscription).where(PushSubscription.id == found.id))
    mine = list(
        await ctx.db.scalars(
            select(PushSubscription.id)
            .where(PushSubscription.user_id == user.id)
            .order_by(PushSubscription.created_at.desc())
            .offset(MAX_SUBSCRIPTIONS - 1)
        )
    )
    if mine:
        await ctx.db.execute(delete(PushSubscription).where(PushSubscription.id.in_(mine)))
    sub = PushSubscription(
        user_id=user.id,
        endpoint_hash=endpoint_hash,
        endpoint=endpoint,
        p256dh=p256dh,
        auth=auth,
        created_at=utcnow(),
    )
    earlier = await ctx.add_unless_raced(  # the same endpoint, subscribed concurrently
        sub,
        lambda: ctx.db.scalar(
            select(PushSubscription).where(PushSubscription.endpoint_hash == endpoint_hash)
        ),
    )
    if earlier is not None:
        return _out(earlier), False
    out = _out(sub)
    await ctx.commit()
    return out, True


async def list_subscriptions(ctx: Ctx, user: User) -> list[PushSubscriptionOut]:
    rows = await ctx.db.scalars(
        select(PushSubscription)
        .where(PushSubscription.user_id == user.id)
        .order_by(PushSubscription.created_at)
    )
    return [_out(s) for s in rows]


async def unsubscribe(ctx: Ctx, user: User, subscription_id: str) -> None:
    sub = await ctx.db.get(PushSubscription, subscription_id)
    if sub is None or sub.user_id != user.id:
        raise NotFound("You have no push subscription with that id.", code="subscription_not_found")
    await ctx.db.delete(sub)
    await ctx.commit()


def announce(ctx: Ctx, message: Message) -> None:
    """Queue the pushes a new message causes, in the transaction that posts it."""
    live = message.voice_status == "live"
    outbox.enqueue(ctx, MESSAGE_CHANNEL, {"message_id": message.id, "live": live})


async def fan_out(rt: Runtime, item: outbox.Item) -> outbox.Outcome:
    """The `push.message` handler: one `push.send` item per subscription to push to."""
    queued = 0
    async with rt.sessions() as db:
        message = await db.get(Message, item.payload["message_id"])
        if message is not None and message.deleted_at is None:
            live = bool(item.payload.get("live"))
            reasons = {
                r.user_id: r.reason for r in await notify.recipients(db, message, live, utcnow())
            }
            subs = (
                await db.execute(
                    select(PushSubscription.id, PushSubscription.user_id).where(
                        PushSubscription.user_id.in_(reasons)
                    )
                )
            ).all()
            for sub_id, user_id in subs:
                payload = {"subscription_id": sub_id, "message_id": message.id}
                outbox.add(db, SEND_CHANNEL, {**payload, "reason": reasons[user_id]})
            queued = len(subs)
        if not await outbox.finish(db, item):
            await db.rollback()  # another worker took it over and fans it out
            return outbox.Sent()
        await db.commit()
    if queued:
        rt.wake_outbox()
    return outbox.Sent()


async def drop(rt: Runtime, subscription_id: str) -> None:
    """Forget a subscription the push service no longer knows (404/410) or we refuse."""
    async with rt.sessions() as db:
        await db.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id))
        await db.commit()
