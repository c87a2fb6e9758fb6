"""What got in a coach's way on a phone (issue 17), in real Chromium at 390×844 (and 360
px wide) and on a desktop: short presses, cancelling, a group of 200 messages with 60
unheard memos and long names, play-unheard over all of them, error messages, the
timeline keeping your place and focus, and axe-core on every screen."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, expect

from tests.process import ServerProcess
from tests.support.browser import DESKTOP, PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.network import FlakySocket, UploadCutter
from tests.web.seed import LONG_GROUP, LONG_NAME, PASSWORD, Seeded, post_text, seed_group
from tests.web.test_web_client import amy_invites_ben

NARROW = {"width": 360, "height": 740}


async def sign_in(page: Page, handle: str) -> None:
    await page.goto("/#/login")
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible()


async def open_seeded_group(person: Any, unheard: int = 0) -> Page:
    """Amy (of tests/web/seed.py) on a phone, signed in, in the seeded group; her groups
    list said `unheard` on the way."""
    amy = await person(PHONE)
    await sign_in(amy, "amy")
    badge = amy.get_by_test_id("unheard")
    await (
        expect(badge).to_contain_text(str(unheard)) if unheard else expect(badge).to_have_count(0)
    )
    await amy.get_by_role("link", name=LONG_GROUP).click()
    await expect(amy.get_by_role("heading", name=LONG_GROUP)).to_be_visible()
    return amy


async def small_targets(page: Page) -> list[str]:
    """Controls on screen smaller than 44×44 CSS px (inline links in sentences excepted)."""
    return await page.evaluate(
        """() => [...document.querySelectorAll(
              'button, a, input:not([type=checkbox]), select, summary, [role=slider]')]
          .filter((el) => el.offsetParent !== null && !el.closest('p, .sr-only, .skip-link')
                  && !el.matches('.hit, .invite-link a'))
          .map((el) => [el, el.getBoundingClientRect()])
          .filter(([, r]) => r.width > 0 && (r.width < 43.5 || r.height < 43.5))
          .map(([el, r]) => `${el.tagName.toLowerCase()} `
             + `"${(el.getAttribute('aria-label') || el.textContent).trim().slice(0, 30)}" `
             + `${Math.round(r.width)}x${Math.round(r.height)}`)"""
    )


async def check_screen(page: Page, name: str) -> None:
    await page.wait_for_timeout(300)  # let the screen settle (fonts, counts)
    await no_horizontal_overflow(page)
    assert await axe(page) == [], name
    width = page.viewport_size["width"] if page.viewport_size else 0
    if width <= 400:
        small = await small_targets(page)
        assert small == [], f"{name}: {small}"
    await screenshot(
        page, f"phone-{width}-{name}" if width <= 400 else f"desktop-{name}", full_page=False
    )


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
        for path, name in (
            ("members", "members"),
            ("settings", "settings"),
            ("log", "log"),
            ("reports", "reports"),
        ):
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
        await amy.get_by_role(
            "button", name="Create account"
        ).click()  # empty: every field says why
        await expect(amy.locator(".field-error").first).to_be_visible()
        await check_screen(amy, "sign-up-errors")


async def test_no_tap_target_in_the_group_is_covered_wherever_it_is_scrolled(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    """Lighthouse's target-size audit: rows scrolled to the top or bottom edge of the
    timeline are cut off by its edge, never sit under the header or the composer."""
    await seed_group(server.url, samples, messages=60, memos=6)
    amy = await person(PHONE, bypass_csp=True)
    await sign_in(amy, "amy")
    await amy.get_by_role("link", name=LONG_GROUP).click()
    await expect(amy.locator("li.message").last).to_be_visible()
    scroller = amy.get_by_test_id("timeline-scroller")
    await amy.wait_for_timeout(300)  # fonts and counts settle
    for at in (1.0, 0.8, 0.55, 0.3):  # the newest, then rows cut by both edges
        await scroller.evaluate(
            "(el, at) => { el.scrollTop = at * (el.scrollHeight - el.clientHeight); }", at
        )
        await amy.wait_for_timeout(100)  # rows that skipped layout are drawn
        covered = await axe(amy, enable=("target-size",))
        assert covered == [], f"scrolled to {at:.0%}: {covered}"
    await no_horizontal_overflow(amy)
    await screenshot(amy, "phone-group-scrolled", full_page=False)


async def test_play_unheard_plays_every_unheard_memo_of_a_200_message_group(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    seeded = await seed_group(server.url, samples, messages=200, memos=60)
    amy = await open_seeded_group(person, unheard=60)
    play = amy.get_by_test_id("play-unheard")
    await expect(play).to_have_text("Play 60 unheard")  # all 60 counted, not the page's 16
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


async def voice_messages(server: ServerProcess, page: Page, gid: str) -> list[dict[str, Any]]:
    token = await page.evaluate("localStorage.getItem('earshot.token')")
    body = await api_get(server, token, f"/groups/{gid}/messages?limit=100")
    return [m for m in body["messages"] if m["kind"] == "voice"]


async def test_short_presses_send_nothing_and_sliding_away_cancels(
    person: Any, server: ServerProcess
) -> None:
    amy, ben = await person(PHONE), await person(PHONE)
    gid = await amy_invites_ben(amy, ben, "Science coaches")
    talk = amy.get_by_test_id("talk")
    hint = amy.get_by_text("Hold the button while you talk, and let go when you're done.")
    for press_ms in (150, 300, 800):  # taps: nothing is sent, a hint says how
        await talk.hover()
        await amy.mouse.down()
        await amy.wait_for_timeout(press_ms)
        await amy.mouse.up()
        await expect(hint).to_be_visible()
        await amy.evaluate("document.getElementById('notice').hidden = true")
    await asyncio.sleep(1)
    assert await voice_messages(server, amy, gid) == []
    await expect(ben.locator('li[data-kind="voice"]')).to_have_count(0)

    await talk.hover()
    await amy.mouse.down()  # a real memo, then a change of mind
    panel = amy.get_by_test_id("recording")
    await expect(panel).to_be_visible()
    await expect(amy.get_by_test_id("rec-time")).to_have_text("0:02", timeout=5_000)
    level = await amy.eval_on_selector(".rec-level", "el => el.style.transform")
    assert level.startswith("scaleX(") and float(level[7:-1]) > 0.05, level  # the meter moves
    await expect(amy.locator('[data-status="live"]')).to_have_text("You are talking…")
    await expect(ben.locator('[data-status="live"]')).to_contain_text("Live: Amy Coach is talking")
    await screenshot(amy, "phone-recording", full_page=False)
    box = await talk.bounding_box()
    assert box
    await amy.mouse.move(box["x"] + box["width"] / 2, box["y"] - 150)  # slide away
    await expect(amy.get_by_test_id("rec-hint")).to_have_text("Release to cancel")
    await screenshot(amy, "phone-recording-cancel", full_page=False)
    await amy.mouse.up()
    await expect(amy.get_by_text("Recording cancelled. Nothing was sent.")).to_be_visible()
    await expect(panel).to_be_hidden()
    for page in (amy, ben):  # gone: no "Message deleted" for a memo never sent
        await expect(page.locator('li[data-kind="voice"]')).to_have_count(0, timeout=10_000)
        await expect(page.get_by_text("Message deleted")).to_have_count(0)
    for _ in range(50):
        if all(m["withdrawn"] for m in await voice_messages(server, amy, gid)):
            break
        await asyncio.sleep(0.2)
    cancelled = await voice_messages(server, amy, gid)
    assert len(cancelled) == 1 and cancelled[0]["deleted"] and cancelled[0]["withdrawn"]
    await ben.reload()  # nor after a reload, from the server's pages
    await expect(ben.get_by_role("heading", name="Science coaches")).to_be_visible()
    await expect(ben.get_by_text("No messages yet.", exact=False)).to_be_visible()

    await talk.hover()
    await amy.mouse.down()
    await asyncio.sleep(2)
    await amy.mouse.up()
    memo = ben.locator('li[data-kind="voice"]').filter(has=ben.locator('[data-status="ready"]'))
    await expect(memo).to_have_count(1, timeout=30_000)
    kept = [m for m in await voice_messages(server, amy, gid) if not m["deleted"]]
    assert len(kept) == 1 and kept[0]["voice"]["duration_ms"] >= 1500


async def test_errors_say_what_to_fix_under_the_field(person: Any, server: ServerProcess) -> None:
    page = await person(DESKTOP, bypass_csp=True)
    await page.goto("/#/signup")
    await page.get_by_label("Handle").fill("a!")
    await page.get_by_label("Your name").fill("Amy Coach")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    handle_error = page.locator('[data-field="handle"] .field-error')
    password_error = page.locator('[data-field="password"] .field-error')
    await expect(handle_error).to_have_text("3–32 letters, digits, dots, dashes or underscores.")
    await expect(password_error).to_have_text("At least 10 characters.")
    await expect(page.get_by_label("Handle")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Handle")).to_be_focused()
    await screenshot(page, "errors-sign-up-rules", full_page=False)
    assert await axe(page) == []

    await page.get_by_label("Handle").fill("amy")
    await page.get_by_label("Password").fill(
        "amy-is-my-password"
    )  # the server: contains the handle
    await page.get_by_role("button", name="Create account").click()
    await expect(password_error).to_have_text("Don't put your handle in your password.")
    await expect(handle_error).to_be_hidden()
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible()

    other = await person(PHONE)
    await other.goto("/#/signup")
    await other.get_by_label("Handle").fill("AMY")  # handles are unique regardless of case
    await other.get_by_label("Your name").fill("Another Amy")
    await other.get_by_label("Password").fill(PASSWORD)
    await other.get_by_role("button", name="Create account").click()
    await expect(other.locator('[data-field="handle"] .field-error')).to_have_text(
        "That handle is taken. Try another one."
    )

    await page.goto("/#/account")
    await page.get_by_label("Current password").fill("not my password")
    await page.get_by_label("New password").fill("a brand new passphrase")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.locator('[data-field="current_password"] .field-error')).to_have_text(
        "That isn't your current password."
    )
    await page.get_by_label("Current password").fill(PASSWORD)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_text("Your password is changed.")).to_be_visible()
    await asyncio.sleep(1.5)  # the old token's socket closes; this page stays signed in
    await expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()
    await expect(page.locator("#connection")).to_have_text("")

    gid = (
        await page.evaluate(
            "() => fetch('/api/v1/groups', {method: 'POST',"
            " headers: {'Content-Type': 'application/json',"
            " Authorization: 'Bearer ' + localStorage.getItem('earshot.token')},"
            " body: JSON.stringify({name: 'Math coaches'})}).then((r) => r.json())"
        )
    )["id"]
    await page.goto(f"/#/g/{gid}/members")
    await page.get_by_label("Handle to add").fill("nobody_here")
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.locator('[data-field="handle"] .field-error')).to_have_text(
        "Nobody has that handle. Check the spelling."
    )
    await screenshot(page, "errors-add-member", full_page=False)
    assert await axe(page) == []


async def test_offline_texts_and_recordings_wait_in_the_outbox_and_go_once(
    person: Any, server: ServerProcess
) -> None:
    amy, ben = await person(PHONE), await person(PHONE)
    network = await FlakySocket().attach(amy)
    gid = await amy_invites_ben(amy, ben, "Science coaches")
    await expect(amy.get_by_role("heading", name="Science coaches")).to_be_visible()

    await network.cut()  # the train enters a tunnel
    await amy.context.set_offline(True)
    banner = amy.get_by_text("You're offline.", exact=False)
    await expect(banner).to_be_visible(timeout=2_000)
    text = "Sent from the tunnel: the meeting moves to 4 pm."
    await amy.get_by_label("Message text").fill(text)
    await amy.get_by_label("Message text").press("Enter")
    waiting = amy.get_by_test_id("pending")
    await expect(waiting).to_have_count(1)
    await expect(amy.get_by_label("Message text")).to_have_value("")
    talk = amy.get_by_test_id("talk")
    await talk.hover()
    await amy.mouse.down()  # a recording made offline is kept whole
    await asyncio.sleep(2)
    await amy.mouse.up()
    await expect(waiting).to_have_count(2)
    await expect(waiting.first).to_contain_text("Waiting for the network")
    await screenshot(amy, "phone-offline-outbox", full_page=False)
    stored = await amy.evaluate(
        """() => new Promise((resolve) => { const r = indexedDB.open('earshot');
           r.onsuccess = () => {
             const q = r.result.transaction('outbox').objectStore('outbox').getAll();
           q.onsuccess = () => resolve(q.result.map((e) => e.kind)); }; })"""
    )
    assert sorted(stored) == ["text", "voice"]  # on disk, not only in memory
    await expect(ben.get_by_text(text)).to_have_count(0)

    # Back online, the first answer is lost on the way (the server has the text): the
    # retry carries the same client_id and nothing doubles.
    lost = {"count": 0}

    async def lose_the_first_answer(route: Any) -> None:
        if route.request.method == "POST" and lost["count"] == 0:
            lost["count"] += 1
            await route.fetch()
            await route.abort()
        else:
            await route.continue_()

    await amy.route("**/api/v1/groups/*/messages", lose_the_first_answer)
    network.restore()
    await amy.context.set_offline(False)
    await expect(banner).to_be_hidden(timeout=20_000)
    await expect(waiting).to_have_count(0, timeout=40_000)
    await expect(ben.locator("li.message .text").filter(has_text=text)).to_have_count(1)
    memo = ben.locator('li[data-kind="voice"]').filter(has=ben.locator('[data-status="ready"]'))
    await expect(memo).to_have_count(1, timeout=30_000)
    assert lost["count"] == 1
    token = await amy.evaluate("localStorage.getItem('earshot.token')")
    messages = (await api_get(server, token, f"/groups/{gid}/messages"))["messages"]
    assert [m["text"] for m in messages if m["kind"] == "text"] == [text]
    assert len([m for m in messages if m["kind"] == "voice" and not m["deleted"]]) == 1


async def test_a_memo_upload_cut_in_the_middle_is_sent_again_and_arrives_once(
    browser: Browser, person: Any, server: ServerProcess
) -> None:
    """The connection carrying a recording drops halfway through its body: the outbox
    keeps it and sends it again (same client_id); one memo arrives, nothing half-made."""
    async with UploadCutter(server.url) as network:
        context = await browser.new_context(
            base_url=network.url, permissions=["microphone"], viewport=PHONE
        )
        try:
            amy, ben = await context.new_page(), await person(PHONE)
            socket = await FlakySocket().attach(amy)
            gid = await amy_invites_ben(amy, ben, "Science coaches")
            await expect(amy.get_by_role("heading", name="Science coaches")).to_be_visible()
            await socket.cut()  # no live stream: the recording is uploaded whole
            talk = amy.get_by_test_id("talk")
            await talk.hover()
            await amy.mouse.down()
            await asyncio.sleep(3)
            await amy.mouse.up()
            await expect(amy.get_by_test_id("pending")).to_have_count(1)
            for _ in range(100):
                if network.cut:
                    break
                await asyncio.sleep(0.1)
            assert network.cut and 0 < network.passed < network.declared - 1000, vars(network)
            socket.restore()
            memo = ben.locator('li[data-kind="voice"]').filter(
                has=ben.locator('[data-status="ready"]')
            )
            await expect(memo).to_have_count(1, timeout=45_000)
            await expect(amy.get_by_test_id("pending")).to_have_count(0)
            voice = await voice_messages(server, amy, gid)
            assert len(voice) == 1 and not voice[0]["deleted"], voice
            assert voice[0]["voice"]["duration_ms"] >= 2500
            await expect(ben.locator('li[data-kind="voice"]')).to_have_count(1)
        finally:
            await context.close()


async def test_the_timeline_keeps_your_place_and_your_focus(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    seeded = await seed_group(server.url, samples, messages=200, memos=0)
    amy = await open_seeded_group(person)
    rows = amy.locator("li.message")
    await expect(rows).to_have_count(20)  # of the 50 loaded: the rest when scrolled to
    assert await amy.get_attribute("ol.timeline", "aria-live") is None  # not read out as it changes
    earlier = amy.get_by_role("button", name="Load earlier messages")
    scroller = amy.get_by_test_id("timeline-scroller")
    for _ in range(10):  # scrolling up builds the older rows already loaded
        await scroller.evaluate("(el) => el.scrollTo(0, 0)")
        if await earlier.count():
            break
        await amy.wait_for_timeout(300)
    await expect(rows).to_have_count(50)
    await scroller.evaluate("(el) => el.scrollTo(0, 0)")
    reading = rows.nth(0)
    reading_id = await reading.get_attribute("data-id")
    before = (await reading.bounding_box() or {})["y"]
    await earlier.click()
    await expect(rows).to_have_count(100)
    after = (await amy.locator(f'li[data-id="{reading_id}"]').bounding_box() or {})["y"]
    assert abs(after - before) <= 2, f"the message read moved {after - before:.0f}px"

    box = amy.get_by_label("Message text")
    await box.fill("half a thought")
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1", timeout=30) as api:
        for n in range(3):
            await post_text(api, seeded.ben, seeded.group_id, f"Fresh news {n}")
    pill = amy.get_by_test_id("new-messages")
    await expect(pill).to_have_text("3 new messages ↓")
    await expect(box).to_be_focused()  # typing goes on
    await expect(box).to_have_value("half a thought")
    after_news = (await amy.locator(f'li[data-id="{reading_id}"]').bounding_box() or {})["y"]
    assert abs(after_news - before) <= 2, "arrivals moved the page"
    await expect(amy.locator("#announcer")).to_have_text(
        "New message from Benjamin Okonkwo-Hartley the Third, literacy coach"
    )
    await screenshot(amy, "phone-new-messages-pill", full_page=False)
    await pill.click()
    await expect(amy.get_by_text("Fresh news 2")).to_be_in_viewport()
    await expect(rows.last).to_be_in_viewport(ratio=1)  # all of it, above the composer
    await expect(pill).to_be_hidden()

    last_id = await rows.last.get_attribute("data-id")
    reply = amy.locator(f'li[data-id="{last_id}"]').get_by_role("button", name="Reply", exact=False)
    await reply.focus()
    async with httpx.AsyncClient(base_url=f"{server.url}/api/v1", timeout=30) as api:
        await post_text(api, seeded.ben, seeded.group_id, "One more thing")
    await expect(amy.get_by_text("One more thing")).to_be_visible()
    await expect(reply).to_be_focused()


async def test_replies_group_settings_and_invites_with_options(person: Any) -> None:
    amy, ben = await person(DESKTOP, bypass_csp=True), await person(PHONE, bypass_csp=True)
    # Chromium on Linux has no Web Share: the page gets one that records what it is handed.
    await amy.add_init_script(
        "navigator.share = (data) => { window.shared = data; return Promise.resolve(); }"
    )
    gid = await amy_invites_ben(amy, ben, "Science coaches")
    question = "Can someone share the observation rubric?"
    await ben.get_by_label("Message text").fill(question)
    await ben.get_by_label("Message text").press("Enter")
    asked = amy.locator("li.message").filter(has_text=question)
    await asked.get_by_role("button", name="Reply to Ben Coach").click()
    await expect(amy.get_by_text(f"Replying to Ben Coach: {question}")).to_be_visible()
    await expect(amy.get_by_label("Message text")).to_be_focused()
    await amy.get_by_label("Message text").fill("Here it is, in the shared folder.")
    await amy.get_by_label("Message text").press("Enter")
    answer = ben.locator("li.message").filter(has_text="Here it is")
    await expect(answer.get_by_test_id("reply-quote")).to_have_text(f"In reply to you: {question}")
    await expect(amy.get_by_text("Replying to Ben Coach")).to_be_hidden()
    await screenshot(ben, "phone-reply", full_page=False)
    assert await axe(ben) == []

    await amy.get_by_role("link", name="Group settings").click()
    await amy.get_by_label("Name").fill("Science coaches, spring")
    await amy.get_by_label("Keep messages").select_option(label="30 days")
    await amy.get_by_label("Transcribe voice memos").uncheck()
    await amy.get_by_role("button", name="Save changes").click()
    await expect(amy.get_by_text("Saved.")).to_be_visible()
    await expect(ben.get_by_role("heading", name="Science coaches, spring")).to_be_visible()
    await ben.goto(f"/#/g/{gid}/settings")
    await expect(ben.get_by_label("Name")).to_be_disabled()
    await expect(ben.get_by_label("Transcribe voice memos")).not_to_be_checked()
    await expect(ben.get_by_text("Only moderators change these.")).to_be_visible()
    assert await axe(ben) == []
    await ben.goto(f"/#/g/{gid}/log")
    await expect(ben.get_by_role("list", name="Moderation log").locator("li > span")).to_have_text(
        ["Amy Coach turned transcripts off", "Amy Coach set messages to be deleted after 30 days"]
    )

    await amy.goto(f"/#/g/{gid}/members")
    await amy.get_by_label("Link works for").select_option(label="1 day")
    await amy.get_by_label("How many can join").select_option(label="5 people")
    await amy.get_by_role("button", name="Create invite link").click()
    await expect(amy.get_by_test_id("invites")).to_contain_text("0 of 5 uses")
    link = await amy.get_by_test_id("invite-link").get_by_role("link").inner_text()
    newest = await amy.get_by_test_id("invites").locator("li").first.get_attribute("data-code")
    assert newest and link.endswith(f"/#/join/{newest}")
    await amy.get_by_role("button", name="Share").click()
    assert await amy.evaluate("window.shared") == {"title": "Join my group on Earshot", "url": link}
    await screenshot(amy, "desktop-invite-options", full_page=False)
    assert await axe(amy) == []
