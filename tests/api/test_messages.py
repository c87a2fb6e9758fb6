"""Text messages: posting, replies, idempotency, pagination, tombstones."""

import asyncio

from tests.helpers import Api, assert_error


async def test_member_posts_text_and_sees_it(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    r = await api.call(amy, "POST", f"/groups/{gid}/messages", json={"text": "First memo!"})
    assert r.status_code == 201
    msg = r.json()
    assert msg["kind"] == "text" and msg["text"] == "First memo!"
    assert msg["sender"]["id"] == amy.id and msg["deleted"] is False and msg["voice"] is None
    assert (await api.ok(amy, "GET", f"/messages/{msg['id']}")) == msg


async def test_same_client_id_never_double_posts(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    body = {"text": "retry me", "client_id": "phone-42"}
    results = await asyncio.gather(
        *[api.call(amy, "POST", f"/groups/{gid}/messages", json=body) for _ in range(5)]
    )
    assert sorted(r.status_code for r in results) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in results}) == 1
    page = await api.ok(amy, "GET", f"/groups/{gid}/messages")
    assert [m["client_id"] for m in page["messages"]] == ["phone-42"]


async def test_client_id_is_per_sender(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    a = await api.post(amy, gid, "a", client_id="same")
    b = await api.post(ben, gid, "b", client_id="same")
    assert a["id"] != b["id"]


async def test_reply_must_point_into_the_same_group(api: Api) -> None:
    amy = await api.register("amy")
    gid, other = await api.group(amy), await api.group(amy, "other")
    original = await api.post(amy, gid, "question?")
    reply = await api.post(amy, gid, "answer", reply_to=original["id"])
    assert reply["reply_to"] == original["id"]
    r = await api.call(
        amy, "POST", f"/groups/{other}/messages", json={"text": "x", "reply_to": original["id"]}
    )
    assert_error(r, 422, "reply_not_found")


async def test_pages_walk_back_and_forward_without_overlap(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    posted = [(await api.post(amy, gid, f"m{i}"))["seq"] for i in range(7)]
    path = f"/groups/{gid}/messages"
    newest = await api.ok(amy, "GET", path, params={"limit": 3})
    assert [m["seq"] for m in newest["messages"]] == posted[4:] and newest["has_more"]
    older = await api.ok(amy, "GET", path, params={"limit": 3, "before": posted[4]})
    assert [m["seq"] for m in older["messages"]] == posted[1:4] and older["has_more"]
    oldest = await api.ok(amy, "GET", path, params={"limit": 3, "before": posted[1]})
    assert [m["seq"] for m in oldest["messages"]] == posted[:1] and not oldest["has_more"]
    forward = await api.ok(amy, "GET", path, params={"limit": 4, "after": posted[2]})
    assert [m["seq"] for m in forward["messages"]] == posted[3:] and not forward["has_more"]
    between = await api.ok(amy, "GET", path, params={"after": posted[0], "before": posted[3]})
    assert [m["seq"] for m in between["messages"]] == posted[1:3]


async def test_limit_bounds_are_enforced(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    for bad in ({"limit": 0}, {"limit": 101}, {"before": -1}, {"after": "x"}):
        assert_error(await api.call(amy, "GET", f"/groups/{gid}/messages", params=bad), 422)
    default = await api.ok(amy, "GET", f"/groups/{gid}/messages")
    assert default == {"messages": [], "has_more": False}


async def test_deleted_message_stays_as_a_tombstone(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    msg = await api.post(ben, gid, "oops")
    assert (await api.call(ben, "DELETE", f"/messages/{msg['id']}")).status_code == 204
    gone = await api.ok(amy, "GET", f"/messages/{msg['id']}")
    assert gone["deleted"] is True and gone["text"] is None and gone["seq"] == msg["seq"]
    event = (await api.events(amy, gid))[-1]
    assert event["type"] == "message.deleted" and event["data"]["id"] == msg["id"]
    # Deleting again changes nothing and emits nothing.
    assert (await api.call(ben, "DELETE", f"/messages/{msg['id']}")).status_code == 204
    assert (await api.events(amy, gid))[-1]["seq"] == event["seq"]


async def test_member_cannot_read_other_groups_messages(api: Api) -> None:
    amy, eve = await api.register("amy"), await api.register("eve")
    gid = await api.group(amy)
    msg = await api.post(amy, gid, "private")
    assert_error(await api.call(eve, "GET", f"/messages/{msg['id']}"), 404, "message_not_found")
    assert_error(await api.call(eve, "DELETE", f"/messages/{msg['id']}"), 404)
    assert (await api.ok(amy, "GET", f"/messages/{msg['id']}"))["deleted"] is False
