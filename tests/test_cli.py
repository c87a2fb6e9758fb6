"""`earshot` as a user runs it: a real process, migrations applied, API answering; its
address from flags or EARSHOT_* settings; --version, --help, and bad options refused;
`earshot admin` on a real database."""

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from app.config import Settings
from tests.helpers import Api, assert_error
from tests.process import ServerProcess, earshot_admin


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


# `earshot admin`: a real process on the test's database (SQLite and PostgreSQL), checked
# through the API of an app on the same database.

PUBLIC_URL = "https://earshot.example.org"


async def run_admin(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return await earshot_admin(settings, *args, public_url=PUBLIC_URL)


def printed_token(done: subprocess.CompletedProcess[str]) -> str:
    """The token of the one-time link a command printed (a link on the public URL)."""
    assert done.returncode == 0, done.stderr
    link = urlsplit(done.stdout.strip().splitlines()[-1])
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{PUBLIC_URL}/reset-password"
    return parse_qs(link.query)["token"][0]


async def set_password(api: Api, token: str, password: str) -> None:
    body = {"token": token, "new_password": password}
    assert (await api.call(None, "POST", "/auth/password-reset/confirm", json=body)).is_success


async def sign_in(api: Api, handle: str, password: str) -> httpx.Response:
    return await api.call(
        None, "POST", "/auth/login", json={"handle": handle, "password": password}
    )


async def test_the_first_admin_is_made_at_the_command_line(settings: Settings, api: Api) -> None:
    """On a closed server, no password on the command line: a link to set one."""
    settings.registration = "closed"
    done = await run_admin(settings, "create-user", "Boss", "--admin", "--display-name", "Ann")
    assert done.stdout.startswith("Created @boss\t")
    token = printed_token(done)
    assert token not in done.stderr  # logged nowhere, printed once
    assert "admin action create-user-admin by cli" in done.stderr  # the audit line
    await set_password(api, token, "a good long password")
    r = await sign_in(api, "boss", "a good long password")
    assert r.status_code == 200
    me = await api.call(
        None, "GET", "/me", headers={"Authorization": f"Bearer {r.json()['token']}"}
    )
    assert (me.json()["display_name"], me.json()["is_admin"]) == ("Ann", True)
    taken = await run_admin(settings, "create-user", "boss")
    assert taken.returncode == 1 and "handle_taken" in taken.stderr
    bad = await run_admin(settings, "create-user", "no spaces please")
    assert bad.returncode == 2 and "not a valid handle" in bad.stderr
    listed = await run_admin(settings, "list-users", "--search", "BO")
    assert listed.returncode == 0
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["handle", "@boss"]
    assert listed.stdout.splitlines()[1].endswith("\tadmin")


async def test_disable_enable_promote_and_reset_at_the_command_line(
    settings: Settings, api: Api
) -> None:
    amy = await api.register("amy")
    done = await run_admin(settings, "disable", amy.handle, "--reason", "left in June")
    assert done.returncode == 0 and done.stdout.rstrip().endswith("\tdisabled"), done.stderr
    assert "left in June" not in done.stderr  # the reason is no log's business
    assert (await api.call(amy, "GET", "/me")).status_code == 401
    r = await sign_in(api, amy.handle, "correct horse")
    assert_error(r, 403, "account_disabled")
    assert (await run_admin(settings, "disable", amy.handle)).returncode == 2  # no --reason
    assert (await run_admin(settings, "enable", amy.handle)).returncode == 0
    assert (await sign_in(api, amy.handle, "correct horse")).status_code == 200
    demoted = await run_admin(settings, "demote", amy.handle)
    assert demoted.returncode == 0  # not an admin: nothing to take
    assert (await run_admin(settings, "promote", amy.handle)).returncode == 0
    last = await run_admin(settings, "demote", amy.handle)
    assert last.returncode == 1 and "last_admin" in last.stderr
    token = printed_token(await run_admin(settings, "reset-password", amy.handle))
    await set_password(api, token, "her brand new password")
    assert_error(await sign_in(api, amy.handle, "correct horse"), 401, "invalid_credentials")
    assert (await sign_in(api, amy.handle, "her brand new password")).status_code == 200
    for command in ("enable", "promote", "reset-password", "delete-user"):
        missing = await run_admin(settings, command, "nobody-here")
        assert missing.returncode == 1 and "user_not_found" in missing.stderr


async def test_delete_user_at_the_command_line_follows_the_owner_rule(
    settings: Settings, api: Api
) -> None:
    amy, ben = await api.register("amy"), await api.register("ben")
    gid = await api.group(amy, "Coaches")
    await api.add(amy, gid, ben)
    said = await api.post(ben, gid, "something ben said")
    refused = await run_admin(settings, "delete-user", amy.handle)
    assert refused.returncode == 1 and "owner_required" in refused.stderr
    assert "Coaches" in refused.stderr  # the groups to hand over
    assert (await api.call(amy, "GET", "/me")).status_code == 200
    done = await run_admin(settings, "delete-user", ben.handle)
    assert done.returncode == 0, done.stderr
    assert (await api.call(ben, "GET", "/me")).status_code == 401
    gone = await api.ok(amy, "GET", f"/messages/{said['id']}")
    assert gone["deleted"] is True and "something ben said" not in str(gone)
