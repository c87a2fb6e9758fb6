"""`GET /groups/{gid}/unheard`: every memo "play unheard" must play, beyond the first page."""

from pathlib import Path
from typing import Any

from tests import audio_samples
from tests.helpers import Api, assert_error
from tests.services.helpers import processed, upload


async def test_lists_every_unheard_memo_of_others_oldest_first(
    api: Api, app: Any, samples: Path
) -> None:
    amy, ben, eve = await api.register("amy"), await api.register("ben"), await api.register("eve")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    memo = audio_samples.client_file(samples, "mp3")
    ids = []
    for n in range(4):
        r = await upload(api, amy, gid, memo, client_id=f"memo-{n}")
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
        await api.post(amy, gid, f"text {n}")  # texts are never unheard
    mine = (await upload(api, ben, gid, memo)).json()["id"]  # nor one's own memos
    await processed(app, api, amy, ids[-1])

    path = f"/groups/{gid}/unheard"
    assert await api.ok(ben, "GET", path) == {"message_ids": ids, "has_more": False}
    assert (await api.ok(ben, "GET", f"/groups/{gid}"))["unheard_count"] == len(ids)
    assert (await api.ok(amy, "GET", path))["message_ids"] == [mine]

    await api.ok(ben, "POST", f"/messages/{ids[1]}/listened")
    await api.ok(amy, "DELETE", f"/messages/{ids[2]}")
    left = [ids[0], ids[3]]
    assert await api.ok(ben, "GET", path) == {"message_ids": left, "has_more": False}
    assert (await api.ok(ben, "GET", f"/groups/{gid}"))["unheard_count"] == len(left)
    assert await api.ok(ben, "GET", path, params={"limit": 1}) == {
        "message_ids": left[:1],
        "has_more": True,
    }

    assert_error(await api.call(eve, "GET", path), 404, "group_not_found")
    assert_error(await api.call(ben, "GET", path, params={"limit": 0}), 422, "validation_error")
    assert_error(await api.call(None, "GET", path), 401, "unauthorized")


async def test_catch_up_lists_every_group_s_unheard_memos_oldest_first(
    api: Api, app: Any, samples: Path
) -> None:
    """`GET /me/unheard`: one queue across groups, in the order the memos were sent."""
    amy, ben, cat = await api.register("amy"), await api.register("ben"), await api.register("cat")
    math, chess, left = [await api.group(amy, n) for n in ("Math", "Chess", "Left")]
    for gid in (math, chess, left):
        await api.add(amy, gid, ben)
    await api.add(amy, math, cat)
    memo = audio_samples.client_file(samples, "mp3")

    async def send(who: Any, gid: str) -> str:
        r = await upload(api, who, gid, memo)
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    queue = [
        (await send(amy, math), math),
        (await send(amy, chess), chess),
        (await send(amy, left), left),
        (await send(cat, math), math),  # blocked below
        (await send(amy, math), math),
        (await send(amy, chess), chess),
    ]
    mine = await send(ben, chess)
    await processed(app, api, amy, queue[-1][0])
    path = "/me/unheard"

    body = await api.ok(ben, "GET", path)
    assert [(i["message_id"], i["group_id"]) for i in body["items"]] == queue
    assert body["has_more"] is False
    times = [i["created_at"] for i in body["items"]]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)
    amys = await api.ok(amy, "GET", path)
    assert [i["message_id"] for i in amys["items"]] == [queue[3][0], mine]

    # Leaving a group takes its memos out; blocking someone takes out theirs,
    # from every unheard list and count; heard and deleted memos go.
    await api.ok(ben, "DELETE", f"/groups/{left}/members/{ben.id}")
    await api.ok(ben, "POST", "/me/blocks", json={"user_id": cat.id})
    await api.ok(ben, "POST", f"/messages/{queue[0][0]}/listened")
    await api.ok(amy, "DELETE", f"/messages/{queue[1][0]}")
    rest = [queue[4], queue[5]]
    body = await api.ok(ben, "GET", path)
    assert [(i["message_id"], i["group_id"]) for i in body["items"]] == rest
    assert (await api.ok(ben, "GET", f"/groups/{math}/unheard"))["message_ids"] == [rest[0][0]]
    assert (await api.ok(ben, "GET", f"/groups/{math}"))["unheard_count"] == 1

    # Pages: `after` is the last message id of the page before.
    await api.ok(ben, "DELETE", f"/me/blocks/{cat.id}")
    again = [queue[3], *rest]
    assert await api.every_page(ben, path, "items", "after", "message_id", limit=1) == [
        mid for mid, _ in again
    ]
    page = await api.ok(ben, "GET", path, params={"limit": 2})
    assert [i["message_id"] for i in page["items"]] == [queue[3][0], queue[4][0]]
    assert page["has_more"] is True
    # A heard memo still marks a place.
    page = await api.ok(ben, "GET", path, params={"after": queue[0][0]})
    assert [i["message_id"] for i in page["items"]] == [mid for mid, _ in again]

    # A place outside one's groups is no place: a memo of a group left, or no memo.
    for after in (queue[2][0], "nope"):
        r = await api.call(ben, "GET", path, params={"after": after})
        assert_error(r, 404, "message_not_found")
    for limit in (0, 501):
        r = await api.call(ben, "GET", path, params={"limit": limit})
        assert_error(r, 422, "validation_error")
    assert_error(await api.call(None, "GET", path), 401, "unauthorized")
