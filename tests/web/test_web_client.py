"""The web client in real Chromium: two people, a live memo, playback, receipts, members."""

import asyncio
from typing import Any

from playwright.async_api import Page, WebSocketRoute, expect

from tests.web.conftest import screenshot


async def sign_up(page: Page, handle: str, name: str, start: str = "/#/signup") -> None:
    await page.goto(start)
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Create account").click()


async def create_group(page: Page, name: str) -> str:
    await page.get_by_label("New group name").fill(name)
    await page.get_by_role("button", name="Create group").click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()
    return page.url.split("#/g/")[1]


async def invite_link(page: Page, group_id: str) -> str:
    await page.goto(f"/#/g/{group_id}/members")
    await page.get_by_role("button", name="Create invite link").click()
    link = page.get_by_test_id("invite-link").get_by_role("link")
    await expect(link).to_be_visible()
    return await link.inner_text()


async def current_time(page: Page, selector: str) -> float:
    return await page.eval_on_selector(selector, "audio => audio.currentTime")


async def test_a_memo_heard_live_then_played_shows_who_listened(person: Any) -> None:
    amy, ben = await person(), await person()
    await sign_up(amy, "amy", "Amy Coach")
    await expect(amy.get_by_role("heading", name="Your groups")).to_be_visible()
    gid = await create_group(amy, "Math coaches")
    link = await invite_link(amy, gid)
    await sign_up(ben, "ben", "Ben Coach", start=link)
    await expect(ben.get_by_text("You joined Math coaches.")).to_be_visible()
    await expect(ben.get_by_role("heading", name="Math coaches")).to_be_visible()
    await amy.goto(f"/#/g/{gid}")
    await expect(amy.get_by_text("2 members")).to_be_visible()

    talk = amy.get_by_test_id("talk")
    await talk.hover()
    await amy.mouse.down()  # hold to talk
    await expect(ben.get_by_text("Amy Coach is recording…")).to_be_visible()
    live = "audio[data-live]"
    await ben.wait_for_selector(live, state="attached")
    await expect(ben.locator('[data-status="live"]')).to_be_visible()
    await screenshot(ben, "timeline-hearing-live")
    first = await current_time(ben, live)
    await asyncio.sleep(1.5)
    assert await current_time(ben, live) > first + 0.5, "the live memo is not playing"
    await screenshot(amy, "timeline-recording")
    await amy.mouse.up()
    await expect(ben.get_by_text("Amy Coach is recording…")).to_be_hidden()

    memo = ben.locator('li[data-kind="voice"]').last
    await expect(memo.locator('[data-status="ready"]')).to_be_visible(timeout=30_000)
    await expect(memo.get_by_test_id("listened-by")).to_have_text("Not listened to yet")
    await expect(ben.get_by_test_id("play-unheard")).to_have_text("Play 1 unheard")
    await memo.get_by_test_id("play").click()
    await expect(memo.get_by_role("button", name="Pause voice memo from Amy Coach")).to_be_visible()
    await screenshot(ben, "timeline-playing")

    mine = amy.locator('li[data-kind="voice"]').last
    await expect(mine.get_by_test_id("listened-by")).to_have_text("Listened by Ben Coach")
    await expect(ben.get_by_test_id("play-unheard")).to_be_hidden()
    await screenshot(amy, "timeline-listened-by")
    await amy.goto("/#/")
    await expect(amy.get_by_role("link", name="Math coaches")).to_be_visible()
    await screenshot(amy, "groups")


