"""A member removed (or banned) while speaking live is cut off at once: nothing more of
theirs is relayed or stored, and the memo keeps only what they said while a member."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from app.models import Membership
from app.realtime.wire import CHUNKS_CHANNEL, decode_chunk, parse_listener_frame
from app.services.live import LiveLimit, LiveRecording
from app.storage.keys import original_key
from tests import audio_samples
from tests.helpers import Api, Person
from tests.realtime.conftest import Client
from tests.realtime.test_live import _when_processed, cut, start_live


async def binary_frames_within(listener: Client, seconds: float) -> list[bytes]:
    """Every binary frame that arrives in the next `seconds` (text frames are skipped)."""
    got: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            raw = await asyncio.wait_for(listener.conn.recv(), left)
        except TimeoutError:
            break
        if isinstance(raw, bytes):
            got.append(raw)
    return got


async def until_member_left(listener: Client, user_id: str) -> int:
    """Read up to the `member.left` of `user_id`; returns the live bytes heard before it."""
    heard = 0
    while True:
        raw = await asyncio.wait_for(listener.conn.recv(), 10)
        if isinstance(raw, bytes):
            heard += len(raw) - 24
            continue
        frame = json.loads(raw)
        if frame["type"] == "member.left" and frame["data"]["user"]["id"] == user_id:
            return heard


@pytest.fixture
async def trio(api: Api) -> tuple[Person, Person, Person, str]:
    """Owner Amy, speaker Ben and listener Cy in one group."""
    amy, ben, cy = await api.register("amy"), await api.register("ben"), await api.register("cy")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    await api.add(amy, gid, cy)
    return amy, ben, cy, gid


async def test_a_removed_live_sender_is_cut_off_and_their_next_chunk_reaches_nobody(
    api: Api, app: Any, ws: Any, samples: Path, trio: Any
) -> None:
    amy, ben, cy, gid = trio
    recording = audio_samples.client_file(samples, "chrome_webm").read_bytes()
    chunks = cut(recording)
    half = len(chunks) // 2
    sender, listener = await ws(ben), await ws(cy)
    mid = await start_live(sender, gid)
    for chunk in chunks[:half]:
        await sender.conn.send(chunk)
    await sender.send({"type": "ping"})
    await sender.recv_type("pong")  # the first half is stored and relayed
    said = sum(len(c) for c in chunks[:half])

    await api.ok(amy, "DELETE", f"/groups/{gid}/members/{ben.id}")
    for chunk in chunks[half:]:  # Ben's phone goes on sending
        await sender.conn.send(chunk)
    assert await until_member_left(listener, ben.id) == said, "all of the first half, no more"
    assert await binary_frames_within(listener, 1.0) == [], "nothing after the removal"
    error = await sender.recv_type("error")
    assert error["error"]["code"] == "not_a_member"
    assert await sender.recv_type("live.ended") == {"type": "live.ended", "message_id": mid}

    memo = await _when_processed(api, app, amy, mid)
    assert memo["voice"]["status"] == "ready", "what he said while a member is kept"
    full = audio_samples.duration_s(audio_samples.speech_wav(samples)) * 1000
    assert 0.3 * full < memo["voice"]["duration_ms"] < 0.75 * full, "the rest was not stored"


async def test_a_banned_live_sender_is_cut_off_too(
    api: Api, app: Any, ws: Any, samples: Path, trio: Any
) -> None:
    amy, eve, cy, gid = trio
    recording = audio_samples.client_file(samples, "chrome_webm").read_bytes()
    sender, listener = await ws(eve), await ws(cy)
    mid = await start_live(sender, gid)
    await sender.conn.send(recording[:20_000])
    await sender.send({"type": "ping"})
    await sender.recv_type("pong")
    await api.ok(amy, "POST", f"/groups/{gid}/bans", json={"user_id": eve.id})
    assert (await sender.recv_type("error"))["error"]["code"] == "not_a_member"
    await sender.conn.send(recording[20_000:40_000])
    assert await until_member_left(listener, eve.id) == 20_000
    assert await binary_frames_within(listener, 0.5) == []
    memo = await _when_processed(api, app, amy, mid)
    assert memo["voice"]["status"] in ("ready", "failed") and memo["deleted"] is False


async def test_each_chunk_rechecks_membership_before_it_is_stored_or_relayed(
    api: Api, app: Any, ws: Any
) -> None:
    """The recording of a sender whose removal this process has not heard of yet (its
    `member.left` still on the way) refuses the next chunk: the database says no."""
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy)
    await api.add(amy, gid, ben)
    sender = await ws(ben)
    mid = await start_live(sender, gid)
    rt = app.state.runtime
    recording = LiveRecording(rt, mid, gid, ben.id)  # the same memo, as another socket holds it
    relayed: list[bytes] = []
    async with rt.broker.subscribe(CHUNKS_CHANNEL) as subscription:
        await recording.chunk(b"first words")
        relayed.append(await asyncio.wait_for(subscription.get(), 5))
        async with rt.sessions() as db:  # removed behind the hub's back
            await db.execute(
                delete(Membership).where(Membership.group_id == gid, Membership.user_id == ben.id)
            )
            await db.commit()
        with pytest.raises(LiveLimit) as refused:
            await recording.chunk(b"after the removal")
        assert refused.value.code == "not_a_member"
        with pytest.raises(TimeoutError):
            relayed.append(await asyncio.wait_for(subscription.get(), 0.5))
    chunks = [decode_chunk(payload) for payload in relayed]
    assert [(c.group_id, c.sender_id) for c in chunks] == [(gid, ben.id)]
    assert parse_listener_frame(chunks[0].frame) == (mid, 0, b"first words")
    assert await rt.blobs.size(original_key(mid)) == len(b"first words")
