"""Fuzzy retrieval over one memory's entries for one language pair: an exact-match map plus a word index.

Why an inverted index and not a scan: a lookup touches only the postings of the query's rarest words (capped),
ranks those candidates by shared words, and computes the edit-distance score on the few best. Its cost depends
on how rare the words are, not on the memory's size (see ``benchmarks/memory_lookup.py``). The score is the
usual translation-memory fuzzy score, ``1 - word edit distance / longer length``, on lower-cased words.
"""

from __future__ import annotations

import heapq
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from service.fewshot.store import Entry, normalize

_WORD = re.compile(r"\w+", re.UNICODE)

MAX_TERMS = 8  # rarest query words whose postings are read
MAX_POSTINGS = 2000  # postings read per lookup at most: bounds the cost when every word is common
RESCORED = 8  # candidates (by shared words) whose edit distance is computed


def words(text: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(text))


def _pattern(words: tuple[str, ...]) -> dict[str, int]:
    """Each word -> the bit set of its positions (the bit-vector algorithm's match masks)."""
    masks: dict[str, int] = {}
    for i, word in enumerate(words):
        masks[word] = masks.get(word, 0) | (1 << i)
    return masks


def edit_distance(a: tuple[str, ...], b: tuple[str, ...], masks: dict[str, int] | None = None) -> int:
    """Levenshtein distance between word sequences, by Myers/Hyyrö's bit-vector algorithm: one row of the
    dynamic-programming table per word of ``b`` in a few integer operations (~10x a plain Python table).
    ``masks`` is ``_pattern(a)``, when already computed."""
    if not a or not b:
        return len(a) + len(b)
    peq = masks if masks is not None else _pattern(a)
    full = (1 << len(a)) - 1
    last = 1 << (len(a) - 1)
    pv, mv, score = full, 0, len(a)
    for word in b:
        eq = peq.get(word, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & full)
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = mh | (~(xv | ph) & full)
        mv = ph & xv
    return score


def similarity(a: tuple[str, ...], b: tuple[str, ...], masks: dict[str, int] | None = None) -> float:
    longest = max(len(a), len(b))
    return 1.0 - edit_distance(a, b, masks) / longest if longest else 0.0


@dataclass(frozen=True)
class Match:
    source: str
    target: str
    score: float


class PairIndex:
    """Entries of one (memory, source language, target language); ``lock`` guards lookups against refreshes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked = -1  # the memory revision this index is complete up to; -1: never loaded
        self._sources: list[str] = []
        self._targets: list[str] = []
        self._reviewed: list[bool] = []
        self._words: list[tuple[str, ...]] = []
        self._by_key: dict[str, int] = {}
        self._postings: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self._sources)

    def update(self, entries: Iterable[Entry]) -> None:
        """Insert new entries; an entry with a known source replaces that entry's target."""
        for entry in entries:
            key = normalize(entry.source)
            known = self._by_key.get(key)
            if known is not None:
                self._targets[known] = entry.target
                self._reviewed[known] = entry.reviewed
                continue
            i = len(self._sources)
            self._by_key[key] = i
            self._sources.append(entry.source)
            self._targets.append(entry.target)
            self._reviewed.append(entry.reviewed)
            tokens = words(entry.source)
            self._words.append(tokens)
            for word in set(tokens):
                self._postings.setdefault(word, []).append(i)

    def exact(self, sentence: str) -> str | None:
        i = self._by_key.get(normalize(sentence))
        return None if i is None else self._targets[i]

    def reviewed(self, sentence: str) -> bool:
        """Whether the exact match of ``sentence`` was written (or confirmed) by a person, not by a job's ``store``."""
        i = self._by_key.get(normalize(sentence))
        return i is not None and self._reviewed[i]

    def _candidates(self, query: tuple[str, ...]) -> Counter[int]:
        postings = [self._postings[w] for w in set(query) if w in self._postings]
        postings.sort(key=len)
        counts: Counter[int] = Counter()
        budget = MAX_POSTINGS
        for plist in postings[:MAX_TERMS]:
            if len(plist) > budget:
                if not counts:
                    counts.update(plist[-budget:])  # only common words: the most recent entries
                break
            counts.update(plist)
            budget -= len(plist)
        return counts

    def fuzzy(self, sentence: str, k: int, threshold: float) -> list[Match]:
        """Up to ``k`` entries scoring at least ``threshold``, best first."""
        query = words(sentence)
        if not query or k <= 0:
            return []
        counts = self._candidates(query)
        masks = _pattern(query)
        scored: list[tuple[float, int]] = []
        for i in heapq.nlargest(RESCORED, counts, key=counts.__getitem__):
            other = self._words[i]
            if 1.0 - abs(len(other) - len(query)) / max(len(other), len(query)) < threshold:
                continue  # the length difference alone keeps it under the threshold
            score = similarity(query, other, masks)
            if score >= threshold:
                scored.append((score, i))
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [Match(self._sources[i], self._targets[i], score) for score, i in scored[:k]]
