"""One-click unsubscribe from the catch-up digest (RFC 8058), with no sign-in: the signed
token of the mail's `List-Unsubscribe` link is the proof.

`POST` turns the digest off (what a mail client's one-click button sends). `GET` only
shows a page with a button that posts: link scanners and previews fetch every URL of a
mail, and must not unsubscribe anyone by doing so.
"""

import html
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse

from app.api.common import errors
from app.api.deps import CtxDep, ReadCtxDep
from app.services import digest

router = APIRouter(tags=["accounts"])

Token = Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]


def _page(title: str, body: str) -> HTMLResponse:
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>\n"
        f"<body><main><h1>{html.escape(title)}</h1>\n{body}</main></body></html>\n"
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


PAGE = {200: {"content": {"text/html": {}}}, **errors()}


@router.get("/digest/unsubscribe", response_class=Response, responses=PAGE)
async def confirm_unsubscribe(token: Token, ctx: ReadCtxDep) -> HTMLResponse:
    """A page asking to confirm; changes nothing (`422 invalid_token` for a bad token)."""
    await digest.check_unsubscribe(ctx, token)
    action = html.escape(f"{digest.UNSUBSCRIBE_PATH}?token={token}")
    return _page(
        "Stop the Earshot digest?",
        "<p>You will no longer get the catch-up email. You can turn it on again in your "
        "account.</p>\n"
        f'<form method="post" action="{action}">'
        '<button type="submit" name="List-Unsubscribe" value="One-Click">'
        "Unsubscribe</button></form>",
    )


@router.post("/digest/unsubscribe", response_class=Response, responses=PAGE)
async def unsubscribe(token: Token, ctx: CtxDep) -> HTMLResponse:
    """Turn the digest off (RFC 8058 one-click: any body is ignored); `422 invalid_token`."""
    await digest.unsubscribe(ctx, token)
    return _page(
        "You are unsubscribed",
        "<p>The Earshot digest is off. You can turn it on again in your account.</p>",
    )
