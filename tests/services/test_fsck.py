"""`earshot fsck`: finds where the database and the audio store disagree, and repairs it safely.

Memos are real uploads of real speech through the running app; the damage is what
a crash, a careless operator or a restored backup leaves: a lost audio file, blobs
of no memo, blobs of a deleted memo, an original left after conversion, an
unfinished temporary file.
"""

import asyncio
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from app.services import fsck
from app.storage.keys import audio_key, original_key, voice_prefix
from tests import audio_samples
from tests.helpers import Api, Person
from tests.realtime.conftest import ws, ws_url  # noqa: F401  (fixtures)
from tests.realtime.test_live import cut, start_live
from tests.s3server import S3Server, s3_server  # noqa: F401  (a fixture)
from tests.services.helpers import processed, upload

EARSHOT = Path(sys.executable).with_name("earshot")
HOUR_AGO = time.time() - 3600


async def _earshot_fsck(settings: Settings, *args: str) -> tuple[int, str]:
    """Run `earshot fsck ARGS` as an operator would, against the app's database and store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
    env |= {
        "EARSHOT_DATA_DIR": str(settings.data_dir),
        "EARSHOT_DATABASE_URL": settings.resolved_database_url,
        "EARSHOT_SECRET_KEY": "test-secret",
    }
    proc = await asyncio.create_subprocess_exec(
        str(EARSHOT), "fsck", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def problems_listed(output: str) -> dict[str, list[str]]:
    """The problems the report lists: kind -> the subjects under it."""
    kinds: dict[str, list[str]] = {}
    section, kind = "", ""
    for line in output.splitlines():
        if line and not line.startswith(" "):
            section = line
        elif section == "Problems:" and line.startswith("  ") and not line.startswith("   "):
            kind = line.split()[0]
            kinds[kind] = []
        elif section == "Problems:" and line.startswith("    "):
            kinds[kind].append(line.split()[0])
    return kinds


async def _memo(app: Any, api: Api, who: Person, gid: str, samples: Path) -> str:
    r = await upload(api, who, gid, audio_samples.client_file(samples, "iphone_m4a"))
    assert r.status_code == 202, r.text
    memo = await processed(app, api, who, r.json()["id"])
    assert memo["voice"]["status"] == "ready"
    return memo["id"]


def _root(app: Any) -> Path:
    return app.state.runtime.blobs.root


def _files(app: Any, mid: str) -> list[str]:
    directory = _root(app) / voice_prefix(mid)
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def _plant(app: Any, key: str, source: Path, mtime: float | None = None) -> Path:
    """Put a file into the local store behind the server's back (as a crash leaves it)."""
    path = _root(app) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
async def amy(api: Api) -> tuple[Person, str]:
    person = await api.register("amy")
    return person, await api.group(person)


async def test_a_consistent_data_dir_is_reported_clean(
    app: Any, api: Api, settings: Settings, amy: Any, samples: Path
) -> None:
    who, gid = amy
    await _memo(app, api, who, gid, samples)
    deleted = await _memo(app, api, who, gid, samples)
    await api.ok(who, "DELETE", f"/messages/{deleted}")
    await api.post(who, gid, "a text between memos")

    code, out = await _earshot_fsck(settings)

    assert code == 0, out
    assert "Checked 2 voice memos" in out
    assert "Clean" in out and "Problems:" not in out


async def test_a_lost_audio_file_is_reported_and_the_memo_marked_failed(
    app: Any, api: Api, amy: Any, samples: Path
) -> None:
    who, gid = amy
    mid = await _memo(app, api, who, gid, samples)
    (_root(app) / audio_key(mid)).unlink()
    rt = app.state.runtime

    report = await fsck.check(rt)
    assert [(f.kind, f.subject) for f in report.problems] == [(fsck.MISSING_AUDIO, mid)]
    await fsck.repair(rt, report)

    memo = await api.ok(who, "GET", f"/messages/{mid}")
    assert memo["voice"]["status"] == "failed"
    assert memo["voice"]["error"] == fsck.LOST_AUDIO
    assert memo["voice"]["audio_url"] is None
    updated = (await api.events(who, gid))[-1]
    assert updated["type"] == "message.updated" and updated["data"]["voice"]["status"] == "failed"
    assert (await fsck.check(rt)).clean


