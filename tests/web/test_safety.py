"""The web client keeps a group safe: a member reports, a moderator resolves with a delete,
bans someone (who then cannot come back), and everyone reads the moderation log; a
person blocks another. On a phone-sized screen, checked with axe-core."""

import asyncio
import re
from typing import Any

from playwright.async_api import Page, expect

from tests.support.browser import DESKTOP, PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.test_web_client import amy_invites_ben, create_group, invite_link, sign_up


async def say(page: Page, text: str) -> None:
    await page.get_by_label("Message text").fill(text)
    await page.get_by_label("Message text").press("Enter")
    await expect(page.locator("li.message .text").filter(has_text=text)).to_be_visible()


async def accept_next_dialog(page: Page) -> None:
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))


async def test_report_delete_ban_and_the_log_on_a_phone(person: Any) -> None:
    amy, ben, eve = [await person(PHONE, bypass_csp=True) for _ in range(3)]
    await sign_up(amy, "amy", "Amy Owner")
    gid = await create_group(amy, "Instructional coaches")
    link = await invite_link(amy, gid)
    for page, handle, name in ((ben, "ben", "Ben Coach"), (eve, "eve", "Eve Troll")):
        await sign_up(page, handle, name, start=link)
        await expect(page.get_by_role("heading", name="Instructional coaches")).to_be_visible()
    await amy.goto(f"/#/g/{gid}")
    await expect(amy.get_by_text("3 members")).to_be_visible()

    secret = "Principal Quimby is hopeless and here is her evaluation"
    await say(eve, secret)
    await expect(ben.locator("li.message").filter(has_text=secret)).to_be_visible()
    said_id = await ben.locator("li.message").filter(has_text=secret).get_attribute("data-id")
    said = ben.locator(f'li[data-id="{said_id}"]')
    await said.get_by_role("button", name="Report this message from Eve Troll").click()
    dialog = ben.get_by_role("dialog", name="Report this message")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Send report").click()  # empty: asked for words
    await expect(dialog.get_by_text("Say in a few words what is wrong.")).to_be_visible()
    await dialog.get_by_label("What is wrong with it?").fill("Shares a colleague's evaluation.")
    await screenshot(ben, "safety-report-dialog", full_page=False)
    assert await axe(ben) == []
    await dialog.get_by_role("button", name="Send report").click()
    await expect(dialog).to_be_hidden()
    await expect(ben.get_by_text("The group's moderators will look at it.")).to_be_visible()

    badge = amy.get_by_role("link", name="1 open report: review")  # live, moderators only
    await expect(badge).to_be_visible()
    await expect(eve.get_by_test_id("open-reports")).to_be_hidden()
    await screenshot(amy, "safety-report-badge", full_page=False)
    await no_horizontal_overflow(amy)
    await badge.click()
    queue = amy.get_by_role("list", name="Open reports")
    await expect(queue.locator("li.report")).to_have_count(1)
    await expect(queue).to_contain_text(secret)
    await expect(queue).to_contain_text("Reported by Ben Coach: Shares a colleague's evaluation.")
    await screenshot(amy, "safety-report-queue")
    await no_horizontal_overflow(amy)
    assert await axe(amy) == []
    await accept_next_dialog(amy)
    await queue.get_by_role("button", name="Delete message").click()
    await expect(amy.get_by_text("No open reports.")).to_be_visible()
    await expect(said.locator(".deleted")).to_have_text("Message deleted")
    await expect(ben.get_by_text(secret)).to_have_count(0)

    await amy.goto(f"/#/g/{gid}/members")
    await accept_next_dialog(amy)
    await amy.get_by_role("button", name="Ban Eve Troll from the group").click()
    await expect(
        eve.get_by_text("You are no longer a member of Instructional coaches.")
    ).to_be_visible()
    bans = amy.get_by_test_id("bans")
    await expect(bans.get_by_role("button", name="Unban Eve Troll")).to_be_visible()
    await expect(amy.locator("li.member")).to_have_count(2)
    invites = amy.get_by_test_id("invites")
    await expect(
        invites.get_by_role("button", name="Revoke the invite link", exact=False)
    ).to_have_count(1)
    await amy.evaluate("window.scrollTo(0, 0)")
    await screenshot(amy, "safety-members-moderator")
    await no_horizontal_overflow(amy)
    assert await axe(amy) == []
    await eve.goto(link)
    await expect(eve.get_by_text("its moderators have banned you")).to_be_visible()

    await accept_next_dialog(amy)
    await invites.get_by_role("button", name="Revoke the invite link", exact=False).click()
    await expect(invites.get_by_text("No invite links.")).to_be_visible()

    await ben.goto(f"/#/g/{gid}/members")
    await expect(ben.get_by_role("button", name="Ban Amy Owner from the group")).to_have_count(0)
    await expect(ben.get_by_test_id("bans")).to_have_count(0)
    await ben.get_by_role("link", name="Moderation log").click()
    log = ben.get_by_role("list", name="Moderation log")
    await expect(log.locator("li > span")).to_have_text(
        [
            re.compile(r"^Amy Owner revoked an invite link of their own \(…[\w-]{4}\)$"),
            "Amy Owner banned Eve Troll",
            "Amy Owner resolved a report by deleting the message",
            "Amy Owner deleted a message by Eve Troll",
        ]
    )
    await expect(log).not_to_contain_text("Quimby")
    await expect(log).not_to_contain_text("Ben Coach")  # the reporter stays unknown
    await screenshot(ben, "safety-moderation-log")
    await no_horizontal_overflow(ben)
    assert await axe(ben) == []


async def test_blocking_someone_folds_their_messages_away(person: Any) -> None:
    amy, ben = await person(DESKTOP, bypass_csp=True), await person(DESKTOP, bypass_csp=True)
    gid = await amy_invites_ben(amy, ben, "Science coaches")
    await say(amy, "You never get anything right")

    await ben.goto(f"/#/g/{gid}/members")
    await accept_next_dialog(ben)
    await ben.get_by_role("button", name="Block Amy Coach").click()
    await expect(ben.get_by_text("You blocked Amy Coach.")).to_be_visible()
    await expect(ben.get_by_role("button", name="Unblock Amy Coach")).to_have_attribute(
        "aria-pressed", "true"
    )
    await ben.goto(f"/#/g/{gid}")
    folded = ben.get_by_test_id("blocked")
    await expect(folded).to_have_count(1)
    await expect(ben.get_by_text("You never get anything right")).to_have_count(0)
    await say(amy, "And another thing")  # live, from the websocket: folded too
    await expect(folded).to_have_count(2)
    await screenshot(ben, "safety-blocked-folded", full_page=False)
    assert await axe(ben) == []
    await folded.first.get_by_role("button", name="Show").click()
    await expect(ben.get_by_text("You never get anything right")).to_be_visible()
    await expect(folded).to_have_count(1)

    await ben.goto(f"/#/g/{gid}/members")
    await ben.get_by_role("button", name="Unblock Amy Coach").click()
    await expect(ben.get_by_role("button", name="Block Amy Coach")).to_be_visible()
    await ben.goto(f"/#/g/{gid}")
    await expect(ben.get_by_text("And another thing")).to_be_visible()
    await ben.goto(f"/#/g/{gid}/log")
    await expect(ben.get_by_text("Nothing yet.", exact=False)).to_be_visible()
    await screenshot(ben, "safety-log-empty-desktop", full_page=False)
