"""Command line: ``python -m app serve|migrate|create-workspace|demo``."""

from __future__ import annotations

import argparse
import json
import os
import sys

from sqlalchemy.exc import OperationalError

from app.db import migrate as migrations
from app.db.engine import make_engine, session_scope
from app.settings import get_settings

DEFAULT_PORT = 8000


def _links_at_port(port: int) -> None:
    """Unless SCHEDULER_PUBLIC_BASE_URL is configured (environment or .env), feed and share
    links point at the port served: ``make run PORT=8100`` prints working URLs. Set in the
    environment, so the serving workers (separate processes) read it too."""
    if "public_base_url" not in get_settings().model_fields_set:
        os.environ["SCHEDULER_PUBLIC_BASE_URL"] = f"http://localhost:{port}"
        get_settings.cache_clear()


def _migrate() -> None:
    migrations.upgrade(get_settings().database_url)


def cmd_migrate(_: argparse.Namespace) -> int:
    _migrate()
    print(json.dumps({"migrated_to": migrations.head_revision(get_settings().database_url)}))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from app.serving.server import serve

    _links_at_port(args.port)
    _migrate()
    return serve(args.host, args.port, args.workers)


def cmd_create_workspace(args: argparse.Namespace) -> int:
    from pydantic import TypeAdapter, ValidationError

    from app.api.fields import Name
    from app.db.accounts import create_workspace

    try:  # the same rules as POST /v1/workspaces
        name = TypeAdapter(Name).validate_python(args.name)
    except ValidationError:
        print("error: give a workspace name of 1–200 printable characters", file=sys.stderr)
        return 2
    url = get_settings().database_url
    engine = make_engine(url)
    try:
        if migrations.current_revision(engine) != migrations.head_revision(url):
            print(
                "error: the database is not migrated; run `python -m app migrate`", file=sys.stderr
            )
            return 1
        with session_scope(engine) as session:
            workspace, key = create_workspace(session, name)
            print(json.dumps({"id": str(workspace.id), "name": workspace.name, "api_key": key}))
    except OperationalError as exc:
        print(
            f"error: cannot use the database at {url.split('@')[-1]}: {exc.orig}", file=sys.stderr
        )
        return 1
    finally:
        engine.dispose()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.demo.people import load_demo

    _links_at_port(args.port)
    settings = get_settings()
    _migrate()
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        summary = load_demo(session, settings.public_base)
    engine.dispose()
    print(json.dumps(summary, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="migrate to head, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="alembic upgrade head").set_defaults(func=cmd_migrate)
    create = sub.add_parser("create-workspace", help="create a workspace and print its key")
    create.add_argument("name")
    create.set_defaults(func=cmd_create_workspace)
    demo = sub.add_parser("demo", help="load the demo workspace and print its links")
    demo.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="the port `serve` will use: the printed links point there "
        "(unless SCHEDULER_PUBLIC_BASE_URL is set)",
    )
    demo.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
