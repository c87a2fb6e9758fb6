"""Web Push end to end: a real push service on loopback checks each push's VAPID token
and decrypts it with the subscription's keys, as a browser's push service would."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.config import Settings
from app.models import OutboxItem, User
from app.services.context import transaction
from app.services.live import start_live
from tests import audio_samples
from tests.api.push_support import drained, pending, subscribed
from tests.api.test_operations import sample
from tests.helpers import Api, Person, assert_error, running
from tests.services.helpers import upload
from tests.support.push_service import PushService, Subscription
from tests.support.push_service import push_service as push_service  # noqa: F401 (fixture)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Loopback push endpoints allowed (the test push service), quick retries."""
    return settings.model_copy(update={"push_allow_insecure": True, "outbox_retry_s": 0.1})


async def trio(api: Api, push: PushService) -> tuple[str, list[Person], list[Subscription]]:
    """Amy, Ben and Cat in one group, each with a subscribed browser."""
    amy, ben, cat = [await api.register(n) for n in ("amy", "ben", "cat")]
    gid = await api.group(amy, "K-5 coaches")
    for who in (ben, cat):
        await api.add(amy, gid, who)
    subs = [await subscribed(api, push, who) for who in (amy, ben, cat)]
    return gid, [amy, ben, cat], subs


async def test_the_push_key_is_made_once_and_kept(settings: Settings, api: Api) -> None:
    key = (await api.ok(None, "GET", "/push/key"))["public_key"]
    stored = settings.data_dir / "vapid.key"
    assert stored.stat().st_mode & 0o777 == 0o600
    async with running(settings.model_copy()) as (_, again):
        assert (await again.get("/api/v1/push/key")).json() == {"public_key": key}
    assert len(key) == 87  # base64url of a 65-byte uncompressed P-256 point


async def test_subscribing_is_idempotent_per_endpoint(api: Api, push_service: PushService) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    sub = push_service.subscribe()
    first = await api.call(amy, "POST", "/push/subscriptions", json=sub.info())
    again = await api.call(amy, "POST", "/push/subscriptions", json=sub.info())
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    listed = await api.ok(amy, "GET", "/push/subscriptions")
    assert [s["id"] for s in listed["subscriptions"]] == [first.json()["id"]]
    assert listed["subscriptions"][0]["endpoint"] == sub.endpoint
    # The same browser subscribed by another account now belongs to that account.
    moved = await api.call(ben, "POST", "/push/subscriptions", json=sub.info())
    assert moved.status_code == 201
    assert (await api.ok(amy, "GET", "/push/subscriptions"))["subscriptions"] == []
    sid = moved.json()["id"]
    assert_error(await api.call(amy, "DELETE", f"/push/subscriptions/{sid}"), 404)
    assert (await api.call(ben, "DELETE", f"/push/subscriptions/{sid}")).status_code == 204
    assert_error(
        await api.call(ben, "DELETE", f"/push/subscriptions/{sid}"), 404, "subscription_not_found"
    )


async def test_subscribing_is_rate_limited_per_user(
    api: Api, app: Any, push_service: PushService
) -> None:
    """Each subscription makes the server resolve a host the caller names: bounded."""
    app.state.runtime.settings.limit_push_subscriptions_per_hour = 2
    amy = await api.register("amy")
    infos = [push_service.subscribe().info() for _ in range(3)]
    for info in infos[:2]:
        assert (await api.call(amy, "POST", "/push/subscriptions", json=info)).status_code == 201
    r = await api.call(amy, "POST", "/push/subscriptions", json=infos[2])
    assert_error(r, 429, "rate_limited")
    assert "retry-after" in r.headers
    listed = (await api.ok(amy, "GET", "/push/subscriptions"))["subscriptions"]
    assert [s["endpoint"] for s in listed] == [info["endpoint"] for info in infos[:2]]


async def test_bad_keys_are_refused(api: Api, push_service: PushService) -> None:
    amy = await api.register("amy")
    info = push_service.subscribe().info()
    for keys in ({"p256dh": "AAAA", "auth": info["keys"]["auth"]}, {**info["keys"], "auth": "AA"}):
        r = await api.call(amy, "POST", "/push/subscriptions", json={**info, "keys": keys})
        assert_error(r, 422, "invalid_push_keys")
    assert (await api.ok(amy, "GET", "/push/subscriptions"))["subscriptions"] == []