async def test_a_lost_audio_file_with_its_original_kept_is_converted_again(
    app: Any, api: Api, amy: Any, samples: Path
) -> None:
    who, gid = amy
    recording = audio_samples.client_file(samples, "iphone_m4a")
    mid = await _memo(app, api, who, gid, samples)
    (_root(app) / audio_key(mid)).unlink()
    _plant(app, original_key(mid), recording)
    rt = app.state.runtime

    report = await fsck.check(rt)
    assert [f.fix for f in report.of(fsck.MISSING_AUDIO)] == ["requeue"]
    await fsck.repair(rt, report)
    assert (await api.ok(who, "GET", f"/messages/{mid}"))["voice"]["status"] == "processing"
    await rt.ingest.sweep()  # what every server does at start and every sweep_interval_s
    memo = await processed(app, api, who, mid)

    assert memo["voice"]["status"] == "ready"
    assert _files(app, mid) == ["audio.ogg"]
    audio = await api.client.get(memo["voice"]["audio_url"])
    assert audio.status_code == 200 and audio.content.startswith(b"OggS")
    assert (await fsck.check(rt)).clean


async def test_blobs_left_by_a_deleted_memo_are_reported_and_removed(
    app: Any, api: Api, amy: Any, samples: Path
) -> None:
    who, gid = amy
    mid = await _memo(app, api, who, gid, samples)
    kept = await _memo(app, api, who, gid, samples)
    await api.ok(who, "DELETE", f"/messages/{mid}")
    assert _files(app, mid) == []
    # A crash between the tombstone's commit and the removal of its audio leaves this:
    _plant(app, audio_key(mid), _root(app) / audio_key(kept), mtime=HOUR_AGO)
    rt = app.state.runtime

    report = await fsck.check(rt)
    assert [(f.kind, f.subject) for f in report.problems] == [
        (fsck.DELETED_BLOBS, voice_prefix(mid))
    ]
    await fsck.repair(rt, report)

    assert _files(app, mid) == []
    assert _files(app, kept) == ["audio.ogg"]
    assert (await api.ok(who, "GET", f"/messages/{mid}"))["deleted"] is True
    assert (await fsck.check(rt)).clean


async def test_an_orphan_older_than_the_grace_period_is_removed_a_fresh_one_left_alone(
    app: Any, api: Api, amy: Any, samples: Path
) -> None:
    recording = audio_samples.client_file(samples, "iphone_m4a")
    old, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    _plant(app, original_key(old), recording, mtime=HOUR_AGO)
    _plant(app, original_key(fresh), recording)  # an upload whose row may commit any moment
    rt = app.state.runtime

    report = await fsck.check(rt, grace_s=600)
    assert [(f.kind, f.subject) for f in report.problems] == [
        (fsck.ORPHAN_BLOBS, voice_prefix(old))
    ]
    assert [f.subject for f in report.of(fsck.RECENT_BLOBS)] == [voice_prefix(fresh)]
    await fsck.repair(rt, report)

    assert not (_root(app) / voice_prefix(old)).exists()
    assert (_root(app) / original_key(fresh)).exists()
    assert (await fsck.check(rt, grace_s=600)).clean
    assert not (await fsck.check(rt, grace_s=0)).clean  # once old enough, it is an orphan


