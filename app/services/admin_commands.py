"""`earshot admin ...`: the instance admins' tasks at the command line, for the person
who runs the server (the first admin, a locked-out district, a script).

Each command runs one use case of `app.services.admin` against the configured database
(migrated first, so the first admin can be made before the first `serve`) and broker:
with Redis configured, disabling or deleting an account closes its websockets in every
running server. Exit status: 0 done, 1 refused or not found, 2 bad arguments.

No password ever passes through a command line (where shell history and `ps` keep it):
`create-user` and `reset-password` print a one-time link where the person sets their own.
"""

import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.config import Settings, make_private_dir
from app.db import migrate_async
from app.errors import ApiError
from app.schemas import Email, Handle, Name
from app.schemas.admin import AdminUserOut, Reason
from app.services import admin
from app.services.context import Ctx, Runtime, open_runtime, transaction
from app.services.scrub import Scrubber

OK, REFUSED, USAGE = 0, 1, 2


def _valid(kind: Any, value: str | None, what: str) -> Any:
    if value is None:
        return None
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError:
        raise ValueError(f"not a valid {what}: {value!r}") from None


def _describe(user: AdminUserOut) -> str:
    flags = [f for f, on in (("admin", user.is_admin), ("disabled", user.disabled)) if on]
    email = user.email or "-"
    return f"@{user.handle}\t{user.id}\t{user.display_name}\t{email}\t{','.join(flags) or '-'}"


def _print_link(settings: Settings, link: str) -> None:
    print(f"One-time link to set the password (valid 72 hours; shown once):\n{link}")
    if not settings.public_url:
        print(
            "EARSHOT_PUBLIC_URL is not set: put the server's address before the link.",
            file=sys.stderr,
        )


async def _create(ctx: Ctx, a: dict[str, Any]) -> int:
    user, link = await admin.create_user(
        ctx,
        None,
        handle=_valid(Handle, a["handle"], "handle (3-32 of a-z 0-9 _ . -)"),
        display_name=_valid(Name, a["display_name"], "display name"),
        email=_valid(Email, a["email"], "email address"),
        admin=a["admin"],
    )
    print(f"Created {_describe(admin.user_out(user))}")
    _print_link(ctx.settings, link)
    return OK


async def _list(ctx: Ctx, a: dict[str, Any]) -> int:
    search = _valid(Name, a["search"], "search")
    before = None
    print("handle\tid\tname\temail\tflags")
    while True:
        users, more = await admin.list_users(ctx, search=search, before=before, limit=100)
        for user in users:
            print(_describe(user))
        if not more:
            return OK
        before = users[-1].id


async def _change(ctx: Ctx, a: dict[str, Any]) -> int:
    user = await admin.user_by_handle(ctx, a["handle"])
    command = a["admin_command"]
    if command == "disable":
        out = await admin.disable(ctx, None, user.id, _valid(Reason, a["reason"], "reason"))
    elif command == "enable":
        out = await admin.enable(ctx, None, user.id)
    else:
        out = await admin.set_admin(ctx, None, user.id, command == "promote")
    print(_describe(out))
    return OK


async def _reset(ctx: Ctx, a: dict[str, Any]) -> int:
    user = await admin.user_by_handle(ctx, a["handle"])
    _print_link(ctx.settings, await admin.password_link(ctx, None, user.id))
    return OK


async def _delete(ctx: Ctx, a: dict[str, Any]) -> int:
    user = await admin.user_by_handle(ctx, a["handle"])
    await admin.delete_user(ctx, user.id)
    print(f"Deleted @{a['handle']}: everything it posted is erased.")
    return OK


COMMANDS: dict[str, Callable[[Ctx, dict[str, Any]], Awaitable[int]]] = {
    "create-user": _create,
    "list-users": _list,
    "promote": _change,
    "demote": _change,
    "disable": _change,
    "enable": _change,
    "reset-password": _reset,
    "delete-user": _delete,
}


async def _run(rt: Runtime, args: dict[str, Any]) -> int:
    async with transaction(rt) as ctx:
        return await COMMANDS[args["admin_command"]](ctx, args)


async def run(settings: Settings, args: dict[str, Any]) -> int:
    """Run the admin command `args["admin_command"]` with its arguments; the exit status."""
    make_private_dir(settings.data_dir)
    await migrate_async(settings.resolved_database_url)
    async with open_runtime(settings) as rt:
        rt.scrubber = Scrubber(rt.engine)  # a deleted account's words leave SQLite's pages
        await rt.scrubber.start()
        try:
            return await _run(rt, args)
        except ValueError as exc:
            print(f"earshot admin: {exc}", file=sys.stderr)
            return USAGE
        except ApiError as exc:
            details = f" {exc.details}" if exc.details else ""
            print(f"earshot admin: {exc.message} ({exc.code}){details}", file=sys.stderr)
            return REFUSED
        finally:
            await rt.scrubber.idle()
            await rt.scrubber.stop()
