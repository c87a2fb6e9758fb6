"""Your account screen: a copy of your data, then deleting the account, in Chromium on a
phone, checked with axe-core."""

import asyncio
import json
import zipfile
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.support.browser import PHONE, axe, no_horizontal_overflow, screenshot
from tests.web.test_safety import say
from tests.web.test_web_client import create_group, sign_up


async def test_download_my_data_then_delete_my_account(person: Any, tmp_path: Path) -> None:
    amy = await person(PHONE, bypass_csp=True)
    await sign_up(amy, "amy", "Amy Leaving")
    await create_group(amy, "Reading coaches")
    await say(amy, "Notes from the Tuesday walkthrough")

    await amy.get_by_role("link", name="Your account").click()
    await amy.get_by_role("button", name="Prepare a copy of my data").click()
    status = amy.get_by_test_id("export-status")
    await expect(status).to_contain_text("Your copy is ready", timeout=30_000)
    async with amy.expect_download() as downloading:
        await amy.get_by_role("button", name="Download my data").click()
    saved = tmp_path / "export.zip"
    await (await downloading.value).save_as(saved)
    with zipfile.ZipFile(saved) as zf:
        texts = [m["text"] for m in json.loads(zf.read("messages.json"))]
        profile = json.loads(zf.read("profile.json"))
    assert texts == ["Notes from the Tuesday walkthrough"]
    assert (profile["handle"], profile["display_name"]) == ("amy", "Amy Leaving")

    password = amy.get_by_label("Password to confirm")
    await password.fill("not my password")
    amy.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await amy.get_by_role("button", name="Delete my account").click()
    await expect(amy.get_by_text("That isn't your current password.")).to_be_visible()
    await expect(password).to_have_attribute("aria-invalid", "true")
    await screenshot(amy, "account-leaving")
    assert await axe(amy) == []
    await no_horizontal_overflow(amy)

    await password.fill("correct horse battery")
    amy.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await amy.get_by_role("button", name="Delete my account").click()
    await expect(amy.get_by_text("Your account is deleted.")).to_be_visible()
    await expect(amy.get_by_role("heading", name="Sign in")).to_be_visible()
    await amy.get_by_label("Handle").fill("amy")
    await amy.get_by_label("Password").fill("correct horse battery")
    await amy.get_by_role("button", name="Sign in").click()
    await expect(amy.get_by_text("That handle and password don't match.")).to_be_visible()