async def test_a_text_is_pushed_to_every_member_but_its_sender(
    app: Any, api: Api, push_service: PushService
) -> None:
    gid, (amy, _, _), (amy_sub, ben_sub, cat_sub) = await trio(api, push_service)
    message = await api.post(amy, gid, "Shall we meet on Friday about Ms Lee's class?")
    for sub in (ben_sub, cat_sub):
        [push] = await sub.wait_for(1)
        assert push.json() == {
            "type": "message",
            "group_id": gid,
            "group_name": "K-5 coaches",
            "message_id": message["id"],
            "sender_name": "Amy",
            "kind": "text",
            "duration_ms": None,
        }  # no text: previews are off by default
        assert push.urgency == "normal" and push.ttl == 24 * 3600
        assert push.topic and len(push.topic) <= 32
        assert push.vapid["aud"] == push_service.origin
        assert push.vapid["sub"] == "mailto:earshot@localhost"
    await drained(app)
    assert amy_sub.messages == []
    assert ben_sub.messages[0].topic == cat_sub.messages[0].topic  # one topic per group


async def test_previews_put_the_text_in_the_push(
    app: Any, api: Api, push_service: PushService
) -> None:
    gid, (amy, ben, _), (_, ben_sub, cat_sub) = await trio(api, push_service)
    me = await api.ok(ben, "PATCH", "/me", json={"notification_previews": True})
    assert me["notification_previews"] is True
    await api.post(amy, gid, "Ms Lee's class at 3")
    [ben_push] = await ben_sub.wait_for(1)
    [cat_push] = await cat_sub.wait_for(1)
    assert ben_push.json()["text"] == "Ms Lee's class at 3"
    assert "text" not in cat_push.json()


async def test_levels_mute_a_group_or_keep_only_replies(
    app: Any, api: Api, push_service: PushService
) -> None:
    gid, (amy, ben, cat), (_, ben_sub, cat_sub) = await trio(api, push_service)
    r = await api.ok(ben, "PUT", f"/groups/{gid}/notifications", json={"level": "none"})
    assert r == {"level": "none"}
    await api.ok(cat, "PUT", f"/groups/{gid}/notifications", json={"level": "replies"})
    assert await api.ok(cat, "GET", f"/groups/{gid}/notifications") == {"level": "replies"}
    await api.post(amy, gid, "to everyone")
    cats = await api.post(cat, gid, "my question")
    reply = await api.post(amy, gid, "an answer", reply_to=cats["id"])
    [push] = await cat_sub.wait_for(1)
    await drained(app)
    assert push.json()["type"] == "reply" and push.json()["message_id"] == reply["id"]
    assert len(cat_sub.messages) == 1 and ben_sub.messages == []
    r = await api.call(ben, "PUT", f"/groups/{gid}/notifications", json={"level": "loud"})
    assert_error(r, 422)
    outsider = await api.register("eve")
    r = await api.call(outsider, "PUT", f"/groups/{gid}/notifications", json={"level": "all"})
    assert_error(r, 404, "group_not_found")


async def test_a_reply_to_you_says_so_at_the_level_all(
    app: Any, api: Api, push_service: PushService
) -> None:
    gid, (amy, ben, _), (amy_sub, _, _) = await trio(api, push_service)
    question = await api.post(amy, gid, "question")
    await api.post(ben, gid, "answer", reply_to=question["id"])
    [push] = await amy_sub.wait_for(1)
    assert push.json()["type"] == "reply"


async def test_people_who_blocked_the_sender_or_left_hear_nothing(
    app: Any, api: Api, push_service: PushService
) -> None:
    gid, (amy, ben, cat), (_, ben_sub, cat_sub) = await trio(api, push_service)
    dan = await api.register("dan")
    await api.add(amy, gid, dan)
    dan_sub = await subscribed(api, push_service, dan)
    await api.ok(ben, "POST", "/me/blocks", json={"user_id": amy.id})
    await api.ok(amy, "DELETE", f"/groups/{gid}/members/{cat.id}")
    await api.post(amy, gid, "hello")
    await dan_sub.wait_for(1)
    await drained(app)
    assert ben_sub.messages == [] and cat_sub.messages == []


