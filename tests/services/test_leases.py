"""Two server processes sharing a database and blobs: each orphaned memo is taken over once."""

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app.config import Settings
from app.main import create_app
from app.models import Message, utcnow
from app.storage.keys import audio_key, original_key
from tests import audio_samples
from tests.helpers import Api
from tests.services.helpers import processed, upload


@pytest.fixture
async def other_app(settings: Settings, tmp_path: Path) -> AsyncIterator[Any]:
    """A second server on the same database and blob store (its own scratch space)."""
    blobs = f"file://{(settings.data_dir / 'blobs').resolve()}"
    other = settings.model_copy(update={"data_dir": tmp_path / "other", "storage_url": blobs})
    application = create_app(other)
    async with application.router.lifespan_context(application):
        yield application


def count_transcodes(*apps: Any) -> list[int]:
    """Per app, how many conversions it starts (the real ones still run)."""
    counts = [0] * len(apps)
    for i, application in enumerate(apps):
        transcoder = application.state.runtime.transcoder
        real = transcoder.run

        async def counted(*args: Any, _i: int = i, _real: Any = real, **kwargs: Any) -> Any:
            counts[_i] += 1
            return await _real(*args, **kwargs)

        transcoder.run = counted
    return counts


async def orphan(app: Any, api: Api, samples: Path, **lease: Any) -> tuple[Any, str]:
    """A memo put back to a state a dead or busy process left it in."""
    amy = await api.register("amy")
    gid = await api.group(amy)
    recording = audio_samples.client_file(samples, "mp3")
    memo = (await upload(api, amy, gid, recording)).json()
    assert (await processed(app, api, amy, memo["id"]))["voice"]["status"] == "ready"
    rt = app.state.runtime
    await rt.blobs.delete(audio_key(memo["id"]))
    await rt.blobs.put_file(original_key(memo["id"]), recording)  # as it was before conversion
    values = {"voice_status": "processing", "lease_until": utcnow() - timedelta(minutes=1)}
    async with rt.sessions() as db:
        await db.execute(update(Message).where(Message.id == memo["id"]).values(values | lease))
        await db.commit()
    return amy, memo["id"]


async def settle(*apps: Any) -> None:
    for application in apps:
        await application.state.runtime.ingest.idle()


async def test_an_orphaned_memo_is_converted_by_exactly_one_process(
    app: Any, other_app: Any, api: Api, samples: Path
) -> None:
    amy, mid = await orphan(app, api, samples, lease_owner="elsewhere-41-0dead")
    counts = count_transcodes(app, other_app)
    await asyncio.gather(app.state.runtime.ingest.sweep(), other_app.state.runtime.ingest.sweep())
    await settle(app, other_app)
    assert sorted(counts) == [0, 1]
    message = await api.ok(amy, "GET", f"/messages/{mid}")
    assert message["voice"]["status"] == "ready"
    assert await app.state.runtime.blobs.size(audio_key(mid))


async def test_a_lease_held_by_a_running_process_is_left_alone(
    app: Any, api: Api, samples: Path
) -> None:
    busy = {"lease_owner": "replica-2-8a5e1c7d", "lease_until": utcnow() + timedelta(minutes=1)}
    amy, mid = await orphan(app, api, samples, **busy)
    counts = count_transcodes(app)
    await app.state.runtime.ingest.sweep()
    await settle(app)
    assert counts == [0]
    assert (await api.ok(amy, "GET", f"/messages/{mid}"))["voice"]["status"] == "processing"


async def test_a_dead_process_on_this_host_need_not_wait_for_its_lease(
    app: Any, api: Api, samples: Path
) -> None:
    gone = await asyncio.create_subprocess_exec("true")
    await gone.wait()  # its pid now names no process
    dead = {"lease_owner": f"{socket.gethostname()}-{gone.pid}-5ca1ab1e"}
    dead["lease_until"] = utcnow() + timedelta(minutes=5)
    amy, mid = await orphan(app, api, samples, **dead)
    await app.state.runtime.ingest.sweep()
    await settle(app)
    assert (await api.ok(amy, "GET", f"/messages/{mid}"))["voice"]["status"] == "ready"


async def test_a_live_memo_whose_process_died_is_ended_and_converted_elsewhere(
    app: Any, other_app: Any, api: Api, samples: Path
) -> None:
    amy, mid = await orphan(app, api, samples, voice_status="live", lease_owner="gone-7-0dead")
    await other_app.state.runtime.ingest.sweep()
    await settle(other_app)
    message = await api.ok(amy, "GET", f"/messages/{mid}")
    assert message["voice"]["status"] == "ready"
    kinds = [e["type"] for e in await api.events(amy, message["group_id"])]
    assert kinds[-2:] == ["message.updated", "message.updated"]  # live → processing → ready


async def test_a_memo_waiting_in_this_process_queue_is_not_adopted_by_it_again(
    app: Any, api: Api, samples: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rt = app.state.runtime
    gate, both_busy = asyncio.Event(), asyncio.Event()
    real = rt.transcoder.run
    started = []

    async def held(*args: Any, **kwargs: Any) -> Any:
        started.append(args)
        if len(started) == 2:
            both_busy.set()
        await gate.wait()
        return await real(*args, **kwargs)

    rt.transcoder.run = held
    amy = await api.register("amy")
    gid = await api.group(amy)
    recording = audio_samples.client_file(samples, "mp3")
    ids = [(await upload(api, amy, gid, recording)).json()["id"] for _ in range(3)]
    await both_busy.wait()  # both workers are busy; the third memo waits in the queue
    waiting = ids[2]
    expired = utcnow() - timedelta(minutes=1)
    async with rt.sessions() as db:
        await db.execute(update(Message).where(Message.id == waiting).values(lease_until=expired))
        await db.commit()
    await rt.ingest.sweep()
    async with rt.sessions() as db:
        lease_until = await db.scalar(select(Message.lease_until).where(Message.id == waiting))
    assert lease_until is not None and lease_until < utcnow(), "the sweep did not claim it"
    assert "converting memo" not in caplog.text
    gate.set()
    await settle(app)
    for mid in ids:
        assert (await api.ok(amy, "GET", f"/messages/{mid}"))["voice"]["status"] == "ready"
