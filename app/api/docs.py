"""The API reference as web pages: Swagger UI at `/docs` and ReDoc at `/redoc`, offline.

Their scripts and styles come from the pinned `fastapi-offline` package (its copies of
swagger-ui-dist and ReDoc's standalone bundle), served here under `/docs/assets/`, so
the pages work where no CDN can be reached. Each page's start-up is a served file too,
and each answers with a Content-Security-Policy that allows exactly what it loads.
"""

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
PAGES_DIR = Path(__file__).resolve().parent.parent / "web" / "docs"

# Both pages load only this origin's files and /openapi.json, and set element styles from
# script (through the CSSOM, which CSP does not govern). ReDoc also adds two <style>
# elements, allowed by their hashes: perfect-scrollbar's fixed CSS, and the empty sheet
# styled-components fills rule by rule through the CSSOM. (Another version of the
# package may change the first: tests/api/test_docs_ui.py fails on any CSP violation.)
_COMMON = (
    "default-src 'none'",
    "script-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
SWAGGER_CSP = "; ".join((*_COMMON, "style-src 'self'"))
REDOC_STYLES = (
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar.css
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # "" (styled-components)
)
# ... and runs its search index in a worker made from a blob: URL.
REDOC_CSP = "; ".join((*_COMMON, f"style-src 'self' {' '.join(REDOC_STYLES)}", "worker-src blob:"))
# ReDoc always shows Redocly's logo from their CDN beside "API docs by Redocly": the one
# outside address either page would fetch. It is served pointing at nothing (the logo
# then removes itself), so the pages ask nothing of the outside world.
REDOCLY_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"

SWAGGER_PAGE, REDOC_PAGE = "/docs", "/redoc"
router = APIRouter(include_in_schema=False)


def _page(name: str, csp: str) -> FileResponse:
    return FileResponse(
        PAGES_DIR / name,
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": csp},
    )


@router.get(SWAGGER_PAGE)
async def swagger_ui() -> FileResponse:
    return _page("swagger.html", SWAGGER_CSP)


@router.get(REDOC_PAGE)
async def redoc() -> FileResponse:
    return _page("redoc.html", REDOC_CSP)


@cache
def _redoc_bundle() -> bytes:
    return (ASSETS_DIR / "redoc.standalone.js").read_bytes().replace(REDOCLY_LOGO, b"data:,")


@router.get("/docs/assets/redoc.standalone.js")
async def redoc_bundle() -> Response:
    return Response(_redoc_bundle(), media_type="text/javascript")


def assets() -> StaticFiles:
    """swagger-ui-bundle.js, swagger-ui.css and redoc.standalone.js, as the package has them."""
    return StaticFiles(directory=ASSETS_DIR)
