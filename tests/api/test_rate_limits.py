"""Rate limits: 429 with Retry-After in the one error shape, for sign-in, registrations,
uploads, text posts, groups, invites and member adds; growing sign-in delays per
(handle, address); all of it off with EARSHOT_RATE_LIMITS=false.

The limiter itself is tested in memory and, when EARSHOT_TEST_REDIS_URL is set,
on a real Redis shared by two limiters (as by two server processes)."""

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.ratelimit import RULES, Delays, MemoryLimiter, RedisLimiter, Rule, rule
from tests import audio_samples
from tests.helpers import Api, assert_error, running
from tests.services.helpers import upload

REDIS_URL = os.environ.get("EARSHOT_TEST_REDIS_URL")


def _assert_429(r: Any) -> int:
    error = assert_error(r, 429, "rate_limited")
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after and error["details"]["retry_after_s"] == retry_after
    return retry_after


def _from(app: Any, address: str) -> httpx.AsyncClient:
    """A client whose requests come from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://earshot.test")


async def _sign_in(client: httpx.AsyncClient, handle: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"handle": handle, "password": password})


async def test_wrong_passwords_slow_down_only_where_they_come_from(api: Api, app: Any) -> None:
    """Ten wrong passwords from an attacker's address used to lock the handle for everyone."""
    free = app.state.runtime.settings.limit_sign_in_failures
    amy = await api.register("amy")
    async with _from(app, "203.0.113.7") as attacker, _from(app, "198.51.100.2") as owner:
        answers = [(await _sign_in(attacker, amy.handle, "guess")).status_code for _ in range(10)]
        assert answers == [401] * free + [429] * (10 - free)
        retry_after = _assert_429(await _sign_in(attacker, amy.handle, "correct horse"))
        assert retry_after <= 2, "the first delay is a second (rounded up)"
        assert (await _sign_in(owner, amy.handle, "correct horse")).status_code == 200


async def test_sign_in_attempts_per_address_are_limited(api: Api, app: Any) -> None:
    app.state.runtime.settings.login_attempts_per_address = 4
    people = [await api.register(f"p{i}") for i in range(5)]
    async with _from(app, "203.0.113.9") as busy, _from(app, "203.0.113.10") as other:
        for person in people[:4]:
            assert (await _sign_in(busy, person.handle, "correct horse")).status_code == 200
        _assert_429(await _sign_in(busy, people[4].handle, "correct horse"))
        _assert_429(await _sign_in(busy, "nobody-at-all", "x"))
        assert (await _sign_in(other, people[4].handle, "correct horse")).status_code == 200


async def test_parallel_guesses_after_the_free_failures_get_one_try(api: Api, app: Any) -> None:
    free = app.state.runtime.settings.limit_sign_in_failures
    amy = await api.register("amy")
    async with _from(app, "203.0.113.8") as attacker:
        for _ in range(free - 1):
            assert (await _sign_in(attacker, amy.handle, "guess")).status_code == 401
        burst = await asyncio.gather(
            *(_sign_in(attacker, amy.handle, f"guess {i}") for i in range(20))
        )
    assert sorted(r.status_code for r in burst) == [401] + [429] * 19


async def test_a_success_clears_the_failures() -> None:
    limiter, delays = MemoryLimiter(), Delays(free=2, max_s=900, forget_after_s=1800)
    for _ in range(2):
        assert await limiter.reserve("amy|a", delays) == 0
        await limiter.failed("amy|a", delays)
    await limiter.clear("amy|a")
    assert await limiter.reserve("amy|a", delays) == 0


async def test_the_delay_doubles_with_each_failure_up_to_its_maximum() -> None:
    now = [1000.0]
    limiter = MemoryLimiter(clock=lambda: now[0])
    delays = Delays(free=2, max_s=10, forget_after_s=1800)
    waits = []
    for _ in range(8):
        wait = await limiter.reserve("k", delays)
        if wait:
            waits.append(wait)
            now[0] += wait
            assert await limiter.reserve("k", delays) == 0
        await limiter.failed("k", delays)
    assert waits == [1, 2, 4, 8, 10, 10]
    now[0] += 1800  # quiet for long enough: forgotten
    assert await limiter.reserve("k", delays) == 0 and await limiter.reserve("k", delays) == 0


