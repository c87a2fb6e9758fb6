"""The API reference pages, /docs (Swagger UI) and /redoc, in real Chromium: served by the
app itself (no CDN), under a Content-Security-Policy with no 'unsafe-inline' that they
never violate. And the favicon every page names."""

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.process import ServerProcess
from tests.support.browser import DESKTOP, PHONE, screenshot

FAVICON = re.compile(r"^/web/([0-9a-f]{12}/)?favicon\.svg$")  # versioned on the client's page


async def operation_count(page: Page) -> int:
    paths = (await (await page.request.get("/openapi.json")).json())["paths"]
    return sum(len(operations) for operations in paths.values())


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for these pages: they only read."""
    process = ServerProcess(tmp_path_factory.mktemp("docs") / "data").start()
    yield process
    process.stop()


@pytest.fixture
async def watched(browser: Browser, docs_server: ServerProcess) -> AsyncIterator[Any]:
    """A page that notes every console error, script error, CSP violation, failed
    response and request leaving the server's origin."""
    contexts = []

    async def open_page(viewport: dict[str, int]) -> tuple[Page, list[str]]:
        context = await browser.new_context(base_url=docs_server.url, viewport=viewport)
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(20_000)
        trouble: list[str] = []
        page.on("console", lambda m: m.type == "error" and trouble.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: trouble.append(f"script error: {e}"))
        page.on("response", lambda r: r.status >= 400 and trouble.append(f"{r.status} {r.url}"))
        page.on(
            "request",
            lambda r: (
                r.url.startswith((docs_server.url, "blob:", "data:"))
                or trouble.append(f"left the server: {r.url}")
            ),
        )
        await page.add_init_script(  # CSP violations, also those the console would not name
            "document.addEventListener('securitypolicyviolation', (e) =>"
            " console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`))"
        )
        return page, trouble

    yield open_page
    for context in contexts:
        await context.close()


async def search_lists(page: Page, term: str, operation: str) -> None:
    """ReDoc's search (its index is built in a blob: worker) lists `operation` for `term`.
    The index is ready some time after the page shows, and a search typed before then
    finds nothing until typed again: so it is typed again, at most ten times."""
    box = page.get_by_placeholder("Search...")
    hit = page.locator("[data-role='search:results']").get_by_text(operation, exact=True)
    for _ in range(10):
        await box.fill("")
        await box.fill(term)
        try:
            await expect(hit).to_be_visible(timeout=3_000)
            return
        except AssertionError:
            continue
    await expect(hit).to_be_visible()


async def assert_strict_csp(page: Page, path: str) -> None:
    response = await page.request.get(path)
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'self'"


async def test_swagger_ui_renders_every_operation_offline(watched: Any) -> None:
    page, trouble = await watched(DESKTOP)
    await assert_strict_csp(page, "/docs")
    await page.goto("/docs")
    register = page.locator(".opblock").filter(has_text="/api/v1/auth/register")
    await expect(register).to_be_visible(timeout=30_000)
    await expect(page.locator(".opblock")).to_have_count(await operation_count(page))
    await register.locator(".opblock-summary").click()  # it opens, showing its request body
    await expect(register.get_by_text("Request body")).to_be_visible()
    await screenshot(page, "docs-swagger-ui", full_page=False)
    assert trouble == []


async def test_redoc_renders_every_operation_and_searches_offline(watched: Any) -> None:
    page, trouble = await watched(DESKTOP)
    await assert_strict_csp(page, "/redoc")
    await page.goto("/redoc")
    operations = page.locator("[data-section-id^='operation/']")
    await expect(operations.first).to_be_visible(timeout=30_000)  # a 1 MB bundle to parse
    await expect(operations).to_have_count(await operation_count(page))
    await search_lists(page, "register", "Register")
    await screenshot(page, "docs-redoc", full_page=False)
    assert trouble == []


async def test_the_web_client_and_docs_name_a_favicon_that_is_served(watched: Any) -> None:
    page, trouble = await watched(PHONE)
    icon = await page.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert await icon.body() == await (await page.request.get("/web/favicon.svg")).body()
    assert (await icon.body()).startswith(b"<svg")
    for path in ("/", "/docs", "/redoc"):
        await page.goto(path)
        named = page.locator("link[rel='icon']")
        await expect(named).to_have_attribute(
            "href", re.compile(r"^/web/([0-9a-f]{12}/)?favicon\.svg$")
        )
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.wait_for_load_state("networkidle")  # the browser's own favicon request too
    assert trouble == []
