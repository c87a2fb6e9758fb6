"""Listening positions: each listener's own place in a memo, apart from the receipt, on
every device; bounded by the memo; gone with the memo or the account."""

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.models import ListeningPosition
from tests import audio_samples
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import processed, upload


async def memo_in_group(api: Api, app: Any, samples: Path) -> tuple[Person, Person, str, dict]:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    r = await upload(api, amy, gid, audio_samples.client_file(samples, "mp3"))
    return amy, ben, gid, await processed(app, api, amy, r.json()["id"])


def save(api: Api, who: Person, mid: str, body: Any) -> Any:
    return api.call(who, "PUT", f"/messages/{mid}/position", json=body)


async def stored(app: Any) -> int:
    async with app.state.runtime.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(ListeningPosition)) or 0)


async def test_a_position_is_the_listeners_own_and_apart_from_the_receipt(
    api: Api, app: Any, samples: Path
) -> None:
    amy, ben, gid, memo = await memo_in_group(api, app, samples)
    mid, length = memo["id"], memo["voice"]["duration_ms"]
    assert memo["my_position_ms"] is None
    before = await api.events(amy, gid)
    r = await save(api, ben, mid, {"position_ms": 1200})
    assert r.status_code == 200
    assert r.json()["message_id"] == mid and r.json()["position_ms"] == 1200
    assert (await save(api, ben, mid, {"position_ms": length})).json()["position_ms"] == length
    seen_by_ben = await api.ok(ben, "GET", f"/messages/{mid}")
    assert seen_by_ben["my_position_ms"] == length, "the last write wins, on any device"
    assert seen_by_ben["voice"]["listened_by_me"] is False, "a place saved is not a listen"
    page = await api.ok(ben, "GET", f"/groups/{gid}/messages")
    assert page["messages"][-1]["my_position_ms"] == length
    assert (await api.ok(amy, "GET", f"/messages/{mid}"))["my_position_ms"] is None
    assert await api.events(amy, gid) == before, "private: no event tells the group"


async def test_bad_positions_change_nothing(api: Api, app: Any, samples: Path) -> None:
    amy, ben, gid, memo = await memo_in_group(api, app, samples)
    mid, length = memo["id"], memo["voice"]["duration_ms"]
    outsider = await api.register("cat")
    text = await api.post(amy, gid, "a text has no place")
    for body in ({"position_ms": length + 1}, {"position_ms": -1}, {"position_ms": "12"}, {}):
        assert_error(await save(api, ben, mid, body), 422)
    assert_error(await save(api, ben, text["id"], {"position_ms": 0}), 422, "not_voice")
    assert_error(await save(api, outsider, mid, {"position_ms": 0}), 404, "message_not_found")
    assert await stored(app) == 0


async def test_positions_go_with_the_memo_and_the_account(
    api: Api, app: Any, samples: Path
) -> None:
    amy, ben, gid, memo = await memo_in_group(api, app, samples)
    await save(api, ben, memo["id"], {"position_ms": 500})
    await save(api, amy, memo["id"], {"position_ms": 700})
    assert await stored(app) == 2
    await api.ok(ben, "DELETE", "/me", json={"password": "correct horse"})
    assert await stored(app) == 1
    await api.ok(amy, "DELETE", f"/messages/{memo['id']}")
    assert await stored(app) == 0