async def test_password_checks_count_as_sign_in_failures(api: Api, app: Any) -> None:
    free = app.state.runtime.settings.limit_sign_in_failures
    amy = await api.register("amy")
    wrong = {"current_password": "guess", "new_password": "something new"}
    for _ in range(free):
        r = await api.call(amy, "POST", "/auth/password", json=wrong)
        assert_error(r, 403, "wrong_password")
    right = {"current_password": "correct horse", "new_password": "something new"}
    _assert_429(await api.call(amy, "POST", "/auth/password", json=right))
    assert (await api.call(amy, "GET", "/me")).status_code == 200, "nothing changed"


async def test_registrations_per_address_are_limited(api: Api, app: Any) -> None:
    app.state.runtime.settings.limit_registrations_per_hour = 2
    body = {"display_name": "Coach", "password": "correct horse"}
    async with _from(app, "192.0.2.10") as school, _from(app, "192.0.2.11") as other:
        for handle in ("one", "two"):
            r = await school.post("/api/v1/auth/register", json={**body, "handle": handle})
            assert r.status_code == 201
        r = await school.post("/api/v1/auth/register", json={**body, "handle": "three"})
        _assert_429(r)
        assert (await _sign_in(other, "three", "correct horse")).status_code == 401, "not made"
        r = await other.post("/api/v1/auth/register", json={**body, "handle": "three"})
        assert r.status_code == 201


async def test_text_posts_per_user_are_limited(api: Api, app: Any) -> None:
    app.state.runtime.settings.limit_text_posts_per_minute = 3
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    for i in range(3):
        await api.post(amy, gid, f"note {i}")
    _assert_429(await api.call(amy, "POST", f"/groups/{gid}/messages", json={"text": "flood"}))
    await api.post(ben, gid, "others still post")
    texts = [m["text"] for m in (await api.ok(ben, "GET", f"/groups/{gid}/messages"))["messages"]]
    assert "flood" not in texts and len(texts) == 4


async def test_groups_created_per_user_are_limited(api: Api, app: Any) -> None:
    app.state.runtime.settings.limit_groups_per_hour = 2
    amy = await api.register("amy")
    await api.group(amy, "one")
    await api.group(amy, "two")
    _assert_429(await api.call(amy, "POST", "/groups", json={"name": "three"}))
    assert len((await api.ok(amy, "GET", "/groups"))["groups"]) == 2


async def test_invites_per_user_are_limited(api: Api, app: Any) -> None:
    app.state.runtime.settings.limit_invites_per_hour = 2
    amy = await api.register("amy")
    gid = await api.group(amy)
    for _ in range(2):
        await api.ok(amy, "POST", f"/groups/{gid}/invites", json={})
    _assert_429(await api.call(amy, "POST", f"/groups/{gid}/invites", json={}))


async def test_member_adds_per_user_are_limited(api: Api, app: Any) -> None:
    app.state.runtime.settings.limit_member_adds_per_hour = 2
    amy = await api.register("amy")
    people = [await api.register(f"p{i}") for i in range(3)]
    gid = await api.group(amy)
    for person in people[:2]:
        await api.add(amy, gid, person)
    r = await api.call(amy, "POST", f"/groups/{gid}/members", json={"handle": people[2].handle})
    _assert_429(r)
    assert len((await api.ok(amy, "GET", f"/groups/{gid}/members"))["members"]) == 3


async def test_reports_per_user_are_limited(api: Api, app: Any) -> None:
    app.state.runtime.settings.limit_reports_per_hour = 2
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    posts = [await api.post(ben, gid, f"post {i}") for i in range(3)]
    for post in posts[:2]:
        r = await api.call(amy, "POST", f"/messages/{post['id']}/reports", json={"reason": "spam"})
        assert r.status_code == 201, r.text
    r = await api.call(amy, "POST", f"/messages/{posts[2]['id']}/reports", json={"reason": "x"})
    _assert_429(r)


