"""Email on the account: the address, its verification, and password resets by mail.

Every mail goes through the outbox (`app.services.mail`) and is composed when sent.
A one-time token is HMAC(secret, outbox item id): the worker derives it again on a
retry, the database keeps only its SHA-256 (`EmailToken`), and neither the outbox
row nor the logs ever hold it. Tokens expire (verification after VERIFY_TTL, resets
after RESET_TTL) and are deleted when used.

A reset request always answers the same (202) after the same work: it queues an item
naming the login, and the worker alone looks the account up, and mails only a
verified address. So neither the answer nor its timing tells whether an account
exists.
"""

import base64
import hashlib
import hmac
import html
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import ApiError, Conflict
from app.models import EmailToken, Export, User, utcnow
from app.services import digest, mail, outbox
from app.services.context import Ctx, Runtime

VERIFY_TTL = timedelta(hours=48)
RESET_TTL = timedelta(hours=1)
# The purpose of a link an admin hands over to set a password (`app.services.admin`):
# random, not mailed, tied to no address; otherwise used as a reset token.
SET_PASSWORD = "set"


def not_configured() -> Conflict:
    return Conflict(
        "Email is not set up on this server (EARSHOT_SMTP_URL, EARSHOT_MAIL_FROM and "
        "EARSHOT_PUBLIC_URL).",
        code="email_not_configured",
    )


def require_email(ctx: Ctx) -> None:
    if not ctx.settings.email_enabled:
        raise not_configured()


def normalize(address: str) -> str:
    return address.strip().lower()


