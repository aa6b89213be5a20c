"""Similar-sentence retrieval for example-augmented training (fuzzy-match augmentation, Bulte & Tezcan 2019).

An inverted index over each sentence's rarest words: a query scores only the sentences sharing one of them, so
finding neighbours for a few hundred thousand sentences takes seconds, not a quadratic scan.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

_WORD = re.compile(r"\w{3,}", re.UNICODE)


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


class WordIndex:
    def __init__(self, texts: Sequence[str], max_postings: int = 200, rare_words: int = 4) -> None:
        self.bags = [words(t) for t in texts]
        self.df: Counter[str] = Counter(w for bag in self.bags for w in bag)
        self.postings: dict[str, list[int]] = defaultdict(list)
        self.rare_words = rare_words
        for i, bag in enumerate(self.bags):
            for w in self._rarest(bag):
                if len(self.postings[w]) < max_postings:
                    self.postings[w].append(i)

    def _rarest(self, bag: set[str]) -> list[str]:
        return sorted(bag, key=lambda w: (self.df[w], w))[: self.rare_words]

    def neighbours(self, i: int, k: int = 2, min_overlap: float = 0.3) -> list[int]:
        """Up to ``k`` other sentences by word-set Jaccard, above ``min_overlap``, exact duplicates excluded."""
        bag = self.bags[i]
        if not bag:
            return []
        candidates: set[int] = set()
        for w in self._rarest(bag):
            candidates.update(self.postings.get(w, ()))
        candidates.discard(i)
        scored = []
        for j in candidates:
            other = self.bags[j]
            union = len(bag | other)
            score = len(bag & other) / union if union else 0.0
            if min_overlap <= score < 1.0:
                scored.append((score, j))
        scored.sort(reverse=True)
        return [j for _, j in scored[:k]]
