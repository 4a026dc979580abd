"""board serve | seed | counters | db | export | import | opinions | retention | record: the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from board.settings import Settings, SettingsError

DEMO_SLUG = "republique-collaborative"


def _settings(demo: bool = False) -> Settings:
    try:
        return Settings.from_env(demo=demo or os.environ.get("BOARD_DEMO") == "1")
    except SettingsError as exc:
        sys.exit(f"board: {exc}")


async def _with_context(settings: Settings, job: Callable[[Any], Awaitable[Any]]) -> Any:
    from board.app import build_context

    ctx = build_context(settings)
    try:
        await ctx.db.upgrade()
        return await job(ctx)
    finally:
        await ctx.db.dispose()
        await ctx.live.close()


async def _seed(ctx: Any, files: list[Path]) -> None:
    from board.domain.seeding import SeedError, default_seed_files, seed_paths

    paths = files or default_seed_files(ctx.settings.seeds_dir)
    if not paths:
        sys.exit(f"board: no seed files in {ctx.settings.seeds_dir}/")
    try:
        for slug, added in await seed_paths(ctx, paths):
            print(f"seeded {slug}: {added} new thread(s)")
    except SeedError as exc:
        sys.exit(f"board: {exc}")


async def _rebuild(ctx: Any, slug: str | None) -> None:
    from board.domain import counts, events
    from board.domain.errors import BoardError

    try:
        chosen = (
            [await events.get_event(ctx, slug, public=False)]
            if slug
            else await events.list_events(ctx, public=False)
        )
    except BoardError as exc:
        sys.exit(f"board: {exc.message}")
    for event in chosen:
        threads = await counts.rebuild_event(ctx, event.id)
        print(f"{event.slug}: counters rebuilt for {len(threads)} thread(s)")


DEMO_ACCOUNT = "moderation"
DEMO_PASSWORD_FILE = "demo-password"


async def _demo_account(ctx: Any) -> None:
    """The demo's moderator account, made once. Its password is kept beside the demo secret and printed
    at every start while it still signs in; once changed, the way to choose a new one is printed instead."""
    import secrets

    from board.domain import accounts

    kept = ctx.settings.data_dir / DEMO_PASSWORD_FILE
    if not await accounts.account_exists(ctx, DEMO_ACCOUNT):
        password = secrets.token_urlsafe(12)
        await accounts.add_account(ctx, DEMO_ACCOUNT, password, event_slug=DEMO_SLUG, role="moderator")
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.touch(mode=0o600)
        kept.write_text(password + "\n")
    password = kept.read_text().strip() if kept.exists() else ""
    if password and await accounts.authenticate(ctx, DEMO_ACCOUNT, password) is not None:
        print(f"  moderator account: {DEMO_ACCOUNT} / {password}")
    else:
        print(
            f"  moderator account: {DEMO_ACCOUNT} (its password was changed; "
            f"to choose a new one: board account reset {DEMO_ACCOUNT})"
        )


async def _reset_link(ctx: Any, username: str) -> None:
    from board.domain import passwords
    from board.domain.errors import BoardError

    try:
        token = await passwords.create_reset(ctx, username)
    except BoardError as exc:
        sys.exit(f"board: {exc.message}")
    print(f"{ctx.settings.public_url.rstrip('/')}/reset/{token}")
    print(f"valid 24 hours, once; earlier reset links of {username} no longer work", file=sys.stderr)


async def _add_account(ctx: Any, args: argparse.Namespace, password: str) -> None:
    from board.domain import accounts
    from board.domain.errors import BoardError

    try:
        made = await accounts.add_account(
            ctx, args.username, password, is_admin=args.admin, event_slug=args.event, role=args.role
        )
    except BoardError as exc:
        sys.exit(f"board: {exc.message}")
    where = f", {args.role or 'moderator'} of {args.event}" if args.event else ""
    print(f"account {made.username} created{' (admin)' if made.is_admin else ''}{where}")


def _read_password(from_stdin: bool) -> str:
    import getpass

    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        sys.exit("board: the two passwords differ")
    return first


async def _export(ctx: Any, slug: str, fmt: str) -> None:
    """UTF-8 whatever the terminal's encoding: the open data is UTF-8, the CSV with its byte-order mark."""
    from board.domain import events, export
    from board.domain.errors import BoardError

    try:
        event = await events.get_event(ctx, slug, public=False)
    except BoardError as exc:
        sys.exit(f"board: {exc.message}")
    writer = export.as_csv if fmt == "csv" else export.as_json
    text = await writer(ctx, event, ctx.settings.data_licence) + ("\n" if fmt == "json" else "")
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    binary.write(text.encode("utf-8"))
    binary.flush()


