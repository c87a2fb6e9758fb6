"""Registration modes (open, invite, closed) and the email-domain rule for posting."""

from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.config import Settings
from app.models import Membership, User, utcnow
from tests.helpers import Api, Person, assert_error
from tests.realtime.conftest import ws, ws_url  # noqa: F401 (websocket fixtures)

PASSWORD = "correct horse"


async def sign_up(api: Api, handle: str, **extra: Any) -> Any:
    body = {"handle": handle, "display_name": handle.title(), "password": PASSWORD, **extra}
    return await api.client.post("/api/v1/auth/register", json=body)


async def accounts(app: Any) -> int:
    async with app.state.runtime.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(User)) or 0)


async def invite(api: Api, who: Person, gid: str, **body: Any) -> str:
    return str((await api.ok(who, "POST", f"/groups/{gid}/invites", json=body))["code"])


async def by_invitation(api: Api, settings: Settings) -> tuple[Person, str, str]:
    """Amy's group and a one-use invite to it, made before the server turns to `invite`."""
    amy = await api.register("amy")
    gid = await api.group(amy)
    code = await invite(api, amy, gid, max_uses=1)
    settings.registration = "invite"
    return amy, gid, code


async def test_the_server_says_how_it_takes_accounts(api: Api, settings: Settings) -> None:
    assert await api.ok(None, "GET", "/server") == {
        "registration": "open",
        "email_domains": [],
        "password_login": True,
    }
    settings.registration = "invite"
    settings.registration_email_domains = "district.org,Schools.District.org"
    body = await api.ok(None, "GET", "/server")
    assert body == {
        "registration": "invite",
        "email_domains": ["district.org", "schools.district.org"],
        "password_login": True,
    }


def test_domains_that_are_not_domains_are_refused() -> None:
    with pytest.raises(ValueError, match="not a domain"):
        Settings(registration_email_domains="district.org,nodot")
    with pytest.raises(ValueError):
        Settings(registration="sometimes")  # type: ignore[arg-type]


async def test_closed_registration_makes_nobody(app: Any, api: Api, settings: Settings) -> None:
    settings.registration = "closed"
    assert_error(await sign_up(api, "amy"), 403, "registration_closed")
    assert await accounts(app) == 0


async def test_invite_registration_needs_a_working_code_and_joins_its_group(
    app: Any, api: Api, settings: Settings
) -> None:
    amy, gid, code = await by_invitation(api, settings)

    assert_error(await sign_up(api, "ben"), 403, "invite_required")
    assert_error(await sign_up(api, "ben", invite_code="nosuchcode12345"), 404, "invite_not_found")
    assert_error(await sign_up(api, "ben", invite_code="bad code!"), 422, "validation_error")
    assert await accounts(app) == 1, "a refused sign-up makes nothing"

    r = await sign_up(api, "ben", invite_code=code)
    assert r.status_code == 201, r.text
    ben = Person("ben", r.json()["token"], r.json()["user"]["id"])
    members = (await api.ok(amy, "GET", f"/groups/{gid}/members"))["members"]
    assert [(m["user"]["id"], m["role"]) for m in members] == [
        (amy.id, "owner"),
        (ben.id, "member"),
    ]
    events = await api.events(ben, gid)
    assert events[-1]["type"] == "member.joined" and events[-1]["data"]["user"]["id"] == ben.id

    used_up = await sign_up(api, "cat", invite_code=code)
    assert_error(used_up, 410, "invite_expired")
    revoked = await invite(api, amy, gid)
    await api.ok(amy, "DELETE", f"/groups/{gid}/invites/{revoked}")
    assert_error(await sign_up(api, "cat", invite_code=revoked), 410, "invite_revoked")
    assert await accounts(app) == 2


async def test_a_handle_taken_keeps_the_invite_unused(
    app: Any, api: Api, settings: Settings
) -> None:
    amy, gid, code = await by_invitation(api, settings)
    assert_error(await sign_up(api, amy.handle, invite_code=code), 409, "handle_taken")
    r = await sign_up(api, "ben", invite_code=code)
    assert r.status_code == 201, r.text
    async with app.state.runtime.sessions() as db:
        joined = await db.scalar(select(func.count()).select_from(Membership))
    assert joined == 2


async def test_an_open_server_also_honours_an_invite_code(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    r = await sign_up(api, "ben", invite_code=await invite(api, amy, gid))
    assert r.status_code == 201, r.text
    ben = Person("ben", r.json()["token"], r.json()["user"]["id"])
    assert (await api.ok(ben, "GET", f"/groups/{gid}"))["role"] == "member"


async def test_posting_needs_a_verified_address_in_the_districts_domains(
    app: Any, api: Api, settings: Settings
) -> None:
    settings.registration_email_domains = "district.org"
    amy = await api.register("amy")
    gid = await api.group(amy)

    refused = await api.call(amy, "POST", f"/groups/{gid}/messages", json={"text": "hi"})
    error = assert_error(refused, 403, "email_domain_required")
    assert error["details"] == {"domains": ["district.org"]}
    upload = await api.call(
        amy,
        "POST",
        f"/groups/{gid}/voice",
        files={"file": ("a.ogg", b"refused before it is read", "audio/ogg")},
    )
    assert_error(upload, 403, "email_domain_required")
    assert (await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"] == []

    async def address(email: str, verified: bool) -> None:
        async with app.state.runtime.sessions() as db:
            await db.execute(
                update(User)
                .where(User.id == amy.id)
                .values(email=email, email_verified_at=utcnow() if verified else None)
            )
            await db.commit()

    await address("amy@district.org", verified=False)
    assert_error(await api.call(amy, "POST", f"/groups/{gid}/messages", json={"text": "hi"}), 403)
    await address("amy@district.org.evil.com", verified=True)
    assert_error(await api.call(amy, "POST", f"/groups/{gid}/messages", json={"text": "hi"}), 403)
    await address("amy@district.org", verified=True)
    await api.post(amy, gid, "hi")
    assert [
        m["text"] for m in (await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"]
    ] == ["hi"]


async def test_a_live_memo_needs_the_verified_address_too(
    app: Any,
    api: Api,
    settings: Settings,
    ws: Any,  # noqa: F811
) -> None:
    settings.registration_email_domains = "district.org"
    amy = await api.register("amy")
    gid = await api.group(amy)
    sender = await ws(amy)
    start = {"type": "live.start", "group_id": gid, "mime": "audio/webm;codecs=opus"}
    await sender.send(start)
    error = (await sender.recv_type("error"))["error"]
    assert (error["code"], error["details"]) == (
        "email_domain_required",
        {"domains": ["district.org"]},
    )
    async with app.state.runtime.sessions() as db:  # verified since the socket opened
        await db.execute(
            update(User)
            .where(User.id == amy.id)
            .values(email="amy@district.org", email_verified_at=utcnow())
        )
        await db.commit()
    await sender.send(start)
    assert (await sender.recv_type("live.started"))["message_id"]
