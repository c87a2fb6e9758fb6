"""Who may add me to a group, and blocking: consent before membership."""

import asyncio

from tests.helpers import Api, assert_error


async def test_only_someone_who_shares_a_group_may_add_me(api: Api) -> None:
    amy = await api.register("amy", addable_by_anyone=False)
    stranger = await api.register("stranger")
    colleague = await api.register("colleague")
    spam = await api.group(stranger, "Buy now")
    r = await api.call(stranger, "POST", f"/groups/{spam}/members", json={"handle": amy.handle})
    assert_error(r, 403, "not_allowed")
    assert (await api.ok(amy, "GET", "/groups"))["groups"] == []

    shared = await api.group(colleague, "Coaches")
    code = (await api.ok(colleague, "POST", f"/groups/{shared}/invites", json={}))["code"]
    await api.ok(amy, "POST", f"/invites/{code}/accept")  # Amy opens an invite link herself
    second = await api.group(colleague, "Math coaches")
    await api.add(colleague, second, amy)  # now they share a group: allowed
    assert {g["name"] for g in (await api.ok(amy, "GET", "/groups"))["groups"]} == {
        "Coaches",
        "Math coaches",
    }


async def test_one_account_cannot_force_a_stranger_into_many_groups(api: Api) -> None:
    victim = await api.register("victim", addable_by_anyone=False)
    spammer = await api.register("spammer")
    groups = [await api.group(spammer, f"g{i}") for i in range(20)]
    answers = await asyncio.gather(
        *[
            api.call(spammer, "POST", f"/groups/{g}/members", json={"handle": victim.handle})
            for g in groups
        ]
    )
    assert {r.status_code for r in answers} == {403}
    assert (await api.ok(victim, "GET", "/groups"))["groups"] == []


async def test_a_person_may_let_anyone_add_them(api: Api) -> None:
    amy = await api.register("amy", addable_by_anyone=False)
    stranger = await api.register("stranger")
    me = await api.ok(amy, "GET", "/me")
    assert me["who_can_add_me"] == "shared_group"
    changed = await api.ok(amy, "PATCH", "/me", json={"who_can_add_me": "anyone"})
    assert changed["who_can_add_me"] == "anyone" and changed["id"] == amy.id
    gid = await api.group(stranger)
    await api.add(stranger, gid, amy)
    r = await api.call(amy, "PATCH", "/me", json={"who_can_add_me": "nobody"})
    assert_error(r, 422)
    assert (await api.ok(amy, "GET", "/me"))["who_can_add_me"] == "anyone"
    other = await api.ok(stranger, "GET", f"/groups/{gid}/members")
    assert all("who_can_add_me" not in m["user"] for m in other["members"]), "it stays private"


async def test_someone_i_blocked_can_never_add_me(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")  # amy: anyone may add her
    shared = await api.group(ben, "Shared")
    await api.add(ben, shared, amy)
    r = await api.call(amy, "POST", "/me/blocks", json={"user_id": ben.id})
    assert r.status_code == 201, r.text
    assert r.json()["user"]["id"] == ben.id
    gid = await api.group(ben, "Another")
    r = await api.call(ben, "POST", f"/groups/{gid}/members", json={"handle": amy.handle})
    assert_error(r, 403, "not_allowed")
    await api.ok(amy, "DELETE", f"/me/blocks/{ben.id}")
    await api.add(ben, gid, amy)


async def test_blocks_list_repeat_self_and_unknown(api: Api) -> None:
    amy, ben, cy = await api.register("amy"), await api.register("ben"), await api.register("cy")
    await api.ok(amy, "POST", "/me/blocks", json={"user_id": ben.id})
    again = await api.call(amy, "POST", "/me/blocks", json={"user_id": ben.id})
    assert again.status_code == 200
    await api.ok(amy, "POST", "/me/blocks", json={"user_id": cy.id})
    blocks = (await api.ok(amy, "GET", "/me/blocks"))["blocks"]
    assert [b["user"]["id"] for b in blocks] == [cy.id, ben.id]
    assert (await api.ok(ben, "GET", "/me/blocks"))["blocks"] == [], "blocks are one way"
    assert_error(await api.call(amy, "POST", "/me/blocks", json={"user_id": amy.id}), 422)
    unknown = await api.call(
        amy, "POST", "/me/blocks", json={"user_id": "00000000-0000-0000-0000-000000000000"}
    )
    assert_error(unknown, 404, "user_not_found")
    assert_error(await api.call(amy, "DELETE", f"/me/blocks/{amy.id}"), 404, "block_not_found")
    assert_error(await api.call(None, "GET", "/me/blocks"), 401)


async def test_messages_of_someone_i_blocked_are_flagged_for_me_only(api: Api) -> None:
    amy, ben, cy = await api.register("amy"), await api.register("ben"), await api.register("cy")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    await api.add(amy, gid, cy)
    said = await api.post(ben, gid, "unkind words about the pacing guide")
    await api.post(cy, gid, "kind words")
    await api.ok(amy, "POST", "/me/blocks", json={"user_id": ben.id})

    page = (await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"]
    assert [(m["sender"]["id"], m["sender_blocked"]) for m in page] == [
        (ben.id, True),
        (cy.id, False),
    ]
    assert (await api.ok(amy, "GET", f"/messages/{said['id']}"))["sender_blocked"] is True
    hits = (await api.ok(amy, "GET", f"/groups/{gid}/search", params={"q": "unkind"}))["hits"]
    assert [h["sender_blocked"] for h in hits] == [True]
    groups = (await api.ok(amy, "GET", "/groups"))["groups"]
    assert groups[0]["last_message"]["sender_blocked"] is False  # cy spoke last
    for viewer in (cy, ben):
        page = (await api.ok(viewer, "GET", f"/groups/{gid}/messages"))["messages"]
        assert not any(m["sender_blocked"] for m in page)
    events = await api.events(amy, gid)
    assert all(not e["data"].get("sender_blocked") for e in events), "events are the same for all"
    await api.ok(amy, "DELETE", f"/me/blocks/{ben.id}")
    assert not (await api.ok(amy, "GET", f"/messages/{said['id']}"))["sender_blocked"]
