"""Sign-in through OpenID Connect providers (Google Workspace, Microsoft Entra, ...).

1. `start`: a random `state`, `nonce` and PKCE verifier (S256) are kept server-side in
   `oidc_pending` (by the SHA-256 of `state`, 10 minutes, with the invite code if any);
   the browser also gets `state` in an HttpOnly cookie so that only the browser that
   started a sign-in can finish it (no login CSRF). 302 to the provider.
2. `callback`: the flow row is deleted as it is read (state and nonce are single use);
   the code is exchanged with the verifier; the ID token is fully validated
   (`app.services.oidc_provider`), then `email_verified`, the allowed domains and
   `hd`/`tid` when configured. The browser goes back to the client with a one-time
   exchange code (60 s) in the URL fragment; never an Earshot token.
3. `exchange`: the code becomes the usual token. The identity is (provider, `sub`)
   (`oidc_subjects`), never the email alone: a known subject signs in; a new one whose
   verified email is an existing account's verified email gets 409 `link_required` and
   a link code, which `link` accepts with that account's password; otherwise an account
   is made when registration allows it (the invite code carried from `start`).
Tokens issued here expire after `EARSHOT_OIDC_SESSION_HOURS`.
"""

import base64
import hashlib
import json
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.errors import ApiError, Conflict, Forbidden, NotFound
from app.models import OidcPending, OidcSubject, Token, User, utcnow
from app.services import accounts, invites, registration
from app.services.context import Ctx
from app.services.oidc_config import OidcProviderConfig
from app.services.oidc_provider import discovery, exchange_code, validate_id_token

FLOW_TTL = timedelta(minutes=10)
EXCHANGE_TTL = timedelta(seconds=60)
LINK_TTL = timedelta(minutes=10)
STATE_COOKIE = "earshot_oidc_state"


def provider_config(ctx: Ctx, name: str) -> OidcProviderConfig:
    provider = ctx.settings.oidc.get(name)
    if provider is None:
        raise NotFound("No such sign-in provider on this server.", code="oidc_provider_unknown")
    return provider


def callback_url(ctx: Ctx, name: str) -> str:
    base = (ctx.settings.public_url or "").rstrip("/")
    return f"{base}/api/v1/auth/oidc/{name}/callback"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _bad_state() -> ApiError:
    return ApiError(
        "This sign-in is unknown, expired or was started in another browser; start again.",
        code="oidc_state_invalid",
        status=400,
    )


def invalid_code() -> ApiError:
    return ApiError(
        "That sign-in code is unknown, used or expired; sign in again.",
        code="oidc_code_invalid",
        status=422,
    )


def already_linked() -> ApiError:
    return Conflict(
        "This identity was linked to an account meanwhile: sign in again.",
        code="oidc_already_linked",
    )


async def _put(ctx: Ctx, kind: str, provider: str, data: dict[str, Any], ttl: timedelta) -> str:
    secret = secrets.token_urlsafe(32)
    ctx.db.add(
        OidcPending(
            key_hash=_hash(secret),
            kind=kind,
            provider=provider,
            data=json.dumps(data),
            expires_at=utcnow() + ttl,
        )
    )
    return secret


async def _take(ctx: Ctx, kind: str, secret: str) -> OidcPending | None:
    """The pending step of `kind` with this secret, deleted (by this caller only)."""
    row = await ctx.db.get(OidcPending, _hash(secret))
    if row is None or row.kind != kind:
        return None
    deleted = await ctx.db.execute(delete(OidcPending).where(OidcPending.key_hash == row.key_hash))
    if deleted.rowcount != 1 or row.expires_at <= utcnow():  # type: ignore[attr-defined]
        return None
    return row


