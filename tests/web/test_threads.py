"""Threads in the web client: a reply shows as "1 reply" under its root, the thread view
lists them and answers in the thread, live for the others; a reply to a moment of a memo
is a mark on its waveform and a button that plays that moment."""

from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import expect

from tests import audio_samples
from tests.process import ServerProcess
from tests.support.browser import DESKTOP, PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.seed import as_, pair_with_a_memo
from tests.web.test_coach_on_a_phone import sign_in
from tests.web.test_safety import say
from tests.web.test_skip_silence import WATCH
from tests.web.test_web_client import amy_invites_ben


async def test_replies_gather_in_a_thread_that_answers_in_place(person: Any) -> None:
    amy, ben = await person(PHONE, bypass_csp=True), await person(PHONE)
    gid = await amy_invites_ben(amy, ben, "Math coaches")
    await amy.goto(f"/#/g/{gid}")
    await ben.goto(f"/#/g/{gid}")
    await say(amy, "What is your go-to warm-up?")
    root_id = (
        await ben.locator("li.message").filter(has_text="go-to warm-up").get_attribute("data-id")
    )
    root = ben.locator(f'li.message[data-id="{root_id}"]')
    await root.get_by_role("button", name="Reply to Amy Coach").click()
    await say(ben, "Number talks, every day")

    link = amy.locator(f'li.message[data-id="{root_id}"]').get_by_test_id("thread-link")
    await expect(link).to_have_text("1 reply")
    await link.click()
    await expect(amy.get_by_role("heading", name="Thread")).to_be_visible()
    rows = amy.get_by_role("list", name="Thread").locator("li.message")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(1)).to_contain_text("Number talks, every day")
    await expect(amy.get_by_label("Message text")).to_have_attribute(
        "placeholder", "Reply in the thread"
    )
    await amy.get_by_label("Message text").fill("Which ones do you like?")
    await amy.get_by_label("Message text").press("Enter")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(2)).to_contain_text("Which ones do you like?")
    await expect(root.get_by_test_id("thread-link")).to_have_text("2 replies")  # live for Ben
    await no_horizontal_overflow(amy)
    assert await axe(amy) == []
    await screenshot(amy, "thread-phone", full_page=False)

    await ben.goto(f"/#/g/{gid}/t/{root_id}")
    ben_rows = ben.get_by_role("list", name="Thread").locator("li.message")
    await expect(ben_rows).to_have_count(3)
    await amy.get_by_label("Message text").fill("And the ones that flop?")
    await amy.get_by_label("Message text").press("Enter")
    await expect(ben_rows.nth(3)).to_contain_text("And the ones that flop?")  # live
    await ben.get_by_role("link", name="Back to the group").click()
    await expect(ben.get_by_label("Message text")).to_have_attribute(
        "placeholder", "Write a message"
    )


async def test_a_reply_to_a_moment_plays_that_moment(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    memo = audio_samples.tone_mp3(samples, 40).read_bytes()
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1", timeout=60) as api:
        amy, ben, gid, mid = await pair_with_a_memo(api, memo, sender="amy")
        for text, at in (("This bit!", 12_000), ("And the end", 36_000)):
            r = await api.post(
                f"/groups/{gid}/messages",
                headers=as_(ben),
                json={"text": text, "reply_to": mid, "reply_to_offset_ms": at},
            )
            assert r.status_code == 201, r.text

    page = await person(DESKTOP, bypass_csp=True)
    await sign_in(page, "amy")
    await page.goto(f"/#/g/{gid}")
    card = page.locator(f'li.message[data-id="{mid}"]')
    await expect(card.get_by_test_id("thread-link")).to_have_text("2 replies")
    moment = card.get_by_role("button", name="0:12, answered by Ben Coach")
    await expect(moment).to_be_visible()
    await expect(page.locator("li.message").filter(has_text="This bit!")).to_contain_text(
        "(at 0:12)"
    )
    await moment.click()
    await page.wait_for_function(
        """(id) => {
          const s = document.querySelector(`li[data-id="${id}"] [data-testid=seek]`);
          return Number(s.getAttribute('aria-valuenow')) >= 12;
        }""",
        arg=mid,
    )
    assert await axe(page) == []

    # The answered parts: 0:07-0:22 and 0:31-0:40, the part between skipped.
    await page.evaluate(WATCH)
    await card.get_by_test_id("play-answered").click()
    await page.wait_for_function("() => window.positions.some((s) => s >= 33)", timeout=40_000)
    heard = await page.evaluate("window.positions")
    assert not [s for s in heard if 23 <= s <= 30], f"the part no one answered was skipped: {heard}"
    assert min(heard) >= 7, heard
    await card.get_by_test_id("thread-link").click()
    in_thread = page.get_by_role("list", name="Thread").locator(f'li[data-id="{mid}"]')
    await expect(
        in_thread.get_by_role("button", name="0:12, answered by Ben Coach")
    ).to_be_visible()
