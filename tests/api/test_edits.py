"""Editing a text: its sender, within 15 minutes; the old words leave every replay and
the search index as a deleted message's do."""

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from app.models import Message, utcnow
from tests import audio_samples
from tests.erasure import on_disk, replays, stored_anywhere, unique_word
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import processed, upload


async def trio(api: Api) -> tuple[Person, Person, str]:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    return amy, ben, gid


def edit(api: Api, who: Person, mid: str, text: Any) -> Any:
    return api.call(who, "PATCH", f"/messages/{mid}", json={"text": text})


async def search(api: Api, who: Person, gid: str, word: str) -> list[str]:
    body = await api.ok(who, "GET", f"/groups/{gid}/search", params={"q": word})
    return [h["message_id"] for h in body["hits"]]


async def test_an_edit_replaces_the_words_everywhere(app: Any, api: Api, backend: str) -> None:
    amy, ben, gid = await trio(api)
    old, new = unique_word(), unique_word()
    message = await api.post(ben, gid, f"Honestly {old} is how the meeting went")
    assert message["edited_at"] is None
    r = await edit(api, ben, message["id"], f"Honestly {new} is how the meeting went")
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == f"Honestly {new} is how the meeting went"
    assert body["edited_at"] is not None and body["seq"] == message["seq"]

    seen = await api.ok(amy, "GET", f"/messages/{message['id']}")
    assert seen["text"] == body["text"] and seen["edited_at"] == body["edited_at"]
    events = [e for e in await api.events(amy, gid) if e["data"].get("id") == message["id"]]
    assert [e["type"] for e in events] == ["message.created", "message.updated"]
    assert all(e["data"]["text"] == body["text"] for e in events), "replays give the new text"
    assert old not in await replays(api, amy, gid)
    assert await search(api, amy, gid, old) == []
    assert await search(api, amy, gid, new) == [message["id"]]
    assert await stored_anywhere(app, old) == []
    if backend == "sqlite":
        await app.state.runtime.scrubber.idle()
        assert on_disk(app, old) == []


async def test_the_same_text_again_changes_nothing(api: Api) -> None:
    amy, _, gid = await trio(api)
    message = await api.post(amy, gid, "Agenda for Thursday")
    first = (await edit(api, amy, message["id"], "Agenda for Friday")).json()
    before = await api.events(amy, gid)
    again = await asyncio.gather(*[edit(api, amy, message["id"], "Agenda for Friday")] * 3)
    assert {r.status_code for r in again} == {200}
    assert {r.json()["edited_at"] for r in again} == {first["edited_at"]}
    assert await api.events(amy, gid) == before


async def test_only_the_sender_edits_and_only_a_live_text(api: Api, app: Any, samples: Any) -> None:
    amy, ben, gid = await trio(api)
    message = await api.post(ben, gid, "Mine")
    outsider = await api.register("cat")
    before = await api.events(amy, gid)
    assert_error(await edit(api, amy, message["id"], "Owner's words"), 403, "not_sender")
    assert_error(await edit(api, outsider, message["id"], "x"), 404, "message_not_found")
    assert_error(await edit(api, ben, message["id"], "   "), 422)
    assert_error(await edit(api, ben, message["id"], ""), 422)
    assert_error(await edit(api, ben, message["id"], "x" * 4001), 422)
    assert_error(await edit(api, ben, message["id"], 7), 422)
    r = await upload(api, ben, gid, audio_samples.client_file(samples, "mp3"))
    memo = await processed(app, api, ben, r.json()["id"])
    assert_error(await edit(api, ben, memo["id"], "a memo has no text"), 422, "not_text")
    gone = await api.post(ben, gid, "Soon gone")
    await api.ok(ben, "DELETE", f"/messages/{gone['id']}")
    assert_error(await edit(api, ben, gone["id"], "back"), 409, "message_deleted")
    await api.ok(amy, "DELETE", f"/groups/{gid}/members/{ben.id}")
    assert_error(await edit(api, ben, message["id"], "after leaving"), 404, "message_not_found")
    assert (await api.ok(amy, "GET", f"/messages/{message['id']}"))["text"] == "Mine"
    changed = [e for e in await api.events(amy, gid) if e["type"] == "message.updated"]
    assert [e for e in changed if e not in before and e["data"]["kind"] == "text"] == []


async def test_the_window_closes_after_fifteen_minutes(api: Api, app: Any) -> None:
    amy, _, gid = await trio(api)
    message = await api.post(amy, gid, "Typo here")
    async with app.state.runtime.sessions() as db:
        await db.execute(
            update(Message)
            .where(Message.id == message["id"])
            .values(created_at=utcnow() - timedelta(minutes=15, seconds=5))
        )
        await db.commit()
    assert_error(await edit(api, amy, message["id"], "Fixed"), 409, "edit_window_closed")
    assert (await api.ok(amy, "GET", f"/messages/{message['id']}"))["text"] == "Typo here"
