"""The web client's files: the page at `/`, its modules under `/web/`, errors in the one shape,
compressed and cacheable."""

import gzip
import json
import re
import struct

import httpx

from tests.helpers import Api, assert_error


async def test_the_page_and_every_module_it_imports_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-cache"
    version = re.search(r'src="/web/([0-9a-f]{12})/js/main\.js"', page.text)
    assert version, "the page loads its release's main.js"
    prefix = f"/web/{version[1]}"
    pending, seen = re.findall(r'(?:src|href)="(/web/[^"]+)"', page.text), set()
    assert f"{prefix}/style.css" in pending
    while pending:  # follow the ES module imports: a typo in one would blank the app
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        r = await client.get(path)
        assert r.status_code == 200, path
        for name in re.findall(r'from "(\.\.?/[\w./]+)"', r.text):
            base = path.rsplit("/", 1)[0].split("/")
            for part in name.split("/"):
                if part == "..":
                    base.pop()
                elif part != ".":
                    base.append(part)
            pending.append("/".join(base))
    assert len(seen) >= 15
    assert all(p.startswith(prefix) for p in seen)
    preloaded = set(re.findall(r'rel="modulepreload" href="([^"]+)"', page.text))
    assert {p for p in seen if p.endswith(".js")} <= preloaded, "every module is preloaded"


async def test_static_files_are_compressed_and_cached_by_release(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/")).text
    main = re.search(r'src="(/web/[0-9a-f]{12}/js/main\.js)"', page)[1]  # type: ignore[index]
    plain = await client.get(main, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    raw = await client.get(main, headers={"Accept-Encoding": "gzip, br"})
    assert raw.headers["content-encoding"] == "gzip" and raw.headers["vary"] == "Accept-Encoding"
    assert raw.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert raw.headers["content-type"].startswith("text/javascript")
    async with client.stream("GET", main, headers={"Accept-Encoding": "gzip"}) as streamed:
        body = b"".join([chunk async for chunk in streamed.aiter_raw()])
    assert len(body) < len(plain.content) / 2 and gzip.decompress(body) == plain.content

    again = await client.get(main, headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and not again.content
    unversioned = await client.get("/web/js/main.js")
    assert unversioned.content == plain.content
    assert unversioned.headers["cache-control"] == "no-cache" and unversioned.headers["etag"]
    older = await client.get("/web/000000000000/js/main.js")  # a page of another release
    assert older.status_code == 200 and older.headers["cache-control"] == "no-cache"
    page_tag = (await client.get("/")).headers["etag"]
    assert (await client.get("/", headers={"If-None-Match": page_tag})).status_code == 304


async def test_missing_files_and_api_routes_answer_in_the_error_shape(
    client: httpx.AsyncClient,
) -> None:
    assert_error(await client.get("/web/js/nope.js"), 404)
    assert_error(await client.get("/web/../app/config.py"), 404)
    assert_error(await client.get("/web/js/../../api/web.py"), 404)
    assert_error(await client.get("/api/v1/nothing-here"), 404)


async def test_api_json_is_gzipped_but_never_auth_answers(api: Api) -> None:
    amy = await api.register("amy")
    gid = await api.group(amy)
    for n in range(20):
        await api.post(amy, gid, f"message number {n} with a few more words in it")
    gz = {"Accept-Encoding": "gzip"}
    page = await api.call(amy, "GET", f"/groups/{gid}/messages", headers=gz)
    assert page.headers["content-encoding"] == "gzip" and len(page.json()["messages"]) == 20
    plain = await api.call(
        amy, "GET", f"/groups/{gid}/messages", headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers and plain.json() == page.json()
    login = await api.client.post(
        "/api/v1/auth/login", json={"handle": amy.handle, "password": "correct horse"}, headers=gz
    )
    assert login.status_code == 200 and "content-encoding" not in login.headers  # it holds a token


async def test_the_service_worker_and_the_manifest_name_this_release(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    version = re.search(r'src="/web/([0-9a-f]{12})/js/main\.js"', page.text)[1]  # type: ignore[index]
    csp = page.headers["content-security-policy"]
    assert "worker-src 'self'" in csp and "manifest-src 'self'" in csp
    worker = await client.get("/sw.js")
    assert worker.status_code == 200 and worker.headers["cache-control"] == "no-cache"
    assert worker.headers["content-type"].startswith("text/javascript")
    first, _, rest = worker.text.partition("\n")
    release = json.loads(first.removeprefix("const RELEASE = ").removesuffix(";"))
    assert release["version"] == version and "js/main.js" in release["files"]
    assert "sw.js" not in release["files"] and "index.html" not in release["files"]
    assert 'self.addEventListener("push"' in rest
    assert (await client.get(f"/web/{version}/sw.js")).status_code == 404  # one address only

    link = re.search(r'rel="manifest" href="([^"]+)"', page.text)[1]  # type: ignore[index]
    manifest = await client.get(link)
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["display"] == "standalone" and body["start_url"] == "/" and body["scope"] == "/"
    purposes = set()
    for icon in body["icons"]:  # relative to the manifest: this release's files
        png = await client.get(link.rsplit("/", 1)[0] + "/" + icon["src"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        width, height = struct.unpack(">II", png.content[16:24])  # the PNG's IHDR
        assert f"{width}x{height}" == icon["sizes"]
        purposes.add(icon["purpose"])
    assert purposes == {"any", "maskable"}
    assert {icon["sizes"] for icon in body["icons"]} == {"192x192", "512x512"}