async def test_invite_links_and_a_moderator_managing_members(person: Any) -> None:
    amy, ben, cara = await person(), await person(), await person()
    await sign_up(amy, "amy", "Amy Owner")
    gid = await create_group(amy, "Literacy circle")
    link = await invite_link(amy, gid)
    await screenshot(amy, "members-invite")

    await sign_up(ben, "ben", "Ben Helper", start=link)
    await expect(ben.get_by_role("heading", name="Literacy circle")).to_be_visible()
    await sign_up(cara, "cara", "Cara New")  # already signed in when she opens the link
    await cara.goto(link)
    await expect(cara.get_by_text("You joined Literacy circle.")).to_be_visible()

    await cara.keyboard.down("Space")  # hold-to-talk from the keyboard
    await expect(amy.get_by_text("Cara New is recording…")).to_be_hidden()  # amy is elsewhere
    await asyncio.sleep(1.5)
    await cara.keyboard.up("Space")
    await ben.goto(f"/#/g/{gid}")
    memo = ben.locator('li[data-kind="voice"]').last
    await expect(memo.locator('[data-status="ready"]')).to_be_visible(timeout=30_000)
    await expect(memo.get_by_role("button", name="Play voice memo from Cara New")).to_be_visible()

    await amy.goto(f"/#/g/{gid}/members")
    await expect(amy.locator("li.member")).to_have_count(3)
    await amy.get_by_label("Role of Ben Helper").select_option("moderator")
    await ben.goto(f"/#/g/{gid}/members")
    await expect(ben.get_by_role("button", name="Create invite link")).to_be_visible()
    await expect(ben.get_by_label("Role of Amy Owner")).to_have_count(0)  # only owners change roles
    await expect(ben.get_by_role("button", name="Remove Amy Owner from the group")).to_have_count(0)
    await screenshot(ben, "members-as-moderator")

    await cara.goto(f"/#/g/{gid}")
    ben.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await ben.get_by_role("button", name="Remove Cara New from the group").click()
    await expect(ben.locator("li.member")).to_have_count(2)
    await expect(cara.get_by_text("You are no longer a member of Literacy circle.")).to_be_visible()
    await expect(cara.get_by_role("link", name="Literacy circle")).to_have_count(0)

    await cara.goto("/#/join/not-a-real-code")
    await expect(
        cara.get_by_text("This invite link isn't valid. Ask for a new one.")
    ).to_be_visible(timeout=5_000)
    await screenshot(cara, "invite-not-valid")
    await cara.get_by_role("button", name="Sign out").click()
    await expect(cara.get_by_role("heading", name="Sign in")).to_be_visible()
    await cara.get_by_label("Handle").fill("cara")
    await cara.get_by_label("Password").fill("wrong password")
    await cara.get_by_role("button", name="Sign in").click()
    await expect(cara.get_by_text("That handle and password don't match.")).to_be_visible()
    await screenshot(cara, "sign-in-error")


async def test_a_dropped_connection_catches_up_without_reloading(person: Any) -> None:
    amy, ben = await person(), await person()
    cut = {"now": False, "open": []}

    async def through_a_flaky_network(route: WebSocketRoute) -> None:
        if cut["now"]:
            await route.close(code=1006, reason="network down")
            return
        route.connect_to_server()
        cut["open"].append(route)

    await ben.route_web_socket("**/api/v1/ws*", through_a_flaky_network)
    await sign_up(amy, "amy", "Amy Coach")
    gid = await create_group(amy, "Science coaches")
    link = await invite_link(amy, gid)
    await sign_up(ben, "ben", "Ben Coach", start=link)
    await expect(ben.get_by_role("heading", name="Science coaches")).to_be_visible()
    await amy.goto(f"/#/g/{gid}")

    cut["now"] = True  # the laptop lid closes: the socket drops and reconnects fail
    for route in cut["open"]:
        await route.close(code=1006, reason="network down")
    await expect(ben.get_by_text("Offline: reconnecting…")).to_be_visible()
    for text in ("Are you around?", "We moved the meeting to Thursday."):
        await amy.get_by_label("Message text").fill(text)
        await amy.get_by_label("Message text").press("Enter")
        await expect(amy.get_by_text(text)).to_be_visible()
    await asyncio.sleep(1)
    await expect(ben.get_by_text("Are you around?")).to_have_count(0)
    cut["now"] = False  # back online: the next attempt syncs from its cursors
    await expect(ben.get_by_text("We moved the meeting to Thursday.")).to_be_visible(timeout=20_000)
    texts = await ben.locator("li.message .text").all_inner_texts()
    assert texts == ["Are you around?", "We moved the meeting to Thursday."]
    await expect(ben.get_by_text("Offline: reconnecting…")).to_be_hidden()
