"""Reactions: one emoji per call, counted per message, announced in order, erased with
their message."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select

from app.models import Reaction
from tests.helpers import Api, Person, assert_error

THUMBS, HEART = "👍", "❤️"


def react(api: Api, who: Person, mid: str, emoji: str, method: str = "PUT") -> Any:
    return api.call(who, method, f"/messages/{mid}/reactions/{emoji}")


async def pair(api: Api) -> tuple[Person, Person, str, str]:
    """Amy's group with Ben in it, and a message of Amy's."""
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    return amy, ben, gid, (await api.post(amy, gid, "Try the 3-2-1 protocol"))["id"]


async def reaction_events(api: Api, who: Person, gid: str) -> list[tuple[str, dict]]:
    return [(e["type"], e["data"]) for e in await api.events(who, gid) if "reaction" in e["type"]]


async def test_reactions_are_counted_per_emoji_and_marked_as_mine(api: Api) -> None:
    amy, ben, gid, mid = await pair(api)
    r = await react(api, ben, mid, THUMBS)
    assert r.status_code == 200
    assert r.json()["reactions"] == [{"emoji": THUMBS, "count": 1, "me": True}]
    await react(api, amy, mid, THUMBS)
    await react(api, amy, mid, HEART)
    seen_by_amy = await api.ok(amy, "GET", f"/messages/{mid}")
    assert seen_by_amy["reactions"] == [
        {"emoji": THUMBS, "count": 2, "me": True},
        {"emoji": HEART, "count": 1, "me": True},
    ]
    page = await api.ok(ben, "GET", f"/groups/{gid}/messages")
    assert page["messages"][0]["reactions"] == [
        {"emoji": THUMBS, "count": 2, "me": True},
        {"emoji": HEART, "count": 1, "me": False},
    ]
    groups = await api.ok(ben, "GET", "/groups")
    assert groups["groups"][0]["last_message"]["reactions"][1]["emoji"] == HEART


async def test_events_carry_each_change_and_its_new_count_in_order(api: Api) -> None:
    amy, ben, gid, mid = await pair(api)
    await react(api, ben, mid, THUMBS)
    await react(api, amy, mid, THUMBS)
    await react(api, ben, mid, THUMBS, "DELETE")
    events = await api.events(amy, gid)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) == list(range(seqs[0], seqs[0] + len(seqs)))
    assert await reaction_events(api, amy, gid) == [
        ("reaction.added", {"message_id": mid, "emoji": THUMBS, "user_id": ben.id, "count": 1}),
        ("reaction.added", {"message_id": mid, "emoji": THUMBS, "user_id": amy.id, "count": 2}),
        ("reaction.removed", {"message_id": mid, "emoji": THUMBS, "user_id": ben.id, "count": 1}),
    ]
    tail = await api.events(ben, gid, after=seqs[-2])
    assert [e["type"] for e in tail] == ["reaction.removed"]


async def test_repeats_and_removing_what_you_do_not_have_change_nothing(api: Api) -> None:
    amy, ben, gid, mid = await pair(api)
    results = await asyncio.gather(*[react(api, ben, mid, THUMBS) for _ in range(5)])
    assert {r.status_code for r in results} == {200}
    assert results[-1].json()["reactions"] == [{"emoji": THUMBS, "count": 1, "me": True}]
    before = await api.events(amy, gid)
    assert len([e for e in before if e["type"] == "reaction.added"]) == 1
    for _ in range(2):
        r = await react(api, amy, mid, HEART, "DELETE")
        assert r.status_code == 200
        assert r.json()["reactions"] == [{"emoji": THUMBS, "count": 1, "me": False}]
    assert await api.events(amy, gid) == before


async def test_a_reaction_is_exactly_one_emoji(api: Api) -> None:
    amy, ben, gid, mid = await pair(api)
    before = await api.events(amy, gid)
    bad = ["a", "👍👍", "👍 ", " 👍", "👍a", "🏻", "%E2%80%8D", "1", "%23", "%20"]
    bad += ["x" * 40, THUMBS * 20]
    for text in bad:
        for method in ("PUT", "DELETE"):
            r = await react(api, ben, mid, text, method)
            error = assert_error(r, 422, "invalid_emoji")
            assert error["details"] == {"field": "emoji"}
    assert await api.events(amy, gid) == before
    for good in ["👍🏽", "👩‍👩‍👧", "🇫🇷", "1️⃣"]:
        assert (await react(api, ben, mid, good)).status_code == 200
    # An unqualified heart is the same reaction as the fully-qualified one.
    await react(api, ben, mid, "❤")
    r = await react(api, amy, mid, HEART)
    assert {"emoji": HEART, "count": 2, "me": True} in r.json()["reactions"]


async def test_a_message_takes_at_most_twenty_different_emoji(api: Api) -> None:
    amy, ben, gid, mid = await pair(api)
    emoji = [chr(c) for c in range(0x1F600, 0x1F615)]  # 21 faces
    for each in emoji[:20]:
        assert (await react(api, ben, mid, each)).status_code == 200
    before = await api.events(amy, gid)
    error = assert_error(await react(api, amy, mid, emoji[20]), 409, "too_many_reactions")
    assert error["details"] == {"max": 20}
    assert await api.events(amy, gid) == before
    assert (await react(api, amy, mid, emoji[0])).json()["reactions"][0]["count"] == 2


async def test_outsiders_and_former_members_cannot_see_or_react(api: Api) -> None:
    amy, ben, gid, mid = await pair(api)
    cal, dee, eve = await api.register("cal"), await api.register("dee"), await api.register("eve")
    await api.add(amy, gid, cal)
    await api.add(amy, gid, dee)
    await react(api, cal, mid, THUMBS)
    await api.ok(amy, "DELETE", f"/groups/{gid}/members/{cal.id}")
    await api.ok(amy, "POST", f"/groups/{gid}/bans", json={"user_id": dee.id})
    before = await api.events(amy, gid)
    for who in (cal, dee, eve):
        for method in ("PUT", "DELETE"):
            assert_error(await react(api, who, mid, THUMBS, method), 404, "message_not_found")
    assert await api.events(amy, gid) == before
    # What Cal gave while a member stays, as his messages do.
    assert (await api.ok(amy, "GET", f"/messages/{mid}"))["reactions"][0]["count"] == 1


async def test_reactions_go_with_their_deleted_message(api: Api, app: Any) -> None:
    amy, ben, gid, mid = await pair(api)
    await react(api, ben, mid, THUMBS)
    await api.ok(amy, "DELETE", f"/messages/{mid}")
    tombstone = await api.ok(ben, "GET", f"/messages/{mid}")
    assert tombstone["deleted"] and tombstone["reactions"] == []
    for e in await api.events(ben, gid):
        if e["type"].startswith("message."):
            assert e["data"]["reactions"] == []
    async with app.state.runtime.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Reaction)) == 0
    assert_error(await react(api, ben, mid, THUMBS), 409, "message_deleted")
    assert (await react(api, ben, mid, THUMBS, "DELETE")).status_code == 200


async def test_reactions_per_user_are_limited(api: Api, app: Any) -> None:
    app.state.runtime.settings.limit_reactions_per_minute = 3
    amy, ben, gid, mid = await pair(api)
    for method in ("PUT", "DELETE", "PUT"):
        assert (await react(api, ben, mid, THUMBS, method)).status_code == 200
    before = await api.events(amy, gid)
    error = assert_error(await react(api, ben, mid, HEART), 429, "rate_limited")
    assert error["details"]["retry_after_s"] >= 1
    assert await api.events(amy, gid) == before
    assert (await react(api, amy, mid, HEART)).status_code == 200  # per user


@contextmanager
def reaction_queries(app: Any) -> Iterator[list[str]]:
    """The statements that read reactions while in the block (the background workers
    query the same engine meanwhile)."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        if "FROM reactions" in args[2]:
            statements.append(args[2])

    engine = app.state.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_page_of_messages_costs_the_same_queries_however_many_reactions(
    api: Api, app: Any
) -> None:
    amy, ben, gid, first = await pair(api)
    path = f"/groups/{gid}/messages"
    with reaction_queries(app) as one:
        await api.ok(amy, "GET", path)
    for i in range(12):
        mid = (await api.post(ben, gid, f"m{i}"))["id"]
        await react(api, amy, mid, THUMBS)
        await react(api, ben, mid, chr(0x1F600 + i))
    with reaction_queries(app) as many:
        page = await api.ok(amy, "GET", path)
    assert sum(len(m["reactions"]) for m in page["messages"]) == 24
    assert len(many) == len(one) == 2  # the counts and the caller's own, for the whole page
