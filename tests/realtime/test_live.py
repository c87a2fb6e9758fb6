"""Live push-to-talk: members hear a memo while it is recorded, and nothing received is lost."""

import asyncio
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from app.models import Message
from tests import audio_samples
from tests.helpers import Api, Person
from tests.process import ServerProcess
from tests.realtime.conftest import Client


def cut(data: bytes, seed: int = 7) -> list[bytes]:
    """Chunks at arbitrary byte boundaries, as a recorder's timeslices fall."""
    rng, chunks, i = random.Random(seed), [], 0
    while i < len(data):
        size = rng.randint(300, 6000)
        chunks.append(data[i : i + size])
        i += size
    return chunks


async def start_live(sender: Client, gid: str) -> str:
    await sender.send({"type": "live.start", "group_id": gid, "mime": "audio/webm;codecs=opus"})
    return (await sender.recv_type("live.started"))["message_id"]


async def collect(listener: Client, message_id: str, total: int) -> list[tuple[int, bytes]]:
    """Binary frames for `message_id` as (offset, chunk) until `total` bytes have come."""
    got: list[tuple[int, bytes]] = []
    while sum(len(c) for _, c in got) < total:
        raw = await asyncio.wait_for(listener.conn.recv(), 10)
        if isinstance(raw, bytes):
            assert uuid.UUID(bytes=raw[:16]) == uuid.UUID(message_id)
            got.append((int.from_bytes(raw[16:24], "big"), raw[24:]))
    return got


@pytest.fixture
async def group(api: Api) -> tuple[Person, Person, Person, str]:
    amy, ben, cy = await api.register("amy"), await api.register("ben"), await api.register("cy")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    await api.add(amy, gid, cy)
    return amy, ben, cy, gid


async def test_listeners_get_every_byte_once_in_order_and_the_memo_ends_ready(
    api: Api, app: Any, ws: Any, group: Any, samples: Path
) -> None:
    amy, ben, cy, gid = group
    recording = audio_samples.client_file(samples, "chrome_webm").read_bytes()
    sender, listeners = await ws(amy), [await ws(ben), await ws(cy)]
    mid = await start_live(sender, gid)
    for listener in listeners:
        created = await listener.recv()
        assert created["type"] == "message.created" and created["data"]["voice"]["status"] == "live"
    for chunk in cut(recording):
        await sender.conn.send(chunk)
    for listener in listeners:
        frames = await collect(listener, mid, len(recording))
        offsets = [o for o, _ in frames]
        assert offsets == sorted(offsets) and offsets[0] == 0
        assert all(a + len(c) == b for (a, c), b in zip(frames, offsets[1:], strict=False))
        assert b"".join(c for _, c in frames) == recording
    await sender.send({"type": "live.end"})
    memo = await _when_processed(api, app, amy, mid)
    assert memo["voice"]["status"] == "ready"
    expected = audio_samples.duration_s(audio_samples.speech_wav(samples)) * 1000
    assert abs(memo["voice"]["duration_ms"] - expected) <= expected * 0.05
    async with app.state.runtime.sessions() as db:
        row = await db.get(Message, mid)
        assert row is not None and row.live, "it stays a live memo (a digest names those missed)"


async def test_a_late_listener_rebuilds_the_exact_recording(
    api: Api, app: Any, ws: Any, group: Any, samples: Path
) -> None:
    amy, ben, _, gid = group
    recording = audio_samples.client_file(samples, "chrome_webm").read_bytes()
    chunks = cut(recording, seed=11)
    sender = await ws(amy)
    mid = await start_live(sender, gid)
    half = len(chunks) // 2
    for chunk in chunks[:half]:
        await sender.conn.send(chunk)
    await sender.send({"type": "ping"})
    await sender.recv_type("pong")  # the first half is stored and relayed

    late = await ws(ben)  # connect first, then fetch what was said so far
    so_far = (await api.client.get(f"/api/v1/messages/{mid}/live", headers=ben.auth)).content
    assert 0 < len(so_far) <= len(recording)
    for chunk in chunks[half:]:
        await sender.conn.send(chunk)
    rebuilt = bytearray(so_far)
    for offset, chunk in await collect(late, mid, len(recording) - len(so_far)):
        if offset + len(chunk) > len(rebuilt):
            rebuilt += chunk[len(rebuilt) - offset :]
    assert bytes(rebuilt) == recording


async def test_a_dropped_sender_keeps_what_was_sent(
    api: Api, app: Any, ws: Any, group: Any, samples: Path
) -> None:
    amy, _, _, gid = group
    recording = audio_samples.client_file(samples, "chrome_webm").read_bytes()
    sender = await ws(amy)
    mid = await start_live(sender, gid)
    sent = 0
    for chunk in cut(recording):
        if sent > len(recording) // 2:
            break
        await sender.conn.send(chunk)
        sent += len(chunk)
    await sender.send({"type": "ping"})
    await sender.recv_type("pong")
    await sender.conn.close()
    memo = await _when_processed(api, app, amy, mid)
    assert memo["voice"]["status"] == "ready"
    full = audio_samples.duration_s(audio_samples.speech_wav(samples)) * 1000
    assert 0.3 * full < memo["voice"]["duration_ms"] < 0.75 * full


