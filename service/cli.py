"""The ``xlt`` command. Each subcommand is one handler plus one ``add_parser`` block in ``build_parser``.

Why lazy imports inside handlers: ``xlt --help`` stays instant, and the serving process never imports the
training stack (torch, transformers, ``training``): only the handlers that need it import it. The offline
subcommands (``data``, ``train``, ``convert``, ``eval``, ``model``) are parsed and run by ``training.cli``,
imported only when one of them is called.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from service.app import create_app
    from service.settings import Settings

    given = {"host": args.host, "port": args.port, "models_dir": args.models_dir}
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        print(f"xlt serve: invalid settings\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(settings.drain_timeout_s) + 1,
    )
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
    serve.set_defaults(handler=_serve)

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
