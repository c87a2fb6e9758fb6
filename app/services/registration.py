"""Who may make an account, and who may post: the district's rules.

`EARSHOT_REGISTRATION`: "open" (anyone signs up), "invite" (only with a group
invite code, and the new account joins that group in the same transaction) or
"closed" (nobody: 403 `registration_closed`). `EARSHOT_REGISTRATION_EMAIL_DOMAINS`:
an account without a verified address in one of those domains may read but not
post (403 `email_domain_required`) until it verifies one.
"""

from sqlalchemy import select

from app.config import Settings
from app.errors import Forbidden
from app.models import User
from app.schemas import ServerOut
from app.services import invites
from app.services.context import Ctx


def server_info(settings: Settings) -> ServerOut:
    return ServerOut(
        registration=settings.registration,
        email_domains=settings.email_domains,
        password_login=settings.password_login,
    )


async def check_register(ctx: Ctx, invite_code: str | None) -> None:
    """Refuse a registration the server's mode does not allow, before any hashing."""
    mode = ctx.settings.registration
    if mode == "closed":
        raise Forbidden(
            "This server does not take new accounts. Ask its operator for one.",
            code="registration_closed",
        )
    if mode == "invite" and invite_code is None:
        raise Forbidden(
            "This server takes new accounts by invitation only: open an invite link.",
            code="invite_required",
        )
    if invite_code is not None:
        await invites.check_invite(ctx, invite_code)


def in_domains(email: str | None, domains: list[str]) -> bool:
    return email is not None and email.rsplit("@", 1)[-1] in domains


async def require_may_post(ctx: Ctx, user: User) -> None:
    """403 `email_domain_required` while the rule applies and the account lacks a
    verified address in one of the domains (read from the database: a websocket's user
    may have verified one since it connected)."""
    domains = ctx.settings.email_domains
    if not domains:
        return
    row = (
        await ctx.db.execute(select(User.email, User.email_verified_at).where(User.id == user.id))
    ).one()
    if row.email_verified_at is None or not in_domains(row.email, domains):
        raise Forbidden(
            f"Verify an address at {' or '.join(domains)} before you post.",
            code="email_domain_required",
            details={"domains": domains},
        )
