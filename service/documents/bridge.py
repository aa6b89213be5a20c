"""``translate_segments`` on top of the ``TranslationPipeline``: a document's segments as ordinary requests.

Why through the pipeline and not the engine: the segments then share the dynamic batcher with every other
request, use the memories, the limits, the zero-shot strategies and the metrics, exactly like ``POST /translate``.
Segments go in requests of at most ``chunk`` texts, a few at a time (``concurrency``), so that a large file keeps
the batcher full without overflowing its queue (which would answer 429). Markup segments use ``format: "html"``.
A plain segment longer than ``XLT_MAX_TEXT_CHARS`` is cut between sentences and put back together; a markup one
that long is left untranslated (its tags cannot be cut safely). With ``source: "auto"`` the language is detected
once, on a sample of the whole document, not per segment (short strings fool the identifier). A segment served
whole from reviewed memory entries comes back as ``Reviewed`` (a person's translation: catalogs do not mark it
fuzzy); from a machine-written entry, or from the model, as a plain ``str``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from service.batching.queue import Priority
from service.documents.base import Reviewed, Segment, TranslateSegments
from service.fewshot.memories import ANONYMOUS, Scope
from service.pipeline import TranslationPipeline
from service.schemas import AUTO, DetectRequest, TranslateRequest
from service.text import split_sentences

Progress = Callable[[int, int], None]  # (segments done, segments in all)
SAMPLE_CHARS = 2000


@dataclass(frozen=True)
class _Piece:
    """One text sent to the pipeline: all of segment ``index``, or one slice of a long one."""

    index: int
    part: int
    text: str
    markup: bool


def _pieces(index: int, segment: Segment, limit: int) -> list[_Piece] | None:
    """The texts to send for one segment; None when it cannot be sent (a markup segment over the limit)."""
    if len(segment.text) <= limit:
        return [_Piece(index, 0, segment.text, segment.markup)]
    if segment.markup:
        return None
    split = split_sentences(segment.text)
    texts: list[str] = []
    current = split.prefix
    for i, sentence in enumerate(split.sentences):
        tail = split.separators[i] if i < len(split.separators) else split.suffix
        if current.strip() and len(current) + len(sentence) + len(tail) > limit:
            texts.append(current)
            current = ""
        current += sentence + tail
    texts.append(current)
    return [_Piece(index, part, text, False) for part, text in enumerate(t for t in texts if t)]


def memory_pairs(segments: Sequence[Segment], translations: Sequence[str | None], limit: int) -> list[tuple[str, str]]:
    """The ``(source, translation)`` entries a file's machine output gives a memory (``store: true``): plain segments
    only (markup would turn up in string lookups), both sides non-empty and within ``limit`` characters."""
    return [
        (s.text.strip(), t.strip())
        for s, t in zip(segments, translations, strict=True)
        if t and t.strip() and s.text.strip() and not s.markup and len(s.text) <= limit and len(t) <= limit
    ]


async def detect_source(pipeline: TranslationPipeline, segments: list[Segment], model: str | None = None) -> str:
    """The document's language, detected once on a sample of its text (its plain segments first)."""
    sample = " ".join(s.text for s in segments if not s.markup)[:SAMPLE_CHARS].strip()
    markup = not sample
    if markup:
        sample = " ".join(s.text for s in segments)[:SAMPLE_CHARS]
    found = await pipeline.detect(DetectRequest(text=sample, model=model, format="html" if markup else "text"))
    return found.detections[0].language


def pipeline_segments(
    pipeline: TranslationPipeline,
    *,
    source: str,
    target: str,
    model: str | None = None,
    memory: str | None = None,
    scope: Scope = ANONYMOUS,
    max_text_chars: int = 5000,
    chunk: int = 32,
    concurrency: int = 4,
    on_progress: Progress | None = None,
    priority: Priority = "interactive",
) -> TranslateSegments:
    """A ``translate_segments`` for ``translate_document`` that sends segments through ``pipeline``
    (``priority="bulk"`` for background jobs: the batcher serves requests first)."""

    async def detect(segments: list[Segment]) -> str:
        return await detect_source(pipeline, segments, model)

    async def translate(segments: list[Segment]) -> list[str | None]:
        results: list[str | None] = [None] * len(segments)
        pieces: list[_Piece] = []
        counts = [0] * len(segments)
        for index, segment in enumerate(segments):
            if not segment.text.strip():
                continue
            found = _pieces(index, segment, max_text_chars)
            if found:
                pieces.extend(found)
                counts[index] = len(found)
        if not pieces:
            return results
        lang = await detect(segments) if source == AUTO else source
        outputs: dict[int, dict[int, str]] = {}
        machine: set[int] = set()  # segments with a piece not served from a reviewed memory entry
        done_segments = 0
        total = sum(1 for c in counts if c)
        groups = []
        for markup in (False, True):
            same = [p for p in pieces if p.markup == markup]
            groups += [same[i : i + chunk] for i in range(0, len(same), chunk)]
        gate = asyncio.Semaphore(concurrency)

        async def run(group: list[_Piece]) -> None:
            nonlocal done_segments
            request = TranslateRequest(
                text=[p.text for p in group],
                source=lang,
                target=target,
                model=model,
                memory=memory,
                format="html" if group[0].markup else "text",
            )
            async with gate:
                response = await pipeline.translate(request, scope, priority=priority)
            for piece, translation in zip(group, response.translations, strict=True):
                parts = outputs.setdefault(piece.index, {})
                parts[piece.part] = translation.text
                if translation.origin != "memory" or not translation.reviewed:
                    machine.add(piece.index)
                if len(parts) == counts[piece.index]:
                    text = "".join(parts[k] for k in sorted(parts))
                    results[piece.index] = text if piece.index in machine else Reviewed(text)
                    done_segments += 1
            if on_progress is not None:
                on_progress(done_segments, total)

        tasks = [asyncio.ensure_future(run(group)) for group in groups]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        return results

    return translate
