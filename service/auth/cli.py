"""``xlt keys create|list|revoke``: manage API keys in the key store under ``XLT_DATA_DIR``.

Why the key on stdout and everything else on stderr: ``KEY=$(xlt keys create --name ci)`` captures only the key,
which is shown this once (only its hash is stored). Changes are committed before the command returns, and a
running server sees them on the next request (revocation included): no restart.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any


def _data_dir(args: argparse.Namespace) -> Path | None:
    if args.data_dir is not None:
        path: Path = args.data_dir
        return path
    from pydantic import ValidationError

    from service.settings import Settings

    try:
        return Settings().data_dir
    except ValidationError as exc:
        print(f"xlt keys: invalid settings\n{exc}", file=sys.stderr)
        return None


def _limits(key: Any) -> str:
    rate = f"{key.rate_per_minute}/min" if key.rate_per_minute else "no rate limit"
    chars = f"{key.chars_per_day} chars/day" if key.chars_per_day else "no quota"
    return f"{rate}, {chars}{', admin' if key.admin else ''}"


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def _keys(args: argparse.Namespace) -> int:
    from service.auth.keys import KEYS_DB, KeyStore, check_key_id
    from service.auth.limits import utc_day
    from service.errors import XltError

    data_dir = _data_dir(args)
    if data_dir is None:
        return 2
    try:
        store = KeyStore(data_dir / KEYS_DB)
    except XltError as exc:
        print(f"xlt keys: {exc.message}", file=sys.stderr)
        return 1
    try:
        if args.action == "create":
            key, secret = store.create(
                args.name, rate_per_minute=args.rate_per_minute, chars_per_day=args.chars_per_day, admin=args.admin
            )
            print(f"created key {key.id} ({key.name!r}): {_limits(key)}", file=sys.stderr)
            print("store it now: it is not shown again", file=sys.stderr)
            print(secret)
            return 0
        if args.action == "revoke":
            revoked = store.revoke(check_key_id(args.key_id))
            if revoked is None:
                print(f"xlt keys: no key {args.key_id}", file=sys.stderr)
                return 1
            print(f"revoked key {revoked.id} ({revoked.name!r}) at {_when(revoked.revoked_at)}", file=sys.stderr)
            return 0
        today = utc_day(time.time())
        keys = store.list_keys()
        if args.json:
            rows = [asdict(k) | {"active": k.active, "chars_today": store.usage(k.id, today)} for k in keys]
            print(json.dumps(rows, indent=2))
            return 0
        print(f"{'id':12}  {'name':20}  {'status':7}  {'created':20}  {'used today':>10}  limits")
        for k in keys:
            status = "active" if k.active else "revoked"
            used = store.usage(k.id, today)
            print(f"{k.id:12}  {k.name[:20]:20}  {status:7}  {_when(k.created_at):20}  {used:>10}  {_limits(k)}")
        return 0
    except (ValueError, XltError) as exc:
        print(f"xlt keys: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    finally:
        store.close()


def add_parsers(sub: Any) -> None:
    """``xlt keys ...`` on the ``xlt`` parser's subcommands."""
    keys = sub.add_parser(
        "keys",
        help="manage API keys (create, list, revoke)",
        description="API keys, stored hashed in XLT_DATA_DIR/keys.sqlite3. Keys are enforced when "
        "XLT_API_KEYS_REQUIRED=true; a presented key is always checked.",
    )
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="where keys.sqlite3 lives (XLT_DATA_DIR, default data)")

    create = actions.add_parser("create", parents=[common], help="create a key and print it (once)")
    create.add_argument("--name", default="unnamed", help="who or what the key is for")
    create.add_argument("--rate-per-minute", type=int, help="requests per minute (default: no limit)")
    create.add_argument("--chars-per-day", type=int, help="characters translated per UTC day (default: no quota)")
    create.add_argument("--admin", action="store_true", help="may call admin routes (POST /models/reload)")

    listing = actions.add_parser("list", parents=[common], help="list keys (never their secrets)")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")

    revoke = actions.add_parser("revoke", parents=[common], help="revoke a key by its id")
    revoke.add_argument("key_id", metavar="ID", help="the 12-hex id shown by `xlt keys list`")

    keys.set_defaults(handler=_keys)
