"""The `earshot` command: serve the API, migrate the database, check database and store agree."""

import argparse
import asyncio
import os
import sys
from importlib.metadata import version
from typing import Any

import uvicorn
from uvicorn.config import LOG_LEVELS

from app import logs
from app.config import Settings
from app.db import migrate
from app.services import admin_commands, digest, emails, fsck


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn must run Earshot (for `earshot serve`, and tests that run a real server).

    Running `uvicorn app.main:create_app --factory` yourself, pass the same: above all
    `--ws-max-size` (uvicorn's default lets a client make it buffer 16 MiB per frame)."""
    return {
        "ws_max_size": settings.ws_max_frame_bytes,  # bigger frames: 1009 before any is read
        "ws_per_message_deflate": False,  # Opus does not compress; deflate doubles CPU per send
        "ws_ping_interval": settings.ws_heartbeat_s,  # protocol pings: dead peers are noticed
        "ws_ping_timeout": settings.ws_heartbeat_s,
        "backlog": 4096,
        "timeout_graceful_shutdown": 10,
    }


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    from app.main import create_app

    if not args.no_migrate:
        migrate(settings.resolved_database_url)
    uvicorn.run(
        create_app(settings),
        host=settings.host if args.host is None else args.host,
        port=settings.port if args.port is None else args.port,
        log_level=args.log_level,
        log_config=None,  # uvicorn's loggers go through ours (text or JSON)
        **server_options(settings),
    )


def _fsck(args: argparse.Namespace, settings: Settings) -> int:
    if args.grace_s < 0:
        print("earshot fsck: --grace-s cannot be negative", file=sys.stderr)
        return 2
    try:
        return asyncio.run(fsck.run(settings, repair_too=args.repair, grace_s=args.grace_s))
    except Exception as exc:  # the database or the store cannot be read: nothing was judged
        print(f"earshot fsck: could not check: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


def _admin_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    admin = commands.add_parser(
        "admin",
        help="manage accounts: create, list, promote, disable, reset, delete",
        description=admin_commands.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tasks = admin.add_subparsers(dest="admin_command", required=True)
    create = tasks.add_parser(
        "create-user", help="make an account; prints a one-time link to set its password"
    )
    create.add_argument("handle")
    create.add_argument("--display-name", help="default: the handle")
    create.add_argument("--email", help="mailed a verification link (needs email set up)")
    create.add_argument("--admin", action="store_true", help="make it an instance admin")
    listing = tasks.add_parser("list-users", help="accounts, newest first")
    listing.add_argument("--search", help="handle, name or address starting with this")
    for name, what in (
        ("promote", "make an account an instance admin"),
        ("demote", "take admin rights away (never from the last admin)"),
        ("enable", "let a disabled account sign in again"),
        ("reset-password", "print a one-time link to set a new password"),
        ("delete-user", "delete an account and erase everything it posted"),
    ):
        tasks.add_parser(name, help=what).add_argument("handle")
    disable = tasks.add_parser("disable", help="sign an account out everywhere and keep it out")
    disable.add_argument("handle")
    disable.add_argument("--reason", required=True, help="why (admins see it)")


def _digest(args: argparse.Namespace, settings: Settings) -> int:
    if not args.now:
        print(
            "earshot digest: say --now (the server sends the others each morning)", file=sys.stderr
        )
        return 2
    if not settings.email_enabled:
        print(
            "earshot digest: email is not set up (EARSHOT_SMTP_URL, EARSHOT_MAIL_FROM, "
            "EARSHOT_PUBLIC_URL)",
            file=sys.stderr,
        )
        return 2
    handles = asyncio.run(digest.run_now(settings, args.user, emails.compose))
    if args.user and not handles:
        print(
            f"earshot digest: @{args.user} has no digest on, or no verified address",
            file=sys.stderr,
        )
        return 1
    named = " ".join(f"@{h}" for h in handles) or "nobody"
    print(f"digest for {named} handed to the mail server (nothing unheard: no mail)")
    return 0


SETTINGS_NOTE = (
    "Every other setting comes from EARSHOT_* environment variables (EARSHOT_DATA_DIR, "
    "EARSHOT_DATABASE_URL, EARSHOT_REDIS_URL, ...; see docs/api.md, Configuration)."
)


def main(argv: list[str] | None = None) -> None:
    defaults = Settings.model_fields
    parser = argparse.ArgumentParser(prog="earshot", description=__doc__, epilog=SETTINGS_NOTE)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('earshot')}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="apply pending migrations, then serve HTTP",
        description="Apply pending database migrations, then serve the API, the websocket "
        "and the web client.",
        epilog=SETTINGS_NOTE,
    )
    serve.add_argument(
        "--host",
        help=f"address to listen on (default: $EARSHOT_HOST, else {defaults['host'].default})",
    )
    serve.add_argument(
        "--port",
        type=int,
        help=f"port to listen on (default: $EARSHOT_PORT, else {defaults['port'].default})",
    )
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate first")
    serve.add_argument(
        "--log-level",
        default="info",
        choices=list(LOG_LEVELS),
        help="the least severe messages logged (default: %(default)s)",
    )
    commands.add_parser("migrate", help="apply pending database migrations")
    check = commands.add_parser(
        "fsck",
        help="check that the database and the audio store agree",
        description="Report voice memos whose audio is missing, blobs with no memo, blobs of "
        "deleted memos and other inconsistencies between the database and the blob store. "
        "Exit status: 0 when no problem is left (after --repair: when the repairs left none), "
        "1 when problems remain, 2 when the check could not run.",
    )
    check.add_argument(
        "--repair", action="store_true", help="fix what can be fixed safely, then check again"
    )
    check.add_argument(
        "--grace-s",
        type=float,
        default=fsck.GRACE_S,
        help="leave alone blobs of no memo (or of a deleted one), temporary files and empty "
        "directories written less than this many seconds ago (default %(default)g): a running "
        "server stores an upload a moment before its row commits",
    )
    _admin_commands(commands)
    mailing = commands.add_parser(
        "digest",
        help="send the catch-up digest now",
        description="Send the catch-up digest now to everyone who chose one (daily or weekly) "
        "and has a verified address, or to one person, whatever the hour; mornings after "
        "cover what comes since. Nothing is sent to someone with nothing unheard. Exit "
        "status: 0 done, 1 --user has no digest on (or no verified address), 2 email is "
        "not set up.",
    )
    mailing.add_argument("--now", action="store_true", help="send now (required)")
    mailing.add_argument("--user", metavar="HANDLE", help="only this person")
    args = parser.parse_args(argv)

    settings = Settings()
    os.umask(0o077)  # whatever this process (or SQLite, or ffmpeg) creates is the user's alone
    logs.configure(settings.log_format)
    if args.command == "serve":
        _serve(args, settings)
    elif args.command == "migrate":
        migrate(settings.resolved_database_url)
    elif args.command == "fsck":
        sys.exit(_fsck(args, settings))
    elif args.command == "admin":
        sys.exit(asyncio.run(admin_commands.run(settings, vars(args))))
    elif args.command == "digest":
        sys.exit(_digest(args, settings))


if __name__ == "__main__":
    main()
