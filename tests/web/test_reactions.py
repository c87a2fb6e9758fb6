"""Reactions and bookmarks in the web client: the quick reactions under each message,
counts that change live for everyone, your own highlighted, and a bookmark toggle. On a
phone-sized screen, checked with axe-core."""

from typing import Any

from playwright.async_api import expect

from tests.support.browser import PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.test_safety import say
from tests.web.test_web_client import amy_invites_ben


async def test_reactions_toggle_and_update_live_and_bookmarks_toggle(person: Any) -> None:
    amy, ben = await person(PHONE, bypass_csp=True), await person(PHONE, bypass_csp=True)
    gid = await amy_invites_ben(amy, ben, "Math coaches")
    await amy.goto(f"/#/g/{gid}")
    await say(amy, "Try a number talk before the lesson")
    amy_row = amy.locator("li.message").filter(has_text="number talk")
    ben_row = ben.locator("li.message").filter(has_text="number talk")
    await expect(ben_row).to_be_visible()

    thumbs = ben_row.get_by_role("button", name="thumbs up, 0 reactions")
    await thumbs.click()
    pressed = ben_row.get_by_role("button", name="thumbs up, 1 reaction")
    await expect(pressed).to_have_attribute("aria-pressed", "true")
    seen_by_amy = amy_row.get_by_role("button", name="thumbs up, 1 reaction")  # live
    await expect(seen_by_amy).to_have_attribute("aria-pressed", "false")
    await seen_by_amy.click()
    await expect(amy_row.get_by_role("button", name="thumbs up, 2 reactions")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(ben_row.get_by_role("button", name="thumbs up, 2 reactions")).to_have_attribute(
        "aria-pressed", "true"
    )
    await ben_row.get_by_role("button", name="idea, 0 reactions").click()
    await expect(amy_row.get_by_role("button", name="idea, 1 reaction")).to_be_visible()

    save = ben_row.get_by_role("button", name="Bookmark")
    await save.click()
    await expect(save).to_have_attribute("aria-pressed", "true")
    await expect(amy_row.get_by_role("button", name="Bookmark")).to_have_attribute(
        "aria-pressed", "false"
    )  # private
    await screenshot(ben, "reactions-phone", full_page=False)
    await no_horizontal_overflow(ben)
    assert await axe(ben) == []

    await ben_row.get_by_role("button", name="thumbs up, 2 reactions").click()  # take it back
    await expect(amy_row.get_by_role("button", name="thumbs up, 1 reaction")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(ben_row.get_by_role("button", name="thumbs up, 1 reaction")).to_have_attribute(
        "aria-pressed", "false"
    )
    await ben.reload()  # what the server kept
    await expect(ben_row.get_by_role("button", name="Bookmark")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(ben_row.get_by_role("button", name="idea, 1 reaction")).to_have_attribute(
        "aria-pressed", "true"
    )
    await save.click()
    await expect(save).to_have_attribute("aria-pressed", "false")