def token_for(rt: Runtime, item_id: str) -> str:
    digest = hmac.new(rt.settings.resolved_secret, f"email-token:{item_id}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_hash = hash_token


# --- in the request path: change the account, queue the mail ---------------------


async def set_email(ctx: Ctx, user: User, address: str | None) -> None:
    """Set (and send a verification link to) or remove the account's address; the
    caller commits. The same verified address again changes nothing; an unverified
    one is mailed again."""
    if address is None:
        values: dict[str, Any] = {"email": None, "email_verified_at": None}
    else:
        require_email(ctx)
        address = normalize(address)
        if address == user.email and user.email_verified:
            return
        await ctx.limit("verification-mail", user.id)
        values = {"email": address, "email_verified_at": None}
    await ctx.db.execute(update(User).where(User.id == user.id).values(**values))
    await ctx.db.execute(delete(EmailToken).where(EmailToken.user_id == user.id))
    for name, value in values.items():
        setattr(user, name, value)
    if address is not None:
        expires = (utcnow() + VERIFY_TTL).isoformat()
        payload = {"kind": "verify", "user_id": user.id, "email": address, "expires_at": expires}
        outbox.enqueue(ctx, mail.CHANNEL, payload)


async def request_reset(ctx: Ctx, login: str, address: str) -> None:
    """Queue a reset mail for `login` (a handle or an address), whoever it is."""
    require_email(ctx)
    login = normalize(login)
    await ctx.limit("password-reset", address)
    await ctx.limit("password-reset-login", hashlib.sha256(login.encode()).hexdigest())
    expires = (utcnow() + RESET_TTL).isoformat()
    outbox.enqueue(ctx, mail.CHANNEL, {"kind": "reset", "login": login, "expires_at": expires})
    await ctx.commit()


def invalid_token() -> ApiError:
    return ApiError(
        "This link is not valid any more; ask for a new one.", code="invalid_token", status=422
    )


async def use_token(
    ctx: Ctx, token: str, purposes: tuple[str, ...], address: str
) -> tuple[EmailToken, User]:
    """The live token `token` of one of `purposes` and its account (422 invalid_token
    otherwise), counted against the caller's address."""
    await ctx.limit("email-token", address)
    row = await ctx.db.get(EmailToken, _hash(token))
    if row is None or row.purpose not in purposes or row.expires_at <= utcnow():
        raise invalid_token()
    user = await ctx.db.get(User, row.user_id)
    if user is None or (row.purpose != SET_PASSWORD and user.email != row.email):
        raise invalid_token()  # the address changed since
    return row, user


async def verify(ctx: Ctx, token: str, address: str) -> User:
    row, user = await use_token(ctx, token, ("verify",), address)
    other = await ctx.db.scalar(
        select(User.id).where(
            User.email == row.email, User.email_verified_at.is_not(None), User.id != user.id
        )
    )
    if other is not None:
        raise Conflict("Another account already uses that address.", code="email_taken")
    now = utcnow()
    await ctx.db.execute(update(User).where(User.id == user.id).values(email_verified_at=now))
    await delete_tokens(ctx, user, "verify")
    user.email_verified_at = now
    await ctx.commit()
    return user


async def delete_tokens(ctx: Ctx, user: User, purpose: str) -> bool:
    """Delete the account's tokens of `purpose`; False if there were none (used meanwhile)."""
    result = await ctx.db.execute(
        delete(EmailToken).where(EmailToken.user_id == user.id, EmailToken.purpose == purpose)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- in the outbox worker: compose the mail --------------------------------------


async def compose(rt: Runtime, item: outbox.Item) -> EmailMessage | None:
    """The mail `item` asks for (writing its token), or None if it has no reason any more."""
    payload = item.payload
    expires = datetime.fromisoformat(payload["expires_at"])
    if expires <= utcnow():
        return None
    async with rt.sessions() as db:
        if payload["kind"] == "export":
            return await _export_mail(rt, db, payload)
        if payload["kind"] == digest.KIND:
            return await digest.compose(rt, db, payload)
        if payload["kind"] == "verify":
            user = await db.get(User, payload["user_id"])
            if user is None or user.email != payload["email"] or user.email_verified:
                return None
        else:
            login = payload["login"]
            found = User.email == login if "@" in login else User.handle == login
            user = await db.scalar(
                select(User)
                .where(found, User.email.is_not(None))
                .order_by(User.email_verified_at.is_(None))
            )
            if user is None or not user.email_verified:
                return None
        assert user.email is not None
        token = token_for(rt, item.id)
        if await db.get(EmailToken, _hash(token)) is None:
            db.add(
                EmailToken(
                    token_hash=_hash(token),
                    user_id=user.id,
                    purpose=payload["kind"],
                    email=user.email,
                    expires_at=expires,
                )
            )
            await db.commit()
        return _mail(rt, payload["kind"], user, token)


_TEXTS = {
    "verify": (
        "Confirm your email address for Earshot",
        "Hello {name},\n\nConfirm that this address belongs to your Earshot account "
        "@{handle} by opening this link within 48 hours:\n\n{link}\n\n"
        "If you did not add it, ignore this mail.\n",
        "/verify-email",
    ),
    "reset": (
        "Reset your Earshot password",
        "Hello {name},\n\nSomeone asked to reset the password of your Earshot account "
        "@{handle}. To choose a new one, open this link within an hour:\n\n{link}\n\n"
        "If it was not you, ignore this mail: your password stays as it is.\n",
        "/reset-password",
    ),
}


def mail_export(ctx: Ctx, user: User, export_id: str, expires_at: datetime) -> None:
    """Queue the mail that says the person's data export is ready (the caller commits)."""
    payload = {
        "kind": "export",
        "user_id": user.id,
        "export_id": export_id,
        "expires_at": expires_at.isoformat(),
    }
    outbox.enqueue(ctx, mail.CHANNEL, payload)


async def _export_mail(
    rt: Runtime, db: AsyncSession, payload: dict[str, Any]
) -> EmailMessage | None:
    """The export mail, if the export is still there and the address still verified."""
    user = await db.get(User, payload["user_id"])
    export = await db.get(Export, payload["user_id"])
    if user is None or not user.email_verified or user.deleted_at is not None:
        return None
    if export is None or export.id != payload["export_id"] or export.status != "ready":
        return None
    link = f"{(rt.settings.public_url or '').rstrip('/')}/"
    subject = "Your Earshot data export is ready"
    template = (
        "Hello {name},\n\nThe export of your Earshot data that you asked for is ready. "
        "Sign in at {link} as @{handle} and download it from your account within "
        "{hours} hours; after that it is deleted.\n\n"
        "If you did not ask for it, change your password.\n"
    )
    return _compose(rt, user, subject, template, link, hours=rt.settings.export_keep_hours)


def _mail(rt: Runtime, kind: str, user: User, token: str) -> EmailMessage:
    subject, template, path = _TEXTS[kind]
    link = f"{(rt.settings.public_url or '').rstrip('/')}{path}?token={quote(token)}"
    return _compose(rt, user, subject, template, link)


def _compose(
    rt: Runtime, user: User, subject: str, template: str, link: str, **extra: Any
) -> EmailMessage:
    """A mail of `template` (plain text, and HTML with everything the user wrote escaped)."""
    handle = user.handle or ""
    text = template.format(name=user.display_name, handle=handle, link=link, **extra)
    paragraphs = template.format(
        name=html.escape(user.display_name),
        handle=html.escape(handle),
        link=f'<a href="{html.escape(link)}">{html.escape(link)}</a>',
        **extra,
    ).split("\n\n")
    body = "".join(f"<p>{p.strip()}</p>\n" for p in paragraphs if p.strip())
    page = f'<!doctype html>\n<html lang="en"><body>\n{body}</body></html>\n'
    assert user.email is not None
    return mail.message(rt.settings, user.email, subject, text, page)
