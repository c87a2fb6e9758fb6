"""The `earshot` command: serve the API, migrate the database."""

import argparse

import uvicorn

from app import logs
from app.config import Settings
from app.db import migrate


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    from app.main import create_app

    if not args.no_migrate:
        migrate(settings.resolved_database_url)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        ws_per_message_deflate=False,  # Opus does not compress; deflate doubles CPU per send
        ws_ping_interval=settings.ws_heartbeat_s,  # protocol pings: dead peers are noticed
        ws_ping_timeout=settings.ws_heartbeat_s,
        backlog=4096,
        timeout_graceful_shutdown=10,
        log_level=args.log_level,
        log_config=None,  # uvicorn's loggers go through ours (text or JSON)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="earshot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply pending migrations, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate first")
    serve.add_argument("--log-level", default="info")
    commands.add_parser("migrate", help="apply pending database migrations")
    args = parser.parse_args(argv)

    settings = Settings()
    logs.configure(settings.log_format)
    if args.command == "serve":
        _serve(args, settings)
    elif args.command == "migrate":
        migrate(settings.resolved_database_url)


if __name__ == "__main__":
    main()