async def _import_polis(ctx: Any, folder: Path, slug: str, title: str | None) -> None:
    from board.domain.errors import BoardError
    from board.domain.polis_import import import_polis

    shown = sys.stdout.isatty()
    seen: dict[str, int] = {"rows": 0, "votes": 0}

    def progress(what: str, count: int) -> None:
        seen[what] = count
        sys.stdout.write(f"\r{seen['rows']:>9,} rows read   {seen['votes']:>9,} votes written")
        sys.stdout.flush()

    try:
        done = await import_polis(ctx, folder, slug, title, progress if shown else None)
    except BoardError as exc:
        sys.exit(f"board: {exc.message}")
    if shown:
        print(
            f"\n{'imported' if done.created else 'updated'} {done.slug}: thread {done.thread_id}, "
            f"{done.participants} participants, {done.answers} answers, {done.votes} votes written "
            f"({done.rows} rows read)"
        )


async def _opinions(ctx: Any, slug: str, thread_id: int | None, fmt: str) -> None:
    import csv
    import json

    from board.domain import events
    from board.domain.errors import BoardError
    from board.domain.opinion_groups import membership

    try:
        event = await events.get_event(ctx, slug)
        if thread_id is None:
            listed = await events.list_threads(ctx, event.id, public=False)
            on_screen = [t for t in listed if t.id == event.screen_thread_id]
            thread_id = (on_screen or listed)[0].id if listed else 0
        thread = await events.get_thread(ctx, event, thread_id, public=False)
    except BoardError as exc:
        sys.exit(f"board: {exc.message}")
    found = await membership(ctx, thread.id)
    if found is None:
        sys.exit("board: no such thread")
    if fmt == "csv":
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["participant", "group"])
        out.writerows(found.members.items())
        return
    data = {"event": event.slug, "thread": thread.id, **found.payload}
    data["members"] = [{"participant": p, "group": g} for p, g in found.members.items()]
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def cmd_import(args: argparse.Namespace) -> None:
    asyncio.run(
        _with_context(_settings(demo=True), lambda ctx: _import_polis(ctx, args.dir, args.event, args.title))
    )


def cmd_opinions(args: argparse.Namespace) -> None:
    asyncio.run(
        _with_context(_settings(demo=True), lambda ctx: _opinions(ctx, args.slug, args.thread, args.format))
    )


def cmd_account(args: argparse.Namespace) -> None:
    if args.role and not args.event:
        sys.exit("board: --role needs --event SLUG")
    password = _read_password(args.password_stdin)
    asyncio.run(_with_context(_settings(demo=True), lambda ctx: _add_account(ctx, args, password)))


def cmd_reset(args: argparse.Namespace) -> None:
    asyncio.run(_with_context(_settings(demo=True), lambda ctx: _reset_link(ctx, args.username)))


def cmd_export(args: argparse.Namespace) -> None:
    asyncio.run(_with_context(_settings(demo=True), lambda ctx: _export(ctx, args.slug, args.format)))


def cmd_serve(args: argparse.Namespace) -> None:
    """Run granian. A worker that dies is respawned (granian itself exits if the same worker dies
    again within about 5 s of its respawn: the process supervisor restarts the board then). A client
    gets 5 s to send a request's headers, or to start its next request on an idle keep-alive
    connection, so slow clients cannot hold connections; bodies and responses (SSE) are not bounded.
    """
    settings = _settings(args.demo)
    if args.workers > 1 and not settings.redis_url:
        sys.exit(
            "board: more than one worker needs a shared live layer. Set BOARD_REDIS_URL "
            "(e.g. redis://127.0.0.1:6379/0) or run with --workers 1."
        )
    asyncio.run(_with_context(settings, lambda ctx: ctx.db.upgrade()))
    if args.demo:
        asyncio.run(_with_context(settings, lambda ctx: _seed(ctx, [])))
        os.environ["BOARD_DEMO"] = "1"
    base = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    if os.environ.get("BOARD_PUBLIC_URL"):
        base = settings.public_url
    else:
        os.environ["BOARD_PUBLIC_URL"] = base
    print(
        f"Debate Board on {base}  (database: {settings.database_url.split('://')[0]}, "
        f"live layer: {'Redis' if settings.redis_url else 'in-process'}, workers: {args.workers})"
    )
    if args.demo:
        print(f"  participants: {base}/e/{DEMO_SLUG}")
        print(f"  projector:    {base}/e/{DEMO_SLUG}/screen")
        print(f"  moderation:   {base}/mod/{DEMO_SLUG}")
        asyncio.run(_with_context(settings, _demo_account))
    sys.stdout.flush()
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    Granian(
        "board.app:create_app",
        factory=True,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        backlog=4096,
        backpressure=4096,
        http1_settings=HTTP1Settings(header_read_timeout=5_000),
        respawn_failed_workers=True,
        workers_kill_timeout=3,
        log_access=False,
    ).serve()


def cmd_seed(args: argparse.Namespace) -> None:
    asyncio.run(_with_context(_settings(demo=True), lambda ctx: _seed(ctx, args.files)))


def cmd_counters(args: argparse.Namespace) -> None:
    asyncio.run(_with_context(_settings(demo=True), lambda ctx: _rebuild(ctx, args.event)))


