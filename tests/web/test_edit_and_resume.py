"""Editing your own text from the composer, seen live by the others as "edited"; and a
memo's listening position kept on the server, so another device resumes there."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests import audio_samples
from tests.process import ServerProcess
from tests.support.browser import PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.seed import pair_with_a_memo
from tests.web.test_coach_on_a_phone import api_get, sign_in
from tests.web.test_safety import say
from tests.web.test_web_client import amy_invites_ben


async def test_your_own_text_is_edited_and_everyone_sees_the_new_words(person: Any) -> None:
    amy, ben = await person(PHONE, bypass_csp=True), await person(PHONE)
    gid = await amy_invites_ben(amy, ben, "Math coaches")
    await amy.goto(f"/#/g/{gid}")
    await ben.goto(f"/#/g/{gid}")
    await say(amy, "We meet in room 12")
    ben_row = ben.locator("li.message").filter(has_text="We meet in room")
    await expect(ben_row).to_be_visible()
    await expect(ben_row.get_by_role("button", name="Edit your message")).to_have_count(0)

    await (
        amy.locator("li.message")
        .filter(has_text="room 12")
        .get_by_role("button", name="Edit your message")
        .click()
    )
    await expect(amy.get_by_text("Editing your message: We meet in room 12")).to_be_visible()
    box = amy.get_by_label("Message text")
    await expect(box).to_have_value("We meet in room 12")
    await expect(box).to_be_focused()
    await no_horizontal_overflow(amy)
    assert await axe(amy) == []
    await screenshot(amy, "edit-phone", full_page=False)
    await box.fill("We meet in room 14")
    await amy.get_by_role("button", name="Save", exact=True).click()

    await expect(ben_row.locator(".text")).to_have_text("We meet in room 14")  # live
    await expect(ben_row.get_by_test_id("edited")).to_be_visible()
    await expect(amy.get_by_text("Editing your message")).to_have_count(0)
    await expect(box).to_have_value("")
    await ben.reload()
    await expect(ben.locator("li.message .text").filter(has_text="room 12")).to_have_count(0)
    await expect(ben_row.get_by_test_id("edited")).to_be_visible()


SLIDER_AT = "Number(document.querySelector('[data-testid=seek]')?.getAttribute('aria-valuenow'))"


async def position_s(page: Page) -> int:
    """The seek slider's position (whole seconds) once the memo has moved off 0."""
    handle = await page.wait_for_function(
        f"() => {{ const v = {SLIDER_AT}; return v > 0 ? v : null; }}"
    )
    return int(await handle.json_value())


async def test_another_device_resumes_where_you_paused(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    memo = audio_samples.tone_mp3(samples, 30).read_bytes()
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1", timeout=60) as api:
        amy, _, gid, mid = await pair_with_a_memo(api, memo)

    phone = await person(PHONE)
    await sign_in(phone, "amy")
    await phone.goto(f"/#/g/{gid}")
    await phone.get_by_role("button", name="Play voice memo from Ben Coach").click()
    await phone.wait_for_function(f"() => {SLIDER_AT} >= 4")
    await phone.get_by_role("button", name="Pause voice memo from Ben Coach").click()
    saved = 0
    for _ in range(200):
        saved = (await api_get(server, amy.token, f"/messages/{mid}"))["my_position_ms"] or 0
        if saved >= 3000:
            break
        await asyncio.sleep(0.1)
    assert saved >= 3000, "pausing saved the place on the server"

    laptop = await person()
    await sign_in(laptop, "amy")
    await laptop.goto(f"/#/g/{gid}")
    await laptop.get_by_role("button", name="Play voice memo from Ben Coach").click()
    assert await position_s(laptop) >= saved // 1000, "it started where the phone paused"
