"""Export my data: a zip of everything of yours, checked file by file on a real memo."""

import asyncio
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select, update

from app.config import Settings
from app.models import Export, OutboxItem, utcnow
from app.services import exports
from tests import audio_samples
from tests.api.test_email import link_token
from tests.helpers import Api, Person, assert_error, running
from tests.services.helpers import blob_files, processed, upload
from tests.support.smtp import running_smtp


async def ready_export(api: Api, who: Person) -> dict[str, Any]:
    """Poll the export until it is no longer pending (generous deadline, loaded machine)."""
    for _ in range(600):
        state = await api.ok(who, "GET", "/me/export")
        if state["status"] != "pending":
            return state
        await asyncio.sleep(0.1)
    raise AssertionError("the export stayed pending")


async def download(api: Api, who: Person, size: int | None = None) -> zipfile.ZipFile:
    r = await api.call(who, "GET", "/me/export/download")
    assert r.status_code == 200, r.text
    assert size is None or len(r.content) == size
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith("attachment;")
    return zipfile.ZipFile(io.BytesIO(r.content))


def exported(zf: zipfile.ZipFile, name: str) -> Any:
    return json.loads(zf.read(name))


async def test_the_zip_holds_your_profile_groups_messages_receipts_and_memos(
    app: Any, api: Api, samples: Path, settings: Settings
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy, "Coaches")
    await api.add(amy, gid, ben)
    text = await api.post(amy, gid, "Practice moves to Thursday")
    gone = await api.post(amy, gid, "a slip of the tongue")
    await api.ok(amy, "DELETE", f"/messages/{gone['id']}")
    await api.post(ben, gid, "Ben's own words")
    recording = audio_samples.client_file(samples, "mp3")
    memo = (await upload(api, amy, gid, recording)).json()
    bens = (await upload(api, ben, gid, recording)).json()
    memo = await processed(app, api, amy, memo["id"])
    assert memo["voice"]["status"] == "ready"
    await api.ok(amy, "POST", f"/messages/{bens['id']}/listened")
    await api.ok(amy, "PUT", f"/messages/{bens['id']}/reactions/%F0%9F%91%8D")
    await api.ok(amy, "PUT", f"/messages/{bens['id']}/bookmark", json={"note": "for PD"})
    await api.ok(amy, "PUT", f"/messages/{bens['id']}/position", json={"position_ms": 400})
    assert_error(await api.call(amy, "GET", "/me/export"), 404, "export_not_found")

    r = await api.call(amy, "POST", "/me/export")
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    state = await ready_export(api, amy)
    assert state["status"] == "ready", state
    zf = await download(api, amy, state["size_bytes"])

    assert sorted(zf.namelist()) == sorted(
        [
            "profile.json",
            "groups.json",
            "messages.json",
            "transcripts.json",
            "receipts.json",
            "reactions.json",
            "bookmarks.json",
            "listening_positions.json",
            "export.json",
            f"memos/{memo['id']}.ogg",
        ]
    )
    profile = exported(zf, "profile.json")
    assert (profile["id"], profile["handle"], profile["display_name"]) == (
        amy.id,
        amy.handle,
        "Amy",
    )
    assert profile["who_can_add_me"] == "anyone"
    groups = exported(zf, "groups.json")
    assert [(g["id"], g["name"], g["role"]) for g in groups] == [(gid, "Coaches", "owner")]
    messages = exported(zf, "messages.json")
    assert [(m["id"], m["kind"], m["text"]) for m in messages] == [
        (text["id"], "text", "Practice moves to Thursday"),
        (memo["id"], "voice", None),
    ], "yours only, and not the deleted one"
    assert messages[1]["voice"] == {
        "status": "ready",
        "duration_ms": memo["voice"]["duration_ms"],
        "file": f"memos/{memo['id']}.ogg",
    }
    transcripts = exported(zf, "transcripts.json")
    assert [t["message_id"] for t in transcripts] == [memo["id"]]
    assert transcripts[0]["status"] == "off"  # this test server transcribes nothing
    receipts = exported(zf, "receipts.json")
    assert [r["message_id"] for r in receipts] == [bens["id"]]
    reactions = exported(zf, "reactions.json")
    assert [(r["message_id"], r["emoji"]) for r in reactions] == [(bens["id"], "👍")]
    bookmarks = exported(zf, "bookmarks.json")
    assert [(b["message_id"], b["note"]) for b in bookmarks] == [(bens["id"], "for PD")]
    positions = exported(zf, "listening_positions.json")
    assert [(p["message_id"], p["position_ms"]) for p in positions] == [(bens["id"], 400)]
    about = exported(zf, "export.json")
    assert (about["user_id"], about["omitted_memos"]) == (amy.id, [])
    audio = zf.read(f"memos/{memo['id']}.ogg")
    played = await api.client.get(memo["voice"]["audio_url"])
    assert played.status_code == 200 and audio == played.content, "the memo as stored"
    assert audio[:4] == b"OggS" and len(audio) == memo["voice"]["size_bytes"]

    # Over the size bound, memos are left out (and said so); the texts stay.
    settings.export_max_bytes = 20_000
    assert (await api.call(amy, "POST", "/me/export")).status_code == 202
    assert (await ready_export(api, amy))["status"] == "ready"
    zf = await download(api, amy)
    assert f"memos/{memo['id']}.ogg" not in zf.namelist()
    assert exported(zf, "export.json")["omitted_memos"] == [memo["id"]]
    assert exported(zf, "messages.json")[1]["voice"]["file"] is None
    assert len([k for k in blob_files(app) if k.startswith("exports/")]) == 1, "the old zip went"

    # Deleting the account deletes the zip.
    await api.ok(amy, "PATCH", f"/groups/{gid}/members/{ben.id}", json={"role": "owner"})
    r = await api.call(amy, "DELETE", "/me", json={"password": "correct horse"})
    assert r.status_code == 204, r.text
    assert [k for k in blob_files(app) if k.startswith("exports/")] == []


