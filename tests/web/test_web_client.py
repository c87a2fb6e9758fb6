"""The web client in real Chromium: two people, a live memo, playback, receipts, members,
search and transcripts."""

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from playwright.async_api import Page, expect

from tests import audio_samples
from tests.process import ServerProcess
from tests.support.browser import screenshot
from tests.web.network import FlakySocket


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


async def amy_invites_ben(amy: Page, ben: Page, group: str) -> str:
    """Amy Coach makes a group; Ben Coach signs up through its invite link. Its id."""
    await sign_up(amy, "amy", "Amy Coach")
    gid = await create_group(amy, group)
    link = await invite_link(amy, gid)
    await sign_up(ben, "ben", "Ben Coach", start=link)
    await expect(ben.get_by_role("heading", name=group)).to_be_visible()
    await amy.goto(f"/#/g/{gid}")
    return gid


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
    await cara.get_by_role("link", name="Your account").click()  # who you are, and signing out
    await expect(cara.get_by_text("Signed in as Cara New")).to_be_visible()
    await cara.get_by_role("button", name="Sign out").click()
    await expect(cara.get_by_role("heading", name="Sign in")).to_be_visible()
    await cara.get_by_label("Handle").fill("cara")
    await cara.get_by_label("Password").fill("wrong password")
    await cara.get_by_role("button", name="Sign in").click()
    await expect(cara.get_by_text("That handle and password don't match.")).to_be_visible()
    await screenshot(cara, "sign-in-error")


async def test_a_dropped_connection_catches_up_without_reloading(person: Any) -> None:
    amy, ben = await person(), await person()
    network = await FlakySocket().attach(ben)
    await amy_invites_ben(amy, ben, "Science coaches")
    # Ben's timeline has loaded and his socket is live before the lid closes (else a
    # slow first page could load the messages sent while he is offline).
    await amy.get_by_label("Message text").fill("Morning!")
    await amy.get_by_label("Message text").press("Enter")
    await expect(ben.get_by_text("Morning!")).to_be_visible()

    await network.cut()  # the laptop lid closes: the socket drops and reconnects fail
    await expect(ben.get_by_text("Offline: reconnecting…")).to_be_visible()
    for text in ("Are you around?", "We moved the meeting to Thursday."):
        await amy.get_by_label("Message text").fill(text)
        await amy.get_by_label("Message text").press("Enter")
        await expect(amy.get_by_text(text)).to_be_visible()
    await asyncio.sleep(1)
    await expect(ben.get_by_text("Are you around?")).to_have_count(0)
    network.restore()  # back online: the next attempt syncs from its cursors
    await expect(ben.get_by_text("We moved the meeting to Thursday.")).to_be_visible(timeout=20_000)
    texts = await ben.locator("li.message .text").all_inner_texts()
    assert texts == ["Morning!", "Are you around?", "We moved the meeting to Thursday."]
    await expect(ben.get_by_text("Offline: reconnecting…")).to_be_hidden()


# ---- search and transcripts ------------------------------------------------------------------


async def token_of(page: Page) -> str:
    return await page.evaluate("localStorage.getItem('earshot.token')")


