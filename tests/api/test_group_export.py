"""A group's export by its owner: allowed by the group's export policy, for a range of
dates, checked file by file on a real memo; nothing deleted in it, and it goes when a
message in it is erased, when exports are turned off and when the group is deleted."""

import asyncio
import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from app.config import Settings
from app.models import GroupExport, Message, utcnow
from app.services import exports, fsck
from app.services.fsck.findings import UNKNOWN_BLOBS
from tests import audio_samples
from tests.api.test_export import exported
from tests.api.test_group_trust import roles
from tests.helpers import Api, Person, assert_error
from tests.services.helpers import blob_files, processed, upload


def span(days_ago_from: float, days_ago_to: float) -> dict[str, str]:
    now = utcnow()
    return {
        "from": (now - timedelta(days=days_ago_from)).isoformat(),
        "to": (now - timedelta(days=days_ago_to)).isoformat(),
    }


async def ready(api: Api, who: Person, gid: str) -> dict[str, Any]:
    """Poll the export until it is no longer pending (generous deadline, loaded machine)."""
    for _ in range(600):
        state = await api.ok(who, "GET", f"/groups/{gid}/export")
        if state["status"] != "pending":
            return state
        await asyncio.sleep(0.1)
    raise AssertionError("the export stayed pending")


async def download(api: Api, who: Person, gid: str, size: int) -> zipfile.ZipFile:
    r = await api.call(who, "GET", f"/groups/{gid}/export/download")
    assert r.status_code == 200, r.text
    assert len(r.content) == size and r.headers["content-type"] == "application/zip"
    assert r.headers["cache-control"] == "no-store"
    return zipfile.ZipFile(io.BytesIO(r.content))


async def backdate(app: Any, mid: str, days: float) -> None:
    async with app.state.runtime.sessions() as db:
        await db.execute(
            update(Message)
            .where(Message.id == mid)
            .values(created_at=utcnow() - timedelta(days=days))
        )
        await db.commit()


def group_zips(app: Any) -> list[str]:
    return [k for k in blob_files(app) if k.startswith("group-exports/")]


async def test_the_owner_exports_the_group_record_for_a_range(
    app: Any, api: Api, samples: Path
) -> None:
    gid, p = await roles(api)
    owner, member = p["owner"], p["member"]
    await api.ok(
        owner, "PATCH", f"/groups/{gid}", json={"norms": "Be kind", "export_policy": "owner"}
    )
    too_old = await api.post(member, gid, "last month")
    await backdate(app, too_old["id"], 30)
    text = await api.post(member, gid, "Practice moves to Thursday")
    gone = await api.post(p["mod"], gid, "a slip of the tongue")
    await api.ok(p["mod"], "DELETE", f"/messages/{gone['id']}")
    memo = (await upload(api, owner, gid, audio_samples.client_file(samples, "mp3"))).json()
    memo = await processed(app, api, owner, memo["id"])
    assert memo["voice"]["status"] == "ready"
    await api.ok(p["mod"], "PUT", f"/groups/{gid}/pins/{text['id']}")
    too_new = await api.post(member, gid, "tomorrow's")
    await backdate(app, too_new["id"], -1)
    assert_error(await api.call(owner, "GET", f"/groups/{gid}/export"), 404, "export_not_found")

    r = await api.call(owner, "POST", f"/groups/{gid}/export", json=span(7, -0.5))
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending" and set(r.json()) >= {"from", "to"}
    state = await ready(api, owner, gid)
    assert state["status"] == "ready", state
    zf = await download(api, owner, gid, state["size_bytes"])

    assert sorted(zf.namelist()) == sorted(
        [
            "group.json",
            "members.json",
            "messages.json",
            "transcripts.json",
            "export.json",
            f"memos/{memo['id']}.ogg",
        ]
    )
    group = exported(zf, "group.json")
    assert (group["id"], group["name"], group["norms"]) == (gid, "Coaches", "Be kind")
    assert (group["export_policy"], group["pinned"], group["exported_by"]) == (
        "owner",
        [text["id"]],
        owner.id,
    )
    assert (group["from"], group["to"]) == (state["from"], state["to"])
    members = exported(zf, "members.json")
    assert [(m["id"], m["handle"], m["role"]) for m in members] == [
        (owner.id, owner.handle, "owner"),
        (p["mod"].id, p["mod"].handle, "moderator"),
        (member.id, member.handle, "member"),
    ], "the members now, not the removed one"
    messages = exported(zf, "messages.json")
    assert [(m["id"], m["text"]) for m in messages] == [
        (text["id"], "Practice moves to Thursday"),
        (memo["id"], None),
    ], "in the range only, and not the deleted one"
    assert messages[0]["sender"] == {
        "id": member.id,
        "handle": member.handle,
        "display_name": "Member",
    }
    assert messages[1]["voice"] == {
        "status": "ready",
        "duration_ms": memo["voice"]["duration_ms"],
        "file": f"memos/{memo['id']}.ogg",
    }
    assert [t["message_id"] for t in exported(zf, "transcripts.json")] == [memo["id"]]
    about = exported(zf, "export.json")
    assert (about["group_id"], about["omitted_memos"]) == (gid, [])
    audio = zf.read(f"memos/{memo['id']}.ogg")
    played = await api.client.get(memo["voice"]["audio_url"])
    assert audio == played.content and audio[:4] == b"OggS"
    raw = b"".join(zf.read(name) for name in zf.namelist())
    assert b"a slip of the tongue" not in raw and b"last month" not in raw
    assert len(group_zips(app)) == 1
    report = await fsck.check(app.state.runtime, grace_s=0)
    assert report.of(UNKNOWN_BLOBS) == [], "a kept zip is no stray blob to fsck"


