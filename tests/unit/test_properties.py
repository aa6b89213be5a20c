"""Property-based tests (hypothesis): the sentence splitter gives back every character, and SentencePiece on the
tiny model's tokenizer round-trips its own alphabet and survives any Unicode.

Why properties: the splitter and the tokenizer see every byte clients send; hand-written examples miss the
combinations (CJK punctuation runs, whitespace-only tails, 400-character words) that hypothesis finds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.text import MAX_SENTENCE_CHARS, split_sentences

sentencepiece = pytest.importorskip("sentencepiece")

# Text that hits the splitter's separators far more often than uniform Unicode would.
_PIECES = st.sampled_from(["a", "Bc", " ", "  ", "\n", "\n\n", "\t", ".", "!", "?", "...", "。", "！", "？", ",", "、"])
SPLITTER_TEXT = st.one_of(st.text(), st.lists(_PIECES | st.text(max_size=3)).map("".join))
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(SPLITTER_TEXT)
@example("Hello world. How are you?\n\nFine!")
@example("。。。！？")
@example("  \n ")
def test_split_then_join_gives_back_the_text(text: str) -> None:
    segments = split_sentences(text)
    assert segments.join(segments.sentences) == text
    assert all(s for s in segments.sentences)
    assert all(len(s) <= MAX_SENTENCE_CHARS for s in segments.sentences)
    assert len(segments.separators) == max(0, len(segments.sentences) - 1)
    if not text.strip():
        assert segments.sentences == []


@PROPERTY_SETTINGS
@given(st.lists(st.sampled_from(["word", " ", ", ", "; ", "x" * 7]), max_size=60).map("".join), st.integers(1, 40))
def test_long_sentences_are_cut_losslessly(text: str, limit: int) -> None:
    segments = split_sentences(text, max_chars=limit)
    assert segments.join(segments.sentences) == text
    assert all(0 < len(s) <= limit for s in segments.sentences)


@PROPERTY_SETTINGS
@given(SPLITTER_TEXT)
def test_translated_sentences_land_in_their_places(text: str) -> None:
    """Whatever each sentence becomes, the separators around it are kept verbatim."""
    segments = split_sentences(text)
    marked = [f"<{i}>" for i in range(len(segments.sentences))]
    joined = segments.join(marked)
    for i, mark in enumerate(marked):
        assert joined.count(mark) == 1
        if i:
            between = joined[joined.index(marked[i - 1]) + len(marked[i - 1]) : joined.index(mark)]
            assert between == segments.separators[i - 1]


@pytest.fixture(scope="module")
def tiny_sp(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The tiny model's SentencePiece model, trained from its generated corpus in about a second (no torch)."""
    from tests.tiny_model import _train_sentencepiece

    path: Path = tmp_path_factory.mktemp("sp") / "sentencepiece.model"
    _train_sentencepiece(path, 200)
    return sentencepiece.SentencePieceProcessor(model_file=str(path))


def _alphabet(sp: object) -> str:
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]  # type: ignore[attr-defined]
    chars = {c for p in pieces if not (p.startswith("<") and p.endswith(">")) for c in p}
    return "".join(sorted(chars - {"\u2581"}))


def test_sentencepiece_round_trips_its_alphabet(tiny_sp: object) -> None:
    alphabet = _alphabet(tiny_sp)
    assert "a" in alphabet and len(alphabet) > 10
    words = st.text(alphabet=alphabet, min_size=1, max_size=12)

    @PROPERTY_SETTINGS
    @given(st.lists(words, max_size=20), st.sampled_from([" ", "  ", "\t", "\n"]))
    def check(parts: list[str], gap: str) -> None:
        text = gap.join(parts)
        pieces = tiny_sp.encode(text, out_type=str)  # type: ignore[attr-defined]
        assert tiny_sp.decode(pieces) == " ".join(text.split())  # type: ignore[attr-defined]

    check()


def test_sentencepiece_survives_any_unicode(tiny_sp: object) -> None:
    @PROPERTY_SETTINGS
    @given(st.text(max_size=200))
    def check(text: str) -> None:
        pieces = tiny_sp.encode(text, out_type=str)  # type: ignore[attr-defined]
        out = tiny_sp.decode(pieces)  # type: ignore[attr-defined]
        assert isinstance(out, str) and all(isinstance(p, str) for p in pieces)
        out.encode("utf-8")  # whatever comes back can be sent as JSON

    check()
