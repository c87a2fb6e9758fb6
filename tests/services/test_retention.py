"""Retention: a moderator sets how long a group keeps messages; older ones are swept away."""

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from app.models import Message, utcnow
from tests import audio_samples
from tests.helpers import Api, assert_error
from tests.services.helpers import blob_files, processed, upload


async def test_only_moderators_set_retention_and_null_keeps_everything(api: Api) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    assert (await api.ok(amy, "GET", f"/groups/{gid}"))["retention_days"] is None
    r = await api.call(ben, "PATCH", f"/groups/{gid}", json={"retention_days": 30})
    assert_error(r, 403, "forbidden")
    for bad in (0, -1, 3651, "soon"):
        r = await api.call(amy, "PATCH", f"/groups/{gid}", json={"retention_days": bad})
        assert_error(r, 422)
    group = await api.ok(amy, "PATCH", f"/groups/{gid}", json={"retention_days": 30})
    assert group["retention_days"] == 30
    renamed = await api.ok(amy, "PATCH", f"/groups/{gid}", json={"name": "Renamed"})
    assert renamed["retention_days"] == 30  # untouched when not named
    events = await api.events(amy, gid)
    assert events[-2]["type"] == "group.updated" and events[-2]["data"]["retention_days"] == 30
    cleared = await api.ok(amy, "PATCH", f"/groups/{gid}", json={"retention_days": None})
    assert cleared["retention_days"] is None


async def test_the_sweep_deletes_expired_messages_and_their_audio(
    app: Any, api: Api, samples: Path
) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    old_text = await api.post(amy, gid, "last month's agenda")
    memo = (await upload(api, amy, gid, audio_samples.client_file(samples, "mp3"))).json()
    await processed(app, api, amy, memo["id"])
    fresh = await api.post(amy, gid, "today's agenda")
    rt = app.state.runtime
    async with rt.sessions() as db:
        await db.execute(
            update(Message)
            .where(Message.id.in_([old_text["id"], memo["id"]]))
            .values(created_at=utcnow() - timedelta(days=8))
        )
        await db.commit()
    await rt.ingest.sweep()
    assert not (await api.ok(amy, "GET", f"/messages/{memo['id']}"))["deleted"]
    assert any(memo["id"] in f for f in blob_files(app))  # no retention set yet: kept

    await api.ok(amy, "PATCH", f"/groups/{gid}", json={"retention_days": 7})
    before = (await api.events(amy, gid))[-1]["seq"]
    await rt.ingest.sweep()
    page = (await api.ok(amy, "GET", f"/groups/{gid}/messages"))["messages"]
    assert [(m["id"], m["deleted"]) for m in page] == [
        (old_text["id"], True),
        (memo["id"], True),
        (fresh["id"], False),
    ]
    assert page[0]["text"] is None
    deleted = await api.events(amy, gid, after=before)
    assert [(e["type"], e["data"]["id"]) for e in deleted] == [
        ("message.deleted", old_text["id"]),
        ("message.deleted", memo["id"]),
    ]
    assert not any(memo["id"] in f for f in blob_files(app))
    await rt.ingest.sweep()  # nothing more to do
    assert len(await api.events(amy, gid, after=before)) == 2