async def test_only_the_owner_and_only_when_the_group_allows_it(api: Api) -> None:
    gid, p = await roles(api)
    body = span(1, 0)
    r = await api.call(p["owner"], "POST", f"/groups/{gid}/export", json=body)
    assert_error(r, 403, "export_not_allowed")
    await api.ok(p["owner"], "PATCH", f"/groups/{gid}", json={"export_policy": "owner"})
    for who, status in (("mod", 403), ("member", 403), ("gone", 404), ("out", 404)):
        for method, path in (
            ("POST", "/export"),
            ("GET", "/export"),
            ("GET", "/export/download"),
        ):
            r = await api.call(p[who], method, f"/groups/{gid}{path}", json=body)
            assert_error(r, status)
    assert_error(await api.call(None, "GET", f"/groups/{gid}/export"), 401)
    assert_error(await api.call(p["owner"], "GET", f"/groups/{gid}/export"), 404)


async def test_a_bad_range_is_refused_and_starts_nothing(api: Api, app: Any) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    await api.ok(amy, "PATCH", f"/groups/{gid}", json={"export_policy": "owner"})
    now = utcnow().isoformat()
    for bad in (
        {"from": now, "to": now},
        span(1, 2),
        {"from": "2026-01-01T00:00:00", "to": now},  # no zone: which day is that?
        {"from": "yesterday", "to": now},
        {"from": "0001-01-01T00:00:00+01:00", "to": now},  # before the calendar, in UTC
        {"to": now},
        {},
    ):
        assert_error(await api.call(amy, "POST", f"/groups/{gid}/export", json=bad), 422)
    assert_error(await api.call(amy, "GET", f"/groups/{gid}/export"), 404, "export_not_found")


async def test_one_export_at_a_time_per_group_and_a_daily_limit(
    api: Api, app: Any, settings: Settings
) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    await api.ok(amy, "PATCH", f"/groups/{gid}", json={"export_policy": "owner"})
    rt = app.state.runtime
    async with rt.sessions() as db:  # one being made (by a process that is still at it)
        now = utcnow()
        db.add(GroupExport(group_id=gid, status="pending", created_at=now, from_at=now, to_at=now))
        await db.commit()
    r = await api.call(amy, "POST", f"/groups/{gid}/export", json=span(2, 0))
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    r = await api.call(amy, "GET", f"/groups/{gid}/export/download")
    assert_error(r, 409, "export_not_ready")
    async with rt.sessions() as db:
        await db.execute(update(GroupExport).values(status="failed"))
        await db.commit()
    settings.limit_group_exports_per_day = 1
    assert (
        await api.call(amy, "POST", f"/groups/{gid}/export", json=span(2, 0))
    ).status_code == 202
    assert (await ready(api, amy, gid))["status"] == "ready"
    r = await api.call(amy, "POST", f"/groups/{gid}/export", json=span(2, 0))
    assert_error(r, 429)
    assert (await api.ok(amy, "GET", f"/groups/{gid}/export"))["status"] == "ready", "kept"


