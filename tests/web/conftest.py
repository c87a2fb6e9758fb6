"""A real Earshot server and Debian's Chromium driven by Playwright, with a fake microphone."""

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests import audio_samples
from tests.process import ServerProcess

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path / "data", argon2_time_cost="1", argon2_memory_kib="1024", argon2_parallelism="1"
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
async def browser(samples: Path) -> AsyncIterator[Browser]:
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: run ./scripts/setup.sh --test"
    voice = audio_samples.speech_of_length(samples, 30)  # the fake microphone speaks this
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={voice}",
            ],
        )
        yield browser
        await browser.close()


@pytest.fixture
async def person(browser: Browser, server: ServerProcess) -> AsyncIterator[object]:
    """Opens a browser context (its own storage: one user) on the server; closes them after."""
    contexts: list[BrowserContext] = []

    async def open_page(width: int = 420, height: int = 860) -> Page:
        context = await browser.new_context(
            base_url=server.url,
            permissions=["microphone"],
            viewport={"width": width, "height": height},
        )
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        await context.close()


async def screenshot(page: Page, name: str, full_page: bool = True) -> None:
    """Saves the page (or, with full_page=False, what the viewport shows) for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"


async def accessibility_problems(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now, one line each.

    The script is evaluated through the DevTools protocol, which the app's CSP (rightly
    refusing inline scripts) does not govern, so the page runs under its real policy."""
    assert AXE.exists(), f"{AXE} is missing: run ./scripts/setup.sh --test"
    await page.evaluate(AXE.read_text())
    result = await page.evaluate(
        """() => axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})"""
    )
    return [
        f"{v['id']}: {v['help']} ({', '.join(str(n['target']) for n in v['nodes'][:3])})"
        for v in result["violations"]
    ]
