"""Operations: Prometheus metrics, request ids, JSON logs and readiness of every dependency."""

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.helpers import Api, assert_error
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
