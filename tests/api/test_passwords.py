"""Passwords: weak ones are refused, and hashing a flood of new ones delays nobody else."""

import asyncio
import threading

import pytest

from app.config import Settings
from app.errors import ApiError
from app.services.passwords import Passwords
from tests.helpers import Api, assert_error, running

REGISTER = "/api/v1/auth/register"


@pytest.mark.parametrize(
    ("password", "code", "reason"),
    [
        ("12345678", "validation_error", None),  # under 10 characters
        ("password", "validation_error", None),
        (" " * 12, "weak_password", "whitespace"),
        ("xx-newcoach-xx", "weak_password", "contains_handle"),
        ("NewCoach99!", "weak_password", "contains_handle"),
        ("qwertyuiop", "weak_password", "common"),
        ("1234567890", "weak_password", "common"),
        ("Password12", "weak_password", "common"),
        ("password 123", "weak_password", "common"),
    ],
)
async def test_weak_passwords_are_refused_and_no_account_is_made(
    api: Api, password: str, code: str, reason: str | None
) -> None:
    body = {"handle": "newcoach", "display_name": "New", "password": password}
    error = assert_error(await api.client.post(REGISTER, json=body), 422, code)
    if reason:
        assert error["details"] == {"reason": reason}
    login = {"handle": "newcoach", "password": password}
    assert_error(await api.client.post("/api/v1/auth/login", json=login), 401)


async def test_a_long_uncommon_password_is_accepted(api: Api) -> None:
    body = {"handle": "newcoach", "display_name": "New", "password": "maple syrup on snow"}
    assert (await api.client.post(REGISTER, json=body)).status_code == 201


async def test_a_new_password_follows_the_same_rules(api: Api) -> None:
    amy = await api.register("amy")
    for weak in ("qwertyuiop", f"my {amy.handle} pass", "          "):
        body = {"current_password": "correct horse", "new_password": weak}
        assert_error(await api.call(amy, "POST", "/auth/password", json=body), 422, "weak_password")
    assert (await api.call(amy, "GET", "/me")).status_code == 200, "still signed in"


@pytest.fixture
def real_hashing(settings: Settings) -> Settings:
    """Hashing slow enough (tens of ms each) that 60 of them take a while; no rate limits,
    so every registration really hashes."""
    return settings.model_copy(
        update={
            "argon2_time_cost": 2,
            "argon2_memory_kib": 32 * 1024,
            "argon2_parallelism": 1,
            "rate_limits": False,
        }
    )


async def test_a_sign_in_during_60_registrations_does_not_wait_for_them(
    real_hashing: Settings,
) -> None:
    """Registrations hash on their own executor: the sign-in's check runs beside them.

    The hashing executor's one thread is held until the sign-in is answered (or for
    10 s at most), so all 60 registrations are queued when the sign-in arrives and none
    can finish before it, unless the sign-in has to wait behind them (as it did on the
    shared thread pool: then it is answered only after they are). bench/abuse.py
    measures the latency."""
    async with running(real_hashing, request_timeout_s=120) as (app, c):
        amy = await Api(c).register("amy")
        passwords = app.state.runtime.passwords
        gate = threading.Event()
        held = asyncio.create_task(passwords._hashing.run(gate.wait, 10))
        finished: list[int] = []

        async def register(i: int) -> None:
            body = {"handle": f"flood{i}", "display_name": "F", "password": "flood password"}
            r = await c.post(REGISTER, json=body)
            finished.append(r.status_code)

        flood = [asyncio.create_task(register(i)) for i in range(60)]
        while passwords.hashing_backlog < 61:  # noqa: ASYNC110 (the gate plus all 60)
            await asyncio.sleep(0.005)
        login = {"handle": amy.handle, "password": "correct horse"}
        signed_in = await c.post("/api/v1/auth/login", json=login)
        done_by_then = len(finished)
        gate.set()
        await held
        await asyncio.gather(*flood)
    assert signed_in.status_code == 200
    assert done_by_then == 0, f"the sign-in waited for {done_by_then} of 60 registrations"
    assert finished == [201] * 60, "every registration went through in the end"


async def test_past_its_queue_the_hashing_executor_answers_503(settings: Settings) -> None:
    passwords = Passwords(settings.model_copy(update={"hash_workers": 1, "hash_queue": 0}))
    try:
        first = asyncio.create_task(passwords.hash("first long password"))
        await asyncio.sleep(0)  # it takes the only place
        with pytest.raises(ApiError) as refused:
            await passwords.hash("second long password")
        assert refused.value.status == 503 and refused.value.code == "server_busy"
        assert refused.value.headers == {"Retry-After": "2"}
        assert (await first).startswith("$argon2id$")
    finally:
        passwords.close()
