"""Membership rules: one owner always, no acting above your role, leaving."""

from tests.helpers import Api, assert_error


async def test_members_list_shows_users_and_roles(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    members = (await api.ok(ben, "GET", f"/groups/{gid}/members"))["members"]
    assert [(m["user"]["handle"], m["role"]) for m in members] == [
        (amy.handle, "owner"),
        (ben.handle, "member"),
    ]
    assert members[1]["joined_at"].endswith("Z")


async def test_adding_unknown_handle_or_existing_member_is_refused(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    r = await api.call(amy, "POST", f"/groups/{gid}/members", json={"handle": "nobody_at_all"})
    assert_error(r, 404, "user_not_found")
    r = await api.call(amy, "POST", f"/groups/{gid}/members", json={"handle": ben.handle})
    assert_error(r, 409, "already_member")


async def test_repeated_add_with_client_id_returns_the_first_result(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    body = {"handle": ben.handle, "client_id": "add-ben"}
    first = await api.call(amy, "POST", f"/groups/{gid}/members", json=body)
    again = await api.call(amy, "POST", f"/groups/{gid}/members", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    joined = [e for e in await api.events(amy, gid) if e["type"] == "member.joined"]
    assert len(joined) == 2  # amy and ben, once


async def test_making_someone_owner_hands_ownership_over(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    r = await api.call(amy, "PATCH", f"/groups/{gid}/members/{ben.id}", json={"role": "owner"})
    assert r.json()["role"] == "owner"
    roles = {
        m["user"]["id"]: m["role"]
        for m in (await api.ok(amy, "GET", f"/groups/{gid}/members"))["members"]
    }
    assert roles == {amy.id: "moderator", ben.id: "owner"}
    # Amy is no longer owner: she cannot delete the group.
    assert_error(await api.call(amy, "DELETE", f"/groups/{gid}"), 403, "forbidden")
    events = await api.events(ben, gid)
    changed = [e["data"]["user"]["id"] for e in events if e["type"] == "member.role_changed"]
    assert changed == [amy.id, ben.id]
    logged = [e["data"] for e in events if e["type"] == "moderation.logged"]
    assert [(e["target"]["id"], e["details"]) for e in logged] == [
        (amy.id, {"from": "owner", "to": "moderator"}),
        (ben.id, {"from": "member", "to": "owner"}),
    ]


async def test_owner_cannot_demote_themself_without_a_successor(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    r = await api.call(amy, "PATCH", f"/groups/{gid}/members/{amy.id}", json={"role": "member"})
    assert_error(r, 409, "owner_required")
    assert (await api.ok(amy, "GET", f"/groups/{gid}"))["role"] == "owner"


async def test_owner_cannot_leave_but_members_can(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    assert_error(await api.call(amy, "DELETE", f"/groups/{gid}/members/{amy.id}"), 409)
    assert (await api.call(ben, "DELETE", f"/groups/{gid}/members/{ben.id}")).status_code == 204
    assert_error(await api.call(ben, "GET", f"/groups/{gid}"), 404, "group_not_found")
    left = (await api.events(amy, gid))[-1]
    assert (left["type"], left["data"]["user"]["id"]) == ("member.left", ben.id)


async def test_moderator_cannot_promote_by_adding_or_act_on_the_owner(api: Api) -> None:
    amy, mo, cy = await api.register("amy"), await api.register("mo"), await api.register("cy")
    gid = await api.group(amy)
    await api.add(amy, gid, mo, "moderator")
    r = await api.call(
        mo, "POST", f"/groups/{gid}/members", json={"handle": cy.handle, "role": "moderator"}
    )
    assert_error(r, 403, "forbidden")
    assert_error(await api.call(mo, "DELETE", f"/groups/{gid}/members/{amy.id}"), 403)
    r = await api.call(mo, "PATCH", f"/groups/{gid}/members/{amy.id}", json={"role": "member"})
    assert_error(r, 403)


async def test_removing_someone_not_in_the_group_is_404(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    r = await api.call(amy, "DELETE", f"/groups/{gid}/members/{ben.id}")
    assert_error(r, 404, "member_not_found")
