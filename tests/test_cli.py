"""`earshot` as a user runs it: a real process, migrations applied, API answering; its
address from flags or EARSHOT_* settings; --version, --help, and bad options refused."""

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import httpx

from tests.process import ServerProcess


def earshot(*args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"EARSHOT_DATA_DIR": str(data_dir)} if data_dir else {}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PATH": "/usr/bin:/bin"},
    )


def test_serve_migrates_a_fresh_data_dir_and_answers(tmp_path: Path) -> None:
    # --host and --port win over EARSHOT_HOST and EARSHOT_PORT (here pointing elsewhere)
    server = ServerProcess(tmp_path / "data", host="127.0.0.1", port="1").start()
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


def test_serve_listens_where_earshot_host_and_port_say(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", host="127.0.0.2", address_in_env=True).start()
    try:
        assert server.url.startswith("http://127.0.0.2:")
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        try:
            httpx.get(f"http://127.0.0.1:{server.port}/healthz")
            raise AssertionError("it listens on 127.0.0.1 as well")
        except httpx.ConnectError:
            pass
    finally:
        server.stop()


def test_version_is_the_installed_package_version() -> None:
    done = earshot("--version")
    assert (done.returncode, done.stdout) == (0, f"earshot {version('earshot')}\n")


def test_serve_help_shows_defaults_and_where_settings_come_from() -> None:
    done = earshot("serve", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())  # argparse wraps lines
    assert "$EARSHOT_HOST, else 127.0.0.1" in text
    assert "$EARSHOT_PORT, else 8000" in text
    assert "(default: info)" in text
    assert "EARSHOT_* environment variables" in text


def test_an_unknown_log_level_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    done = earshot("serve", "--log-level", "bogus", data_dir=tmp_path / "data")
    assert done.returncode == 2
    assert "invalid choice: 'bogus'" in done.stderr
    assert "critical" in done.stderr and "debug" in done.stderr  # it says what is allowed
    assert not (tmp_path / "data").exists()  # nothing migrated, nothing created
