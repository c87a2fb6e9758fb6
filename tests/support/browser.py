"""Debian's Chromium for tests, driven by Playwright (never `playwright install`), with
the checks the web client must pass: axe-core, no sideways scrolling, Lighthouse.

- `browser` (session fixture, registered in tests/conftest.py so one Chromium serves
  the whole run): headless /usr/bin/chromium with a fake microphone that speaks.
- `await axe(page)`: injects tests/node's axe-core and returns its serious and critical
  violations as readable lines (`assert await axe(page) == []`). The app's CSP rightly
  blocks injected scripts, so make that page's context with `bypass_csp=True`.
- `await no_horizontal_overflow(page)`: fails naming what sticks out sideways.
- `lighthouse(url, "mobile"|"desktop")`: the pinned Lighthouse CLI on the same Chromium;
  returns the category scores (0-100). Blocking (a child process): in async code run it
  with `asyncio.to_thread`.
- `await screenshot(page, name)`: a PNG under test-output/screenshots/ to look at.
"""

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import pytest
from playwright.async_api import Browser, Page, async_playwright
from playwright.async_api import Error as PlaywrightError

from tests import audio_samples

CHROMIUM = "/usr/bin/chromium"
NODE_DIR = Path(__file__).resolve().parents[1] / "node"
AXE_JS = NODE_DIR / "node_modules" / "axe-core" / "axe.min.js"
LIGHTHOUSE_CLI = NODE_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
# Measured to work here (docs ENVIRONMENT.md): no sandbox as root, no GPU, nothing that
# phones home (it would hang or slow tests with the internet unreachable).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SERIOUS = ("serious", "critical")


def microphone_flags(speech: Path) -> list[str]:
    """The fake microphone plays `speech` (a WAV) and nobody is asked for permission."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={speech}",
    ]


@asynccontextmanager
async def launched_chromium(extra_flags: Sequence[str] = ()) -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run ./scripts/setup.sh --test")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*FLAGS, *extra_flags]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(scope="session")
async def browser(samples: Path) -> AsyncIterator[Browser]:
    voice = audio_samples.speech_of_length(samples, 30)  # the fake microphone speaks this
    async with launched_chromium(microphone_flags(voice)) as launched:
        yield launched


async def axe(
    page: Page, impacts: tuple[str, ...] = SERIOUS, enable: Sequence[str] = ()
) -> list[str]:
    """axe-core's violations of the given impacts on the page as it is now, one line per
    element: rule, impact, what to fix, which element. `enable` turns on rules axe leaves
    off by default, e.g. "target-size" (WCAG 2.2: a tap target partly covered by another
    element), which Lighthouse runs."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        try:
            await page.add_script_tag(path=AXE_JS)
        except PlaywrightError as error:  # the page's CSP refused the inline script
            raise AssertionError(
                f"axe-core could not be injected; make the context with bypass_csp=True "
                f"({error.message.splitlines()[0][:160]})"
            ) from error
    rules = {rule: {"enabled": True} for rule in enable}
    results = await page.evaluate("(rules) => axe.run(document, {rules})", rules)
    return [
        f"{rule['id']} ({rule['impact']}): {rule['help']} at {' '.join(node['target'])}: "
        + node["failureSummary"].replace("\n", " ")
        for rule in results["violations"]
        if rule["impact"] in impacts
        for node in rule["nodes"]
    ]


async def no_horizontal_overflow(page: Page) -> None:
    """Fail if the page scrolls sideways, naming the outermost elements that stick out."""
    overflow = await page.evaluate(
        """() => {
        const width = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth <= width) return null;
        const sticksOut = (el) => { const r = el.getBoundingClientRect();
          return r.width > 0 && (r.right > width + 1 || r.left < -1); };
        const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
          + [...el.classList].map((c) => '.' + c).join('');
        const culprits = [...document.body.querySelectorAll('*')]
          .filter((el) => sticksOut(el) && !sticksOut(el.parentElement))
          .slice(0, 10)
          .map((el) => `${name(el)} (${Math.round(el.getBoundingClientRect().right)}px)`);
        return {scrollWidth: document.documentElement.scrollWidth, width, culprits};
    }"""
    )
    assert overflow is None, (
        f"the page is {overflow['scrollWidth']}px wide in a {overflow['width']}px viewport: "
        + ", ".join(overflow["culprits"])
    )


def lighthouse(
    url: str,
    form_factor: Literal["mobile", "desktop"] = "mobile",
    report_path: Path | None = None,
    timeout_s: float = 180,
    user_data_dir: Path | None = None,
) -> dict[str, float | None]:
    """Lighthouse's category scores (0-100) for `url`: performance, accessibility,
    best-practices, seo. Mobile is Lighthouse's default (Moto G power, simulated 4G and
    4x CPU slowdown); desktop uses its desktop preset. The whole JSON report goes to
    `report_path` if given. A score is None when Lighthouse could not compute it.
    With `user_data_dir` Chromium starts from that profile and Lighthouse keeps its
    storage (a page behind a sign-in kept in localStorage)."""
    command = [
        shutil.which("node") or "node",
        str(LIGHTHOUSE_CLI),
        url,
        "--output=json",
        "--output-path=stdout",
        "--quiet",
        "--only-categories=performance,accessibility,best-practices,seo",
        f"--chrome-flags=--headless=new {' '.join(FLAGS)}"
        + (f" --user-data-dir={user_data_dir}" if user_data_dir else ""),
        *(["--preset=desktop"] if form_factor == "desktop" else []),
        *(["--disable-storage-reset"] if user_data_dir else []),
    ]
    with tempfile.TemporaryDirectory(prefix="lighthouse-") as home:
        env = os.environ | {"CHROME_PATH": CHROMIUM, "HOME": home}  # its profile goes there
        done = subprocess.run(command, capture_output=True, env=env, timeout=timeout_s)
    if done.returncode != 0:
        raise AssertionError(f"lighthouse failed ({done.returncode}): {done.stderr[-2000:]!r}")
    report: dict[str, Any] = json.loads(done.stdout)
    if report_path:
        report_path.write_text(json.dumps(report))
    if report.get("runtimeError"):
        raise AssertionError(f"lighthouse could not load {url}: {report['runtimeError']}")
    scores = {name: category["score"] for name, category in report["categories"].items()}
    return {name: None if s is None else round(float(s) * 100, 1) for name, s in scores.items()}


async def screenshot(page: Page, name: str, full_page: bool = True) -> None:
    """Saves the page (or, with full_page=False, what the viewport shows) for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)
