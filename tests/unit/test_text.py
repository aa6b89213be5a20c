"""The sentence splitter: sentence boundaries, kept separators, exact reassembly, no truncation."""

from __future__ import annotations

import pytest

from service.text import split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Hello world. How are you? Fine!", ["Hello world.", "How are you?", "Fine!"]),
        ("One line\nanother line", ["One line", "another line"]),
        ("Para one.\n\nPara two.", ["Para one.", "Para two."]),
        ("Pi is 3.14 today", ["Pi is 3.14 today"]),
        ("Wow!!! Really?!", ["Wow!!!", "Really?!"]),
        ("你好。我很好。谢谢", ["你好。", "我很好。", "谢谢"]),
        ("  padded.  ", ["padded."]),
        ("no punctuation at all", ["no punctuation at all"]),
    ],
)
def test_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text).sentences == sentences


@pytest.mark.parametrize(
    "text",
    [
        "Hello world. How are you? Fine!",
        "  Leading and trailing.  \n",
        "Para one.\n\n  Para two.\r\nLine three",
        "你好。。我很好！谢谢",
        "word " * 300,
        "x" * 1000,
        "",
    ],
)
def test_join_restores_the_text(text: str) -> None:
    segments = split_sentences(text)
    assert segments.join(segments.sentences) == text


def test_paragraph_breaks_survive_translation() -> None:
    segments = split_sentences("A one.\n\nB two.")
    assert segments.join([s.upper() for s in segments.sentences]) == "A ONE.\n\nB TWO."


def test_long_sentences_are_cut_not_truncated() -> None:
    text = ", ".join(f"clause number {i}" for i in range(100))
    segments = split_sentences(text, max_chars=120)
    assert all(len(s) <= 120 for s in segments.sentences)
    assert len(segments.sentences) > 1 and segments.join(segments.sentences) == text


def test_join_checks_the_count() -> None:
    with pytest.raises(ValueError):
        split_sentences("A. B.").join(["only one"])
