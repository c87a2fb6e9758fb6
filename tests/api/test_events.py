"""The durable event log: one seq per change, gap-free under concurrency."""

import asyncio

from tests.helpers import Api


async def test_sixty_concurrent_posts_take_consecutive_seqs(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    start = (await api.ok(amy, "GET", f"/groups/{gid}"))["last_seq"]
    posts = await asyncio.gather(*[api.post(amy, gid, f"post {i}") for i in range(60)])
    assert sorted(p["seq"] for p in posts) == list(range(start + 1, start + 61))
    events = await api.events(amy, gid, after=start)
    assert [e["seq"] for e in events] == list(range(start + 1, start + 61))
    assert {e["data"]["id"] for e in events} == {p["id"] for p in posts}
    assert (await api.ok(amy, "GET", f"/groups/{gid}"))["last_seq"] == start + 60


async def test_every_change_members_see_is_an_event_in_order(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    msg = await api.post(ben, gid, "hi")
    await api.ok(amy, "PATCH", f"/groups/{gid}/members/{ben.id}", json={"role": "moderator"})
    await api.ok(amy, "PATCH", f"/groups/{gid}", json={"description": "K-5"})
    await api.ok(ben, "DELETE", f"/messages/{msg['id']}")
    await api.ok(ben, "DELETE", f"/groups/{gid}/members/{ben.id}")
    events = await api.events(amy, gid)
    assert [e["type"] for e in events] == [
        "member.joined",
        "member.joined",
        "message.created",
        "member.role_changed",
        "moderation.logged",
        "group.updated",
        "message.deleted",
        "member.left",
    ]
    assert [e["seq"] for e in events] == list(range(1, 9))
    assert all(e["group_id"] == gid for e in events)


async def test_events_page_after_a_cursor(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    for i in range(5):
        await api.post(amy, gid, f"m{i}")
    page = await api.ok(amy, "GET", f"/groups/{gid}/events", params={"after": 2, "limit": 2})
    assert [e["seq"] for e in page["events"]] == [3, 4] and page["has_more"]
    rest = await api.ok(amy, "GET", f"/groups/{gid}/events", params={"after": 4})
    assert [e["seq"] for e in rest["events"]] == [5, 6] and not rest["has_more"]
