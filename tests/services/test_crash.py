"""A server killed while memos are processing loses none of them."""

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests import audio_samples
from tests.process import ServerProcess

MEMO_S = 20  # four of them: one converting at the kill, the rest queued behind it


def _upload(client: httpx.Client, token: str, gid: str, path: Path) -> dict:
    with path.open("rb") as f:
        r = client.post(
            f"/api/v1/groups/{gid}/voice",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": (path.name, f)},
        )
    assert r.status_code == 202, r.text
    return r.json()


def _settled(voice: dict) -> bool:
    """Converted, and transcribed (its transcription's scratch is gone too)."""
    transcript = voice.get("transcript") or {}
    return voice["status"] != "processing" and transcript.get("status") != "pending"


@pytest.mark.timeout(600)  # its own restart bound is 300 s; leave room for the rest
def test_memos_processing_at_a_sigkill_are_ready_after_restart(
    tmp_path: Path, samples: Path
) -> None:
    data = tmp_path / "data"
    memo = audio_samples.client_file(
        samples, "iphone_m4a", audio_samples.speech_of_length(samples, MEMO_S)
    )
    server = ServerProcess(data, transcode_workers="1").start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            auth = client.post(
                "/api/v1/auth/register",
                json={"handle": "amy", "display_name": "Amy", "password": "a long password"},
            ).json()
            token = auth["token"]
            gid = client.post(
                "/api/v1/groups", headers={"Authorization": f"Bearer {token}"}, json={"name": "G"}
            ).json()["id"]
            accepted = [_upload(client, token, gid, memo) for _ in range(4)]
        server.kill()
        with sqlite3.connect(data / "earshot.db") as db:
            statuses = [row[0] for row in db.execute("SELECT voice_status FROM messages")]
        assert statuses.count("processing") >= 1, "the kill came while memos were processing"

        server = ServerProcess(data).start()
        deadline = time.monotonic() + 300  # a liveness bound, generous for a loaded machine
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while True:
                page = client.get(
                    f"/api/v1/groups/{gid}/messages", headers={"Authorization": f"Bearer {token}"}
                ).json()["messages"]
                if all(_settled(m["voice"]) for m in page):
                    break
                assert time.monotonic() < deadline, "memos were not processed after restart"
                time.sleep(0.5)
        assert sorted(m["id"] for m in page) == sorted(m["id"] for m in accepted)
        for message in page:
            assert message["voice"]["status"] == "ready", message
            assert abs(message["voice"]["duration_ms"] - MEMO_S * 1000) < 3000
            assert message["voice"]["transcript"]["status"] == "ready"
        leftovers = [p for p in (data / "tmp").rglob("*") if p.is_file()]
        assert leftovers == [], "no scratch files survive a restart"
        assert len(list((data / "tmp").iterdir())) == 1, "the dead process's scratch is gone"
    finally:
        server.stop()
