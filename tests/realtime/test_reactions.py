"""Reaction events on the websocket: live to members in order, and the same frames from a
`sync` after a cursor; never to outsiders."""

from typing import Any

from tests.helpers import Api


async def test_members_hear_reactions_live_and_in_a_sync(api: Api, ws: Any) -> None:
    amy, ben, eve = await api.register("amy"), await api.register("ben"), await api.register("eve")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    mid = (await api.post(amy, gid, "Coaching cycle plan"))["id"]
    cursor = (await api.ok(amy, "GET", f"/groups/{gid}"))["last_seq"]
    amy_ws, eve_ws = await ws(amy), await ws(eve)
    for method, emoji in (
        ("PUT", "%F0%9F%91%8D"),
        ("PUT", "%F0%9F%92%A1"),
        ("DELETE", "%F0%9F%91%8D"),
    ):
        await api.ok(ben, method, f"/messages/{mid}/reactions/{emoji}")
    live = await amy_ws.events(3)
    assert [(f["type"], f["data"]["emoji"], f["data"]["count"]) for f in live] == [
        ("reaction.added", "👍", 1),
        ("reaction.added", "💡", 1),
        ("reaction.removed", "👍", 0),
    ]
    assert [f["seq"] for f in live] == [cursor + 1, cursor + 2, cursor + 3]
    assert {f["data"]["user_id"] for f in live} == {ben.id}
    assert {f["data"]["message_id"] for f in live} == {mid}
    assert await (await ws(ben, cursors={gid: cursor})).events(3) == live
    await eve_ws.nothing_within()
