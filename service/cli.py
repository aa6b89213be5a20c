"""The ``xlt`` command. Each subcommand is one handler plus one ``add_parser`` block in ``build_parser``.

Why lazy imports inside handlers: ``xlt --help`` stays instant, and the serving process never imports the
training stack (torch, transformers, ``training``): only the handlers that need it import it. The offline
subcommands (``data``, ``train``, ``convert``, ``eval``, ``model``) are parsed and run by ``training.cli``,
imported only when one of them is called.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from service.settings import Settings

    given = {"host": args.host, "port": args.port, "models_dir": args.models_dir}
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        print(f"xlt serve: invalid settings\n{exc}", file=sys.stderr)
        return 2
    workers = _workers(args.workers)
    if workers is None:
        return 2
    from service.logs import configure_logging, logging_config

    configure_logging(settings.log_level, settings.log_format)  # JSON lines unless XLT_LOG_FORMAT=text
    if workers > 1:
        return _serve_workers(settings, given, workers)

    import uvicorn

    from service.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=logging_config(settings.log_level, settings.log_format),
        access_log=False,  # service.access logs each request instead (no client address, no query string)
        timeout_graceful_shutdown=int(settings.drain_timeout_s) + 1,
    )
    return 0


def _workers(given: int | None) -> int | None:
    """``--workers``, else ``XLT_WORKERS`` (so a container sets it like any other setting), else 1; None after
    a message when it is not a whole number >= 1."""
    raw = str(given) if given is not None else os.environ.get("XLT_WORKERS", "1")
    try:
        workers = int(raw)
    except ValueError:
        workers = 0
    if workers < 1:
        print(f"xlt serve: invalid settings\nworkers must be a whole number >= 1, got {raw!r}", file=sys.stderr)
        return None
    return workers


def _serve_workers(settings: Settings, given: dict[str, Any], workers: int) -> int:
    """N uvicorn worker processes on one socket, each with its own engines and batcher (N x the memory).

    Workers are fresh interpreters that build their settings from the environment, so the parent hands them the
    command-line values as ``XLT_*`` variables and, unless ``XLT_INTRA_THREADS`` is set, splits the cores
    between them instead of letting each use all. ``PROMETHEUS_MULTIPROC_DIR`` points at a fresh folder, set
    before any worker imports ``prometheus_client`` and removed at exit, so that ``/metrics`` adds up all.
    """
    import shutil
    import tempfile

    import uvicorn
    from pydantic import ValidationError

    from service.logs import logging_config
    from service.settings import Settings

    env = {f"XLT_{name.upper()}": str(value) for name, value in given.items() if value is not None}
    if "XLT_INTRA_THREADS" not in os.environ:
        cores = max(1, os.cpu_count() or 1)
        env["XLT_INTRA_THREADS"] = str(max(1, cores // (workers * settings.inter_threads)))
    metrics_dir = tempfile.mkdtemp(prefix="xlt-metrics-")
    env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        try:
            Settings()  # what each worker will build: fail once here, not in N workers restarted in a loop
        except ValidationError as exc:
            print(f"xlt serve: invalid settings\n{exc}", file=sys.stderr)
            return 2
        uvicorn.run(
            "service.app:create_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            log_config=logging_config(settings.log_level, settings.log_format, with_pid=True),
            access_log=False,
            timeout_graceful_shutdown=int(settings.drain_timeout_s) + 1,
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return 0


# The offline half's subcommands, handed over whole to ``training.cli`` (its own parser and help).
TRAINING_COMMANDS = {
    "data": "build parallel corpora",
    "train": "train a tokenizer or a model",
    "convert": "HF checkpoint -> CTranslate2 engine folder",
    "eval": "score an engine folder",
    "model": "the whole training chain",
}


def _training(argv: Sequence[str]) -> int:
    # By name, so that type-checking ``service`` does not pull in the training half.
    training_cli = importlib.import_module("training.cli")
    code: int = training_cli.main(list(argv))
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlt", description="xlt: train, convert and serve translation models")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the HTTP translation service",
        description="Settings also come from XLT_* variables.",
    )
    serve.add_argument("--host", help="bind address (XLT_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (XLT_PORT, default 8000)")
    serve.add_argument("--models-dir", type=Path, help="engine folders (XLT_MODELS_DIR, default models)")
    serve.add_argument(
        "--workers", type=int, help="processes sharing the port, each with its own engines (XLT_WORKERS, default 1)"
    )
    serve.set_defaults(handler=_serve)

    from service.cli_client import add_parsers  # translate, languages (their imports are lazy too)

    add_parsers(sub)

    from service.auth.cli import add_parsers as add_key_parsers  # xlt keys create|list|revoke

    add_key_parsers(sub)

    for name, text in TRAINING_COMMANDS.items():  # listed in --help; run by training.cli (see main)
        sub.add_parser(name, help=f"{text} (xlt {name} --help)", add_help=False)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in TRAINING_COMMANDS:
        return _training(argv)
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
