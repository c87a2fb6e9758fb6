"""Bad input gets a clear 4xx in the one error shape and changes nothing."""

from typing import Any

import httpx
import pytest

from tests.helpers import Api, assert_error

LONG = "x" * 4001


async def test_each_invalid_registration_field_is_422(api: Api) -> None:
    good = {"handle": "valid_handle", "display_name": "Val", "password": "long enough"}
    bad_values: list[tuple[str, Any]] = [
        ("handle", "ab"),
        ("handle", "a" * 33),
        ("handle", "has space"),
        ("handle", "émilie"),
        ("handle", 123),
        ("display_name", ""),
        ("display_name", "   "),
        ("display_name", "d" * 101),
        ("password", "short"),
        ("password", None),
    ]
    for field, value in bad_values:
        r = await api.client.post("/api/v1/auth/register", json={**good, field: value})
        error = assert_error(r, 422, "validation_error")
        assert error["details"]["errors"][0]["field"] == field, (field, value)
    for field in good:
        body = {k: v for k, v in good.items() if k != field}
        assert_error(await api.client.post("/api/v1/auth/register", json=body), 422)
    assert_error(
        await api.client.post(
            "/api/v1/auth/login", json={"handle": "valid_handle", "password": "long enough"}
        ),
        401,
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/groups", {"name": ""}),
        ("/groups", {"name": "n" * 101}),
        ("/groups", {"name": "ok", "description": "d" * 1001}),
        ("/groups", {"name": "ok", "client_id": "c" * 65}),
        ("/groups", {"name": "ok", "client_id": ""}),
        ("/groups/{gid}", {"name": ""}),
        ("/groups/{gid}/members", {"handle": "!!"}),
        ("/groups/{gid}/members", {"handle": "someone", "role": "owner"}),
        ("/groups/{gid}/members", {"handle": "someone", "role": "admin"}),
        ("/groups/{gid}/members/{uid}", {"role": "boss"}),
        ("/groups/{gid}/invites", {"max_uses": 0}),
        ("/groups/{gid}/invites", {"expires_in_s": 5}),
        ("/groups/{gid}/invites", {"max_uses": "many"}),
        ("/groups/{gid}/messages", {"text": ""}),
        ("/groups/{gid}/messages", {"text": "   "}),
        ("/groups/{gid}/messages", {"text": LONG}),
        ("/groups/{gid}/messages", {"text": "ok", "client_id": "c" * 65}),
        ("/groups/{gid}/messages", {"text": "ok", "reply_to": "r" * 37}),
        ("/groups/{gid}/messages", {}),
        ("/groups/{gid}/messages", []),
    ],
)
async def test_invalid_field_is_422_and_changes_nothing(api: Api, path: str, body: Any) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    path = path.format(gid=gid, uid=amy.id)
    method = "PATCH" if path.endswith((gid, amy.id)) else "POST"
    before = await api.events(amy, gid)
    groups_before = await api.ok(amy, "GET", "/groups")
    assert_error(await api.call(amy, method, path, json=body), 422, None)
    assert await api.events(amy, gid) == before
    assert await api.ok(amy, "GET", "/groups") == groups_before


async def test_malformed_json_is_422(api: Api) -> None:
    amy = await api.register("amy")
    r = await api.client.post(
        "/api/v1/groups",
        content=b'{"name": ',
        headers={**amy.auth, "Content-Type": "application/json"},
    )
    assert_error(r, 422, "validation_error")


async def test_unknown_route_and_wrong_method_use_the_error_shape(api: Api) -> None:
    assert_error(await api.client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(await api.client.put("/api/v1/me"), 405, "method_not_allowed")


async def test_unexpected_failure_is_500_in_the_error_shape(app: Any) -> None:
    async def explode() -> None:
        raise RuntimeError("boom with secret details")

    app.add_api_route("/explode", explode)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/explode")
    error = assert_error(r, 500, "internal_error")
    assert "secret" not in error["message"]
