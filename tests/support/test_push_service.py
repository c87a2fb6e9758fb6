"""The test push service really is one: pywebpush delivers to it, it decrypts what a
browser would, and it refuses what a real push service refuses."""

import time

import pytest
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from tests.support.push_service import PushService, b64url, public_point

CONTACT = "mailto:ops@district.org"


@pytest.fixture
def vapid() -> Vapid:
    key = Vapid()
    key.generate_keys()
    return key


def send(sub_info: dict, vapid: Vapid | None, **options: object) -> int:
    """pywebpush's send; the push service's status code (also when it refuses).

    With vapid=None, pass your own `headers={"Authorization": ...}`."""
    claims = options.pop("claims", {"sub": CONTACT}) if vapid else None
    try:
        return webpush(
            sub_info, vapid_private_key=vapid, vapid_claims=claims and dict(claims), **options
        ).status_code
    except WebPushException as error:
        return error.response.status_code


def test_a_push_arrives_decrypted_with_its_headers(push_service: PushService, vapid: Vapid) -> None:
    sub = push_service.subscribe(application_server_key=b64url(public_point(vapid.private_key)))
    data = '{"type": "message", "group": "K-5 coaches"}'
    status = send(
        sub.info(), vapid, data=data, ttl=3600, headers={"Urgency": "high", "Topic": "g1"}
    )
    assert status == 201
    [message] = sub.messages
    assert message.json() == {"type": "message", "group": "K-5 coaches"}
    assert (message.ttl, message.urgency, message.topic) == (3600, "high", "g1")
    assert message.vapid["aud"] == push_service.origin and message.vapid["sub"] == CONTACT


def test_bad_vapid_tokens_are_refused_and_nothing_is_recorded(
    push_service: PushService, vapid: Vapid
) -> None:
    sub = push_service.subscribe(application_server_key=b64url(public_point(vapid.private_key)))
    wrong_aud = {"sub": CONTACT, "aud": "https://push.example.net"}
    assert send(sub.info(), vapid, data="x", claims=wrong_aud) == 401
    too_long = {"sub": CONTACT, "exp": int(time.time()) + 25 * 3600}
    assert send(sub.info(), vapid, data="x", claims=too_long) == 401
    lax = Vapid(vapid.private_key, conf={"no-strict": True})  # else py_vapid refuses to sign
    assert send(sub.info(), lax, data="x", claims={"sub": "ops"}) == 401
    other = Vapid()
    other.generate_keys()
    assert send(sub.info(), other, data="x") == 403  # not the key it subscribed with
    claims = {"sub": CONTACT, "aud": push_service.origin, "exp": int(time.time()) + 60}
    token = vapid.sign(claims)["Authorization"].split("t=")[1].split(",")[0]
    other_key = b64url(public_point(other.private_key))
    forged = {"Authorization": f"vapid t={token}, k={other_key}"}  # signed by another key
    assert send(sub.info(), None, data="x", headers=forged) == 401
    assert sub.messages == []


def test_a_subscription_can_be_told_to_refuse(push_service: PushService, vapid: Vapid) -> None:
    sub = push_service.subscribe()
    sub.answer(429, times=1)
    assert send(sub.info(), vapid, data="first") == 429
    assert send(sub.info(), vapid, data="second") == 201
    sub.answer(410)
    assert send(sub.info(), vapid, data="third") == 410
    assert [m.payload for m in sub.messages] == [b"second"]
    gone = dict(sub.info(), endpoint=f"{push_service.origin}/push/unknown")
    assert send(gone, vapid, data="x") == 404


async def test_wait_for_returns_once_pushes_arrived(
    push_service: PushService, vapid: Vapid
) -> None:
    sub = push_service.subscribe()
    assert send(sub.info(), vapid, data="a" * 3000) == 201
    [message] = await sub.wait_for(1)
    assert message.payload == b"a" * 3000 and message.ttl == 0  # pywebpush's default TTL
