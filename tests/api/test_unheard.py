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
