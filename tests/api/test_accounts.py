"""Registering, signing in and out, and what a token is good for."""

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from app.config import Settings
from app.main import create_app
from app.models import User
from tests.helpers import Api, assert_error

REGISTER = "/api/v1/auth/register"


async def test_register_returns_user_and_working_token(api: Api) -> None:
    r = await api.client.post(
        REGISTER, json={"handle": "Amy.Coach", "display_name": "Amy", "password": "long enough"}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["user"]["handle"] == "amy.coach"
    assert body["user"]["created_at"].endswith("Z")
    me = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json() == {
        **body["user"],
        "who_can_add_me": "shared_group",
        "notification_previews": False,
        "quiet_hours": None,
        "email": None,
        "email_verified": False,
        "has_password": True,
        "is_admin": False,
        "digest": "off",
        "timezone": None,
    }


async def test_handle_taken_is_409(api: Api) -> None:
    amy = await api.register("amy")
    r = await api.client.post(
        REGISTER, json={"handle": amy.handle, "display_name": "Other", "password": "long enough"}
    )
    assert_error(r, 409, "handle_taken")


async def test_login_with_right_password_gives_a_new_token(api: Api) -> None:
    amy = await api.register("amy")
    r = await api.client.post(
        "/api/v1/auth/login", json={"handle": amy.handle, "password": "correct horse"}
    )
    assert r.status_code == 200
    assert r.json()["token"] != amy.token
    assert r.json()["user"]["id"] == amy.id


async def test_login_wrong_password_or_unknown_handle_is_401(api: Api) -> None:
    amy = await api.register("amy")
    for handle, password in [(amy.handle, "wrong password"), ("nobody_here", "whatever1")]:
        r = await api.client.post(
            "/api/v1/auth/login", json={"handle": handle, "password": password}
        )
        assert_error(r, 401, "invalid_credentials")


async def test_logout_revokes_the_token_at_once(api: Api) -> None:
    amy = await api.register("amy")
    r = await api.call(amy, "POST", "/auth/logout")
    assert r.status_code == 204
    assert_error(await api.call(amy, "GET", "/me"), 401, "unauthorized")


async def test_logout_leaves_other_sessions_signed_in(api: Api) -> None:
    amy = await api.register("amy")
    other = await api.client.post(
        "/api/v1/auth/login", json={"handle": amy.handle, "password": "correct horse"}
    )
    await api.ok(amy, "POST", "/auth/logout")
    me = await api.client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {other.json()['token']}"}
    )
    assert me.status_code == 200


async def test_requests_without_or_with_bad_token_are_401(api: Api) -> None:
    assert_error(await api.client.get("/api/v1/me"), 401, "unauthorized")
    r = await api.client.get("/api/v1/me", headers={"Authorization": "Bearer nope"})
    assert_error(r, 401, "unauthorized")
    r = await api.client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert_error(r, 401, "unauthorized")


async def test_password_is_stored_as_argon2id(api: Api, app: object) -> None:
    from sqlalchemy import select

    from app.models import User

    amy = await api.register("amy")
    async with app.state.runtime.sessions() as db:  # type: ignore[attr-defined]
        stored = await db.scalar(select(User.password_hash).where(User.id == amy.id))
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored


async def test_signed_in_requests_do_not_wait_for_a_sqlite_writer(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The token lookup only reads: while another process holds SQLite's write lock,
    a signed-in read is answered instead of queueing behind the writer."""
    path = tmp_path / "earshot.db"
    shutil.copyfile(sqlite_template, path)
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{path}",
        secret_key="test-secret",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://earshot.test") as c:
            api = Api(c)
            amy = await api.register("amy")
            writer = sqlite3.connect(path, isolation_level=None)
            try:
                writer.execute("BEGIN IMMEDIATE")  # held until the request is answered
                r = await api.call(amy, "GET", "/me")
            finally:
                writer.execute("ROLLBACK")
                writer.close()
    assert r.status_code == 200, r.text


async def test_signing_in_upgrades_a_hash_made_with_weaker_parameters(api: Api, app: Any) -> None:
    amy = await api.register("amy")
    app.state.runtime.settings.argon2_time_cost = 2  # the operator strengthened hashing
    body = {"handle": amy.handle, "password": "correct horse"}
    assert (await api.client.post("/api/v1/auth/login", json=body)).status_code == 200
    async with app.state.runtime.sessions() as db:
        stored = await db.scalar(select(User.password_hash).where(User.id == amy.id))
    assert stored is not None and ",t=2," in stored
    assert (await api.client.post("/api/v1/auth/login", json=body)).status_code == 200
