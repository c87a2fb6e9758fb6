"""Deleted words are gone everywhere: every replay, the search index, and the SQLite files."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.models import Message, utcnow
from tests.erasure import on_disk, replays, stored_anywhere, unique_word
from tests.helpers import Api, Person


async def search(api: Api, who: Person, gid: str, word: str) -> list[Any]:
    body = await api.ok(who, "GET", f"/groups/{gid}/search", params={"q": word})
    return body["hits"]


async def test_a_deleted_text_leaves_every_replay_as_a_tombstone(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    word = unique_word()
    message = await api.post(ben, gid, f"Between us: {word} is what I really think")
    assert word in await replays(api, amy, gid)
    await api.ok(ben, "DELETE", f"/messages/{message['id']}")

    assert word not in await replays(api, amy, gid)
    newcomer = await api.register("newcomer")
    await api.add(amy, gid, newcomer)
    assert word not in await replays(api, newcomer, gid), "nor for someone who joins later"
    carried = [e for e in await api.events(amy, gid) if e["data"].get("id") == message["id"]]
    assert [e["type"] for e in carried] == ["message.created", "message.deleted"]
    for event in carried:
        data = event["data"]
        assert data["deleted"] is True and data["text"] is None and data["voice"] is None
        assert (data["id"], data["seq"], data["sender"]["id"], data["kind"]) == (
            message["id"],
            message["seq"],
            ben.id,
            "text",
        )
    assert carried[0]["seq"] == message["seq"], "the event keeps its place in the log"


async def test_a_deleted_word_is_no_longer_found_or_stored(app: Any, api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    word = unique_word()
    message = await api.post(amy, gid, f"The {word} plan stays in this room")
    assert [h["message_id"] for h in await search(api, amy, gid, word)] == [message["id"]]
    assert await stored_anywhere(app, word) == ["messages.text", "events.data"]
    await api.ok(amy, "DELETE", f"/messages/{message['id']}")
    assert await search(api, amy, gid, word) == []
    assert await search(api, amy, gid, word[:5]) == []  # nor as a prefix
    assert await stored_anywhere(app, word) == []


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL: what VACUUM does, see the README
async def test_a_deleted_word_leaves_the_sqlite_files(app: Any, api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    word = unique_word()
    # Long enough to spill into overflow pages, which a delete frees whole.
    filler = " ".join(["we talked it through"] * 180)
    message = await api.post(amy, gid, f"Confidential: {filler} {word} before the board meeting")
    await api.post(amy, gid, "Something else entirely, kept")
    assert on_disk(app, word), "the test must see the word before the delete"
    await api.ok(amy, "DELETE", f"/messages/{message['id']}")
    await app.state.runtime.scrubber.idle()
    assert on_disk(app, word) == []
    hits = await search(api, amy, gid, "entirely")
    assert len(hits) == 1, "the rest of the index still works"


async def test_retention_erases_the_same_way(app: Any, api: Api, backend: str) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    word = unique_word()
    old = await api.post(amy, gid, f"Last year's {word} notes")
    rt = app.state.runtime
    async with rt.sessions() as db:
        await db.execute(
            update(Message)
            .where(Message.id == old["id"])
            .values(created_at=utcnow() - timedelta(days=40))
        )
        await db.commit()
    await api.ok(amy, "PATCH", f"/groups/{gid}", json={"retention_days": 30})
    await rt.ingest.sweep()
    assert (await api.ok(amy, "GET", f"/messages/{old['id']}"))["deleted"]
    assert word not in await replays(api, amy, gid)
    assert await search(api, amy, gid, word) == []
    assert await stored_anywhere(app, word) == []
    if backend == "sqlite":
        await rt.scrubber.idle()
        assert on_disk(app, word) == []
