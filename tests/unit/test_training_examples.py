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


def test_a_machine_made_side_read_as_a_source_is_tagged_bt() -> None:
    """Tagged back-translation: the teacher's output (X side) and a back-translation's English side get <bt> when
    they are the source; human text never does."""
    vocab = WordVocab()
    vocab.has = lambda piece: True  # type: ignore[attr-defined]
    pairs = [
        Pair("teacher", "wordnet", "en", "es", "the house is small", "la casa es pequeña"),
        Pair("backtranslation", "fortunes", "en", "de", "the cake ready", "der Kuchen ist fertig"),
        Pair("bible", "1", "en", "de", "in the beginning", "im Anfang"),
    ]
    examples = build_examples(pairs, vocab, augment=0.0)  # type: ignore[arg-type]
    bt = vocab.sym("<bt>")
    tagged = {d: [e.source[0] == bt for e in rows] for d, rows in examples.items()}
    assert tagged[("en", "es")] == [False]  # human English source
    assert tagged[("es", "en")] == [True]  # Apertium's Spanish as a source
    assert tagged[("en", "de")] == [True, False]  # back-translated English; the Bible's human English
    assert tagged[("de", "en")] == [False, False]  # human German sources
    assert all(bt not in e.target for rows in examples.values() for e in rows)  # never asked to write the tag


def test_machine_made_sides_need_the_bt_piece() -> None:
    vocab = WordVocab()
    vocab.has = lambda piece: False  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match=r"no <bt> piece: add it with python -m training\.vocab_extend"):
        build_examples([Pair("teacher", "w", "en", "es", "a", "b")], vocab)  # type: ignore[arg-type]
