"""A group of 2,000 messages on a phone (issue 17): the timeline builds only the rows
near the screen, however far back one reads, keeps the reader's place as earlier pages
come in, and an arriving message adds one row without rebuilding the others. Structure
is asserted, never time."""

from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Locator, Page, expect

from tests.process import ServerProcess
from tests.web.seed import as_, post_text, seed_group
from tests.web.test_coach_on_a_phone import open_seeded_group

MAX_ROWS = 150  # app/web/js/screens/timeline.js


async def first_id(rows: Locator) -> str | None:
    return await rows.first.get_attribute("data-id")


async def top_of(page: Page, message_id: str) -> float:
    """Where a row is once it stays put for a frame: rows scrolled into view get their
    real heights a frame or two later, later still on a loaded machine."""
    return await page.evaluate(
        """async (id) => {
        const row = document.querySelector(`li[data-id="${id}"]`);
        const frame = () => new Promise((done) => requestAnimationFrame(() => done()));
        let last = null;
        for (let i = 0; i < 100; i++) {
          await frame();
          const top = row.getBoundingClientRect().top;
          if (top === last) return top;
          last = top;
        }
        return last;
    }""",
        message_id,
    )


async def test_a_2000_message_group_builds_only_the_rows_near_the_screen(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    seeded = await seed_group(server.url, samples, messages=2000, memos=0)
    amy = await open_seeded_group(person)
    rows = amy.locator("li.message")
    scroller = amy.get_by_test_id("timeline-scroller")
    earlier = amy.get_by_role("button", name="Load earlier messages")
    await expect(rows).to_have_count(20)

    built: list[int] = []
    pages = 1
    while pages < 10:  # read back through 500 messages
        oldest = await first_id(rows)
        await scroller.evaluate("(el) => el.scrollTo(0, 0)")
        if await earlier.is_visible():
            assert oldest
            before = await top_of(amy, oldest)
            await earlier.evaluate("(button) => button.click()")  # as is: no scrolling to it
            pages += 1
            await expect(rows.first).not_to_have_attribute("data-id", oldest)
            moved = await top_of(amy, oldest) - before
            assert abs(moved) <= 2, f"page {pages}: the message read moved {moved:.0f}px"
        else:  # rows loaded already are built as the top comes near
            await expect(rows.first).not_to_have_attribute("data-id", oldest or "")
        built.append(await rows.count())
    assert max(built) == MAX_ROWS, built  # reading back dropped the newest rows
    assert await amy.evaluate("document.getElementsByTagName('*').length") < 6000
    await expect(amy.get_by_test_id("newer")).to_have_count(1)

    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1", timeout=30) as api:
        r = await api.get(f"/groups/{seeded.group_id}/messages?limit=1", headers=as_(seeded.amy))
        newest = r.json()["messages"][-1]["id"]
    newer = amy.get_by_test_id("newer")
    for _ in range(40):  # back down: the newest are built again, the oldest dropped
        if not await newer.count():
            break
        last = await rows.last.get_attribute("data-id")
        await scroller.evaluate("(el) => el.scrollTo(0, el.scrollHeight)")
        await expect(rows.last).not_to_have_attribute("data-id", last or "")
        assert await rows.count() <= MAX_ROWS
    await expect(rows.last).to_have_attribute("data-id", newest)
    await scroller.evaluate("(el) => el.scrollTo(0, el.scrollHeight)")

    # An arrival adds its row; the others stay the very same elements.
    await amy.evaluate(
        """() => {
        const list = document.querySelector('ol.timeline');
        window.kept = [...list.querySelectorAll('li.message')].slice(-20);
        window.changes = {added: 0, removed: 0};
        new MutationObserver((records) => { for (const r of records) {
          window.changes.added += r.addedNodes.length;
          window.changes.removed += r.removedNodes.length; } })
          .observe(list, {childList: true});
    }"""
    )
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1", timeout=30) as api:
        await post_text(api, seeded.ben, seeded.group_id, "Fresh news from the district")
    arrived = amy.locator("li.message").filter(has_text="Fresh news from the district")
    await expect(arrived).to_be_in_viewport()
    changes = await amy.evaluate("window.changes")
    assert changes["added"] == 1 and changes["removed"] <= 1, changes  # the oldest may go
    assert await amy.evaluate("window.kept.every((row) => row.isConnected)")
    assert await rows.count() <= MAX_ROWS