async def start(ctx: Ctx, name: str, invite_code: str | None, address: str) -> tuple[str, str]:
    """The provider's authorization URL and the `state` for the browser's cookie."""
    provider = provider_config(ctx, name)
    await ctx.limit("oidc-start", address)
    if invite_code is not None:
        await invites.check_invite(ctx, invite_code)
    await ctx.release()  # no database transaction is held while the provider answers
    document = await discovery(ctx.settings, ctx.rt.oidc, provider)
    await ctx.db.execute(delete(OidcPending).where(OidcPending.expires_at <= utcnow()))
    nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    state = await _put(
        ctx,
        "flow",
        name,
        {"nonce": nonce, "verifier": verifier, "invite_code": invite_code},
        FLOW_TTL,
    )
    await ctx.commit()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": callback_url(ctx, name),
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    if provider.hd:
        params["hd"] = provider.hd  # Google shows only that Workspace's accounts
    return f"{document['authorization_endpoint']}?{urlencode(params)}", state


def _email_verified(provider: OidcProviderConfig, claims: dict[str, Any]) -> bool:
    """`email_verified`, or for Entra (a `tid` configured and matched) its `xms_edov`:
    the tenant owns the email's domain (Entra sends no `email_verified`)."""
    if claims.get("email_verified") is True:
        return True
    tenant = provider.tid is not None and claims.get("tid") == provider.tid
    return tenant and claims.get("xms_edov") is True


def _check_claims(provider: OidcProviderConfig, claims: dict[str, Any]) -> str:
    """The verified, lower-cased email of `claims`; 403 when the provider's rules refuse."""
    email = claims.get("email")
    if not _email_verified(provider, claims) or not isinstance(email, str) or "@" not in email:
        raise Forbidden(
            "The provider did not vouch for an email address of this account.",
            code="oidc_email_unverified",
        )
    email = email.strip().lower()
    refused = Forbidden(
        "This account's organisation may not sign in to this server.",
        code="oidc_domain_not_allowed",
    )
    if provider.allowed_domains and not registration.in_domains(email, provider.allowed_domains):
        raise refused
    if provider.hd and claims.get("hd") != provider.hd:
        raise refused
    if provider.tid and claims.get("tid") != provider.tid:
        raise refused
    return email


async def callback(
    ctx: Ctx,
    name: str,
    *,
    state: str | None,
    cookie_state: str | None,
    code: str | None,
    error: str | None,
) -> str:
    """Check everything the provider sent back; the one-time exchange code for the client."""
    provider = provider_config(ctx, name)
    if not state or not cookie_state or not secrets.compare_digest(state, cookie_state):
        raise _bad_state()
    flow = await _take(ctx, "flow", state)
    await ctx.commit()  # the state and its nonce are spent, whatever follows
    if flow is None or flow.provider != name:
        raise _bad_state()
    if error is not None or not code:
        raise ApiError(
            "The sign-in was cancelled or refused at the provider.",
            code="oidc_denied",
            status=400,
            details={"error": (error or "no_code")[:64]},
        )
    pending = json.loads(flow.data)
    id_token = await exchange_code(
        ctx.settings,
        ctx.rt.oidc,
        provider,
        code=code,
        verifier=pending["verifier"],
        redirect_uri=callback_url(ctx, name),
    )
    claims = await validate_id_token(
        ctx.settings, ctx.rt.oidc, provider, id_token, pending["nonce"]
    )
    email = _check_claims(provider, claims)
    identity = {
        "sub": claims["sub"],
        "email": email,
        "name": str(claims.get("name") or "")[:100],
        "invite_code": pending["invite_code"],
    }
    exchange = await _put(ctx, "exchange", name, identity, EXCHANGE_TTL)
    await ctx.commit()
    return exchange


REAUTH_WINDOW = timedelta(minutes=15)


async def require_recent_sso(ctx: Ctx, user: User, token: str) -> None:
    """For an account without a password (made through SSO): 403
    `reauthentication_required` unless `token` came from the provider in the last 15
    minutes, so a stolen older token cannot delete the account."""
    issued = await ctx.db.scalar(
        select(Token.created_at).where(
            Token.token_hash == accounts.hash_token(token),
            Token.user_id == user.id,
            Token.expires_at.is_not(None),
        )
    )
    if issued is None or utcnow() - issued > REAUTH_WINDOW:
        raise Forbidden(
            "Sign in through your organisation again, then try within 15 minutes.",
            code="reauthentication_required",
        )