def test_every_rule_reads_a_setting() -> None:
    settings = Settings(limit_reports_per_hour=7)
    assert rule(settings, "report") == Rule("report", 7, 3600, RULES["report"][2])
    for name, (setting, _, _) in RULES.items():
        assert rule(settings, name).limit == getattr(settings, setting), name


@pytest.fixture
def unlimited(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"rate_limits": False, "limit_text_posts_per_minute": 1, "limit_sign_in_failures": 0}
    )


async def test_rate_limits_false_turns_every_limit_off(unlimited: Settings) -> None:
    async with running(unlimited) as (_, client):
        api = Api(client)
        amy = await api.register("amy")
        gid = await api.group(amy)
        for i in range(5):
            await api.post(amy, gid, f"load test {i}")
        for _ in range(5):
            assert (await _sign_in(client, amy.handle, "guess")).status_code == 401
        assert (await _sign_in(client, amy.handle, "correct horse")).status_code == 200


async def test_uploads_per_user_per_minute_are_limited(api: Api, app: Any, samples: Path) -> None:
    app.state.runtime.settings.uploads_per_minute = 2
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    memo = audio_samples.client_file(samples, "iphone_m4a")
    for _ in range(2):
        assert (await upload(api, amy, gid, memo)).status_code == 202
    _assert_429(await upload(api, amy, gid, memo))
    page = await api.ok(amy, "GET", f"/groups/{gid}/messages")
    assert len(page["messages"]) == 2, "the refused upload left nothing"
    assert (await upload(api, ben, gid, memo)).status_code == 202, "per user, not per group"


async def test_a_window_ends_and_counting_starts_again() -> None:
    now = [1000.0]
    limiter = MemoryLimiter(clock=lambda: now[0])
    rule = Rule("test", limit=2, window_s=60)
    assert [await limiter.hit(rule, "k") for _ in range(2)] == [0.0, 0.0]
    now[0] += 15
    assert await limiter.hit(rule, "k") == pytest.approx(45)
    assert await limiter.hit(rule, "other") == 0.0
    now[0] += 45
    assert await limiter.hit(rule, "k") == 0.0


if REDIS_URL:

    async def test_redis_counts_are_shared_by_every_process() -> None:
        assert REDIS_URL
        prefix = f"earshot-test-{uuid.uuid4().hex}:"
        one, two = RedisLimiter(REDIS_URL, prefix), RedisLimiter(REDIS_URL, prefix)
        rule = Rule("login-handle", limit=3, window_s=30)
        try:
            hits = [await limiter.hit(rule, "amy") for limiter in (one, two, one)]
            assert hits == [0.0, 0.0, 0.0]
            wait = await two.hit(rule, "amy")
            assert 29 <= wait <= 30
            assert await one.hit(rule, "ben") == 0.0
        finally:
            await one.close()
            await two.close()

    async def test_redis_sign_in_delays_are_shared_by_every_process() -> None:
        assert REDIS_URL
        prefix = f"earshot-test-{uuid.uuid4().hex}:"
        one, two = RedisLimiter(REDIS_URL, prefix), RedisLimiter(REDIS_URL, prefix)
        delays = Delays(free=1, max_s=900, forget_after_s=1800)
        try:
            assert await one.reserve("amy|a", delays) == 0  # reserves 1 s should it fail
            await one.failed("amy|a", delays)
            assert 0 < await two.reserve("amy|a", delays) <= 1
            assert await two.reserve("amy|b", delays) == 0, "another address is not delayed"
            await two.clear("amy|a")
            assert await one.reserve("amy|a", delays) == 0
        finally:
            await one.close()
            await two.close()

    async def test_an_unreachable_redis_lets_requests_through() -> None:
        limiter = RedisLimiter("redis://127.0.0.1:1/0")
        try:
            rule = Rule("upload", limit=0, window_s=60)
            assert await limiter.hit(rule, "amy") == 0.0
        finally:
            await limiter.close()
