"""Your bookmarks: the list of what you kept, your note edited in place, removing one,
and the whole list downloaded as Markdown."""

from typing import Any

from playwright.async_api import expect

from tests.support.browser import PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.test_safety import say
from tests.web.test_web_client import amy_invites_ben


async def test_bookmarks_are_listed_noted_downloaded_and_removed(person: Any) -> None:
    amy, ben = await person(PHONE, bypass_csp=True), await person(PHONE)
    gid = await amy_invites_ben(amy, ben, "Math coaches")
    await ben.goto(f"/#/g/{gid}")
    await say(ben, "Start with a notice and wonder")
    await say(ben, "Then a number talk")
    await amy.goto(f"/#/g/{gid}")
    for text in ("notice and wonder", "number talk"):
        row = amy.locator("li.message").filter(has_text=text)
        await row.get_by_role("button", name="Bookmark").click()
        await expect(row.get_by_role("button", name="Bookmark")).to_have_attribute(
            "aria-pressed", "true"
        )

    await amy.goto("/#/")
    await amy.get_by_role("link", name="Your bookmarks").click()
    await expect(amy.get_by_role("heading", name="Your bookmarks")).to_be_visible()
    rows = amy.get_by_role("list", name="Your bookmarks").locator("li.bookmark")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("Then a number talk")  # newest first
    wonder = rows.filter(has_text="notice and wonder")
    await wonder.get_by_label("Your note").fill("Try on Monday with grade 3")
    await wonder.get_by_role("button", name="Save note").click()
    await expect(amy.get_by_text("Note saved.")).to_be_visible()
    await no_horizontal_overflow(amy)
    assert await axe(amy) == []
    await screenshot(amy, "bookmarks-phone", full_page=False)

    async with amy.expect_download() as waiting:
        await amy.get_by_role("button", name="Download as Markdown").click()
    download = await waiting.value
    path = await download.path()
    text = path.read_text(encoding="utf-8")
    assert "Start with a notice and wonder" in text and "Try on Monday with grade 3" in text

    await rows.filter(has_text="number talk").get_by_role("button", name="Remove").click()
    await expect(rows).to_have_count(1)
    await amy.reload()
    await expect(rows).to_have_count(1)
    await expect(rows.first.get_by_label("Your note")).to_have_value("Try on Monday with grade 3")
    await rows.first.get_by_role("link", name="Open in its group").click()
    await expect(amy.locator("li.message.highlight")).to_contain_text("notice and wonder")