def quiet_now(allow_live: bool) -> dict[str, Any]:
    """Quiet hours around this moment, in Chicago's time."""
    now = datetime.now(UTC).astimezone(ZoneInfo("America/Chicago"))
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    return {
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "time_zone": "America/Chicago",
        "allow_live": allow_live,
    }


async def go_live(app: Any, person: Person, gid: str) -> str:
    """`person` starts a live memo (as the websocket's `live.start` does)."""
    rt = app.state.runtime
    async with transaction(rt) as ctx:
        user = await ctx.db.get(User, person.id)
        assert user is not None
        out, _ = await start_live(ctx, user, gid, mime="audio/webm;codecs=opus", client_id=None)
    return out.id


async def test_quiet_hours_hold_everything_but_live_memos_if_asked(
    app: Any, api: Api, push_service: PushService
) -> None:
    gid, (amy, ben, cat), (_, ben_sub, cat_sub) = await trio(api, push_service)
    me = await api.ok(ben, "PATCH", "/me", json={"quiet_hours": quiet_now(allow_live=True)})
    assert me["quiet_hours"] == quiet_now(allow_live=True)
    await api.ok(cat, "PATCH", "/me", json={"quiet_hours": quiet_now(allow_live=False)})
    await api.post(amy, gid, "a text in the night")
    await drained(app)
    assert ben_sub.messages == [] and cat_sub.messages == []
    live_id = await go_live(app, amy, gid)
    [push] = await ben_sub.wait_for(1)
    await drained(app)
    assert push.json()["type"] == "live" and push.json()["message_id"] == live_id
    assert push.urgency == "high" and push.ttl == 600
    assert cat_sub.messages == []
    # An explicit null ends quiet hours; leaving the field out changes nothing.
    assert (await api.ok(cat, "PATCH", "/me", json={}))["quiet_hours"] is not None
    assert (await api.ok(cat, "PATCH", "/me", json={"quiet_hours": None}))["quiet_hours"] is None
    await api.post(amy, gid, "morning")
    await cat_sub.wait_for(1)


async def test_bad_quiet_hours_are_refused(api: Api) -> None:
    amy = await api.register("amy")
    good = quiet_now(allow_live=False)
    for bad in (
        {**good, "time_zone": "Mars/Olympus_Mons"},
        {**good, "start": "24:00"},
        {**good, "end": good["start"]},
    ):
        assert_error(await api.call(amy, "PATCH", "/me", json={"quiet_hours": bad}), 422)
    assert (await api.ok(amy, "GET", "/me"))["quiet_hours"] is None


async def test_a_gone_subscription_is_deleted(
    app: Any, api: Api, push_service: PushService
) -> None:
    gid, (amy, ben, _), (_, ben_sub, cat_sub) = await trio(api, push_service)
    ben_sub.answer(410)
    await api.post(amy, gid, "hello")
    await cat_sub.wait_for(1)
    await drained(app)
    assert (await api.ok(ben, "GET", "/push/subscriptions"))["subscriptions"] == []
    await api.post(amy, gid, "again")
    await cat_sub.wait_for(2)
    await drained(app)
    assert ben_sub.messages == []


async def test_busy_push_services_are_retried_until_it_arrives_once(
    app: Any, api: Api, push_service: PushService
) -> None:
    gid, (amy, _, _), (_, ben_sub, cat_sub) = await trio(api, push_service)
    ben_sub.answer(429, times=1)  # with Retry-After: 1
    cat_sub.answer(503, times=3)  # backoff: 0.1 s, 0.2 s, 0.4 s
    message = await api.post(amy, gid, "hello")
    await drained(app)
    assert [p.json()["message_id"] for p in ben_sub.messages] == [message["id"]]
    assert [p.json()["message_id"] for p in cat_sub.messages] == [message["id"]]
    metrics = app.state.runtime.metrics.render().decode()
    attempts = {
        result: sample(metrics, "earshot_outbox_attempts_total", channel="push.send", result=result)
        for result in ("sent", "retry", "given_up")
    }
    assert attempts == {"sent": 2, "retry": 4, "given_up": 0}


