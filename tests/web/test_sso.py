"""District sign-in in Chromium: "Sign in with ‹provider›" on the sign-in screen, the
real provider's login page (panva's oidc-provider on loopback), and back, signed in,
with no code or token left in the address; then linking an existing account."""

import asyncio
import json
import re
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.process import ServerProcess
from tests.support.browser import DESKTOP, PHONE, axe, screenshot
from tests.support.oidc import (  # noqa: F401 (the oidc_provider fixture)
    OidcAccount,
    OidcClient,
    OidcProvider,
    fill_sign_in,
    oidc_provider,
)

FAST_HASHES = {"argon2_time_cost": "1", "argon2_memory_kib": "1024", "argon2_parallelism": "1"}
ALICE = OidcAccount("alice-0001", "alice@district.org", "Alice Rivera")
AMY = OidcAccount("amy-0002", "amy@district.org", "Amy Owner")


@pytest.fixture
def server(tmp_path: Path, oidc_provider: Any, request: pytest.FixtureRequest) -> Any:  # noqa: F811
    """An Earshot server whose one provider is a real OpenID Connect provider (the
    `person` fixture of tests/web/conftest.py opens browsers on it)."""
    extra = getattr(request, "param", {})  # more settings, by indirect parametrization
    server = ServerProcess(tmp_path / "data", rate_limits="false", **FAST_HASHES, **extra)
    client = OidcClient(
        "earshot", secrets.token_urlsafe(16), [f"{server.url}/api/v1/auth/oidc/district/callback"]
    )
    provider: OidcProvider = oidc_provider(clients=[client], accounts=[ALICE, AMY])
    server.env["EARSHOT_PUBLIC_URL"] = server.url
    server.env["EARSHOT_OIDC_PROVIDERS"] = json.dumps(
        [
            {
                "name": "district",
                "issuer": provider.issuer,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "display_name": "District Google",
            }
        ]
    )
    server.start()
    yield server
    server.stop()


async def test_a_person_signs_in_with_the_district_provider(person: Any) -> None:
    page = await person(PHONE, bypass_csp=True)
    await page.goto("/#/login")
    button = page.get_by_role("link", name="Sign in with District Google")
    await expect(button).to_be_visible()
    box = await button.bounding_box()
    assert box is not None and box["height"] >= 44
    await screenshot(page, "sso-sign-in-phone")
    assert await axe(page) == []
    await button.click()
    await expect(page.get_by_role("heading", name="Sign in to the test provider")).to_be_visible()
    await fill_sign_in(page, ALICE)
    await expect(page.locator("#account .account-name")).to_have_text(ALICE.name)
    assert "oidc_code" not in page.url and "token" not in page.url
    await screenshot(page, "sso-signed-in-phone")
    # No password to change; deleting the account needs none (the sign-in is fresh).
    await page.get_by_role("link", name="Your account").click()
    await expect(page.get_by_text("this account has no password")).to_be_visible()
    await expect(page.get_by_role("heading", name="Change your password")).to_have_count(0)
    assert await axe(page) == []
    await screenshot(page, "sso-account-phone")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Delete my account").click()
    await expect(page.get_by_text("Your account is deleted.")).to_be_visible()
    await expect(page.get_by_role("link", name="Sign in with District Google")).to_be_visible()


async def test_an_existing_account_is_linked_with_its_password(person: Any, server: Any) -> None:
    body = {"handle": "amy", "display_name": "Amy Owner", "password": "correct horse"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.post("/api/v1/auth/register", json=body)).status_code == 201
    # Amy's address is verified at Earshot (as by the mailed link): set in the database.
    with sqlite3.connect(Path(server.env["EARSHOT_DATA_DIR"]) / "earshot.db") as db:
        db.execute(
            "UPDATE users SET email = ?, email_verified_at = CURRENT_TIMESTAMP", (AMY.email,)
        )
    page = await person(DESKTOP, bypass_csp=True)
    await page.goto("/#/login")
    await page.get_by_role("link", name="Sign in with District Google").click()
    await fill_sign_in(page, AMY)
    await expect(page.get_by_role("heading", name="Link your account")).to_be_visible()
    assert await axe(page) == []
    await screenshot(page, "sso-link-desktop")
    await page.get_by_label("Password").fill("not her password")
    await page.get_by_role("button", name="Link and sign in").click()
    await expect(page.get_by_role("alert").first).to_be_visible()
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Link and sign in").click()
    await expect(page.locator("#account .account-name")).to_have_text("Amy Owner")
    assert not re.search(r"oidc_code|token", page.url)


@pytest.mark.parametrize("server", [{"password_login": "false"}], indirect=True)
async def test_an_sso_only_server_offers_only_its_provider(person: Any) -> None:
    page = await person(PHONE, bypass_csp=True)
    await page.goto("/#/login")
    await expect(page.get_by_role("link", name="Sign in with District Google")).to_be_visible()
    await expect(page.get_by_label("Password")).to_have_count(0)
    await expect(page.get_by_role("link", name="Create an account")).to_have_count(0)
    assert await axe(page) == []
    await screenshot(page, "sso-only-phone")
    await page.get_by_role("link", name="Sign in with District Google").click()
    await fill_sign_in(page, ALICE)
    await expect(page.locator("#account .account-name")).to_have_text(ALICE.name)
