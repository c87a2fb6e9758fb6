""" "Catch up" (issue 18): a coach in the car hears every unheard memo of every group,
oldest first, from the groups screen, with the group named on the lock screen (the
Media Session), Next and Stop; receipts are marked as each plays."""

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Route, expect

from tests import audio_samples
from tests.process import ServerProcess
from tests.support.browser import DESKTOP, PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.seed import Coach, as_, register, statuses, upload
from tests.web.test_coach_on_a_phone import api_get, sign_in


async def two_groups_three_memos(base_url: str, samples: Path) -> tuple[Coach, list[str]]:
    """Ben's memos, oldest first, to Amy in "Math coaches", "Chess club", "Math coaches"."""
    memo = audio_samples.tone_mp3(samples, 1).read_bytes()
    async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", timeout=60) as api:
        amy = await register(api, "amy", "Amy Coach")
        ben = await register(api, "ben", "Ben Coach")
        await api.patch("/me", headers=as_(ben), json={"who_can_add_me": "anyone"})
        gids = {}
        for name in ("Math coaches", "Chess club"):
            r = await api.post("/groups", headers=as_(amy), json={"name": name})
            gids[name] = r.json()["id"]
            r = await api.post(
                f"/groups/{gids[name]}/members", headers=as_(amy), json={"handle": "ben"}
            )
            assert r.status_code == 201, r.text
        order = ["Math coaches", "Chess club", "Math coaches"]
        ids = [(await upload(api, ben, gids[name], memo))["id"] for name in order]
        for _ in range(400):
            if [await statuses(api, amy, gid) for gid in gids.values()] == [{"ready"}] * 2:
                return amy, ids
            await asyncio.sleep(0.25)
        raise AssertionError("memos not ready")


def held(release: asyncio.Event) -> Any:
    """A route handler that lets a memo's audio through only once `release` is set."""

    async def hold(route: Route) -> None:
        await release.wait()
        try:
            await route.continue_()
        except PlaywrightError:
            pass  # the player let go of it meanwhile (Stop)

    return hold


async def artist(page: Page, name: str) -> None:
    await page.wait_for_function(
        "(name) => navigator.mediaSession.metadata?.artist === name", arg=name
    )
    assert await page.evaluate("navigator.mediaSession.metadata.title") == "Ben Coach"


async def test_catch_up_plays_every_group_s_unheard_memos_oldest_first(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    amy, ids = await two_groups_three_memos(server.url, samples)
    page: Page = await person(PHONE, bypass_csp=True)
    await page.add_init_script("localStorage.setItem('earshot.speed', '2')")
    # The second and third memos' audio waits for the test: what plays then stays put.
    second, third = asyncio.Event(), asyncio.Event()
    for mid, release in ((ids[1], second), (ids[2], third)):
        await page.context.route(re.compile(f"/api/v1/audio/{mid}"), held(release))
    await sign_in(page, "amy")
    start = page.get_by_role("button", name="Catch up (3)")
    await expect(start).to_be_visible(timeout=15_000)
    assert await axe(page) == []
    await screenshot(page, "catch-up-start-phone", full_page=False)
    await page.set_viewport_size(DESKTOP)
    await no_horizontal_overflow(page)
    await screenshot(page, "catch-up-start-desktop", full_page=False)
    await page.set_viewport_size(PHONE)

    await start.click()
    panel = page.get_by_role("region", name="Now playing")
    # The first memo played (Math coaches), the second (Chess club) is loading.
    await artist(page, "Chess club")
    await expect(panel).to_contain_text("Playing Ben Coach")
    await expect(panel).to_contain_text("in Chess club · 1 more")
    await expect(start).to_be_hidden()
    await expect(panel.get_by_role("button", name="Stop")).to_be_focused()
    await no_horizontal_overflow(page)
    assert await axe(page) == []
    await screenshot(page, "catch-up-phone", full_page=False)

    second.set()
    await artist(page, "Math coaches")  # the third, back in the first group
    await expect(panel).to_contain_text("in Math coaches")
    await expect(panel.get_by_role("button", name="Next")).to_be_hidden()  # the last one
    await panel.get_by_role("button", name="Stop").click()
    await expect(panel).to_be_hidden()
    await expect(page.get_by_test_id("catch-up")).to_be_focused()
    assert await page.evaluate("navigator.mediaSession.metadata") is None
    third.set()
    await expect(page.get_by_role("button", name="Catch up (1)")).to_be_visible(timeout=15_000)

    async def heard(mid: str) -> list[str]:
        body = await api_get(server, amy.token, f"/messages/{mid}/receipts")
        return [r["listened_at"] for r in body["receipts"]]

    assert [len(await heard(mid)) for mid in ids] == [1, 1, 0]  # stopped before the third

    await page.get_by_role("button", name="Catch up (1)").click()
    await expect(page.get_by_test_id("catch-up")).to_be_hidden()
    await expect(panel).to_be_hidden(timeout=15_000)  # played to the end
    times = [(await heard(mid))[0] for mid in ids]
    assert times == sorted(times)
    left = await api_get(server, amy.token, "/me/unheard")
    assert left == {"items": [], "has_more": False}
