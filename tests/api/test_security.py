"""Security: password changes, removed members and audio links, hostile ids, body limits,
response headers and CORS."""

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from app.services import signing
from tests import audio_samples
from tests.helpers import Api, assert_error
from tests.services.helpers import processed, upload

PASSWORDS = {"current_password": "correct horse", "new_password": "battery staple"}


async def test_a_password_change_revokes_every_token_and_returns_a_new_one(api: Api) -> None:
    amy = await api.register("amy")
    other = await api.client.post(
        "/api/v1/auth/login", json={"handle": amy.handle, "password": "correct horse"}
    )
    other_token = other.json()["token"]
    body = await api.ok(amy, "POST", "/auth/password", json=PASSWORDS)
    assert body["user"]["id"] == amy.id and body["token"] not in (amy.token, other_token)
    for token in (amy.token, other_token):
        r = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert_error(r, 401)
    me = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["id"] == amy.id
    old = {"handle": amy.handle, "password": "correct horse"}
    assert_error(await api.client.post("/api/v1/auth/login", json=old), 401)
    new = {"handle": amy.handle, "password": "battery staple"}
    assert (await api.client.post("/api/v1/auth/login", json=new)).status_code == 200


async def test_a_wrong_current_password_changes_nothing(api: Api) -> None:
    amy = await api.register("amy")
    wrong = {**PASSWORDS, "current_password": "not it"}
    assert_error(await api.call(amy, "POST", "/auth/password", json=wrong), 403, "wrong_password")
    short = {**PASSWORDS, "new_password": "short"}
    assert_error(await api.call(amy, "POST", "/auth/password", json=short), 422)
    assert (await api.call(amy, "GET", "/me")).status_code == 200
    old = {"handle": amy.handle, "password": "correct horse"}
    assert (await api.client.post("/api/v1/auth/login", json=old)).status_code == 200


async def test_a_removed_member_loses_the_group_and_its_audio_links_expire(
    api: Api, app: Any, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    r = await upload(api, amy, gid, audio_samples.client_file(samples, "iphone_m4a"))
    memo = await processed(app, api, ben, r.json()["id"])
    url = memo["voice"]["audio_url"]
    expires = int(parse_qs(urlsplit(url).query)["exp"][0])
    ttl = app.state.runtime.settings.audio_url_ttl_s
    assert expires <= time.time() + ttl + 3600, "a link outlives its TTL by at most the rounding"

    assert (await api.call(amy, "DELETE", f"/groups/{gid}/members/{ben.id}")).status_code == 204
    for path in (f"/messages/{memo['id']}", f"/groups/{gid}/messages", f"/groups/{gid}"):
        assert_error(await api.call(ben, "GET", path), 404)
    assert (await api.client.get(url)).status_code == 200, "a signed link works until it expires"

    class Later:
        @staticmethod
        def time() -> float:
            return expires + 1

    monkeypatch.setattr(signing, "time", Later)
    assert_error(await api.client.get(url), 403, "url_expired")


HOSTILE_IDS = [
    "..",
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fdata%2fearshot.db",
    "..\\..\\secret.key",
    "voice%00.ogg",
    "x" * 65,
    "' OR '1'='1",
]


async def test_hostile_ids_in_every_path_get_4xx_in_the_one_shape(api: Api, app: Any) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    await api.post(amy, gid, "still here")
    secret = (app.state.runtime.settings.data_dir / "secret.key").exists()
    paths = app.openapi()["paths"]
    templated = [(p, m) for p, ops in paths.items() if "{" in p for m in ops]
    assert len(templated) >= 10
    for template, method in templated:
        for hostile in HOSTILE_IDS:
            path = template
            while "{" in path:
                start, end = path.index("{"), path.index("}")
                path = path[:start] + hostile + path[end + 1 :]
            r = await api.client.request(
                method.upper(), path, headers=amy.auth, params={"exp": "1", "sig": "x"}, json={}
            )
            assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
            if method != "head":  # a HEAD answer has no body, by HTTP's definition
                assert_error(r, r.status_code)
            assert b"root:" not in r.content and b"SQLite" not in r.content
    page = await api.ok(amy, "GET", f"/groups/{gid}/messages")
    assert [m["text"] for m in page["messages"]] == ["still here"], "nothing changed"
    assert (app.state.runtime.settings.data_dir / "secret.key").exists() == secret


async def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(api: Api) -> None:
    amy = await api.register("amy")
    headers = {**amy.auth, "Content-Type": "application/json"}
    big = b"{" + b" " * 70_000 + b"}"
    declared = await api.client.post("/api/v1/groups", content=big, headers=headers)
    assert_error(declared, 413, "too_large")

    sent = []

    async def endless():
        for _ in range(10_000):  # 640 MB if it were all read
            sent.append(1)
            yield b" " * 65_536

    r = await api.client.post(
        "/api/v1/groups",
        content=endless(),
        headers={**amy.auth, "Content-Type": "application/json"},
    )
    assert_error(r, 413, "too_large")
    assert len(sent) < 10, "the body was cut off early"
    assert (await api.ok(amy, "GET", "/groups"))["groups"] == []


async def test_responses_carry_security_headers(api: Api) -> None:
    for path in ("/", "/api/v1/me", "/healthz"):
        r = await api.client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp


@pytest.fixture
def cors_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"cors_origins": "https://coach.example.org"})


async def test_cors_allows_only_the_configured_origins(cors_settings: Settings) -> None:
    app = create_app(cors_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://earshot.test") as c:
            ask = {
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            }
            ok = await c.options(
                "/api/v1/groups", headers={"Origin": "https://coach.example.org", **ask}
            )
            assert ok.status_code == 200
            assert ok.headers["access-control-allow-origin"] == "https://coach.example.org"
            assert "authorization" in ok.headers["access-control-allow-headers"].lower()
            other = await c.options(
                "/api/v1/groups", headers={"Origin": "https://evil.example", **ask}
            )
            assert "access-control-allow-origin" not in other.headers
            simple = await c.get("/healthz", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in simple.headers


async def test_without_a_cors_setting_no_origin_is_allowed(api: Api) -> None:
    r = await api.client.get("/healthz", headers={"Origin": "https://coach.example.org"})
    assert "access-control-allow-origin" not in r.headers


async def test_text_that_no_database_can_store_is_refused_with_422(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    nul = "before\x00after"
    attempts = [
        ("POST", f"/groups/{gid}/messages", {"text": nul}),
        ("POST", f"/groups/{gid}/messages", {"text": "hi", "client_id": nul}),
        ("POST", f"/groups/{gid}/messages", {"text": "hi", "reply_to": nul}),
        ("POST", "/groups", {"name": nul}),
        ("PATCH", f"/groups/{gid}", {"description": nul}),
        ("POST", f"/groups/{gid}/members", {"handle": nul}),
    ]
    for method, path, body in attempts:
        assert_error(await api.call(amy, method, path, json=body), 422)
    login = {"handle": nul, "password": nul}
    assert_error(await api.client.post("/api/v1/auth/login", json=login), 422)
    lone = '{"text": "\\ud800"}'  # a lone surrogate: not UTF-8, so not storable either
    json_type = {"Content-Type": "application/json"}
    r = await api.call(amy, "POST", f"/groups/{gid}/messages", content=lone, headers=json_type)
    assert_error(r, 422)
    assert (await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"] == []
