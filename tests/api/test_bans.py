"""Bans: a moderator removes someone and keeps them out, whatever invite they hold."""

from tests.helpers import Api, assert_error


async def test_a_ban_removes_and_holds_across_every_invite(api: Api) -> None:
    amy, eve = await api.register("amy"), await api.register("eve")
    gid = await api.group(amy)
    before = (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={}))["code"]
    await api.ok(eve, "POST", f"/invites/{before}/accept")
    r = await api.call(
        amy, "POST", f"/groups/{gid}/bans", json={"user_id": eve.id, "reason": "harassment"}
    )
    assert r.status_code == 201, r.text
    ban = r.json()
    assert (ban["user"]["id"], ban["banned_by"]["id"], ban["reason"]) == (
        eve.id,
        amy.id,
        "harassment",
    )
    assert_error(await api.call(eve, "GET", f"/groups/{gid}"), 404)
    after = (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={}))["code"]
    for code in (before, after):
        assert_error(await api.call(eve, "POST", f"/invites/{code}/accept"), 403, "banned")
    r = await api.call(amy, "POST", f"/groups/{gid}/members", json={"handle": eve.handle})
    assert_error(r, 409, "banned")
    assert_error(await api.call(eve, "GET", f"/groups/{gid}"), 404)
    events = await api.events(amy, gid)
    left = [e for e in events if e["type"] == "member.left"]
    assert [e["data"]["user"]["id"] for e in left] == [eve.id]


async def test_lifting_a_ban_lets_them_back_only_through_a_new_invite_or_an_add(
    api: Api,
) -> None:
    amy, eve = await api.register("amy"), await api.register("eve")
    gid = await api.group(amy)
    old = (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={}))["code"]
    await api.ok(eve, "POST", f"/invites/{old}/accept")
    await api.ok(amy, "POST", f"/groups/{gid}/bans", json={"user_id": eve.id})
    r = await api.call(amy, "DELETE", f"/groups/{gid}/bans/{eve.id}")
    assert r.status_code == 204
    assert (await api.ok(amy, "GET", f"/groups/{gid}/bans"))["bans"] == []
    assert_error(await api.call(eve, "GET", f"/groups/{gid}"), 404, "group_not_found")
    assert_error(await api.call(eve, "POST", f"/invites/{old}/accept"), 403, "removed")
    await api.add(amy, gid, eve)
    assert (await api.ok(eve, "GET", f"/groups/{gid}"))["role"] == "member"
    r = await api.call(amy, "DELETE", f"/groups/{gid}/bans/{eve.id}")
    assert_error(r, 404, "ban_not_found")


async def test_banning_someone_not_in_the_group_keeps_them_out(api: Api) -> None:
    amy, eve = await api.register("amy"), await api.register("eve")
    gid = await api.group(amy)
    code = (await api.ok(amy, "POST", f"/groups/{gid}/invites", json={}))["code"]
    await api.ok(amy, "POST", f"/groups/{gid}/bans", json={"user_id": eve.id})
    assert_error(await api.call(eve, "POST", f"/invites/{code}/accept"), 403, "banned")
    again = await api.call(amy, "POST", f"/groups/{gid}/bans", json={"user_id": eve.id})
    assert again.status_code == 200 and again.json()["user"]["id"] == eve.id
    assert len((await api.ok(amy, "GET", f"/groups/{gid}/bans"))["bans"]) == 1
    unknown = await api.call(
        amy, "POST", f"/groups/{gid}/bans", json={"user_id": "00000000-0000-0000-0000-000000000000"}
    )
    assert_error(unknown, 404, "user_not_found")


async def test_ban_follows_the_removal_ranks(api: Api) -> None:
    amy, mod, mod2 = await api.register("amy"), await api.register("mod"), await api.register("m2")
    gid = await api.group(amy)
    await api.add(amy, gid, mod, "moderator")
    await api.add(amy, gid, mod2, "moderator")
    r = await api.call(mod, "POST", f"/groups/{gid}/bans", json={"user_id": amy.id})
    assert_error(r, 403, "forbidden")
    r = await api.call(mod, "POST", f"/groups/{gid}/bans", json={"user_id": mod.id})
    assert_error(r, 409, "cannot_ban_self")
    r = await api.call(amy, "POST", f"/groups/{gid}/bans", json={"user_id": amy.id})
    assert_error(r, 409, "cannot_ban_self")
    assert (
        await api.call(mod, "POST", f"/groups/{gid}/bans", json={"user_id": mod2.id})
    ).is_success
    assert (await api.ok(amy, "GET", f"/groups/{gid}"))["member_count"] == 2


async def test_bans_and_unbans_are_in_the_log_without_the_reason(api: Api) -> None:
    amy, ben, eve = await api.register("amy"), await api.register("ben"), await api.register("eve")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    await api.add(amy, gid, eve)
    await api.ok(
        amy, "POST", f"/groups/{gid}/bans", json={"user_id": eve.id, "reason": "slurs in memos"}
    )
    await api.ok(amy, "DELETE", f"/groups/{gid}/bans/{eve.id}")
    log = await api.ok(ben, "GET", f"/groups/{gid}/moderation-log")
    assert [(e["action"], e["actor"]["id"], e["target"]["id"]) for e in log["entries"]] == [
        ("member.unbanned", amy.id, eve.id),
        ("member.banned", amy.id, eve.id),
    ]
    assert "slurs" not in str(log)
    assert "slurs" not in str(await api.events(ben, gid))
    assert_error(await api.call(ben, "GET", f"/groups/{gid}/bans"), 403, "forbidden")
