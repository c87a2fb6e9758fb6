"""Your profile in the web client: a name and a bio, and a real photo chosen, previewed,
saved and shown beside your name in the timeline and the member list, then removed; on a
phone (390x844) and a desktop, checked with axe-core and for tap targets."""

import asyncio
import io
import re
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.async_api import Locator, Page, expect

from tests.support.browser import DESKTOP, PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.test_coach_on_a_phone import sign_in, small_targets
from tests.web.test_safety import say
from tests.web.test_web_client import create_group, sign_up


def phone_photo(path: Path) -> Path:
    """A 1600x1200 JPEG taken with the phone turned (EXIF orientation 6), with a GPS fix."""
    image = Image.new("RGB", (1600, 1200), (30, 90, 200))
    image.paste((240, 180, 40), (800, 0, 1600, 1200))
    exif = Image.Exif()
    exif[0x0112] = 6
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (40.0, 26.0, 46.0), "W", (79.0, 58.0, 56.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    path.write_bytes(out.getvalue())
    return path


async def natural_width(img: Locator) -> int:
    """The width of the picture as decoded by the browser (0 until it has loaded)."""
    return int(await img.evaluate("(el) => el.complete ? el.naturalWidth : 0"))


async def loaded(img: Locator, width: int | None = None) -> None:
    for _ in range(300):  # until the browser has the picture, however loaded the machine
        got = await natural_width(img)
        if got and (width is None or got == width):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the picture never loaded: {await img.get_attribute('src')}")


async def fits(page: Page, name: str) -> None:
    await no_horizontal_overflow(page)
    assert await axe(page) == [], name
    if (page.viewport_size or {}).get("width", 0) <= 400:
        assert await small_targets(page) == [], name
    await screenshot(page, name, full_page=False)


async def test_a_coach_sets_a_name_bio_and_photo_that_others_see(
    person: Any, tmp_path: Path
) -> None:
    # The real page, with its Content-Security-Policy: the preview and the avatars load.
    amy = await person(PHONE)
    await sign_up(amy, "amy", "Amy Leaving")
    gid = await create_group(amy, "Reading coaches")
    await say(amy, "Notes from the Tuesday walkthrough")
    await expect(amy.locator("li.message .avatar").first).to_have_text("AL")

    await amy.get_by_role("link", name="Your account").click()
    await amy.get_by_label("Name", exact=True).fill("Amy Rivera")
    await amy.get_by_label("Bio").fill("Reading coach at Pine Hill.\nAsk me about running records.")
    await amy.get_by_role("button", name="Save profile").click()
    await expect(amy.get_by_text("Your profile is saved.")).to_be_visible()
    await expect(amy.locator(".who strong")).to_have_text("Amy Rivera")

    await amy.get_by_label("Photo").set_input_files(str(phone_photo(tmp_path / "IMG_0001.jpg")))
    status = amy.get_by_test_id("photo-status")
    await expect(status).to_contain_text("This is how your photo will look")
    preview = amy.locator(".profile-picture img")
    await expect(preview).to_have_attribute("src", re.compile(r"^data:image/jpeg"))
    await loaded(preview)
    await amy.get_by_role("button", name="Save photo").click()
    await expect(status).to_have_text("Your photo is saved.")
    saved = amy.locator(".profile-picture img")
    await expect(saved).to_have_attribute("src", re.compile(r"^/api/v1/avatars/"))
    await loaded(saved, 256)  # the server's 256 px square
    url = await saved.get_attribute("src")

    await amy.goto(f"/#/g/{gid}")
    beside = amy.locator("li.message .avatar img").first
    await expect(beside).to_have_attribute("src", url or "")
    await loaded(beside, 256)
    await amy.goto(f"/#/g/{gid}/members")
    member = amy.locator("li.member .avatar img").first
    await expect(member).to_have_attribute("src", url or "")
    await loaded(member, 256)

    # axe-core needs its script injected: pages that let it in, on a phone and a desktop.
    for viewport, name in ((PHONE, "phone-390-profile"), (DESKTOP, "desktop-profile")):
        page = await person(viewport, bypass_csp=True)
        await sign_in(page, "amy")
        await page.goto("/#/account")
        await loaded(page.locator(".profile-picture img"), 256)
        await expect(page.get_by_label("Bio")).to_have_value(
            "Reading coach at Pine Hill.\nAsk me about running records."
        )
        await fits(page, name)
        await page.goto(f"/#/g/{gid}")
        await loaded(page.locator("li.message .avatar img").first, 256)
        await fits(page, f"{name}-timeline")

    await amy.goto("/#/account")
    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff" * (5 * 1024 * 1024 + 1))
    await amy.get_by_label("Photo").set_input_files(str(big))
    await expect(status).to_contain_text("larger than 5 MB")
    await expect(amy.get_by_role("button", name="Save photo")).to_be_hidden()

    amy.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await amy.get_by_role("button", name="Remove photo").click()
    await expect(status).to_have_text("Your photo is removed.")
    await expect(amy.locator(".profile-picture img")).to_have_count(0)
    await expect(amy.locator(".profile-picture .avatar")).to_have_text("AR")
    gone = await amy.request.get(url or "")
    assert gone.status == 404