async def _issue(ctx: Ctx, user: User) -> str:
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(hours=ctx.settings.oidc_session_hours)
    ctx.db.add(Token(token_hash=accounts.hash_token(token), user_id=user.id, expires_at=expires_at))
    return token


def _handle_base(email: str) -> str:
    local = re.sub(r"[^a-z0-9_.-]", "", email.split("@", 1)[0].lower())[:24]
    return local if len(local) >= 3 else f"user{local}"


async def _new_account(ctx: Ctx, name: str, identity: dict[str, Any]) -> User:
    invite_code = identity["invite_code"]
    await registration.check_register(ctx, invite_code)
    base = _handle_base(identity["email"])
    for attempt in range(8):
        handle = base if attempt == 0 else f"{base}-{secrets.token_hex(2)}"
        if not await ctx.db.scalar(select(User.id).where(User.handle == handle)):
            break
    user = User(
        handle=handle,
        display_name=identity["name"] or identity["email"].split("@", 1)[0][:100],
        password_hash="",  # no password: never verifies (argon2 refuses an empty hash)
        email=identity["email"],
        email_verified_at=utcnow(),
    )
    try:  # a parallel first sign-in of the same person (or to the same handle) fails here
        ctx.db.add(user)
        await ctx.db.flush()
        ctx.db.add(OidcSubject(provider=name, subject=identity["sub"], user_id=user.id))
        await ctx.db.flush()
    except IntegrityError:
        raise already_linked() from None
    if invite_code is not None:
        await invites.join_by_invite(ctx, user, invite_code)
    return user


async def exchange(ctx: Ctx, code: str) -> tuple[User, str]:
    """The user and a token for a one-time exchange code from the callback."""
    row = await _take(ctx, "exchange", code)
    if row is None:
        await ctx.commit()
        raise invalid_code()
    identity = json.loads(row.data)
    user = await ctx.db.scalar(
        select(User)
        .join(OidcSubject, OidcSubject.user_id == User.id)
        .where(OidcSubject.provider == row.provider, OidcSubject.subject == identity["sub"])
    )
    if user is None:
        match = await ctx.db.scalar(
            select(User).where(
                User.email == identity["email"],
                User.email_verified_at.is_not(None),
                User.deleted_at.is_(None),
            )
        )
        if match is not None:
            link_code = await _put(
                ctx, "link", row.provider, identity | {"user_id": match.id}, LINK_TTL
            )
            await ctx.commit()
            raise Conflict(
                "An account with this address exists: enter its password once to link it.",
                code="link_required",
                details={"link_code": link_code, "handle": match.handle},
            )
        user = await _new_account(ctx, row.provider, identity)
    elif user.deleted_at is not None:
        await ctx.commit()
        raise Forbidden("This account was deleted.", code="account_deleted")
    elif user.disabled_at is not None:
        await ctx.commit()  # the exchange code is used up
        accounts.require_enabled(user)
    token = await _issue(ctx, user)
    await ctx.commit()
    return user, token


async def link(ctx: Ctx, code: str, password: str, address: str) -> tuple[User, str]:
    """Link the identity of a link code to its account, once its password is proved."""
    row = await ctx.db.get(OidcPending, _hash(code))
    if row is None or row.kind != "link" or row.expires_at <= utcnow():
        raise invalid_code()
    identity = json.loads(row.data)
    user = await ctx.db.get(User, identity["user_id"])
    if user is None or user.deleted_at is not None:
        raise invalid_code()
    await ctx.release()  # no database lock is held while hashing
    await accounts.require_password(ctx, user, password, address)
    accounts.require_enabled(user)
    if await _take(ctx, "link", code) is None:
        raise invalid_code()  # a parallel request used it meanwhile
    ctx.db.add(OidcSubject(provider=row.provider, subject=identity["sub"], user_id=user.id))
    try:
        await ctx.db.flush()
    except IntegrityError:
        raise already_linked() from None
    token = await _issue(ctx, user)
    await ctx.commit()
    return user, token
