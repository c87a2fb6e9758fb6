"""`earshot serve` as a user runs it: a real process, migrations applied, API answering."""

from pathlib import Path

import httpx

from tests.process import ServerProcess


def test_serve_migrates_a_fresh_data_dir_and_answers(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        assert httpx.get(f"{server.url}/readyz").json()["status"] == "ok"
        r = httpx.post(
            f"{server.url}/api/v1/auth/register",
            json={"handle": "amy", "display_name": "Amy", "password": "a long password"},
        )
        assert r.status_code == 201
        assert httpx.get(f"{server.url}/openapi.json").json()["info"]["title"] == "Earshot"
    finally:
        server.stop()
    assert (tmp_path / "data" / "earshot.db").exists()
    assert (tmp_path / "data" / "secret.key").exists()
