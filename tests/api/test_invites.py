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


async def test_moderators_list_invites_with_creator_uses_and_status(api: Api) -> None:
    amy, mod, ben = await api.register("amy"), await api.register("mod"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, mod, "moderator")
    await api.add(amy, gid, ben)
    first = await api.ok(amy, "POST", f"/groups/{gid}/invites", json={"max_uses": 1})
    second = await api.ok(mod, "POST", f"/groups/{gid}/invites", json={"expires_in_s": 3600})
    newcomer = await api.register("newcomer")
    await api.ok(newcomer, "POST", f"/invites/{first['code']}/accept")

    body = await api.ok(mod, "GET", f"/groups/{gid}/invites")
    assert body["has_more"] is False
    listed = {i["code"]: i for i in body["invites"]}
    assert [i["code"] for i in body["invites"]] == [second["code"], first["code"]]  # newest first
    assert listed[first["code"]]["creator"]["id"] == amy.id
    assert (listed[first["code"]]["uses"], listed[first["code"]]["max_uses"]) == (1, 1)
    assert listed[first["code"]]["status"] == "used_up"
    assert listed[second["code"]]["status"] == "active"
    assert listed[second["code"]]["created_at"] <= listed[second["code"]]["expires_at"]
    assert_error(await api.call(ben, "GET", f"/groups/{gid}/invites"), 403, "forbidden")


async def test_invite_pages_follow_the_cursor(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    codes = [
        (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={}))["code"] for _ in range(5)
    ]
    seen = await api.every_page(amy, f"/groups/{gid}/invites", "invites", "before", "code")
    assert seen == codes[::-1]


async def test_a_revoked_invite_answers_410_and_is_logged(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    code = (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={}))["code"]
    r = await api.call(amy, "DELETE", f"/groups/{gid}/invites/{code}")
    assert r.status_code == 204
    again = await api.call(amy, "DELETE", f"/groups/{gid}/invites/{code}")
    assert again.status_code == 204, "revoking twice is harmless"
    assert_error(await api.call(ben, "POST", f"/invites/{code}/accept"), 410, "invite_revoked")
    assert_error(await api.call(ben, "GET", f"/groups/{gid}"), 404)
    assert (await api.ok(amy, "GET", f"/groups/{gid}/invites"))["invites"] == []
    log = (await api.ok(amy, "GET", f"/groups/{gid}/moderation-log"))["entries"]
    assert [(e["action"], e["actor"]["id"], e["details"]) for e in log] == [
        ("invite.revoked", amy.id, {"code": code})
    ]


async def test_revoking_an_unknown_or_other_groups_invite_is_404(api: Api) -> None:
    amy = await api.register("amy")
    gid, other = await api.group(amy), await api.group(amy, "other")
    code = (await api.ok(amy, "POST", f"/groups/{other}/invites", json={}))["code"]
    r = await api.call(amy, "DELETE", f"/groups/{gid}/invites/{code}")
    assert_error(r, 404, "invite_not_found")
    r = await api.call(amy, "DELETE", f"/groups/{gid}/invites/nope")
    assert_error(r, 404, "invite_not_found")
    ben = await api.register("ben")
    assert (await api.call(ben, "POST", f"/invites/{code}/accept")).status_code == 200


async def test_an_ex_moderators_invites_stop_working(api: Api) -> None:
    amy, mod = await api.register("amy"), await api.register("mod")
    gid = await api.group(amy)
    await api.add(amy, gid, mod, "moderator")
    code = (await api.ok(mod, "POST", f"/groups/{gid}/invites", json={}))["code"]
    await api.ok(amy, "PATCH", f"/groups/{gid}/members/{mod.id}", json={"role": "member"})
    ben = await api.register("ben")
    assert_error(await api.call(ben, "POST", f"/invites/{code}/accept"), 410, "invite_revoked")
    listed = (await api.ok(amy, "GET", f"/groups/{gid}/invites"))["invites"]
    assert [i["status"] for i in listed] == ["creator_not_moderator"]
    await api.ok(amy, "PATCH", f"/groups/{gid}/members/{mod.id}", json={"role": "moderator"})
    assert (await api.call(ben, "POST", f"/invites/{code}/accept")).status_code == 200

    await api.ok(amy, "DELETE", f"/groups/{gid}/members/{mod.id}")  # gone from the group
    cy = await api.register("cy")
    assert_error(await api.call(cy, "POST", f"/invites/{code}/accept"), 410, "invite_revoked")


async def test_removed_member_cannot_rejoin_with_an_old_invite(api: Api) -> None:
    amy, mod, ben = await api.register("amy"), await api.register("mod"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, mod, "moderator")
    old = (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={}))["code"]
    await api.ok(ben, "POST", f"/invites/{old}/accept")
    # While a moderator, Ben's colleague made a link of her own: removed, it fails too.
    await api.ok(amy, "PATCH", f"/groups/{gid}/members/{ben.id}", json={"role": "moderator"})
    his_own = (await api.ok(ben, "POST", f"/groups/{gid}/invites", json={}))["code"]
    await api.ok(amy, "DELETE", f"/groups/{gid}/members/{ben.id}")

    for code in (old, his_own):
        r = await api.call(ben, "POST", f"/invites/{code}/accept")
        assert r.status_code in (403, 410), r.text
        assert r.json()["error"]["code"] in ("removed", "invite_revoked")
    assert_error(await api.call(ben, "POST", f"/invites/{old}/accept"), 403, "removed")
    assert_error(await api.call(ben, "GET", f"/groups/{gid}"), 404)
    cy = await api.register("cy")
    assert (await api.call(cy, "POST", f"/invites/{old}/accept")).status_code == 200, (
        "the old invite still works for everyone else"
    )
    fresh = (await api.ok(mod, "POST", f"/groups/{gid}/invites", json={}))["code"]
    assert (await api.ok(ben, "POST", f"/invites/{fresh}/accept"))["user"]["id"] == ben.id


async def test_someone_who_left_may_come_back_with_the_same_link(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    code = (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={}))["code"]
    await api.ok(ben, "POST", f"/invites/{code}/accept")
    await api.ok(ben, "DELETE", f"/groups/{gid}/members/{ben.id}")  # leaving is no removal
    assert (await api.call(ben, "POST", f"/invites/{code}/accept")).status_code == 200


async def test_a_removed_member_is_back_when_a_moderator_adds_them(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    await api.ok(amy, "DELETE", f"/groups/{gid}/members/{ben.id}")
    await api.add(amy, gid, ben)
    assert (await api.ok(ben, "GET", f"/groups/{gid}"))["role"] == "member"