async def test_a_push_that_keeps_failing_is_given_up_and_kept_for_inspection(
    app: Any, api: Api, push_service: PushService
) -> None:
    gid, (amy, _, _), (_, ben_sub, _) = await trio(api, push_service)
    ben_sub.answer(400)  # a permanent refusal
    await api.post(amy, gid, "hello")
    await drained(app)
    async with app.state.runtime.sessions() as db:
        [failed] = (await db.scalars(select(OutboxItem))).all()
    assert failed.failed_at is not None and "400" in (failed.last_error or "")
    assert failed.attempts == 1
    metrics = app.state.runtime.metrics.render().decode()
    assert (
        sample(metrics, "earshot_outbox_attempts_total", channel="push.send", result="given_up")
        == 1
    )


async def test_a_message_deleted_before_its_push_went_out_is_not_pushed(
    app: Any, api: Api, push_service: PushService
) -> None:
    gid, (amy, _, _), (_, ben_sub, _) = await trio(api, push_service)
    ben_sub.answer(503)  # every attempt fails for now
    message = await api.post(amy, gid, "oops, wrong group")
    deadline = time.monotonic() + 10
    while not await _attempted(app):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await api.ok(amy, "DELETE", f"/messages/{message['id']}")
    ben_sub.answer(None)
    await drained(app)
    assert ben_sub.messages == [] and await pending(app) == 0


async def _attempted(app: Any) -> bool:
    async with app.state.runtime.sessions() as db:
        return bool(await db.scalar(select(OutboxItem.id).where(OutboxItem.attempts > 0)))


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://push.example.com/x", "not_https"),
        ("https://127.0.0.1/x", "not_public"),
        ("https://localhost:8443/x", "not_public"),
        ("https://10.1.2.3/x", "not_public"),
        ("https://169.254.169.254/latest/meta-data", "not_public"),
        ("https://[::1]/x", "not_public"),
        ("https://[::ffff:192.168.0.1]/x", "not_public"),
        ("https://push.invalid/x", "unresolvable"),
        ("ftp://push.example.com/x", "not_https"),
    ],
)
async def test_only_https_endpoints_on_public_addresses_are_accepted(
    tmp_path: Path, database_url: str, endpoint: str, reason: str, push_service: PushService
) -> None:
    strict = Settings(data_dir=tmp_path / "strict", database_url=database_url, secret_key="s")
    async with running(strict) as (_, client):
        api = Api(client)
        amy = await api.register("amy")
        info = {**push_service.subscribe().info(), "endpoint": endpoint}
        error = assert_error(
            await api.call(amy, "POST", "/push/subscriptions", json=info),
            422,
            "invalid_push_endpoint",
        )
        assert error["details"]["reason"] == reason
        assert (await api.ok(amy, "GET", "/push/subscriptions"))["subscriptions"] == []


async def test_an_endpoint_is_checked_again_before_each_push(
    tmp_path: Path, database_url: str, push_service: PushService
) -> None:
    """A loopback endpoint stored while that was allowed is never contacted once it is not
    (as if its host's DNS had changed to a private address): the subscription goes."""
    base = {"database_url": database_url, "secret_key": "s", "outbox_retry_s": 0.1}
    loose = Settings(data_dir=tmp_path / "d", push_allow_insecure=True, **base)
    async with running(loose) as (_, client):
        api = Api(client)
        amy, ben = await api.register("amy"), await api.register("ben")
        gid = await api.group(amy)
        await api.add(amy, gid, ben)
        ben_sub = await subscribed(api, push_service, ben)
    strict = Settings(data_dir=tmp_path / "d", **base)
    async with running(strict) as (app, client):
        api = Api(client)
        await api.post(amy, gid, "hello")
        await drained(app)
        assert ben_sub.messages == []
        assert (await api.ok(ben, "GET", "/push/subscriptions"))["subscriptions"] == []


async def test_an_uploaded_voice_memo_is_pushed_with_its_length(
    app: Any, api: Api, push_service: PushService, samples: Path
) -> None:
    gid, (amy, _, _), (_, ben_sub, _) = await trio(api, push_service)
    r = await upload(api, amy, gid, audio_samples.speech_of_length(samples, 3))
    assert r.status_code == 202, r.text
    [push] = await ben_sub.wait_for(1)
    body = push.json()
    assert (body["kind"], body["message_id"], body["type"]) == ("voice", r.json()["id"], "message")
    assert abs(body["duration_ms"] - 3000) < 200
    assert push.urgency == "normal"
