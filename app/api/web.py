"""The browser client: `/` serves its page, `/web/...` its static files (no build step).

The files are read once when the app is made, each kept as is and gzipped. Their
release has a version, a hash of every file: the page refers to
`/web/<version>/...`, which is cached for a year (`immutable`), so a new release is a
new address and a visit after it loads what changed. Relative module imports stay
under that prefix. The page itself and unversioned `/web/...` addresses are
revalidated every time (`no-cache` with an `ETag`).

The service worker (`sw.js`) is served at `/sw.js`, so its scope is the whole site,
also revalidated every time: it starts with the release's version and file list
(`const RELEASE = {...}`), which it caches as the app shell, so a new release is a
new worker.
"""

import gzip
import hashlib
import json
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
WORKER = "sw.js"
YEAR = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".webmanifest": "application/manifest+json",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str

    @classmethod
    def of(cls, body: bytes, suffix: str) -> "StaticFile":
        media_type = (
            TYPES.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0] or "application/octet-stream"
        )
        return cls(
            body,
            gzip.compress(body, 9, mtime=0),
            '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            media_type,
        )

    def response(self, request: Request, cache_control: str) -> Response:
        headers = {"ETag": self.etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = self.body
        if len(self.body) > 512 and "gzip" in request.headers.get("accept-encoding", ""):
            body, headers["Content-Encoding"] = self.gzipped, "gzip"
        return Response(body, media_type=self.media_type, headers=headers)


@dataclass(frozen=True)
class Release:
    version: str
    files: dict[str, StaticFile]  # path under WEB_DIR ("js/main.js") -> file
    page: StaticFile
    worker: StaticFile  # sw.js, with the release it caches

    @classmethod
    def read(cls, root: Path = WEB_DIR) -> "Release":
        raw = {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "index.html"
        }
        worker = raw.pop(WORKER)
        digest = hashlib.sha256()
        for name, body in raw.items():
            digest.update(name.encode() + b"\0" + body)
        digest.update(WORKER.encode() + b"\0" + worker)
        version = digest.hexdigest()[:12]
        files = {name: StaticFile.of(body, Path(name).suffix) for name, body in raw.items()}
        # Every module is fetched at once (modulepreload), not one import level at a time.
        preloads = "\n".join(
            f'  <link rel="modulepreload" href="/web/{version}/{name}">'
            for name in raw
            if name.endswith(".js")
        )
        page = (root / "index.html").read_text()
        page = re.sub(r'(href|src)="/web/', rf'\1="/web/{version}/', page)
        page = page.replace("<!-- modulepreload -->", preloads)
        shell = json.dumps({"version": version, "files": list(raw)})
        worker = f"const RELEASE = {shell};\n".encode() + worker
        return cls(
            version, files, StaticFile.of(page.encode(), ".html"), StaticFile.of(worker, ".js")
        )


def static_router(release: Release | None = None) -> APIRouter:
    release = release or Release.read()
    routes = APIRouter(include_in_schema=False)

    @routes.get("/")
    @routes.get("/verify-email")  # the links of mails (?token=...): the client takes it from here
    @routes.get("/reset-password")
    async def index(request: Request) -> Response:
        return release.page.response(request, REVALIDATE)

    @routes.get("/web/{path:path}")
    async def static(path: str, request: Request) -> Response:
        first, _, rest = path.partition("/")
        if first == release.version and rest in release.files:
            return release.files[rest].response(request, YEAR)
        if re.fullmatch(r"[0-9a-f]{12}", first) and rest in release.files:
            # A page of an older release: today's file, but never cached as that one.
            return release.files[rest].response(request, REVALIDATE)
        if path in release.files:
            return release.files[path].response(request, REVALIDATE)
        raise HTTPException(404)

    @routes.get("/sw.js")
    async def service_worker(request: Request) -> Response:
        return release.worker.response(request, REVALIDATE)

    @routes.get("/favicon.ico")
    async def favicon(request: Request) -> Response:
        """For clients that ask the conventional path; pages name the icon themselves."""
        return release.files["favicon.svg"].response(request, REVALIDATE)

    return routes
