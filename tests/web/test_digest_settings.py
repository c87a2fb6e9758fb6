"""The catch-up email on the account screen, in Chromium on a phone and a desktop: the
choice is saved, the time zone is the browser's until another is chosen, axe-clean."""

import pytest
from playwright.async_api import Browser, expect

from tests.process import ServerProcess
from tests.support.browser import DESKTOP, PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.test_web_client import sign_up


@pytest.mark.parametrize(
    ("viewport", "zone", "choice"),
    [(PHONE, "America/Chicago", "Every morning"), (DESKTOP, "Asia/Kolkata", "Monday mornings")],
    ids=["phone", "desktop"],
)
async def test_choose_a_catch_up_email_in_the_browser_s_time_zone(
    browser: Browser, server: ServerProcess, viewport: dict[str, int], zone: str, choice: str
) -> None:
    context = await browser.new_context(
        base_url=server.url, viewport=viewport, timezone_id=zone, bypass_csp=True
    )
    try:
        page = await context.new_page()
        page.set_default_timeout(15_000)
        await sign_up(page, "amy", "Amy Digest")
        await page.get_by_role("link", name="Your account").click()
        digest = page.get_by_label("Email me what I have not heard")
        timezone = page.get_by_label("Your time zone")
        await expect(digest).to_have_value("off")
        # the browser's own name for it (Chromium calls Asia/Kolkata "Asia/Calcutta")
        zone = await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
        await expect(timezone).to_have_value(zone)
        await expect(page.get_by_text("It needs a verified email address")).to_be_visible()
        assert await axe(page) == []
        await no_horizontal_overflow(page)

        await digest.select_option(label=choice)
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page.get_by_text("Catch-up email saved.")).to_be_visible()
        await screenshot(page, f"account-digest-{viewport['width']}")
        assert await axe(page) == []

        await page.reload()
        await page.get_by_role("link", name="Your account").click()
        await expect(digest).to_have_value("daily" if choice == "Every morning" else "weekly")
        await expect(timezone).to_have_value(zone)
        await timezone.select_option("Europe/Berlin")
        await digest.select_option("off")
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page.get_by_text("No catch-up email.")).to_be_visible()
        await page.reload()
        await page.get_by_role("link", name="Your account").click()
        await expect(timezone).to_have_value("Europe/Berlin")
        await expect(digest).to_have_value("off")
    finally:
        await context.close()