async def test_a_leftover_original_and_a_stray_temp_file_are_removed_and_the_memo_plays(
    app: Any, api: Api, amy: Any, samples: Path
) -> None:
    who, gid = amy
    mid = await _memo(app, api, who, gid, samples)
    # Crashes after `ready` committed (before the original was removed), and mid-write:
    _plant(app, original_key(mid), audio_samples.client_file(samples, "iphone_m4a"))
    temp = _plant(
        app, f"{voice_prefix(mid)}.audio.mp3.{uuid.uuid4().hex}.tmp", _root(app) / audio_key(mid),
        mtime=HOUR_AGO,
    )  # fmt: skip
    rt = app.state.runtime

    report = await fsck.check(rt)
    assert sorted((f.kind.name, f.subject) for f in report.problems) == [
        ("leftover_original", original_key(mid)),
        ("stray_temp", temp.relative_to(_root(app)).as_posix()),
    ]
    await fsck.repair(rt, report)

    assert _files(app, mid) == ["audio.ogg"]
    memo = await api.ok(who, "GET", f"/messages/{mid}")
    assert memo["voice"]["status"] == "ready"
    assert (await api.client.get(memo["voice"]["audio_url"])).status_code == 200
    assert (await fsck.check(rt)).clean


async def test_an_empty_directory_left_by_a_crash_is_removed_once_old(app: Any) -> None:
    old, fresh = (
        _root(app) / voice_prefix(str(uuid.uuid4())),
        _root(app) / voice_prefix(str(uuid.uuid4())),
    )
    old.mkdir(parents=True)
    fresh.mkdir(parents=True)  # a writer makes the directory a moment before the file
    os.utime(old, (HOUR_AGO, HOUR_AGO))
    rt = app.state.runtime

    report = await fsck.check(rt)
    assert [(f.kind, f.subject) for f in report.problems] == [
        (fsck.EMPTY_DIRS, old.relative_to(_root(app)).as_posix() + "/")
    ]
    await fsck.repair(rt, report)

    assert not old.exists() and fresh.is_dir()
    assert (await fsck.check(rt)).clean


async def test_checks_while_memos_are_uploaded_converted_and_deleted_find_no_problem(
    app: Any, api: Api, amy: Any, samples: Path
) -> None:
    who, gid = amy
    recording = audio_samples.client_file(samples, "iphone_m4a")
    rt = app.state.runtime

    async def traffic() -> None:
        sent = []
        for i in range(6):
            r = await upload(api, who, gid, recording)
            assert r.status_code == 202, r.text
            sent.append(r.json()["id"])
            if i % 2:  # delete the one before, which may still be converting
                await api.ok(who, "DELETE", f"/messages/{sent[-2]}")
        await rt.ingest.idle()

    busy = asyncio.create_task(traffic())
    reports = []
    while not busy.done():
        reports.append(await fsck.check(rt))
    await busy
    reports.append(await fsck.check(rt))

    assert len(reports) >= 3
    assert [fsck.render(r) for r in reports if not r.clean] == []
    assert any(r.of(fsck.IN_PROGRESS) for r in reports), "some checks saw memos converting"


async def test_the_command_reports_each_problem_then_repairs_them_all(
    app: Any, api: Api, settings: Settings, amy: Any, samples: Path
) -> None:
    who, gid = amy
    lost, deleted, fine = [await _memo(app, api, who, gid, samples) for _ in range(3)]
    (_root(app) / audio_key(lost)).unlink()
    await api.ok(who, "DELETE", f"/messages/{deleted}")
    _plant(app, audio_key(deleted), _root(app) / audio_key(fine), mtime=HOUR_AGO)
    orphan = str(uuid.uuid4())
    _plant(app, original_key(orphan), _root(app) / audio_key(fine), mtime=HOUR_AGO)

    code, out = await _earshot_fsck(settings)
    assert code == 1, out
    assert problems_listed(out) == {
        "missing_audio": [lost],
        "deleted_blobs": [voice_prefix(deleted)],
        "orphan_blobs": [voice_prefix(orphan)],
    }, out
    assert "--repair" in out

    code, out = await _earshot_fsck(settings, "--repair")
    assert code == 0, out
    assert "Checked again after repairing:\nClean" in out

    code, out = await _earshot_fsck(settings)
    assert code == 0, out
    assert "Clean" in out and "Problems:" not in out
    assert (await api.ok(who, "GET", f"/messages/{lost}"))["voice"]["status"] == "failed"
    assert (await api.ok(who, "GET", f"/messages/{fine}"))["voice"]["status"] == "ready"
    assert _files(app, deleted) == [] and not (_root(app) / voice_prefix(orphan)).exists()


