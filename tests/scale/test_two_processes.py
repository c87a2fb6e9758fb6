"""The production shape: two `earshot serve` processes sharing PostgreSQL, Redis and S3.

Collected when EARSHOT_TEST_DATABASE_URL and EARSHOT_TEST_REDIS_URL name the services
(CI always does); the S3 server is SeaweedFS, started by the tests. Nothing skips:
an unreachable service fails them.
"""

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests import audio_samples
from tests.api.test_operations import METRICS_TOKEN, sample
from tests.process import ServerProcess
from tests.s3server import S3Server

PG_URL = os.environ.get("EARSHOT_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("EARSHOT_TEST_REDIS_URL")

if PG_URL and REDIS_URL:

    @pytest.fixture
    def servers(tmp_path: Path, s3_server: S3Server, pg_database: str) -> Iterator[list[Any]]:
        shared = {
            "database_url": pg_database,
            "redis_url": REDIS_URL,
            "storage_url": s3_server.storage_url(f"scale-{uuid.uuid4().hex[:8]}"),
            "secret_key": "shared by every replica",
            "lease_s": "3",
            "sweep_interval_s": "1",
            "transcode_workers": "1",
            "argon2_time_cost": "1",
            "argon2_memory_kib": "1024",
            "argon2_parallelism": "1",
            "metrics_token": METRICS_TOKEN,
            "rate_limits": "false",  # Redis keeps counts from run to run; limits are tested apart
        }
        pair = [ServerProcess(tmp_path / name, **shared) for name in ("a", "b")]
        try:
            for server in pair:
                server.start()
            yield pair
        finally:
            for server in pair:
                server.stop()

    async def account(http: httpx.AsyncClient, url: str, name: str) -> tuple[str, str, str]:
        handle = f"{name}{uuid.uuid4().hex[:6]}"
        r = await http.post(
            f"{url}/api/v1/auth/register",
            json={"handle": handle, "display_name": name, "password": "a long password"},
        )
        body = r.json()
        await http.patch(  # so a colleague may add them by handle
            f"{url}/api/v1/me",
            headers={"Authorization": f"Bearer {body['token']}"},
            json={"who_can_add_me": "anyone"},
        )
        return handle, body["token"], body["user"]["id"]

    @pytest.fixture
    async def scene(servers: list[Any]) -> AsyncIterator[dict[str, Any]]:
        """Amy on process A, Ben on process B, one group, both websockets live."""
        a, b = servers
        async with httpx.AsyncClient(timeout=30) as http:
            _, amy, _ = await account(http, a.url, "amy")
            ben_handle, ben, _ = await account(http, b.url, "ben")
            auth = {"Authorization": f"Bearer {amy}"}
            gid = (
                await http.post(f"{a.url}/api/v1/groups", headers=auth, json={"name": "G"})
            ).json()["id"]
            r = await http.post(
                f"{a.url}/api/v1/groups/{gid}/members", headers=auth, json={"handle": ben_handle}
            )
            assert r.status_code == 201
            sockets = [await live_socket(a, amy), await live_socket(b, ben)]
            yield {"http": http, "gid": gid, "amy": amy, "ben": ben, "sockets": sockets}
            for ws in sockets:
                await ws.close()

    async def live_socket(server: Any, token: str) -> ClientConnection:
        # No client keepalive: on a loaded CI machine a 20 s ping timeout is not what
        # this test is about (the servers' own pings still run).
        url = f"{server.url.replace('http', 'ws')}/api/v1/ws?token={token}"
        ws = await connect(url, ping_interval=None)
        await ws.send('{"type":"sync","cursors":{}}')
        await ws.send('{"type":"ping"}')
        while json.loads(await ws.recv())["type"] != "pong":
            pass
        return ws

    async def until_ready(ws: ClientConnection, message_id: str) -> list[str]:
        """The statuses this socket saw for the message, up to `ready`."""
        seen = []
        while not seen or seen[-1] != "ready":
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if frame.get("data", {}).get("id") == message_id:
                seen.append(frame["data"]["voice"]["status"])
        return seen

    async def conversions(http: httpx.AsyncClient, server: Any) -> float:
        metrics = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        text = (await http.get(f"{server.url}/metrics", headers=metrics)).text
        return sample(text, "earshot_processing_seconds_count", result="ready")

    async def upload(scene: dict[str, Any], server: Any, memo: Path) -> str:
        with memo.open("rb") as f:
            r = await scene["http"].post(
                f"{server.url}/api/v1/groups/{scene['gid']}/voice",
                headers={"Authorization": f"Bearer {scene['amy']}"},
                files={"file": (memo.name, f)},
            )
        assert r.status_code == 202, r.text
        return str(r.json()["id"])

    async def test_a_memo_is_converted_once_and_heard_and_played_through_both(
        servers: list[Any], scene: dict[str, Any], samples: Path
    ) -> None:
        a, b = servers
        http = scene["http"]
        mid = await upload(scene, a, audio_samples.client_file(samples, "iphone_m4a"))
        for ws in scene["sockets"]:  # Amy's socket is on A, Ben's on B
            assert await until_ready(ws, mid) == ["processing", "ready"]
        assert await conversions(http, a) + await conversions(http, b) == 1
        ben = {"Authorization": f"Bearer {scene['ben']}"}
        message = (await http.get(f"{b.url}/api/v1/messages/{mid}", headers=ben)).json()
        audio = await http.get(b.url + message["voice"]["audio_url"])
        assert audio.status_code == 200 and audio.content.startswith(b"OggS")
        assert len(audio.content) == message["voice"]["size_bytes"]
        for server in servers:
            checks = (await http.get(f"{server.url}/readyz")).json()["checks"]
            assert checks == {"database": "ok", "broker": "ok", "storage": "ok"}

    async def test_a_process_killed_mid_conversion_leaves_the_memo_to_the_other(
        servers: list[Any], scene: dict[str, Any], samples: Path
    ) -> None:
        a, b = servers
        # Made off the event loop: the open sockets must keep answering the servers' pings
        # while ffmpeg encodes minutes of speech on a loaded machine. (Converting it takes
        # A several seconds: it is still at it half a second after the upload.)
        speech = await asyncio.to_thread(audio_samples.speech_of_length, samples, 150)
        long_memo = await asyncio.to_thread(
            audio_samples.client_file, samples, "iphone_m4a", speech
        )
        mid = await upload(scene, a, long_memo)
        await asyncio.sleep(0.5)  # A has taken it and ffmpeg is running
        a.kill()
        ben_ws = scene["sockets"][1]
        assert await until_ready(ben_ws, mid) == ["processing", "ready"]
        assert await conversions(scene["http"], b) == 1

    async def test_removal_on_one_process_cuts_off_a_live_sender_on_the_other(
        servers: list[Any], scene: dict[str, Any], samples: Path
    ) -> None:
        a, _ = servers
        amy_ws, ben_ws = scene["sockets"]  # Amy listens on A; Ben speaks through B
        recording = audio_samples.client_file(samples, "chrome_webm").read_bytes()
        await ben_ws.send(
            json.dumps({"type": "live.start", "group_id": scene["gid"], "mime": "audio/webm"})
        )
        while (frame := json.loads(await ben_ws.recv()))["type"] != "live.started":
            pass
        mid = frame["message_id"]
        await ben_ws.send(recording[:20_000])
        heard = 0
        while heard < 20_000:  # Amy hears the first part on A
            raw = await asyncio.wait_for(amy_ws.recv(), 10)
            if isinstance(raw, bytes):
                heard += len(raw) - 24
        auth = {"Authorization": f"Bearer {scene['amy']}"}
        ben_id = (
            await scene["http"].get(
                f"{a.url}/api/v1/me", headers={"Authorization": f"Bearer {scene['ben']}"}
            )
        ).json()["id"]
        r = await scene["http"].delete(
            f"{a.url}/api/v1/groups/{scene['gid']}/members/{ben_id}", headers=auth
        )
        assert r.status_code == 204
        codes = []
        while "live.ended" not in codes:  # B ends the memo it holds, told through Redis
            frame = json.loads(await asyncio.wait_for(ben_ws.recv(), 10))
            codes.append(frame.get("error", {}).get("code") or frame["type"])
        assert "not_a_member" in codes
        await ben_ws.send(recording[20_000:40_000])
        late: list[bytes] = []
        try:
            while True:
                raw = await asyncio.wait_for(amy_ws.recv(), 1.0)
                if isinstance(raw, bytes):
                    late.append(raw)
        except TimeoutError:
            pass
        assert late == [], "the removed sender's next chunk reached nobody"
        for _ in range(300):
            memo = (await scene["http"].get(f"{a.url}/api/v1/messages/{mid}", headers=auth)).json()
            if memo["voice"]["status"] not in ("live", "processing"):
                break
            await asyncio.sleep(0.1)
        assert memo["voice"]["status"] in ("ready", "failed")

    async def test_a_report_made_on_one_process_reaches_the_moderator_on_the_other(
        servers: list[Any], scene: dict[str, Any]
    ) -> None:
        a, b = servers
        amy_ws, ben_ws = scene["sockets"]  # Amy (the owner) on A, Ben (a member) on B
        http, gid = scene["http"], scene["gid"]
        amy, ben = ({"Authorization": f"Bearer {scene[who]}"} for who in ("amy", "ben"))
        said = (
            await http.post(
                f"{a.url}/api/v1/groups/{gid}/messages", headers=amy, json={"text": "x"}
            )
        ).json()
        r = await http.post(
            f"{b.url}/api/v1/messages/{said['id']}/reports", headers=ben, json={"reason": "why"}
        )
        assert r.status_code == 201, r.text
        while (frame := json.loads(await asyncio.wait_for(amy_ws.recv(), 10)))["type"] != (
            "report.created"
        ):
            pass
        assert frame["report"]["id"] == r.json()["id"] and frame["open_reports"] == 1
        seen = []
        try:
            while True:
                seen.append(json.loads(await asyncio.wait_for(ben_ws.recv(), 1.0))["type"])
        except TimeoutError:
            pass
        assert "report.created" not in seen
