"""Signing up on a district's server, which takes new accounts by invitation only: the
way the README starts one (open for the first account, then `invite`), in Chromium."""

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.process import ServerProcess
from tests.support.browser import PHONE, axe, screenshot

FAST_HASHES = {"argon2_time_cost": "1", "argon2_memory_kib": "1024", "argon2_parallelism": "1"}


@pytest.fixture
def server(tmp_path: Path) -> Any:
    """Started open for Amy's account, her group and its invite; then by invitation."""
    data = tmp_path / "data"
    first = ServerProcess(data, rate_limits="false", **FAST_HASHES).start()
    try:
        body = {"handle": "amy", "display_name": "Amy Owner", "password": "correct horse"}
        token = httpx.post(f"{first.url}/api/v1/auth/register", json=body).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        group = httpx.post(
            f"{first.url}/api/v1/groups", json={"name": "Math coaches"}, headers=auth
        )
        gid = group.json()["id"]
        invite = httpx.post(f"{first.url}/api/v1/groups/{gid}/invites", json={}, headers=auth)
        code = invite.json()["code"]
    finally:
        first.stop()
    process = ServerProcess(data, rate_limits="false", registration="invite", **FAST_HASHES)
    process.start()
    process.invite_code = code  # type: ignore[attr-defined]
    yield process
    process.stop()


async def test_by_invitation_only_the_invite_link_leads_to_an_account(
    person: Any, server: Any
) -> None:
    ben = await person(PHONE, bypass_csp=True)
    await ben.goto("/#/signup")
    await expect(ben.get_by_text("Accounts on this Earshot are by invitation")).to_be_visible()
    await expect(ben.get_by_label("Handle")).to_have_count(0)
    await screenshot(ben, "signup-by-invitation")
    assert await axe(ben) == []

    await ben.goto(f"/#/join/{server.invite_code}")
    await ben.get_by_label("Handle").fill("ben")
    await ben.get_by_label("Your name").fill("Ben Coach")
    await ben.get_by_label("Password").fill("correct horse battery")
    await ben.get_by_role("button", name="Create account").click()
    await expect(ben.get_by_role("heading", name="Math coaches")).to_be_visible()
    await expect(ben.get_by_text("2 members")).to_be_visible()
