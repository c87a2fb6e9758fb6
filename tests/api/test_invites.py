"""Invite links: joining, limits, expiry."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.models import Invite
from tests.helpers import Api, assert_error


async def test_invite_link_lets_a_colleague_join(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    r = await api.call(
        amy, "POST", f"/groups/{gid}/invites", json={"max_uses": 5, "expires_in_s": 3600}
    )
    assert r.status_code == 201
    invite = r.json()
    assert invite["group_id"] == gid and invite["uses"] == 0 and invite["max_uses"] == 5
    expires = datetime.fromisoformat(invite["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    member = await api.ok(ben, "POST", f"/invites/{invite['code']}/accept")
    assert (member["user"]["id"], member["role"]) == (ben.id, "member")
    assert (await api.ok(ben, "GET", f"/groups/{gid}"))["member_count"] == 2


async def test_used_up_invite_is_410_and_members_accepting_again_use_nothing(api: Api) -> None:
    amy, ben, cy = await api.register("amy"), await api.register("ben"), await api.register("cy")
    gid = await api.group(amy)
    code = (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={"max_uses": 1}))["code"]
    await api.ok(ben, "POST", f"/invites/{code}/accept")
    again = await api.call(ben, "POST", f"/invites/{code}/accept")
    assert again.status_code == 200 and again.json()["user"]["id"] == ben.id
    assert_error(await api.call(cy, "POST", f"/invites/{code}/accept"), 410, "invite_expired")
    assert_error(await api.call(cy, "GET", f"/groups/{gid}"), 404)


async def test_expired_invite_is_410(api: Api, app: object) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    code = (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={"expires_in_s": 60}))["code"]
    async with app.state.runtime.sessions() as db:  # type: ignore[attr-defined]
        past = datetime.now(UTC) - timedelta(seconds=1)
        await db.execute(update(Invite).where(Invite.code == code).values(expires_at=past))
        await db.commit()
    assert_error(await api.call(ben, "POST", f"/invites/{code}/accept"), 410, "invite_expired")


async def test_unknown_invite_is_404(api: Api) -> None:
    ben = await api.register("ben")
    assert_error(await api.call(ben, "POST", "/invites/not-a-code/accept"), 404, "invite_not_found")


async def test_invite_without_limits_has_nulls(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    invite = await api.ok(amy, "POST", f"/groups/{gid}/invites", json={})
    assert invite["expires_at"] is None and invite["max_uses"] is None