async def test_the_zip_goes_when_a_message_in_it_is_erased(api: Api, app: Any) -> None:
    gid, p = await roles(api)
    owner = p["owner"]
    await api.ok(owner, "PATCH", f"/groups/{gid}", json={"export_policy": "owner"})
    outside = await api.post(p["member"], gid, "older")
    await backdate(app, outside["id"], 10)
    inside = await api.post(p["member"], gid, "regret this")
    await api.call(owner, "POST", f"/groups/{gid}/export", json=span(1, -1))
    assert (await ready(api, owner, gid))["status"] == "ready"
    await api.ok(p["member"], "DELETE", f"/messages/{outside['id']}")
    assert (await api.ok(owner, "GET", f"/groups/{gid}/export"))["status"] == "ready", "not in it"
    assert len(group_zips(app)) == 1
    await api.ok(p["member"], "DELETE", f"/messages/{inside['id']}")
    assert_error(await api.call(owner, "GET", f"/groups/{gid}/export"), 404, "export_not_found")
    assert group_zips(app) == []


async def test_the_zip_goes_when_a_text_in_it_is_edited(api: Api, app: Any) -> None:
    gid, p = await roles(api)
    owner = p["owner"]
    await api.ok(owner, "PATCH", f"/groups/{gid}", json={"export_policy": "owner"})
    said = await api.post(p["member"], gid, "I said too much")
    await api.call(owner, "POST", f"/groups/{gid}/export", json=span(1, -1))
    assert (await ready(api, owner, gid))["status"] == "ready"
    assert len(group_zips(app)) == 1
    await api.ok(p["member"], "PATCH", f"/messages/{said['id']}", json={"text": "Fine."})
    assert_error(await api.call(owner, "GET", f"/groups/{gid}/export"), 404, "export_not_found")
    assert group_zips(app) == [], "the old words are in no zip the server keeps"


async def test_turning_exports_off_or_deleting_the_group_drops_the_zip(api: Api, app: Any) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    await api.post(amy, gid, "hello")
    for turn_off in ("policy", "delete"):
        await api.ok(amy, "PATCH", f"/groups/{gid}", json={"export_policy": "owner"})
        await api.call(amy, "POST", f"/groups/{gid}/export", json=span(1, -1))
        assert (await ready(api, amy, gid))["status"] == "ready"
        assert len(group_zips(app)) == 1
        if turn_off == "policy":
            await api.ok(amy, "PATCH", f"/groups/{gid}", json={"export_policy": "nobody"})
            r = await api.call(amy, "GET", f"/groups/{gid}/export")
            assert_error(r, 404, "export_not_found")
        else:
            await api.ok(amy, "DELETE", f"/groups/{gid}")
        assert group_zips(app) == []


async def test_a_group_zip_is_deleted_when_its_time_is_up(api: Api, app: Any) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    await api.ok(amy, "PATCH", f"/groups/{gid}", json={"export_policy": "owner"})
    await api.call(amy, "POST", f"/groups/{gid}/export", json=span(1, -1))
    assert (await ready(api, amy, gid))["status"] == "ready"
    rt = app.state.runtime
    await exports.sweep(rt)
    assert group_zips(app) != [], "not yet"
    async with rt.sessions() as db:
        await db.execute(update(GroupExport).values(expires_at=utcnow()))
        await db.commit()
    await exports.sweep(rt)
    assert_error(await api.call(amy, "GET", f"/groups/{gid}/export"), 404, "export_not_found")
    assert group_zips(app) == []
