"""Sign-in through OpenID Connect providers (app.services.oidc)."""

from typing import Annotated

from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import RedirectResponse

from app.api.auth import client_address
from app.api.common import errors
from app.api.deps import CtxDep, runtime
from app.schemas import AuthOut, OidcCodeIn, OidcLinkIn, ProviderOut, UserOut
from app.services import oidc

router = APIRouter(tags=["accounts"])
COOKIE_PATH = "/api/v1/auth/oidc/"
Param = Annotated[str | None, Query(max_length=2048)]


@router.get("/auth/providers", response_model=list[ProviderOut])
async def providers(request: Request) -> list[ProviderOut]:
    """The sign-in providers of this server, for "Sign in with ..." buttons (public)."""
    configured = runtime(request).settings.oidc.values()
    return [ProviderOut(name=p.name, display_name=p.display_name) for p in configured]


@router.get(
    "/auth/oidc/{provider}/start",
    status_code=302,
    response_class=RedirectResponse,
    responses=errors(404, 410, 429, 502),
)
async def start(
    provider: str,
    request: Request,
    ctx: CtxDep,
    invite_code: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> RedirectResponse:
    """302 to the provider (authorization code flow, PKCE S256, state and nonce kept
    server-side; the state also in an HttpOnly cookie for this browser). With
    `invite_code` (required when registration is `invite`), a new account joins that group."""
    url, state = await oidc.start(ctx, provider, invite_code, client_address(request))
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        oidc.STATE_COOKIE,
        state,
        max_age=int(oidc.FLOW_TTL.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        secure=(ctx.settings.public_url or "").startswith("https://"),
        samesite="lax",
    )
    return response


@router.get(
    "/auth/oidc/{provider}/callback",
    status_code=302,
    response_class=RedirectResponse,
    responses=errors(401, 403, 404, 502),
)
async def callback(
    provider: str,
    ctx: CtxDep,
    state: Param = None,
    code: Param = None,
    error: Param = None,
    earshot_oidc_state: Annotated[str | None, Cookie(max_length=128)] = None,
) -> RedirectResponse:
    """Where the provider sends the browser back. Everything is checked; then 302 to the
    web client with a one-time code in the fragment (`/#oidc_code=...`, 60 s) for
    `POST /api/v1/auth/oidc/exchange`. Never an Earshot token in a URL."""
    exchange_code = await oidc.callback(
        ctx, provider, state=state, cookie_state=earshot_oidc_state, code=code, error=error
    )
    base = (ctx.settings.public_url or "").rstrip("/")
    response = RedirectResponse(f"{base}/#oidc_code={exchange_code}", status_code=302)
    response.delete_cookie(oidc.STATE_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/auth/oidc/exchange", response_model=AuthOut, responses=errors(403, 404, 409, 410))
async def exchange(body: OidcCodeIn, ctx: CtxDep) -> AuthOut:
    """The one-time code of the callback for the usual token (it expires after
    EARSHOT_OIDC_SESSION_HOURS). 409 `link_required` (with `details.link_code`) when the
    verified email belongs to an existing account: prove its password with /auth/oidc/link."""
    user, token = await oidc.exchange(ctx, body.code)
    return AuthOut(user=UserOut.model_validate(user), token=token)


@router.post("/auth/oidc/link", response_model=AuthOut, responses=errors(403, 409, 429, 503))
async def link(body: OidcLinkIn, request: Request, ctx: CtxDep) -> AuthOut:
    """Link the provider's identity to the existing account by its password (once); the
    usual token then. 403 `wrong_password`; counted like sign-in attempts."""
    user, token = await oidc.link(ctx, body.code, body.password, client_address(request))
    return AuthOut(user=UserOut.model_validate(user), token=token)