def api_client(server: ServerProcess, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


async def post_text(api: httpx.AsyncClient, gid: str, text: str) -> dict[str, Any]:
    response = await api.post(
        f"/groups/{gid}/messages", json={"text": text, "client_id": uuid4().hex}
    )
    assert response.status_code == 201, response.text
    return response.json()


def write_transcript(server: ServerProcess, message_id: str, status: str, text: str | None) -> None:
    """What the transcription pipeline stores, written straight into the server's SQLite file."""
    database = Path(server.env["EARSHOT_DATA_DIR"]) / "earshot.db"
    with closing(sqlite3.connect(database, timeout=30)) as db, db:
        changed = db.execute(
            "UPDATE messages SET transcript_status = ?, transcript_text = ?,"
            " transcript_language = ? WHERE id = ?",
            (status, text, "en" if text else None, message_id),
        ).rowcount
    assert changed == 1


def transcript_status(server: ServerProcess, message_id: str) -> str | None:
    database = Path(server.env["EARSHOT_DATA_DIR"]) / "earshot.db"
    with closing(sqlite3.connect(database, timeout=30)) as db:
        row = db.execute(
            "SELECT transcript_status FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
    return row[0]


async def test_search_finds_words_and_opens_the_message_highlighted(
    person: Any, server: ServerProcess
) -> None:
    amy = await person()
    await sign_up(amy, "amy", "Amy Coach")
    gid = await create_group(amy, "Reading coaches")
    async with api_client(server, await token_of(amy)) as api:
        ben = await api.post(
            "/auth/register",
            json={"handle": "ben", "display_name": "Ben Coach", "password": "another long one"},
        )
        ben_auth = {"Authorization": f"Bearer {ben.json()['token']}"}
        await api.patch("/me", headers=ben_auth, json={"who_can_add_me": "anyone"})
        assert (await api.post(f"/groups/{gid}/members", json={"handle": "ben"})).status_code == 201
        other = (await api.post("/groups", json={"name": "Math coaches"})).json()["id"]
        await post_text(api, other, "Observation notes from Tuesday are up.")
        api.headers["Authorization"] = f"Bearer {ben.json()['token']}"
        await post_text(api, gid, "The observation rubric is in the shared folder.")
        for n in range(60):  # the rubric is then older than the first page of the timeline
            await post_text(api, gid, f"Filler message number {n}")
    await amy.reload()
    await expect(amy.get_by_text("Filler message number 59")).to_be_visible()
    rubric = amy.get_by_text("The observation rubric is in the shared folder.")
    await expect(rubric).to_have_count(0)

    await amy.get_by_role("button", name="Search this group").click()
    box = amy.get_by_role("searchbox", name="Search this group")
    await expect(box).to_be_focused()
    await box.fill("rubric")
    await box.press("Enter")
    hits = amy.get_by_test_id("search-hit")
    await expect(hits).to_have_count(1)
    await expect(hits.locator("mark")).to_have_text(["rubric"])
    await expect(hits).to_contain_text("Ben Coach")
    await expect(amy.get_by_role("status").filter(has_text="1 message found")).to_be_visible()
    await screenshot(amy, "search-in-group", full_page=False)

    await hits.click()  # not loaded yet: earlier pages load until it is
    found = amy.locator("li.message.highlight")
    await expect(found).to_contain_text("The observation rubric is in the shared folder.")
    await expect(found).to_be_in_viewport()
    await expect(found).to_be_focused()
    await expect(box).to_be_hidden()
    await screenshot(amy, "search-opened-message", full_page=False)

    await amy.get_by_role("button", name="Search this group").click()
    await box.fill("zebra")
    await box.press("Enter")
    await expect(amy.get_by_text("Nothing found")).to_be_visible()
    await expect(hits).to_have_count(0)
    await box.press("Escape")
    await expect(box).to_be_hidden()
    await expect(amy.get_by_role("button", name="Search this group")).to_be_focused()

    await amy.goto("/#/")
    everywhere = amy.get_by_role("searchbox", name="Search all your groups")
    await everywhere.fill("observ")  # a word being typed matches as a prefix
    await everywhere.press("Enter")
    await expect(hits).to_have_count(2)
    await expect(hits.locator("mark")).to_have_text(
        ["observation", "Observation"], ignore_case=True
    )
    await expect(hits.filter(has_text="Math coaches")).to_contain_text("You")
    await expect(hits.filter(has_text="Reading coaches")).to_contain_text("Ben Coach")
    await screenshot(amy, "search-all-groups")
    await hits.filter(has_text="Math coaches").click()
    await expect(amy.get_by_role("heading", name="Math coaches")).to_be_visible()
    await expect(amy.locator("li.message.highlight")).to_contain_text(
        "Observation notes from Tuesday"
    )


async def test_a_memo_transcript_is_collapsed_under_the_memo(
    person: Any, server: ServerProcess, samples: Path
) -> None:
    amy = await person()
    await sign_up(amy, "amy", "Amy Coach")
    gid = await create_group(amy, "Science coaches")
    async with api_client(server, await token_of(amy)) as api:
        with audio_samples.speech_wav(samples).open("rb") as f:
            response = await api.post(
                f"/groups/{gid}/voice",
                files={"file": ("memo.wav", f)},
                data={"client_id": "memo-1"},
            )
        assert response.status_code == 202, response.text
    mid = response.json()["id"]
    memo = amy.locator(f'li[data-id="{mid}"]')
    await expect(memo.locator('[data-status="ready"]').first).to_be_visible(timeout=30_000)
    for _ in range(600):  # a transcription pipeline, if any, is done with it first
        if transcript_status(server, mid) != "pending":
            break
        await asyncio.sleep(0.2)

    write_transcript(server, mid, "pending", None)
    await amy.reload()
    await expect(memo.get_by_test_id("transcript")).to_have_text("Transcribing…")

    words = "Hello coaches, a quick thought about today's walkthrough of the fractions lesson."
    write_transcript(server, mid, "ready", words)
    await amy.reload()
    transcript = memo.locator("details.transcript")
    await expect(transcript).to_be_visible()
    await expect(memo.get_by_text(words)).to_be_hidden()  # collapsed
    await screenshot(amy, "transcript-collapsed")
    await transcript.get_by_text("Transcript", exact=True).click()
    await expect(memo.get_by_text(words)).to_be_visible()
    await memo.get_by_test_id("play").click()  # re-rendering as it plays keeps it open
    await expect(memo.get_by_role("button", name="Pause voice memo from Amy Coach")).to_be_visible()
    await asyncio.sleep(1)
    await expect(memo.get_by_text(words)).to_be_visible()
    await screenshot(amy, "transcript-expanded")

    await amy.get_by_role("button", name="Search this group").click()
    box = amy.get_by_role("searchbox", name="Search this group")
    await box.fill("fractions")
    await box.press("Enter")
    hit = amy.get_by_test_id("search-hit")
    await expect(hit).to_have_count(1)
    await expect(hit).to_contain_text("Voice memo")
    await expect(hit.locator("mark")).to_have_text(["fractions"])

    write_transcript(server, mid, "failed", None)
    await amy.reload()
    await expect(memo.get_by_test_id("transcript")).to_have_text("No transcript")
    write_transcript(server, mid, "off", None)
    await amy.reload()
    await expect(memo.locator('[data-status="ready"]').first).to_be_visible()
    await expect(memo.get_by_test_id("transcript")).to_have_count(0)
