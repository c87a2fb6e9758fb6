"""A real Earshot server, and people in Debian's Chromium (the session's `browser`,
from tests/support/browser.py, with a fake microphone)."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.process import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path / "data",
        argon2_time_cost="1",
        argon2_memory_kib="1024",
        argon2_parallelism="1",
        rate_limits="false",  # tests set scenes faster than people type
    ).start()
    yield process
    process.stop()


@pytest.fixture
async def person(browser: Browser, server: ServerProcess) -> AsyncIterator[object]:
    """Opens a browser context (its own storage: one user) on the server; closes them after."""
    contexts: list[BrowserContext] = []

    async def open_page(
        viewport: dict[str, int] | None = None, *, bypass_csp: bool = False
    ) -> Page:
        """A page for one person; `bypass_csp` lets tests/support's axe() inject axe-core."""
        context = await browser.new_context(
            base_url=server.url,
            permissions=["microphone"],
            viewport=viewport or {"width": 420, "height": 860},
            bypass_csp=bypass_csp,
        )
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        await context.close()
