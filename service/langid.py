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
from collections.abc import Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)


class LanguageDetector(Protocol):
    def detect(self, text: str, candidates: Sequence[str]) -> str | None:
        """The most likely language of ``text`` among ``candidates``, or None when none can be told."""
        ...


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


def default_detector() -> LanguageDetector | None:
    """The langid detector when the package is installed, else None (detection unavailable)."""
    if importlib.util.find_spec("langid") is None:
        log.warning("the langid package is not installed: source 'auto' is unavailable")
        return None
    return LangidDetector()
