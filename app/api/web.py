"""The browser client: `/` serves its page, `/web/...` its static files (no build step)."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

router = APIRouter(include_in_schema=False)


@router.get("/")
@router.get("/verify-email")  # the links of mails (?token=...): the client takes it from here
@router.get("/reset-password")
async def index() -> FileResponse:
    # Always revalidated, so a new release reaches browsers on their next visit.
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def static_files() -> StaticFiles:
    return StaticFiles(directory=WEB_DIR)
