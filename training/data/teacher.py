"""Apertium as a rule-based teacher: English everyday sentences -> synthetic targets (sequence-level distillation).

Why keep the marks: Apertium writes ``*word`` for a word it does not know, ``#word`` for one it cannot generate and
``@word`` for a transfer gap. With the marks stripped (``apertium -u``) such a sentence keeps English words in its
"Spanish" ("La casa es small."), and a model trained on it learns to copy English. So every output that carries a
mark is dropped, never cleaned; at each step of a chain (en -> es -> fr) too.

The rows are written with origin ``teacher``: their English side is human text and their other side is the
teacher's. ``training.corpus`` puts the tag ``<bt>`` before a synthetic side read as a source, so the model can tell
teacher output from human text; the service never sends the tag.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from training import apertium
from training.apertium import PACKAGES
from training.data.records import Pair

ORIGIN = "teacher"
LICENSE = "GPL-2.0+/GPL-3.0 (Apertium language data; the output of a GPL program is not covered by the GPL)"
# English -> X: Apertium modes run one after another. German has no pair (see ``training.data.freedict``).
CHAINS: dict[str, tuple[str, ...]] = {
    "es": ("eng-spa",),
    "fr": ("eng-spa", "es-fr"),
    "it": ("eng-spa", "spa-ita"),
    "pt": ("eng-spa", "es-pt_BR"),
}
# A mark starts a word (a letter follows it): after the line start, a space or an opening quote/bracket/¿/¡.
_MARK = re.compile(r"(?:^|[\s\"'(\[¿¡])[*#@][^\W\d_]")


def available(modes: Sequence[str] = ()) -> bool:
    """Apertium is on PATH and knows every mode asked for."""
    if not apertium.available():
        return False
    if not modes:
        return True
    listed = subprocess.run(["apertium", "-l"], capture_output=True, text=True, check=False).stdout.split()
    return all(m in listed for m in modes)


def marked(text: str) -> bool:
    """Does Apertium's output carry an unknown-word, generation or transfer mark?"""
    return _MARK.search(text) is not None


@dataclass
class TeacherReport:
    kept: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


def distill(
    sentences: Sequence[tuple[str, str]], targets: Sequence[str], report: TeacherReport | None = None
) -> list[Pair]:
    """``(group, English text)`` -> teacher pairs en -> each target; a text whose output is marked at any step of
    its chain is dropped for that target (and counted in ``report``)."""
    report = report if report is not None else TeacherReport()
    pairs: list[Pair] = []
    # The chains share their first step (eng-spa): run each distinct prefix once.
    done: dict[tuple[str, ...], list[str | None]] = {(): [text for _, text in sentences]}
    for tgt in targets:
        chain = CHAINS.get(tgt)
        if chain is None:
            continue
        for k in range(1, len(chain) + 1):
            prefix = chain[:k]
            if prefix in done:
                continue
            previous = done[chain[: k - 1]]
            alive = [i for i, t in enumerate(previous) if t is not None]
            outputs = apertium.run(chain[k - 1], [previous[i] or "" for i in alive], marks=True) if alive else []
            step: list[str | None] = [None] * len(previous)
            for i, text in zip(alive, outputs, strict=True):
                step[i] = None if marked(text) or not text else text
            done[prefix] = step
        final = done[chain]
        kept = [(g, s, t) for (g, s), t in zip(sentences, final, strict=True) if t is not None]
        report.kept[tgt] = len(kept)
        report.dropped[tgt] = len(sentences) - len(kept)
        pairs += [Pair(ORIGIN, g, "en", tgt, s, t) for g, s, t in kept]
    return pairs
