"""The web client's files: the page at `/`, its modules under `/web/`, errors in the one shape."""

import re

import httpx

from tests.helpers import assert_error


async def test_the_page_and_every_module_it_imports_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    pending, seen = re.findall(r'(?:src|href)="(/web/[^"]+)"', page.text), set()
    assert "/web/js/main.js" in pending and "/web/style.css" in pending
    while pending:  # follow the ES module imports: a typo in one would blank the app
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        r = await client.get(path)
        assert r.status_code == 200, path
        for name in re.findall(r'from "\./([\w.]+)"', r.text):
            pending.append(path.rsplit("/", 1)[0] + "/" + name)
    assert len(seen) >= 7


async def test_missing_files_and_api_routes_answer_in_the_error_shape(
    client: httpx.AsyncClient,
) -> None:
    assert_error(await client.get("/web/js/nope.js"), 404)
    assert_error(await client.get("/web/../app/config.py"), 404)
    assert_error(await client.get("/api/v1/nothing-here"), 404)
