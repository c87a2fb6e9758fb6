"""Rate limits: 429 with Retry-After in the one error shape, for sign-in and uploads.

The limiter itself is tested in memory and, when EARSHOT_TEST_REDIS_URL is set,
on a real Redis shared by two limiters (as by two server processes)."""

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.ratelimit import MemoryLimiter, RedisLimiter, Rule
from tests import audio_samples
from tests.helpers import Api, assert_error
from tests.voice.helpers import upload

REDIS_URL = os.environ.get("EARSHOT_TEST_REDIS_URL")


def _assert_429(r: Any) -> int:
    error = assert_error(r, 429, "rate_limited")
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after and error["details"]["retry_after_s"] == retry_after
    return retry_after


async def _login(api: Api, handle: str, password: str) -> Any:
    body = {"handle": handle, "password": password}
    return await api.client.post("/api/v1/auth/login", json=body)


async def test_sign_in_attempts_per_handle_are_limited(api: Api, app: Any) -> None:
    app.state.runtime.settings.login_attempts_per_handle = 3
    amy, ben = await api.register("amy"), await api.register("ben")
    for _ in range(3):
        assert_error(await _login(api, amy.handle, "guess"), 401, "invalid_credentials")
    retry_after = _assert_429(await _login(api, amy.handle, "correct horse"))
    assert retry_after <= app.state.runtime.settings.login_window_s
    assert_error(await _login(api, amy.handle.upper(), "correct horse"), 429, "rate_limited")
    assert (await _login(api, ben.handle, "correct horse")).status_code == 200, "others unaffected"


async def test_sign_in_attempts_per_address_are_limited(api: Api, app: Any) -> None:
    app.state.runtime.settings.login_attempts_per_address = 4
    people = [await api.register(f"p{i}") for i in range(5)]
    for person in people[:4]:
        assert (await _login(api, person.handle, "correct horse")).status_code == 200
    _assert_429(await _login(api, people[4].handle, "correct horse"))
    _assert_429(await _login(api, "nobody-at-all", "x"))


async def test_password_checks_count_as_sign_in_attempts(api: Api, app: Any) -> None:
    app.state.runtime.settings.login_attempts_per_handle = 2
    amy = await api.register("amy")
    wrong = {"current_password": "guess", "new_password": "something new"}
    for _ in range(2):
        r = await api.call(amy, "POST", "/auth/password", json=wrong)
        assert_error(r, 403, "wrong_password")
    right = {"current_password": "correct horse", "new_password": "something new"}
    _assert_429(await api.call(amy, "POST", "/auth/password", json=right))
    assert (await api.call(amy, "GET", "/me")).status_code == 200, "nothing changed"


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

    async def test_an_unreachable_redis_lets_requests_through() -> None:
        limiter = RedisLimiter("redis://127.0.0.1:1/0")
        try:
            rule = Rule("upload", limit=0, window_s=60)
            assert await limiter.hit(rule, "amy") == 0.0
        finally:
            await limiter.close()
