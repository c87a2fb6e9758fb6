"""The pages mailed links open: confirming an address and choosing a new password, with
real mail (aiosmtpd) from a real server process, in Chromium on a phone and a desktop."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.process import ServerProcess
from tests.support.browser import DESKTOP, PHONE, axe, no_horizontal_overflow, screenshot
from tests.support.smtp import SmtpServer, running_smtp


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with running_smtp(tmp_path) as server:
        yield server


@pytest.fixture
def server(tmp_path: Path, smtp: SmtpServer) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path / "data",
        argon2_time_cost="1",
        argon2_memory_kib="1024",
        argon2_parallelism="1",
        rate_limits="false",
        smtp_url=smtp.url,
        mail_from="Earshot <earshot@example.org>",
        outbox_retry_s="0.2",
    )
    process.env["EARSHOT_PUBLIC_URL"] = process.url  # the links lead back here
    process.start()
    yield process
    process.stop()


def mailed_link(smtp: SmtpServer, index: int, path: str, base: str) -> str:
    """The one link of the `index`th mail, which leads to `path` on this server."""
    [link] = re.findall(r"http://\S+", smtp.messages[index].text)
    assert link.startswith(f"{base}{path}?token="), link
    return link


async def test_a_mailed_link_confirms_the_address_then_resets_the_password(
    person: Any, server: ServerProcess, smtp: SmtpServer
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        body = {"handle": "amy", "display_name": "Amy Rivera", "password": "correct horse"}
        r = await client.post("/api/v1/auth/register", json={**body, "email": "amy@example.org"})
        assert r.status_code == 201, r.text
        await smtp.wait_for(1)
        verify = mailed_link(smtp, 0, "/verify-email", server.url)

        phone = await person(PHONE, bypass_csp=True)
        await phone.goto(verify)
        await expect(phone.get_by_role("heading", name="Your address is confirmed")).to_be_visible()
        await expect(phone.get_by_text("amy@example.org")).to_be_visible()
        assert "token" not in phone.url, "the token leaves the address bar"
        await screenshot(phone, "mailed-link-verified")
        assert await axe(phone) == []
        await no_horizontal_overflow(phone)

        again = await person(PHONE, bypass_csp=True)  # the same link, used already
        await again.goto(verify)
        await expect(
            again.get_by_role("heading", name="We couldn't confirm your address")
        ).to_be_visible()
        await expect(again.get_by_role("alert").filter(has_text="used already")).to_be_visible()
        await again.get_by_role("button", name="Continue to Earshot").click()
        await expect(again.get_by_role("heading", name="Sign in")).to_be_visible()

        r = await client.post("/api/v1/auth/password-reset", json={"login": "amy"})
        assert r.status_code == 202
        await smtp.wait_for(2)
        reset = mailed_link(smtp, 1, "/reset-password", server.url)

    desktop = await person(DESKTOP, bypass_csp=True)
    await desktop.goto(reset)
    await expect(desktop.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert "token" not in desktop.url
    password = desktop.get_by_label("New password")
    await password.fill("amy-is-great")  # holds the handle: refused by the server
    await desktop.get_by_role("button", name="Set password").click()
    await expect(desktop.get_by_text("Don't put your handle in your password.")).to_be_visible()
    await expect(password).to_have_attribute("aria-invalid", "true")
    await screenshot(desktop, "mailed-link-reset-refused")
    assert await axe(desktop) == []
    await password.fill("maple syrup on snow")
    await desktop.get_by_role("button", name="Set password").click()
    await expect(desktop.get_by_role("heading", name="Your password is set")).to_be_visible()
    await desktop.get_by_role("button", name="Sign in").click()
    await desktop.get_by_label("Handle").fill("amy")
    await desktop.get_by_label("Password").fill("maple syrup on snow")
    await desktop.get_by_role("button", name="Sign in").click()
    await expect(desktop.get_by_role("link", name="Your account: Amy Rivera")).to_be_visible()
