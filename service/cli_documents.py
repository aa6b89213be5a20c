"""``xlt translate -i FILE -o OUT``: a file whose extension names a document format is translated as a document.

Why on the client side: the file is parsed and rendered here with ``service.documents`` and only its segments go
to the translator -- a server (``--server``, as ordinary ``/translate`` requests, so they batch with everyone's)
or a local model (``--model``) -- so both work the same way and the progress bar counts real work. Requests are
``--batch-size`` segments, ``--concurrency`` at a time; markup segments are sent with ``format: "html"``. With
``--from auto`` the language is detected once from a sample of the document.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.documents import EXTENSIONS, FileOptions, Segment, output_filename, translate_document

if TYPE_CHECKING:
    from service.cli_client import Translator
    from service.client import Format

SAMPLE_CHARS = 2000
ZIPPED = frozenset({".docx", ".pptx", ".odt", ".odp"})


def is_document(path: Path | None) -> bool:
    """``.txt`` keeps the streaming line-by-line path (the same output, for files larger than memory)."""
    return path is not None and str(path) != "-" and path.suffix.lower() in EXTENSIONS and path.suffix != ".txt"


async def _source(xlt: Translator, segments: list[Segment], source: str) -> str:
    if source != "auto":
        return source
    sample = (
        " ".join(s.text for s in segments if not s.markup)[:SAMPLE_CHARS]
        or " ".join(s.text for s in segments)[:SAMPLE_CHARS]
    )
    found = await xlt.detect(sample)
    return found[0].language


async def translate_file(xlt: Translator, args: Any, show_progress: bool) -> None:
    """Translate ``args.input`` into ``args.output`` (stdout for text formats when none is given)."""
    from tqdm import tqdm

    path: Path = args.input
    if args.output is None and path.suffix.lower() in ZIPPED:
        raise ValueError(
            f"{path.suffix} output is binary: give -o FILE (for example {output_filename(path.name, args.to)})"
        )
    data = path.read_bytes()
    options = FileOptions(overwrite=args.overwrite, mark_fuzzy=not args.no_fuzzy)

    async def translate_segments(segments: list[Segment]) -> list[str | None]:
        results: list[str | None] = [None] * len(segments)
        todo = [i for i, s in enumerate(segments) if s.text.strip()]
        if not todo:
            return results
        source = await _source(xlt, segments, args.source)
        groups = []
        for markup in (False, True):
            same = [i for i in todo if segments[i].markup == markup]
            groups += [same[k : k + args.batch_size] for k in range(0, len(same), args.batch_size)]
        gate = asyncio.Semaphore(args.concurrency)
        with tqdm(total=len(todo), unit="segment", file=sys.stderr, disable=not show_progress) as bar:

            async def run(group: list[int]) -> None:
                fmt: Format = "html" if segments[group[0]].markup else "text"
                async with gate:
                    out = await xlt.translate([segments[i].text for i in group], args.to, source, format=fmt)
                for i, translation in zip(group, out, strict=True):
                    results[i] = translation.text
                bar.update(len(group))

            await asyncio.gather(*(run(g) for g in groups))
        return results

    out = await translate_document(data, path.name, options, args.source, args.to, translate_segments)
    if args.output is None:
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    else:
        args.output.write_bytes(out)