async def test_the_command_exits_2_when_there_is_no_database_to_check(tmp_path: Path) -> None:
    code, out = await _earshot_fsck(Settings(data_dir=tmp_path / "nowhere"))
    assert code == 2, out
    assert "could not check" in out and "there is no database" in out
    assert not (tmp_path / "nowhere").exists(), "nothing is created where the operator pointed"


async def test_a_live_memo_deleted_while_it_is_recorded_leaves_no_blobs(
    app: Any,
    api: Api,
    ws: Any,  # noqa: F811
    amy: Any,
    samples: Path,
) -> None:
    who, gid = amy
    chunks = cut(audio_samples.client_file(samples, "chrome_webm").read_bytes())
    sender = await ws(who)
    mid = await start_live(sender, gid)
    for chunk in chunks[:5]:
        await sender.conn.send(chunk)
    await sender.send({"type": "ping"})
    await sender.recv_type("pong")
    await api.ok(who, "DELETE", f"/messages/{mid}")
    for chunk in chunks[5:10]:  # the recorder has not heard of the delete yet
        await sender.conn.send(chunk)
    await sender.send({"type": "live.end"})
    await sender.recv_type("live.ended")
    await app.state.runtime.ingest.idle()

    assert _files(app, mid) == []
    assert (await api.ok(who, "GET", f"/messages/{mid}"))["deleted"] is True
    assert (await fsck.check(app.state.runtime)).clean


@pytest.fixture
def s3_settings(settings: Settings, s3_server: S3Server) -> Settings:  # noqa: F811
    return settings.model_copy(
        update={"storage_url": s3_server.storage_url(f"fsck-{uuid.uuid4().hex[:12]}")}
    )


async def test_an_s3_store_is_checked_and_repaired_the_same_way(
    s3_settings: Settings, samples: Path
) -> None:
    application = create_app(s3_settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://earshot.test") as c:
            api = Api(c)
            who = await api.register("amy")
            gid = await api.group(who)
            lost = await _memo(application, api, who, gid, samples)
            rt = application.state.runtime
            await rt.blobs.delete(audio_key(lost))
            orphan = str(uuid.uuid4())
            await rt.blobs.put_bytes(original_key(orphan), b"half an upload")
            appended = str(uuid.uuid4())  # a live recording's parts, with no row
            await rt.blobs.append(original_key(appended), b"first chunk")
            await rt.blobs.append(original_key(appended), b"second chunk")

            report = await fsck.check(rt, grace_s=0)  # nothing is uploading now
            assert sorted((f.kind.name, f.subject) for f in report.problems) == sorted(
                [
                    ("missing_audio", lost),
                    ("orphan_blobs", voice_prefix(orphan)),
                    ("orphan_blobs", voice_prefix(appended)),
                ]
            )
            sizes = {f.subject: f.detail for f in report.of(fsck.ORPHAN_BLOBS)}
            assert sizes[voice_prefix(appended)].startswith("1 file(s), 23 bytes")
            assert (await fsck.check(rt, grace_s=600)).of(fsck.RECENT_BLOBS)
            await fsck.repair(rt, report)

            assert await rt.blobs.list_keys("voice/") == []
            memo = await api.ok(who, "GET", f"/messages/{lost}")
            assert memo["voice"]["status"] == "failed"
            assert (await fsck.check(rt, grace_s=0)).clean
