"""The server admin screen in Chromium: the first admin made at the command line finds
it on the account screen, sees the server's size, finds a person, disables them (their
open page is signed out, and they cannot sign in) and enables them again, and makes an
account whose link lets its person choose a password. Phone and desktop, axe-clean,
tap targets of 44 px; someone who is not an admin never gets the screen."""

from typing import Any

from playwright.async_api import Page, expect

from app.config import Settings
from tests.process import ServerProcess, earshot_admin
from tests.support.browser import DESKTOP, PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.test_coach_on_a_phone import small_targets
from tests.web.test_web_client import sign_up

REASON = "Left the district in June"


async def check(page: Page, name: str) -> None:
    await no_horizontal_overflow(page)
    assert await axe(page) == [], name
    if page.viewport_size and page.viewport_size["width"] <= 400:
        assert await small_targets(page) == [], name
    await screenshot(page, name)


async def sign_in(page: Page, handle: str, password: str) -> None:
    await page.goto("/#/login")
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_an_admin_disables_and_enables_a_person_and_makes_an_account(
    person: Any, server: ServerProcess
) -> None:
    amy, ben = await person(PHONE, bypass_csp=True), await person(PHONE)
    await sign_up(amy, "amy", "Amy Admin")
    await sign_up(ben, "ben", "Ben Coach")
    await expect(ben.get_by_label("New group name")).to_be_visible()
    settings = Settings(data_dir=server.env["EARSHOT_DATA_DIR"])
    done = await earshot_admin(settings, "promote", "amy")
    assert done.returncode == 0, done.stderr

    await ben.goto("/#/admin")  # not an admin: the groups, never the screen
    await expect(ben.get_by_label("New group name")).to_be_visible()
    await expect(ben.get_by_role("heading", name="Server admin")).to_have_count(0)

    await amy.goto("/#/account")
    await amy.reload()  # /me now says she is an admin
    await amy.get_by_role("link", name="Server admin").click()
    await expect(amy.get_by_role("heading", name="Server admin")).to_be_visible()
    await expect(amy.locator('[data-stat="accounts"]')).to_have_text("2")
    await expect(amy.locator("li.admin-user")).to_have_count(2)
    await check(amy, "admin-phone")

    await amy.get_by_label("Search accounts").fill("BE")
    await amy.get_by_role("button", name="Search", exact=True).click()
    await expect(amy.locator("li.admin-user")).to_have_count(1)
    await amy.get_by_role("button", name="Disable @ben").click()
    await amy.get_by_role("button", name="Disable", exact=True).click()  # no reason yet
    await expect(amy.get_by_text("Say why, in a few words.")).to_be_visible()
    await amy.get_by_label("Why disable @ben?").fill(REASON)
    await check(amy, "admin-disable-phone")
    await amy.get_by_role("button", name="Disable", exact=True).click()
    await expect(amy.locator("li.admin-user").get_by_text(REASON)).to_be_visible()
    await expect(amy.locator('[data-stat="disabled_accounts"]')).to_have_text("1")

    # Ben's open page loses its session (his socket is closed with 4001): sign in again...
    await expect(ben.get_by_role("heading", name="Sign in")).to_be_visible()
    await sign_in(ben, "ben", "correct horse battery")
    await expect(ben.get_by_text("An admin of this Earshot disabled your account.")).to_be_visible()

    await amy.get_by_role("button", name="Enable @ben").click()
    await expect(amy.get_by_role("button", name="Disable @ben")).to_be_visible()
    await sign_in(ben, "ben", "correct horse battery")
    await expect(ben.get_by_label("New group name")).to_be_visible()

    await amy.get_by_label("Handle").fill("cara")
    await amy.get_by_label("Name").fill("Cara Coach")
    await amy.get_by_role("button", name="Make the account").click()
    link = await amy.get_by_label("Link for @cara to set a password").input_value()
    assert link.startswith(f"{server.url}/reset-password?token=")
    await check(amy, "admin-made-phone")

    cara = await person(PHONE)
    await cara.goto(link)
    await cara.get_by_label("New password").fill("a new password of her own")
    await cara.get_by_role("button", name="Set password").click()
    await cara.get_by_role("button", name="Sign in").click()
    await sign_in(cara, "cara", "a new password of her own")
    await expect(cara.get_by_label("New group name")).to_be_visible()

    desk = await person(DESKTOP, bypass_csp=True)
    await sign_in(desk, "amy", "correct horse battery")
    await desk.goto("/#/admin")
    await expect(desk.locator('[data-stat="accounts"]')).to_have_text("3")
    await expect(desk.locator("li.admin-user")).to_have_count(3)
    await check(desk, "admin-desktop")
