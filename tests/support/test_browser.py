"""The browser helpers really check something: axe-core finds violations, the overflow
check finds what sticks out, and Lighthouse scores a real `earshot serve`."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.process import ServerProcess
from tests.support.browser import PHONE, axe, lighthouse, no_horizontal_overflow

BROKEN = """<!doctype html><html lang="en"><title>t</title><main>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<div id="wide" style="width: 600px">too wide for a phone</div></main></html>"""


@pytest.fixture
def earshot(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data").start()
    yield process
    process.stop()


async def open_page(browser: Browser, url: str | None, **options: object) -> Page:
    context = await browser.new_context(viewport=PHONE, **options)
    page = await context.new_page()
    if url:
        await page.goto(url)
    return page


async def test_axe_runs_on_the_sign_in_page(browser: Browser, earshot: ServerProcess) -> None:
    page = await open_page(browser, f"{earshot.url}/", bypass_csp=True)
    try:
        await page.get_by_role("button").first.wait_for()
        violations = await axe(page)
        assert isinstance(violations, list) and all(isinstance(v, str) for v in violations)
    finally:
        await page.context.close()


async def test_axe_reports_a_critical_violation_readably(browser: Browser) -> None:
    page = await open_page(browser, None, bypass_csp=True)
    try:
        await page.set_content(BROKEN)
        [violation] = await axe(page)
        assert violation.startswith("image-alt (critical): Images must have alternative text")
        assert " at img: " in violation
    finally:
        await page.context.close()


async def test_axe_says_when_the_csp_blocked_it(browser: Browser, earshot: ServerProcess) -> None:
    page = await open_page(browser, f"{earshot.url}/")  # no bypass_csp
    try:
        with pytest.raises(AssertionError, match="make the context with bypass_csp=True"):
            await axe(page)
    finally:
        await page.context.close()


async def test_sideways_overflow_is_found_and_named(browser: Browser) -> None:
    page = await open_page(browser, None)
    try:
        await page.set_content(BROKEN)
        with pytest.raises(AssertionError, match=r"\d+px wide in a 390px viewport: div#wide"):
            await no_horizontal_overflow(page)
        await page.eval_on_selector("#wide", "el => el.style.width = '100%'")
        await no_horizontal_overflow(page)
    finally:
        await page.context.close()


def test_lighthouse_scores_a_real_server(earshot: ServerProcess) -> None:
    scores = lighthouse(f"{earshot.url}/", "mobile")  # about 15 s here
    assert set(scores) == {"performance", "accessibility", "best-practices", "seo"}
    assert all(score is not None and 0 <= score <= 100 for score in scores.values()), scores
