"""Sending one push (the outbox's `push.send` handler): RFC 8030 delivery, RFC 8291
`aes128gcm` encryption (pywebpush) and RFC 8292 VAPID (py-vapid).

The payload is made when the push is sent, from the message as it is then, so a
message deleted (or a member removed) meanwhile is not pushed. It names the
message and never carries its text or transcript unless the recipient turned
`notification_previews` on. The push service's answer decides what happens:
2xx sent; 404/410 the subscription is gone and is deleted; 429 and 5xx retried
after its `Retry-After` or a backoff; anything else given up. The endpoint is
checked (https, public address) again before each push and contacted at the
checked address (`app.outbound`); an endpoint that fails the check is deleted.
"""

import hashlib
import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pywebpush import WebPusher

from app import outbound
from app.models import Group, Membership, Message, PushSubscription, User
from app.services import outbox
from app.services.context import Runtime
from app.services.push import MESSAGE_CHANNEL, SEND_CHANNEL, b64url, drop, fan_out, vapid

MAX_PLAINTEXT_BYTES = 3000  # push services take 4096 bytes of ciphertext at most
PREVIEW_CHARS = 500
LIVE_TTL_S = 600  # "Amy is talking" is stale news after a few minutes
VAPID_LIFETIME_S = 12 * 3600


def topic(group_id: str) -> str:
    """The `Topic` (at most 32 base64url characters) that collapses a group's pending pushes."""
    return b64url(hashlib.sha256(group_id.encode()).digest()[:24])


def payload(message: Message, group: Group, reason: str, *, previews: bool) -> bytes:
    """The JSON a service worker gets, within the size a push service accepts."""
    data: dict[str, Any] = {
        "type": reason,
        "group_id": group.id,
        "group_name": group.name,
        "message_id": message.id,
        "sender_name": message.sender.display_name,
        "kind": message.kind,
        "duration_ms": message.duration_ms,
    }
    preview = message.text if message.kind == "text" else message.transcript_text
    if previews and preview:
        data["text"] = preview[:PREVIEW_CHARS]
    body = json.dumps(data, ensure_ascii=False).encode()
    while len(body) > MAX_PLAINTEXT_BYTES and data.get("text"):
        data["text"] = data["text"][: len(data["text"]) // 2]
        body = json.dumps(data, ensure_ascii=False).encode()
    return body


def retry_after_s(value: str | None) -> float | None:
    """A `Retry-After` header's wait in seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


class WebPush:
    """The push handlers of the outbox (`handlers`), with the HTTP client they reuse."""

    def __init__(self, rt: Runtime) -> None:
        self._http = outbound.client(timeout_s=min(10.0, rt.settings.lease_s / 2))

    async def aclose(self) -> None:
        await self._http.aclose()

    def handlers(self) -> dict[str, outbox.Handler]:
        return {MESSAGE_CHANNEL: fan_out, SEND_CHANNEL: self.send}

    async def send(self, rt: Runtime, item: outbox.Item) -> outbox.Outcome:
        sub_id = item.payload["subscription_id"]
        async with rt.read_sessions() as db:
            sub = await db.get(PushSubscription, sub_id)
            message = await db.get(Message, item.payload["message_id"])
            if sub is None or message is None or message.deleted_at is not None:
                return outbox.Sent()  # unsubscribed or deleted meanwhile: nothing to say
            if await db.get(Membership, (message.group_id, sub.user_id)) is None:
                return outbox.Sent()  # left, removed or banned meanwhile
            group = await db.get(Group, message.group_id)
            recipient = await db.get(User, sub.user_id)
            assert group is not None and recipient is not None
            previews = recipient.notification_previews
            body = payload(message, group, item.payload["reason"], previews=previews)
            info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        settings = rt.settings
        try:
            target = await outbound.resolve(
                sub.endpoint, allow_insecure=settings.push_allow_insecure
            )
        except outbound.Refused as refused:
            await drop(rt, sub_id)
            return outbox.Failed(f"endpoint refused ({refused.reason}); subscription deleted")
        live = item.payload["reason"] == "live"
        headers = {
            **self._authorization(rt, target),
            "TTL": str(min(LIVE_TTL_S, settings.push_ttl_s) if live else settings.push_ttl_s),
            "Urgency": "high" if live else "normal",
            "Topic": topic(group.id),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        encrypted = WebPusher(info).encode(body, content_encoding="aes128gcm")["body"]
        try:
            answer = await outbound.post(self._http, target, encrypted, headers)
        except httpx.HTTPError as error:
            return outbox.Retry(f"{type(error).__name__} reaching the push service")
        status = answer.status
        if 200 <= status < 300:
            return outbox.Sent()
        if status in (404, 410):
            await drop(rt, sub_id)
            return outbox.Sent()
        reason = f"push service answered {status}"
        if status == 429 or status >= 500:
            return outbox.Retry(reason, retry_after_s(answer.headers.get("retry-after")))
        return outbox.Failed(f"{reason}: {answer.body[:200].decode(errors='replace')}")

    @staticmethod
    def _authorization(rt: Runtime, target: outbound.Target) -> dict[str, str]:
        default_port = 443 if target.scheme == "https" else 80
        port = "" if target.port == default_port else f":{target.port}"
        host = f"[{target.host}]" if ":" in target.host else target.host
        claims = {
            "sub": rt.settings.push_contact,
            "aud": f"{target.scheme}://{host}{port}",
            "exp": int(time.time()) + VAPID_LIFETIME_S,
        }
        return vapid(rt.settings.resolved_vapid_key).sign(claims)
