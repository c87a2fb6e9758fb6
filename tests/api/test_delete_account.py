"""DELETE /api/v1/me: a person's account goes, with every word and memo they posted."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.models import Bookmark, Membership, Message, Reaction, Token, User
from app.services import deletion
from tests import audio_samples
from tests.erasure import on_disk, replays, stored_anywhere, unique_word
from tests.helpers import Api, Person, assert_error
from tests.realtime.conftest import ws, ws_url  # noqa: F401 (websocket fixtures)
from tests.services.helpers import blob_files, processed, upload

PASSWORD = "correct horse"


async def delete_me(api: Api, who: Person, password: str = PASSWORD) -> Any:
    return await api.call(who, "DELETE", "/me", json={"password": password})


async def search(api: Api, who: Person, word: str) -> list[Any]:
    return (await api.ok(who, "GET", "/search", params={"q": word}))["hits"]


async def test_a_deleted_account_leaves_no_word_name_or_memo_behind(
    app: Any,
    api: Api,
    ws: Any,  # noqa: F811
    samples: Path,
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    alone = await api.group(ben, "Ben's notes")  # only Ben in it: deleted with him
    word, kept = unique_word(), unique_word()
    text = await api.post(ben, gid, f"My {word} opinion of the board")
    await api.post(ben, alone, f"Note to self: {word}")
    reply = await api.post(amy, gid, f"Amy's {kept} reply", reply_to=text["id"])
    await api.ok(ben, "PUT", f"/messages/{reply['id']}/reactions/%F0%9F%91%8D")
    await api.ok(ben, "PUT", f"/messages/{reply['id']}/bookmark", json={"note": f"{word}!"})
    memo = (await upload(api, ben, gid, audio_samples.client_file(samples, "mp3"))).json()
    assert (await processed(app, api, ben, memo["id"]))["voice"]["status"] == "ready"
    assert any(memo["id"] in path for path in blob_files(app))
    assert [h["message_id"] for h in await search(api, amy, word)] == [text["id"]]
    socket = await ws(ben)
    listener = await ws(amy)

    r = await delete_me(api, ben)
    assert r.status_code == 204, r.text

    with pytest.raises(ConnectionClosed) as closed:
        while True:  # its own group's last events may come first
            await asyncio.wait_for(socket.conn.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    left = await listener.recv_type("member.left")
    assert left["data"]["user"] == {
        "id": ben.id,
        "handle": None,
        "display_name": "Deleted user",
        "created_at": left["data"]["user"]["created_at"],
        "deleted": True,
        "bio": "",
        "avatar_url": None,
    }
    assert_error(await api.call(ben, "GET", "/me"), 401)
    login = {"handle": ben.handle, "password": PASSWORD}
    assert_error(await api.client.post("/api/v1/auth/login", json=login), 401)

    # Every replay, the search, the tables: no word, and no handle or name of Ben's.
    replayed = await replays(api, amy, gid)
    assert word not in replayed and kept in replayed
    assert ben.handle not in replayed and '"Ben"' not in replayed
    assert await search(api, amy, word) == []
    assert [h["message_id"] for h in await search(api, amy, kept)] != []
    assert await stored_anywhere(app, word) == []
    assert not any(memo["id"] in path for path in blob_files(app)), "the memo's audio is gone"
    messages = (await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"]
    assert [m["reactions"] for m in messages if m["id"] == reply["id"]] == [[]]
    bens = [m for m in messages if m["sender"]["id"] == ben.id]
    assert [(m["id"], m["deleted"], m["text"], m["voice"]) for m in bens] == [
        (text["id"], True, None, None),
        (memo["id"], True, None, None),
    ]
    assert {json.dumps(m["sender"]) for m in bens} == {json.dumps(left["data"]["user"])}
    members = (await api.ok(amy, "GET", f"/groups/{gid}/members"))["members"]
    assert [m["user"]["id"] for m in members] == [amy.id]
    assert_error(await api.call(amy, "GET", f"/groups/{alone}"), 404, "group_not_found")
    async with app.state.runtime.sessions() as db:
        assert await db.scalar(select(Token).where(Token.user_id == ben.id)) is None
        assert await db.scalar(select(Membership).where(Membership.user_id == ben.id)) is None
        assert await db.scalar(select(Bookmark).where(Bookmark.user_id == ben.id)) is None
        assert await db.scalar(select(Reaction).where(Reaction.user_id == ben.id)) is None
        row = await db.get(User, ben.id)
        assert row is not None and (row.display_name, row.email) == ("", None)
    add = await api.call(amy, "POST", f"/groups/{gid}/members", json={"handle": ben.handle})
    assert_error(add, 404, "user_not_found")


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL: what VACUUM does, see the README
async def test_a_deleted_accounts_words_leave_the_sqlite_files(app: Any, api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    word = unique_word()
    filler = " ".join(["we talked it through"] * 180)  # spills into overflow pages
    await api.post(ben, gid, f"Confidential: {filler} {word} before the board meeting")
    assert on_disk(app, word)
    assert (await delete_me(api, ben)).status_code == 204
    await app.state.runtime.scrubber.idle()
    assert on_disk(app, word) == []


async def test_a_wrong_or_missing_password_changes_nothing(app: Any, api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    assert_error(await delete_me(api, amy, "not my password"), 403, "wrong_password")
    assert_error(await api.call(amy, "DELETE", "/me", json={}), 422, "validation_error")
    assert_error(await api.call(amy, "DELETE", "/me"), 422, "validation_error")
    await api.post(amy, gid, "still here")
    assert (await api.ok(amy, "GET", "/me"))["handle"] == amy.handle
    assert (await api.ok(amy, "GET", f"/groups/{gid}"))["role"] == "owner"


async def test_an_owner_of_a_group_with_others_hands_it_over_first(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    shared = await api.group(amy, "Coaches")
    await api.add(amy, shared, ben)
    own = await api.group(amy, "Amy alone")
    await api.post(amy, own, "mine")

    error = assert_error(await delete_me(api, amy), 409, "owner_required")
    assert error["details"] == {"groups": [{"id": shared, "name": "Coaches"}]}
    assert (await api.ok(amy, "GET", f"/groups/{own}"))["last_message"]["text"] == "mine"
    assert len((await api.ok(ben, "GET", f"/groups/{shared}/members"))["members"]) == 2

    await api.ok(amy, "PATCH", f"/groups/{shared}/members/{ben.id}", json={"role": "owner"})
    assert (await delete_me(api, amy)).status_code == 204
    members = (await api.ok(ben, "GET", f"/groups/{shared}/members"))["members"]
    assert [(m["user"]["id"], m["role"]) for m in members] == [(ben.id, "owner")]


async def test_the_handle_is_freed_after_the_grace_period(
    app: Any, api: Api, settings: Settings
) -> None:
    amy = await api.register("amy")
    assert (await delete_me(api, amy)).status_code == 204
    body = {"handle": amy.handle, "display_name": "New", "password": PASSWORD}
    again = await api.client.post("/api/v1/auth/register", json=body)
    assert_error(again, 409, "handle_taken")
    rt = app.state.runtime
    await deletion.sweep(rt)  # within the grace period: still taken
    assert_error(await api.client.post("/api/v1/auth/register", json=body), 409, "handle_taken")
    settings.deleted_handle_grace_days = 0
    await deletion.sweep(rt)
    r = await api.client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["user"]["id"] != amy.id


async def test_the_sweep_finishes_a_deletion_a_crash_interrupted(app: Any, api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    ben = await api.register("ben")
    await api.add(amy, gid, ben)
    word = unique_word()
    await api.post(ben, gid, f"The {word} story")
    rt = app.state.runtime
    async with rt.sessions() as db:  # as if the process died right after the first commit
        user = await db.get(User, ben.id)
        assert user is not None
        user.deleted_at = user.created_at
        await db.commit()
    await deletion.sweep(rt)
    assert await stored_anywhere(app, word) == []
    async with rt.sessions() as db:
        left = await db.scalar(select(Message.id).where(Message.deleted_at.is_(None)))
    assert left is None
