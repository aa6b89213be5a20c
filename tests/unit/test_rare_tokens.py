"""Which pieces are held back per target language: rare in its own text, common in the others'."""

from __future__ import annotations

from collections import Counter

from training.rare_tokens import rare_tokens


def test_a_piece_is_held_back_where_it_is_ratio_times_rarer_than_elsewhere() -> None:
    counts = {
        "en": Counter({"▁the": 96, "▁house": 50, "▁casa": 1, "▁la": 49, "▁odd": 4}),
        "de": Counter({"▁das": 100, "▁Haus": 50, "▁the": 1, "▁la": 49}),
        "es": Counter({"▁la": 100, "▁casa": 50, "▁the": 30, "▁Haus": 4}),
    }
    vocabulary = {"▁the", "▁house", "▁Haus", "▁casa", "▁la", "▁das", "▁odd"}
    held = rare_tokens(counts, 10.0, vocabulary, ["en", "de", "es"])
    # German: "▁the" once in 200 pieces against 126 in 384 elsewhere is rare enough; "▁la" is common there.
    assert held["de"] == ["▁casa", "▁house", "▁the"]
    # Spanish catalog text keeps some English: "▁the" (30 of 184) stays; "▁Haus" (4 of 184) is not 10x rarer.
    assert held["es"] == ["▁das", "▁house"]
    # "▁casa" once in English is still 10x rarer than in the others; "▁odd", seen 4 times, only in English.
    assert held["en"] == ["▁Haus", "▁casa", "▁das"]
    assert "▁odd" not in held["de"] + held["es"]  # under MIN_ELSEWHERE elsewhere: never held back
    # A stricter ratio holds back no more; only pieces the engine knows are held back.
    assert set(rare_tokens(counts, 1000.0, vocabulary, ["de"])["de"]) <= set(held["de"])
    assert rare_tokens(counts, 10.0, vocabulary - {"▁casa"}, ["de"])["de"] == ["▁house", "▁the"]
