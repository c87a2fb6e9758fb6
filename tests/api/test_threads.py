"""Threads: replies gather under their root, counted on it (with what the viewer has not
heard), listed in order, paged; a reply may answer a moment of a voice memo."""

from pathlib import Path
from typing import Any

from tests import audio_samples
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import processed, upload


async def trio(api: Api) -> tuple[Person, Person, str]:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    return amy, ben, gid


async def thread(api: Api, who: Person, mid: str, **params: Any) -> Any:
    return await api.ok(who, "GET", f"/messages/{mid}/thread", params=params)


async def test_replies_to_replies_join_the_root_thread_in_order(api: Api) -> None:
    amy, ben, gid = await trio(api)
    root = await api.post(amy, gid, "What do you do in the first week?")
    first = await api.post(ben, gid, "Observe, mostly", reply_to=root["id"])
    second = await api.post(amy, gid, "Observe what?", reply_to=first["id"])
    await api.post(ben, gid, "Unrelated news")
    assert first["thread_root_id"] == root["id"] and second["thread_root_id"] == root["id"]
    assert second["reply_to"] == first["id"], "the reply keeps what it answers"

    for asked in (root["id"], first["id"], second["id"]):
        page = await thread(api, ben, asked)
        assert page["root"]["id"] == root["id"]
        assert [m["id"] for m in page["replies"]] == [first["id"], second["id"]]
        assert page["has_more"] is False
    seen = await api.ok(ben, "GET", f"/messages/{root['id']}")
    assert seen["reply_count"] == 2 and seen["last_reply_at"] == second["created_at"]
    listed = (await api.ok(ben, "GET", f"/groups/{gid}/messages"))["messages"]
    assert [m["reply_count"] for m in listed] == [2, 0, 0, 0]
    assert [m["thread_root_id"] for m in listed] == [None, root["id"], root["id"], None]

    created = [e for e in await api.events(amy, gid) if e["type"] == "message.created"]
    assert [e["data"]["thread_root_id"] for e in created] == [None, root["id"], root["id"], None]


async def test_a_thread_is_paged_and_deleted_replies_leave_the_count(api: Api) -> None:
    amy, ben, gid = await trio(api)
    root = await api.post(amy, gid, "Share one win")
    replies = [await api.post(ben, gid, f"win {n}", reply_to=root["id"]) for n in range(5)]
    newest = await thread(api, amy, root["id"], limit=2)
    assert [m["text"] for m in newest["replies"]] == ["win 3", "win 4"] and newest["has_more"]
    earlier = await thread(api, amy, root["id"], limit=2, before=newest["replies"][0]["seq"])
    assert [m["text"] for m in earlier["replies"]] == ["win 1", "win 2"]
    forward = await thread(api, amy, root["id"], after=replies[2]["seq"])
    assert [m["text"] for m in forward["replies"]] == ["win 3", "win 4"]

    await api.ok(ben, "DELETE", f"/messages/{replies[4]['id']}")
    seen = await api.ok(amy, "GET", f"/messages/{root['id']}")
    assert seen["reply_count"] == 4 and seen["last_reply_at"] == replies[3]["created_at"]
    page = await thread(api, amy, root["id"])
    assert page["replies"][-1]["deleted"] is True, "the tombstone keeps its place"


async def test_unheard_voice_replies_are_counted_per_viewer(
    api: Api, app: Any, samples: Path
) -> None:
    amy, ben, gid = await trio(api)
    root = await api.post(amy, gid, "Record your reflection here")
    recording = audio_samples.client_file(samples, "mp3")
    r = await upload(api, ben, gid, recording, reply_to=root["id"])
    assert r.status_code == 202, r.text
    memo = await processed(app, api, ben, r.json()["id"])
    assert memo["thread_root_id"] == root["id"]
    assert (await api.ok(amy, "GET", f"/messages/{root['id']}"))["thread_unheard_count"] == 1
    assert (await api.ok(ben, "GET", f"/messages/{root['id']}"))["thread_unheard_count"] == 0
    await api.ok(amy, "POST", f"/messages/{memo['id']}/listened")
    assert (await api.ok(amy, "GET", f"/messages/{root['id']}"))["thread_unheard_count"] == 0


async def test_a_reply_answers_a_moment_of_a_memo(api: Api, app: Any, samples: Path) -> None:
    amy, ben, gid = await trio(api)
    recording = audio_samples.client_file(samples, "mp3")
    memo = await processed(app, api, amy, (await upload(api, amy, gid, recording)).json()["id"])
    length = memo["voice"]["duration_ms"]
    at = await api.post(ben, gid, "This part!", reply_to=memo["id"], reply_to_offset_ms=1500)
    assert (at["reply_to"], at["reply_to_offset_ms"]) == (memo["id"], 1500)
    r = await upload(api, ben, gid, recording, reply_to=memo["id"], reply_to_offset_ms="900")
    assert r.status_code == 202, r.text
    assert r.json()["reply_to_offset_ms"] == 900
    page = await thread(api, amy, memo["id"])
    assert [m["reply_to_offset_ms"] for m in page["replies"]] == [1500, 900]

    before = await api.events(amy, gid)
    text = await api.post(amy, gid, "a text")
    bad = [
        ({"reply_to": memo["id"], "reply_to_offset_ms": length + 1}, "offset_out_of_range"),
        ({"reply_to": memo["id"], "reply_to_offset_ms": -1}, None),
        ({"reply_to": text["id"], "reply_to_offset_ms": 0}, "reply_not_voice"),
        ({"reply_to_offset_ms": 10}, "reply_not_voice"),
        ({"reply_to": memo["id"], "reply_to_offset_ms": "10"}, None),
    ]
    for body, code in bad:
        r = await api.call(ben, "POST", f"/groups/{gid}/messages", json={"text": "x", **body})
        assert_error(r, 422, code)
    for value in ("-5", "1e3", "99999999999", str(length + 1)):
        r = await upload(api, ben, gid, recording, reply_to=memo["id"], reply_to_offset_ms=value)
        assert_error(r, 422)
    after = await api.events(amy, gid)
    assert len(after) == len(before) + 1, "only the text was posted"


async def test_outsiders_and_removed_members_see_no_thread(api: Api) -> None:
    amy, ben, gid = await trio(api)
    root = await api.post(amy, gid, "Members only")
    outsider = await api.register("cat")
    assert_error(await api.call(outsider, "GET", f"/messages/{root['id']}/thread"), 404)
    await api.ok(amy, "DELETE", f"/groups/{gid}/members/{ben.id}")
    assert_error(await api.call(ben, "GET", f"/messages/{root['id']}/thread"), 404)
    other = await api.group(outsider, "Elsewhere")
    r = await api.call(
        outsider, "POST", f"/groups/{other}/messages", json={"text": "x", "reply_to": root["id"]}
    )
    assert_error(r, 422, "reply_not_found")
