"""``xlt translate`` and ``xlt languages``: the command line as a client of a server or of a local model.

Why one code path for both: ``--server URL`` goes through ``service.client.AsyncClient`` (retries included),
``--model DIR`` through ``service.local.LocalTranslator`` (the server's pipeline in this process); both answer
the same types. Input is read line by line and written as soon as each window of batches is done, so a file
larger than memory streams through; blank lines are kept and never sent. Imports are lazy so that
``xlt --help`` stays instant.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from service.client import Detection, Format, ModelLanguages, Translation

SERVER_ENV = "XLT_SERVER"  # default for --server
API_KEY_ENV = "XLT_CLIENT_API_KEY"  # default for --api-key (XLT_* server settings are a different thing)
PROGRESS_MIN_LINES = 100  # "long input": the bar appears only past this many lines


class Translator(Protocol):
    async def translate(
        self, texts: list[str], target: str, source: str = "auto", *, format: Format = "text"
    ) -> list[Translation]:
        """One translation per text, in order."""
        ...

    async def languages(self) -> list[ModelLanguages]:
        """The models' languages and directions."""
        ...

    async def detect(self, texts: str) -> list[Detection]:
        """The language of a text (documents with ``--from auto``: detected once)."""
        ...


def _backend(args: argparse.Namespace) -> AbstractAsyncContextManager[Translator]:
    if args.model is not None:
        from service.local import LocalTranslator

        return LocalTranslator(args.model)
    from service.client import DEFAULT_URL, AsyncClient

    url = args.server or os.environ.get(SERVER_ENV) or DEFAULT_URL
    key = args.api_key or os.environ.get(API_KEY_ENV)
    return AsyncClient(url, api_key=key, timeout_s=args.timeout)


def _lines(stream: IO[str]) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\r\n")


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def _show_progress(args: argparse.Namespace, total: int | None) -> bool:
    """``--progress``/``--no-progress``, else on when stderr is a terminal and the input is long (or piped)."""
    if args.progress is not None:
        return bool(args.progress)
    if not sys.stderr.isatty():
        return False
    return total is None or total >= PROGRESS_MIN_LINES


async def _translate_lines(
    xlt: Translator, lines: Iterator[str], out: IO[str], args: argparse.Namespace, total: int | None
) -> None:
    """Windows of ``batch_size x concurrency`` lines: their batches run at once, then are written in order."""
    from tqdm import tqdm

    window = args.batch_size * args.concurrency
    with tqdm(total=total, unit="line", file=sys.stderr, disable=not _show_progress(args, total)) as bar:
        while True:
            chunk = [line for _, line in zip(range(window), lines, strict=False)]
            if not chunk:
                return
            todo = [i for i, line in enumerate(chunk) if line.strip()]
            batches = [todo[i : i + args.batch_size] for i in range(0, len(todo), args.batch_size)]
            results = await asyncio.gather(
                *(xlt.translate([chunk[i] for i in b], args.to, args.source, format=args.format) for b in batches)
            )
            for batch, translations in zip(batches, results, strict=True):
                for i, translation in zip(batch, translations, strict=True):
                    chunk[i] = translation.text
            out.write("".join(f"{line}\n" for line in chunk))
            out.flush()
            bar.update(len(chunk))


async def _run_translate(args: argparse.Namespace) -> None:
    from service.cli_documents import is_document, translate_file

    if not args.text and is_document(args.input):  # a catalog, subtitles, Markdown, HTML, office: its format kept
        async with _backend(args) as xlt:
            await translate_file(xlt, args, _show_progress(args, None))
        return
    with ExitStack() as files:
        out: IO[str] = sys.stdout
        if args.output is not None:
            out = files.enter_context(args.output.open("w", encoding="utf-8"))
        total: int | None
        if args.text:
            lines, total = iter(args.text), len(args.text)
        elif args.format == "html":  # markup spans lines: the whole input is one document
            stream = sys.stdin if args.input is None or str(args.input) == "-" else args.input.open(encoding="utf-8")
            with stream:
                document = stream.read()
            lines, total = iter([document.removesuffix("\n")]), 1
        elif args.input is not None and str(args.input) != "-":
            total = _count_lines(args.input)
            lines = _lines(files.enter_context(args.input.open(encoding="utf-8")))
        else:
            if sys.stdin.isatty():
                print("reading lines from the terminal; end with Ctrl-D", file=sys.stderr)
            lines, total = _lines(sys.stdin), None
        async with _backend(args) as xlt:
            await _translate_lines(xlt, lines, out, args, total)


async def _run_languages(args: argparse.Namespace) -> None:
    async with _backend(args) as xlt:
        models = await xlt.languages()
    if args.json:
        import dataclasses
        import json

        print(json.dumps([dataclasses.asdict(m) for m in models], indent=2))
        return
    for model in models:
        print(f"{model.model}: {' '.join(model.languages)}")
        for source in model.languages:
            targets = [f"{d.target}{'*' if d.zero_shot else ''}" for d in model.directions if d.source == source]
            if targets:
                print(f"  {source} -> {' '.join(targets)}")
    if any(d.zero_shot for m in models for d in m.directions):
        print("(* zero-shot: the model was not trained on this direction)")