async def test_a_live_memo_deleted_while_recorded_is_withdrawn_for_everyone(
    api: Api, app: Any, ws: Any, group: Any, samples: Path
) -> None:
    """A cancelled recording: its tombstone says `withdrawn`, live, in the timeline and
    in a replay; a memo deleted once it was finished is an ordinary tombstone."""
    amy, ben, _, gid = group
    chunks = cut(audio_samples.client_file(samples, "chrome_webm").read_bytes())
    sender, listener = await ws(amy), await ws(ben)
    mid = await start_live(sender, gid)
    for chunk in chunks[:4]:
        await sender.conn.send(chunk)
    await sender.send({"type": "ping"})
    await sender.recv_type("pong")
    await collect(listener, mid, sum(len(c) for c in chunks[:4]))  # ben heard it begin
    await api.ok(amy, "DELETE", f"/messages/{mid}")
    await sender.send({"type": "live.end"})
    await sender.recv_type("live.ended")
    deleted = await listener.recv_type("message.deleted")
    assert deleted["data"]["id"] == mid and deleted["data"]["withdrawn"] is True
    listed = (await api.ok(ben, "GET", "/groups"))["groups"]
    latest = [g["last_message"] for g in listed if g["id"] == gid]
    assert latest == [None], "a withdrawn memo is no group's latest message"

    finished = await start_live(sender, gid)
    for chunk in chunks:
        await sender.conn.send(chunk)
    await sender.send({"type": "live.end"})
    await sender.recv_type("live.ended")
    await _when_processed(api, app, amy, finished)
    await api.ok(amy, "DELETE", f"/messages/{finished}")

    for who in (amy, ben):
        page = await api.ok(who, "GET", f"/groups/{gid}/messages")
        seen = {m["id"]: (m["deleted"], m["withdrawn"]) for m in page["messages"]}
        assert seen == {mid: (True, True), finished: (True, False)}
    replay = await api.ok(ben, "GET", f"/groups/{gid}/events?after=0")
    carried = [e["data"] for e in replay["events"] if e["data"].get("id") == mid]
    assert carried and all(d["withdrawn"] and d["voice"] is None for d in carried)


async def test_breaching_a_limit_ends_the_live_message_keeping_what_arrived(
    api: Api, app: Any, ws: Any, group: Any, samples: Path
) -> None:
    amy, _, _, gid = group
    recording = audio_samples.client_file(samples, "chrome_webm").read_bytes()
    sender = await ws(amy)
    mid = await start_live(sender, gid)
    await sender.conn.send(recording[:20_000])
    await sender.conn.send(b"\0" * (64 * 1024 + 1))
    error = await sender.recv_type("error")
    assert error["error"]["code"] == "chunk_too_large"
    assert await sender.recv_type("live.ended") == {"type": "live.ended", "message_id": mid}
    memo = await _when_processed(api, app, amy, mid)
    assert memo["voice"]["status"] in ("ready", "failed")
    assert (await api.ok(amy, "GET", f"/messages/{mid}"))["voice"]["status"] != "live"


async def test_silence_ends_the_live_message(
    api: Api, app: Any, ws: Any, group: Any, samples: Path
) -> None:
    app.state.runtime.settings.live_idle_timeout_s = 0.3
    amy, _, _, gid = group
    recording = audio_samples.client_file(samples, "chrome_webm").read_bytes()
    sender = await ws(amy)
    mid = await start_live(sender, gid)
    await sender.conn.send(recording)
    assert (await sender.recv_type("error"))["error"]["code"] == "live_idle"
    assert await sender.recv_type("live.ended") == {"type": "live.ended", "message_id": mid}
    assert (await _when_processed(api, app, amy, mid))["voice"]["status"] == "ready"


async def test_only_members_hear_live_audio(api: Api, ws: Any, group: Any, samples: Path) -> None:
    amy, ben, _, gid = group
    eve = await api.register("eve")
    sender, member, outsider = await ws(amy), await ws(ben), await ws(eve)
    mid = await start_live(sender, gid)
    await sender.conn.send(b"some opus bytes")
    assert (await collect(member, mid, 15))[0][1] == b"some opus bytes"
    await outsider.nothing_within()
    assert (await api.call(eve, "GET", f"/messages/{mid}/live")).status_code == 404


async def test_live_start_needs_a_group_of_mine_and_one_at_a_time(
    api: Api, ws: Any, group: Any
) -> None:
    amy, _, _, gid = group
    sender = await ws(amy)
    await sender.send({"type": "live.start", "group_id": "not-mine", "mime": "audio/webm"})
    assert (await sender.recv_type("error"))["error"]["code"] == "group_not_found"
    await start_live(sender, gid)
    await sender.send({"type": "live.start", "group_id": gid, "mime": "audio/webm"})
    assert (await sender.recv_type("error"))["error"]["code"] == "live_in_progress"


