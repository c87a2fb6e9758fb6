"""`earshot serve` as a user runs it: a real process, migrations applied, API answering."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "EARSHOT_DATA_DIR": str(tmp_path / "data")}
    env.pop("EARSHOT_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_serve_migrates_a_fresh_data_dir_and_answers(server: str, tmp_path: Path) -> None:
    assert httpx.get(f"{server}/readyz").json()["status"] == "ok"
    r = httpx.post(
        f"{server}/api/v1/auth/register",
        json={"handle": "amy", "display_name": "Amy", "password": "a long password"},
    )
    assert r.status_code == 201
    data = tmp_path / "data"
    assert (data / "earshot.db").exists()
    assert (data / "secret.key").exists()
    assert httpx.get(f"{server}/openapi.json").json()["info"]["title"] == "Earshot"