def _fail(command: str, exc: BaseException) -> int:
    from service.client import XltError
    from service.errors import XltError as LocalError  # a document this machine could not read, a local model's

    if isinstance(exc, LocalError):
        print(f"xlt {command}: {exc.code}: {exc.message}", file=sys.stderr)
    elif isinstance(exc, XltError) and exc.code == "unreachable":
        hint = f"no server answers; start one with `xlt serve`, or pass --server URL (or {SERVER_ENV}) or --model DIR"
        print(f"xlt {command}: {hint}\n  ({exc.message})", file=sys.stderr)
    elif isinstance(exc, XltError):
        print(f"xlt {command}: {exc.code}: {exc.message}", file=sys.stderr)
    else:
        print(f"xlt {command}: {exc}", file=sys.stderr)
    return 1


def translate_command(args: argparse.Namespace) -> int:
    from service.client import XltError
    from service.errors import XltError as LocalError

    if args.text and args.input is not None:
        print("xlt translate: give TEXT or --input, not both", file=sys.stderr)
        return 2
    try:
        asyncio.run(_run_translate(args))
    except (XltError, LocalError, OSError, ValueError) as exc:
        return _fail("translate", exc)
    except KeyboardInterrupt:
        return 130
    return 0


def languages_command(args: argparse.Namespace) -> int:
    from service.client import XltError

    try:
        asyncio.run(_run_languages(args))
    except (XltError, OSError, ValueError) as exc:
        return _fail("languages", exc)
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def _add_backend(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--server", metavar="URL", help=f"an xlt server (default ${SERVER_ENV}, else http://127.0.0.1:8000)"
    )
    where.add_argument("--model", metavar="DIR", type=Path, help="an engine folder, run in this process (no server)")
    parser.add_argument("--api-key", metavar="KEY", help=f"the server's API key (default ${API_KEY_ENV})")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="S", help="seconds per request (default 120)")


EXAMPLES = """examples:
  xlt translate "The house is small." --to de
  xlt translate --to fr --from en -i book.txt -o book.fr.txt
  cat page.html | xlt translate --to de --format html --server http://mt.internal:8000
  xlt translate --to de --model models/tiny < lines.txt
  xlt translate --to de --from en -i messages.pot -o de.po    (also .xlf .srt .vtt .md .html .docx .pptx .odt .odp)
"""


def add_parsers(sub: Any) -> None:
    """``translate`` and ``languages`` on the ``xlt`` command's subparsers."""
    translate = sub.add_parser(
        "translate",
        help="translate text, a file or stdin (via a server or a local model)",
        description="Translate TEXT arguments, or --input / stdin line by line (blank lines are kept),\n"
        "writing one translation per line to stdout or --output. With --format html the whole input\n"
        "is one document. An --input whose extension is a document format (.po .pot .xlf .xliff .srt\n"
        ".vtt .md .html .docx .pptx .odt .odp) is translated with its format kept.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    translate.add_argument("text", nargs="*", metavar="TEXT", help="texts to translate (default: read --input)")
    translate.add_argument("--to", "-t", required=True, metavar="LANG", help="target language (ISO 639-1)")
    translate.add_argument(
        "--from", "-f", dest="source", default="auto", metavar="LANG", help="source language (default: auto)"
    )
    translate.add_argument("--input", "-i", type=Path, metavar="FILE", help="read lines from FILE ('-': stdin)")
    translate.add_argument("--output", "-o", type=Path, metavar="FILE", help="write to FILE (default: stdout)")
    translate.add_argument("--format", choices=["text", "html"], default="text", help="html keeps the markup")
    translate.add_argument(
        "--batch-size", type=_positive, default=32, metavar="N", help="lines per request (default 32)"
    )
    translate.add_argument(
        "--concurrency", type=_positive, default=4, metavar="N", help="requests in flight (default 4)"
    )
    translate.add_argument(
        "--overwrite", action="store_true", help="catalogs: translate translated units too (default: untranslated only)"
    )
    translate.add_argument(
        "--no-fuzzy", action="store_true", help="catalogs: do not mark machine translations fuzzy / needs-review"
    )
    progress = translate.add_mutually_exclusive_group()
    progress.add_argument("--progress", action="store_true", default=None, help="always show a progress bar")
    progress.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help=f"never show it (default: on a terminal, for {PROGRESS_MIN_LINES}+ lines)",
    )
    _add_backend(translate)
    translate.set_defaults(handler=translate_command)

    languages = sub.add_parser(
        "languages",
        help="list the languages and directions a server or a local model offers",
        description="Each model's languages and, per source language, its targets (* marks zero-shot ones).",
    )
    languages.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_backend(languages)
    languages.set_defaults(handler=languages_command)