async def _when_processed(api: Api, app: Any, who: Person, mid: str) -> dict[str, Any]:
    for _ in range(100):
        await app.state.runtime.ingest.idle()
        memo = await api.ok(who, "GET", f"/messages/{mid}")
        if memo["voice"]["status"] not in ("live", "processing"):
            return memo
        await asyncio.sleep(0.05)
    raise AssertionError("the live memo was never processed")


def test_a_restart_during_a_live_message_keeps_what_was_received(
    tmp_path: Path, samples: Path
) -> None:
    recording = audio_samples.client_file(samples, "chrome_webm").read_bytes()
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            token = http.post(
                "/api/v1/auth/register",
                json={"handle": "amy", "display_name": "Amy", "password": "a long password"},
            ).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            gid = http.post("/api/v1/groups", headers=auth, json={"name": "G"}).json()["id"]

        async def stream_half() -> str:
            url = server.url.replace("http", "ws") + f"/api/v1/ws?token={token}"
            async with connect(url, compression=None) as conn:
                await conn.send(json.dumps({"type": "sync", "cursors": {}}))
                await conn.send(json.dumps(
                    {"type": "live.start", "group_id": gid, "mime": "audio/webm"}
                ))  # fmt: skip
                while (frame := json.loads(await conn.recv()))["type"] != "live.started":
                    pass
                mid = frame["message_id"]
                for chunk in cut(recording)[: len(cut(recording)) // 2]:
                    await conn.send(chunk)
                await conn.send('{"type":"ping"}')
                while json.loads(await conn.recv())["type"] != "pong":
                    pass
                server.kill()
                return mid

        mid = asyncio.run(stream_half())
        server = ServerProcess(data).start()
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for _ in range(200):
                memo = http.get(f"/api/v1/messages/{mid}", headers=auth).json()
                if memo["voice"]["status"] not in ("live", "processing"):
                    break
                time.sleep(0.1)
        assert memo["voice"]["status"] == "ready"
        assert memo["voice"]["duration_ms"] > 2000
    finally:
        server.stop()


async def test_a_live_message_of_noise_ends_failed_with_a_reason(
    api: Api, app: Any, ws: Any, group: Any
) -> None:
    amy, _, _, gid = group
    sender = await ws(amy)
    mid = await start_live(sender, gid)
    await sender.conn.send(b"these bytes are not a recording" * 50)
    await sender.send({"type": "live.end"})
    memo = await _when_processed(api, app, amy, mid)
    assert memo["voice"]["status"] == "failed"
    assert memo["voice"]["error"]


async def test_too_many_chunks_or_too_long_a_recording_ends_it(
    api: Api, app: Any, ws: Any, group: Any, samples: Path
) -> None:
    amy, _, _, gid = group
    settings = app.state.runtime.settings
    recording = audio_samples.client_file(samples, "chrome_webm").read_bytes()
    sender = await ws(amy)
    for setting, value, code in (
        ("live_max_chunks_per_s", 5, "live_rate"),
        ("max_upload_bytes", 30_000, "live_too_long"),
    ):
        original = getattr(settings, setting)
        setattr(settings, setting, value)
        mid = await start_live(sender, gid)
        for chunk in cut(recording)[:20]:
            await sender.conn.send(chunk)
        assert (await sender.recv_type("error"))["error"]["code"] == code
        assert await sender.recv_type("live.ended") == {"type": "live.ended", "message_id": mid}
        setattr(settings, setting, original)
        memo = await _when_processed(api, app, amy, mid)
        assert memo["voice"]["status"] == "ready", "what arrived before the breach is kept"
        assert memo["voice"]["duration_ms"] > 0


async def test_a_live_memo_can_reply_and_joins_the_thread(
    api: Api, app: Any, ws: Any, group: Any
) -> None:
    amy, ben, _, gid = group
    root = await api.post(amy, gid, "How did your first observation go?")
    other = await api.group(amy, "Elsewhere")
    foreign = await api.post(amy, other, "not in ben's group")
    sender = await ws(ben)
    start = {"type": "live.start", "group_id": gid, "mime": "audio/webm;codecs=opus"}
    await sender.send({**start, "reply_to": foreign["id"]})
    refused = await sender.recv_type("error")
    assert refused["error"]["code"] == "reply_not_found"
    await sender.send({**start, "reply_to": root["id"]})
    mid = (await sender.recv_type("live.started"))["message_id"]
    memo = await api.ok(amy, "GET", f"/messages/{mid}")
    assert (memo["reply_to"], memo["thread_root_id"]) == (root["id"], root["id"])
    thread = await api.ok(amy, "GET", f"/messages/{root['id']}/thread")
    assert [m["id"] for m in thread["replies"]] == [mid]
    assert (await api.ok(amy, "GET", f"/messages/{root['id']}"))["reply_count"] == 1
