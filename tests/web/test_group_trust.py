"""The group's visible trust agreement in the web client, on a phone-sized screen: the
norms a new member sees with the group's rules beside them (dismissed once, reachable
from the group's settings), and messages pinned at the top of the group. Checked with
axe-core."""

from typing import Any

from playwright.async_api import Page, expect

from tests.support.browser import PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.test_safety import say
from tests.web.test_web_client import create_group, invite_link, sign_up

# Whether the element is in the viewport and nothing (the sticky composer) covers it.
UNCOVERED = """selector => {
  const el = document.querySelector(selector);
  if (!el) return false;
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= innerHeight
    && document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === el;
}"""
NORMS = "Tag a vox if you are responding to them.\nMove side conversations to side voxes."


async def amy_sets_norms_then_invites_ben(amy: Page, ben: Page, said: int = 0) -> str:
    """Amy makes a group, says `said` things in it, writes its norms and lets the owner
    export it; Ben joins through her invite link. The group's id."""
    await sign_up(amy, "amy", "Amy Coach")
    gid = await create_group(amy, "Math coaches")
    for i in range(said):
        await say(amy, f"Earlier talk {i}")
    await amy.get_by_role("link", name="Group settings").click()
    await amy.get_by_label("Group norms").fill(NORMS)
    await amy.get_by_label("Who can export this group").select_option("owner")
    await amy.get_by_role("button", name="Save changes").click()
    panel = amy.get_by_test_id("trust-panel")
    await expect(panel.get_by_test_id("norms")).to_have_text(NORMS)  # shown to her at once
    await expect(amy.get_by_role("region", name="Export this group")).to_be_visible()
    link = await invite_link(amy, gid)
    await sign_up(ben, "ben", "Ben Coach", start=link)
    await expect(ben.get_by_role("heading", name="Math coaches")).to_be_visible()
    return gid


async def test_a_new_member_sees_the_norms_and_rules_once_and_finds_them_later(
    person: Any,
) -> None:
    amy, ben = await person(PHONE, bypass_csp=True), await person(PHONE, bypass_csp=True)
    gid = await amy_sets_norms_then_invites_ben(amy, ben, said=12)
    panel = ben.get_by_test_id("trust-panel")
    await ben.wait_for_function(UNCOVERED, arg="[data-testid=trust-panel] button")  # in sight
    await expect(ben.locator("li.message").filter(has_text="Earlier talk 11")).to_be_visible()
    await expect(panel.get_by_test_id("norms")).to_have_text(NORMS)
    rules = panel.get_by_test_id("group-rules")
    await expect(rules.locator("[data-rule=retention]")).to_have_text(
        "Messages are kept until someone deletes them."
    )
    await expect(rules.locator("[data-rule=transcripts]")).to_contain_text("are transcribed")
    await expect(rules.locator("[data-rule=export]")).to_have_text(
        "The group's owner can export its messages, transcripts and voice memos."
    )
    await screenshot(ben, "trust-panel-phone", full_page=False)
    await no_horizontal_overflow(ben)
    assert await axe(ben) == []
    await expect(amy.get_by_test_id("trust-panel")).to_have_count(0)  # Amy: owner, in the group

    # Amy, the owner, exports the group (this month), then turns exports off: Ben's
    # panel says so at once.
    await amy.goto(f"/#/g/{gid}/settings")
    card = amy.get_by_role("region", name="Export this group")
    await card.get_by_role("button", name="Prepare the export").click()
    await expect(card.get_by_test_id("export-status")).to_contain_text(
        "Your copy is ready", timeout=60_000
    )
    async with amy.expect_download() as downloading:
        await card.get_by_role("button", name="Download the export").click()
    assert (await downloading.value).suggested_filename == "earshot-Math-coaches.zip"
    await no_horizontal_overflow(amy)
    assert await axe(amy) == []
    await amy.get_by_label("Who can export this group").select_option("nobody")
    await amy.get_by_role("button", name="Save changes").click()
    await expect(rules.locator("[data-rule=export]")).to_have_text("Nobody can export this group.")
    await expect(amy.get_by_role("region", name="Export this group")).to_have_count(0)

    await panel.get_by_role("button", name="Got it").click()
    await expect(panel).to_have_count(0)
    await ben.reload()
    await expect(ben.get_by_role("heading", name="Math coaches")).to_be_visible()
    await expect(ben.get_by_test_id("trust-panel")).to_have_count(0)  # dismissed for good

    await ben.get_by_role("link", name="Group settings").click()
    later = ben.get_by_test_id("trust-panel")
    await expect(later.get_by_test_id("norms")).to_have_text(NORMS)
    await expect(ben.get_by_label("Group norms")).to_be_disabled()  # members read them
    await expect(ben.get_by_label("Who can export this group")).to_be_disabled()
    await no_horizontal_overflow(ben)
    assert await axe(ben) == []


async def test_moderators_pin_messages_that_everyone_sees_at_the_top(person: Any) -> None:
    amy, ben = await person(PHONE, bypass_csp=True), await person(PHONE, bypass_csp=True)
    gid = await amy_sets_norms_then_invites_ben(amy, ben)
    await ben.get_by_test_id("trust-panel").get_by_role("button", name="Got it").click()
    await amy.goto(f"/#/g/{gid}")
    await say(amy, "Our meeting link is in the calendar invite")
    for i in range(12):
        await say(amy, f"Chatter {i}")
    first = amy.locator("li.message").filter(has_text="meeting link")
    await first.get_by_role("button", name="Pin", exact=True).click()
    await expect(first.get_by_role("button", name="Unpin", exact=True)).to_be_visible()

    pins = ben.get_by_role("navigation", name="Pinned messages")
    pin = pins.get_by_role("button", name="Pinned: Amy Coach: Our meeting link", exact=False)
    await expect(pin).to_be_visible()  # live, over the websocket
    bens_row = ben.locator("li.message").filter(has_text="meeting link")
    await expect(bens_row.get_by_role("button", name="Pin", exact=True)).to_have_count(0)
    await pin.click()
    await expect(bens_row).to_have_class("message highlight")
    await expect(bens_row).to_be_in_viewport()
    await screenshot(ben, "pins-phone", full_page=False)
    await no_horizontal_overflow(ben)
    assert await axe(ben) == []

    await (
        amy.locator("li.message")
        .filter(has_text="meeting link")
        .get_by_role("button", name="Unpin", exact=True)
        .click()
    )
    await expect(pins).to_have_count(0)
    await ben.reload()
    await expect(ben.get_by_role("heading", name="Math coaches")).to_be_visible()
    await expect(ben.get_by_role("navigation", name="Pinned messages")).to_have_count(0)
