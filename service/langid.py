"""Source-language detection for ``source: "auto"``, behind a tiny pluggable protocol.

Why restricted to the model's languages: a detector choosing among 97 languages errs on short texts toward
languages the model cannot translate anyway; choosing only among the model's own is both faster and more
accurate. The default uses the ``langid`` package (pure Python + numpy) when it is installed; without it,
``source: "auto"`` answers ``detection_unavailable``.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
from collections.abc import Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)


class LanguageDetector(Protocol):
    def detect(self, text: str, candidates: Sequence[str]) -> str | None:
        """The most likely language of ``text`` among ``candidates``, or None when none can be told."""
        ...


def rank_languages(detector: LanguageDetector, text: str, candidates: Sequence[str]) -> list[tuple[str, float]]:
    """``(language, probability)`` among ``candidates``, most likely first (``POST /detect``).

    Detectors with a ``rank`` method (langid) give real probabilities; any other detector gives its one answer
    with probability 1. Empty when nothing can be told.
    """
    rank = getattr(detector, "rank", None)
    if callable(rank):
        ranked: list[tuple[str, float]] = rank(text, candidates)
        return ranked
    found = detector.detect(text, candidates)
    return [] if found is None else [(found, 1.0)]


@functools.cache
def _langid_model() -> Any:
    """Load langid's model once per process (~1-2 s: a base64 + bz2 + pickle blob)."""
    from langid.langid import LanguageIdentifier, model

    return LanguageIdentifier.from_modelstring(model, norm_probs=False)


class LangidDetector:
    """langid.py's naive Bayes model, scored over the candidate languages only."""

    def __init__(self) -> None:
        self._model = _langid_model()
        self._index = {lang: i for i, lang in enumerate(self._model.nb_classes)}

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._index)

    def detect(self, text: str, candidates: Sequence[str]) -> str | None:
        known = [c for c in candidates if c in self._index]
        if not known:
            return None
        if len(known) == 1:
            return known[0]
        scores = self._model.nb_classprobs(self._model.instance2fv(text))
        return max(known, key=lambda lang: float(scores[self._index[lang]]))

    def rank(self, text: str, candidates: Sequence[str]) -> list[tuple[str, float]]:
        """The candidates langid knows, with probabilities renormalised over them (a softmax of its log-odds)."""
        known = [c for c in candidates if c in self._index]
        if len(known) <= 1:
            return [(lang, 1.0) for lang in known]
        scores = self._model.nb_classprobs(self._model.instance2fv(text))
        logits = [float(scores[self._index[lang]]) for lang in known]
        top = max(logits)
        weights = [math.exp(x - top) for x in logits]
        total = sum(weights)
        return sorted(((lang, w / total) for lang, w in zip(known, weights, strict=True)), key=lambda p: -p[1])


def default_detector() -> LanguageDetector | None:
    """The langid detector when the package is installed, else None (detection unavailable)."""
    if importlib.util.find_spec("langid") is None:
        log.warning("the langid package is not installed: source 'auto' is unavailable")
        return None
    return LangidDetector()