async def test_one_export_at_a_time_and_none_to_download_before_it_is_ready(
    app: Any, api: Api
) -> None:
    amy = await api.register("amy")
    rt = app.state.runtime
    async with rt.sessions() as db:  # one being made (by a process that is still at it)
        db.add(Export(user_id=amy.id, status="pending", created_at=utcnow()))
        await db.commit()
    r = await api.call(amy, "POST", "/me/export")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"
    assert_error(await api.call(amy, "GET", "/me/export/download"), 409, "export_not_ready")
    assert_error(await api.call(None, "GET", "/me/export"), 401)


async def test_a_kept_zip_is_deleted_when_its_time_is_up(app: Any, api: Api) -> None:
    amy = await api.register("amy")
    assert (await api.call(amy, "POST", "/me/export")).status_code == 202
    assert (await ready_export(api, amy))["status"] == "ready"
    assert [k for k in blob_files(app) if k.startswith("exports/")] != []
    rt = app.state.runtime
    await exports.sweep(rt)
    assert (await api.ok(amy, "GET", "/me/export"))["status"] == "ready", "not yet"
    async with rt.sessions() as db:
        await db.execute(update(Export).values(expires_at=utcnow()))
        await db.commit()
    await exports.sweep(rt)
    assert_error(await api.call(amy, "GET", "/me/export"), 404, "export_not_found")
    assert [k for k in blob_files(app) if k.startswith("exports/")] == []


async def test_a_verified_address_is_mailed_when_the_export_is_ready(
    settings: Settings, tmp_path: Path
) -> None:
    with running_smtp(tmp_path) as smtp:
        mailing = settings.model_copy(
            update={
                "smtp_url": SecretStr(smtp.url),
                "mail_from": "Earshot <earshot@example.org>",
                "public_url": "https://earshot.example.org",
                "outbox_retry_s": 0.2,
            }
        )
        async with running(mailing) as (app, client):
            api = Api(client)
            body = {"handle": "amy", "display_name": "Amy", "password": "correct horse"}
            r = await client.post(
                "/api/v1/auth/register", json={**body, "email": "amy@example.org"}
            )
            amy = Person("amy", r.json()["token"], r.json()["user"]["id"])
            [verify] = await smtp.wait_for(1)
            token = link_token(verify, "/verify-email")
            await api.ok(None, "POST", "/auth/verify-email", json={"token": token})
            assert (await api.call(amy, "POST", "/me/export")).status_code == 202
            assert (await ready_export(api, amy))["status"] == "ready"
            mail = (await smtp.wait_for(2))[-1]
            assert mail.rcpt_tos == ["amy@example.org"]
            assert mail.message["Subject"] == "Your Earshot data export is ready"
            assert "https://earshot.example.org/" in mail.text and "@amy" in mail.text

            ben = await api.register("ben")  # no address: nothing to mail
            assert (await api.call(ben, "POST", "/me/export")).status_code == 202
            assert (await ready_export(api, ben))["status"] == "ready"
            async with app.state.runtime.sessions() as db:
                kinds = [i.payload["kind"] for i in await db.scalars(select(OutboxItem))]
            assert "export" not in kinds and len(smtp.messages) == 2
