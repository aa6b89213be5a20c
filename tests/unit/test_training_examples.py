"""Example-augmented training inputs: which neighbours become examples."""

from __future__ import annotations

import pytest

pytest.importorskip("sentencepiece")

from training.corpus import build_examples, without_identical
from training.data.records import Pair


class WordVocab:
    """A stand-in for the SentencePiece vocabulary: one id per word, so input lengths count words."""

    eos, pad = 1, 0

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def _id(self, piece: str) -> int:
        return self.ids.setdefault(piece, len(self.ids) + 10)

    def tag(self, lang: str) -> int:
        return self._id(f"<2{lang}>")

    def sym(self, piece: str) -> int:
        return self._id(piece)

    def encode(self, texts: list[str]) -> list[list[int]]:
        return [[self._id(w) for w in t.split()] for t in texts]


# Each English sentence shares 2 of its 3 words with the other: word-set Jaccard 2/4 = 0.5.
PAIRS = [
    Pair("gettext", "demo", "en", "de", "open the file", "die Datei öffnen"),
    Pair("gettext", "demo", "en", "de", "open the folder", "den Ordner öffnen"),
]


def _source_lengths(min_overlap: float) -> list[int]:
    examples = build_examples(PAIRS, WordVocab(), augment=1.0, seed=0, min_overlap=min_overlap)  # type: ignore[arg-type]
    return [len(e.source) for e in examples[("en", "de")]]


def test_neighbours_at_least_as_close_as_min_overlap_become_examples() -> None:
    assert all(n > 4 for n in _source_lengths(0.5))  # sentence + </s> is 4 ids; the example makes it longer


def test_looser_neighbours_than_min_overlap_are_left_out() -> None:
    assert _source_lengths(0.6) == [4, 4]


def test_pairs_whose_target_is_their_source_can_be_left_out() -> None:
    same = Pair("gettext", "iso", "en", "de", "Savona", "Savona ")
    assert without_identical([*PAIRS, same]) == PAIRS
