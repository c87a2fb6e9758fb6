"""Operations: Prometheus metrics behind a token, request ids, JSON logs without secrets,
readiness of every dependency, and a data directory only its owner can read."""

import asyncio
import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.config import Settings
from tests import audio_samples
from tests.helpers import Api, assert_error, running
from tests.process import ServerProcess

METRICS_TOKEN = "scraper-secret-1"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": METRICS_TOKEN})


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 if absent."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head == (f"{name}{{{want}}}" if labels else name):
            return float(value)
    return 0.0


async def test_metrics_count_requests_by_route_template(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    await api.post(amy, gid, "hello")
    await api.call(amy, "GET", "/groups/not-a-real-group")
    r = await api.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert sample(text, "earshot_http_requests_total", method="POST",
                  route="/api/v1/groups/{gid}/messages", status="201") == 1  # fmt: skip
    assert sample(text, "earshot_http_requests_total", method="GET",
                  route="/api/v1/groups/{gid}", status="404") == 1  # fmt: skip
    assert gid not in text  # ids never become labels
    for name in ("earshot_websocket_connections", "earshot_processing_queue_depth",
                 "earshot_events_delivered_total", "earshot_ffmpeg_failures_total"):  # fmt: skip
        assert f"\n{name} " in text, name
    assert "earshot_processing_seconds_bucket" in text or "earshot_processing_seconds" in text


async def test_request_ids_are_kept_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "trace-42.a"})
    assert given.headers["x-request-id"] == "trace-42.a"
    made = await client.get("/healthz", headers={"X-Request-ID": "no spaces; or slashes/"})
    assert len(made.headers["x-request-id"]) == 32
    assert made.headers["x-request-id"] != (await client.get("/healthz")).headers["x-request-id"]


async def test_readyz_checks_the_blob_store(app: Any, client: httpx.AsyncClient) -> None:
    ready = (await client.get("/readyz")).json()
    assert ready["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}
    shutil.rmtree(app.state.runtime.blobs.root)  # the volume went away
    body = assert_error(await client.get("/readyz"), 503, "not_ready")
    assert body["details"]["storage"].startswith("failed")


def test_json_logs_carry_the_request_id(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = ServerProcess(tmp_path / "data", log=log, log_level="info", log_format="json").start()
    try:
        r = httpx.get(f"{server.url}/api/v1/me", headers={"X-Request-ID": "abc-123"})
        assert r.status_code == 401
    finally:
        server.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    tagged = [line for line in lines if line.get("request_id") == "abc-123"]
    assert tagged and "/api/v1/me" in tagged[0]["message"]


async def test_metrics_answer_only_the_scraper_with_the_token(api: Api) -> None:
    assert_error(await api.client.get("/metrics"), 401)
    wrong = {"Authorization": "Bearer scraper-secret-2"}
    assert_error(await api.client.get("/metrics", headers=wrong), 401)
    amy = await api.register("amy")
    assert_error(await api.client.get("/metrics", headers=amy.auth), 401)  # a user's token: no
    right = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    assert (await api.client.get("/metrics", headers=right)).status_code == 200


async def test_without_a_metrics_token_there_is_no_metrics_route(settings: Settings) -> None:
    async with running(settings.model_copy(update={"metrics_token": None})) as (app, client):
        assert_error(await client.get("/metrics"), 404)
        assert "/metrics" not in app.openapi()["paths"]


SECRET_SIG = "0123456789abcdef" * 4


def _log_of_requests_with_secrets(tmp_path: Path, log_format: str) -> tuple[str, str]:
    """A real server's log after: a websocket accepted with ?token=, one refused with a
    bad token, and a signed audio URL. Returns the log and the real token."""
    log = tmp_path / f"{log_format}.log"
    server = ServerProcess(
        tmp_path / f"data-{log_format}", log=log, log_level="info", log_format=log_format
    ).start()
    try:
        body = {"handle": "amy", "display_name": "Amy", "password": "correct horse"}
        token = httpx.post(f"{server.url}/api/v1/auth/register", json=body).json()["token"]

        async def sockets() -> None:
            ws_url = server.url.replace("http", "ws") + "/api/v1/ws"
            async with connect(f"{ws_url}?token={token}") as accepted:
                await accepted.send(json.dumps({"type": "ping"}))
                await accepted.recv()
            with pytest.raises(InvalidStatus):
                await connect(f"{ws_url}?token=refused-{token[:20]}")

        asyncio.run(sockets())
        httpx.get(f"{server.url}/api/v1/audio/some-memo", params={"exp": 1, "sig": SECRET_SIG})
    finally:
        server.stop()
    return log.read_text(), token


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_tokens_and_signatures_never_reach_the_log(tmp_path: Path, log_format: str) -> None:
    text, token = _log_of_requests_with_secrets(tmp_path, log_format)
    assert "/api/v1/ws?token=[redacted]" in text, text[-3000:]
    assert "sig=[redacted]" in text and "exp=1" in text
    for secret in (token, token[:20], SECRET_SIG):
        assert secret not in text
    if log_format == "json":
        assert all(json.loads(line) for line in text.splitlines() if line.strip())


def _modes(data: Path) -> dict[str, int]:
    return {str(p.relative_to(data)): p.stat().st_mode & 0o777 for p in [data, *data.rglob("*")]}


def test_the_data_directory_and_its_files_are_owner_only(tmp_path: Path, samples: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    try:
        body = {"handle": "amy", "display_name": "Amy", "password": "correct horse"}
        token = httpx.post(f"{server.url}/api/v1/auth/register", json=body).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        gid = httpx.post(f"{server.url}/api/v1/groups", json={"name": "g"}, headers=auth).json()
        memo = audio_samples.client_file(samples, "iphone_m4a")
        with memo.open("rb") as f:
            r = httpx.post(
                f"{server.url}/api/v1/groups/{gid['id']}/voice",
                files={"file": ("memo.m4a", f)},
                headers=auth,
                timeout=60,
            )
        assert r.status_code == 202, r.text
        for _ in range(200):  # converted: the audio blob is written
            if list((data / "blobs").rglob("audio.ogg")):
                break
            time.sleep(0.05)
        modes = _modes(data)
    finally:
        server.stop()
    assert {"earshot.db", "earshot.db-wal", "secret.key"} <= set(modes), modes
    assert any(name.endswith("audio.ogg") for name in modes)
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert loose == {}, f"readable by others: {loose}"
