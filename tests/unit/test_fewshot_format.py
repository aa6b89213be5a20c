"""Example-augmented sources: the training format exactly, budgets that never cut the sentence, no change
without examples."""

from __future__ import annotations

from service.engines.manifest import Manifest
from service.fewshot.format import Example, build_source, token_budget, tokenize_examples
from tests.fakes import FakeEngine


def test_without_examples_the_tokens_are_exactly_tokenize() -> None:
    engine = FakeEngine(few_shot=True)
    assert build_source(engine, "a b") == engine.tokenize("a b") == ["a", "b", "</s>"]
    assert build_source(engine, "a b", "en", "de", [], 100) == ["a", "b", "</s>"]


def test_examples_are_joined_in_the_training_format() -> None:
    engine = FakeEngine(few_shot=True)
    examples = tokenize_examples(engine, [Example("x y", "X Y"), Example("z", "Z")])
    assert build_source(engine, "a b", "en", "de", examples, 100) == [
        "<ex>", "x", "y", "<to>", "X", "Y", "<ex>", "z", "<to>", "Z", "<sep>", "a", "b", "</s>",
    ]  # fmt: skip


def test_examples_that_do_not_fit_are_dropped_and_the_sentence_is_never_cut() -> None:
    engine = FakeEngine(few_shot=True)
    examples = tokenize_examples(engine, [Example("x y", "X Y"), Example("z", "Z")])
    # "a b </s>" + <sep> = 4 tokens; the first example costs 6 (with <ex> and <to>), the second 4.
    first_only = build_source(engine, "a b", examples=examples, budget=10)
    assert first_only == ["<ex>", "x", "y", "<to>", "X", "Y", "<sep>", "a", "b", "</s>"]
    assert "<ex>" not in build_source(engine, "a b", examples=examples, budget=9)
    long = " ".join(["w"] * 50)
    assert build_source(engine, long, examples=examples, budget=10) == engine.tokenize(long)


def test_a_model_without_few_shot_gets_the_plain_sentence() -> None:
    engine = FakeEngine()
    examples = tokenize_examples(engine, [Example("x", "X")])
    assert build_source(engine, "a", examples=examples, budget=100) == ["a", "</s>"]


def test_the_budget_is_capped_by_the_position_table() -> None:
    assert token_budget(Manifest(name="m", languages=["en"], architecture={"max_positions": 64}), 256) == 64
    assert token_budget(Manifest(name="m", languages=["en"]), 256) == 256