async def _retention(ctx: Any, slug: str | None) -> None:
    from board.domain import retention
    from board.domain.errors import BoardError

    try:
        done = await retention.apply(ctx, slug)
    except BoardError as exc:
        sys.exit(f"board: {exc.message}")
    for applied in done:
        print(f"{applied.slug}: {applied.participants} participant(s) unlinked; texts and counts kept")
    if not done:
        print("no event is past its retention period")


def cmd_retention(args: argparse.Namespace) -> None:
    asyncio.run(_with_context(_settings(demo=True), lambda ctx: _retention(ctx, args.event)))


def cmd_record(args: argparse.Namespace) -> None:
    """Offline: recomputes a record.json's chain; exit 1 naming the first broken entry."""
    import json

    from board.domain.record import Broken, verify

    try:
        document = json.loads(Path(args.file).read_text(encoding="utf-8-sig"))
        count = verify(document)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"board: cannot read {args.file}: {exc}", file=sys.stderr)
        sys.exit(1)
    except Broken as exc:
        where = f"entry seq {exc.seq}" if exc.seq is not None else "the record"
        print(f"{args.file}: BROKEN at {where}: {exc.why}", file=sys.stderr)
        sys.exit(1)
    print(f"{args.file}: {count} entries verified, head {document['head']}")


def cmd_db(args: argparse.Namespace) -> None:
    asyncio.run(_with_context(_settings(demo=True), lambda ctx: ctx.db.upgrade()))
    print("database is up to date")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="board", description="Debate Board: a live citizen debate question board."
    )
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s; 0.0.0.0 for every one)",
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default: %(default)s); more than one needs BOARD_REDIS_URL",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="seed the demo event, keep a secret key in BOARD_DATA_DIR (none needed) and print the demo "
        "moderator's password at every start until it is changed",
    )
    serve.set_defaults(run=cmd_serve)

    seed = sub.add_parser("seed", help="create events and threads from TOML files (idempotent)")
    seed.add_argument("files", nargs="*", type=Path, help="default: seeds/*.toml")
    seed.set_defaults(run=cmd_seed)

    counters = sub.add_parser("counters", help="live counters")
    counters_sub = counters.add_subparsers(dest="action", required=True)
    rebuild = counters_sub.add_parser("rebuild", help="recount every counter from SQL")
    rebuild.add_argument("--event", default=None, help="one event's slug (default: every event)")
    rebuild.set_defaults(run=cmd_counters)

    account = sub.add_parser("account", help="moderator and facilitator accounts")
    account_sub = account.add_subparsers(dest="action", required=True)
    add = account_sub.add_parser("add", help="create an account (password from a prompt or stdin)")
    add.add_argument("username")
    add.add_argument("--admin", action="store_true", help="may do everything on every event")
    add.add_argument("--event", default=None, help="give a role on this event (slug)")
    add.add_argument("--role", choices=["moderator", "facilitator"], default=None)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(run=cmd_account)
    reset = account_sub.add_parser(
        "reset",
        help="print a one-time link (valid 24 hours) to choose a new password; the way back for a lost one",
    )
    reset.add_argument("username")
    reset.set_defaults(run=cmd_reset)

    exporter = sub.add_parser("export", help="open-data export of an event to standard output")
    exporter.add_argument("slug")
    exporter.add_argument("--format", choices=["csv", "json"], default="csv")
    exporter.set_defaults(run=cmd_export)

    importer = sub.add_parser("import", help="import a conversation from elsewhere")
    import_sub = importer.add_subparsers(dest="source", required=True)
    polis = import_sub.add_parser(
        "polis", help="a Pol.is export folder (comments.csv, votes.csv) as one event"
    )
    polis.add_argument("dir", type=Path)
    polis.add_argument("--event", required=True, help="the event's slug (importing again updates it)")
    polis.add_argument("--title", default=None, help="the event's title and the thread's prompt")
    polis.set_defaults(run=cmd_import)

    groups = sub.add_parser("opinions", help="a thread's current opinion groups, with who is in them")
    groups.add_argument("slug")
    groups.add_argument(
        "--thread", type=int, default=None, help="default: the thread on screen, else the first"
    )
    groups.add_argument("--format", choices=["csv", "json"], default="csv")
    groups.set_defaults(run=cmd_opinions)

    kept = sub.add_parser("retention", help="forget who said and voted what, once events are past retention")
    kept_sub = kept.add_subparsers(dest="action", required=True)
    apply = kept_sub.add_parser("apply", help="unlink people from the answers and votes of events due")
    apply.add_argument("--event", default=None, help="only this event (slug), if it is due")
    apply.set_defaults(run=cmd_retention)

    chain = sub.add_parser("record", help="the public record (hash chain)")
    chain_sub = chain.add_subparsers(dest="action", required=True)
    check = chain_sub.add_parser("verify", help="recompute a record.json; exit 1 at the first broken entry")
    check.add_argument("file", help="a record.json saved from /e/SLUG/record.json")
    check.set_defaults(run=cmd_record)

    db = sub.add_parser("db", help="database")
    db_sub = db.add_subparsers(dest="action", required=True)
    db_sub.add_parser("upgrade", help="apply migrations").set_defaults(run=cmd_db)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
