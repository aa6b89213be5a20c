"""Training sources: examples give way to the sentence, exactly as the service joins them."""

from __future__ import annotations

from service.engines.manifest import FewShotFormat
from service.fewshot.format import ExampleTokens, join_examples
from training.batching import MAX_SOURCE, source_ids

EX, TO, SEP, EOS = 1, 2, 3, 0


def test_examples_that_do_not_fit_are_dropped_and_the_sentence_is_kept_whole() -> None:
    sentence = list(range(100, 100 + 120))
    small, big = ([10, 11], [20, 21]), (list(range(30, 80)), list(range(80, 130)))
    ids = source_ids(sentence, EOS, [small, big], ex=EX, to=TO, sep=SEP)
    assert ids == [EX, 10, 11, TO, 20, 21, SEP, *sentence, EOS]  # the second example (102 tokens) does not fit
    assert source_ids(sentence, EOS, [big, small], ex=EX, to=TO, sep=SEP) == [*sentence, EOS]  # first fails: none


def test_only_a_sentence_longer_than_the_limit_is_cut() -> None:
    ids = source_ids(list(range(5, 5 + 2 * MAX_SOURCE)), EOS, [([10], [20])], ex=EX, to=TO, sep=SEP)
    assert len(ids) == MAX_SOURCE and EX not in ids and ids[-1] == EOS


def test_training_and_service_join_examples_the_same_way() -> None:
    fmt = FewShotFormat(example_token="<ex>", target_token="<to>", source_token="<sep>")
    names = {EX: "<ex>", TO: "<to>", SEP: "<sep>", EOS: "</s>"}
    sentence = [f"s{i}" for i in range(60)]
    examples = [([f"a{i}" for i in range(40)], [f"b{i}" for i in range(40)]) for _ in range(3)]
    served = join_examples(
        fmt, [*sentence, "</s>"], [ExampleTokens(tuple(s), tuple(t)) for s, t in examples], MAX_SOURCE
    )
    ids = {piece: k for k, piece in enumerate(sorted({p for s, t in examples for p in s + t} | set(sentence)), 10)}
    trained = source_ids(
        [ids[p] for p in sentence], EOS, [([ids[p] for p in s], [ids[p] for p in t]) for s, t in examples],
        ex=EX, to=TO, sep=SEP,
    )  # fmt: skip
    back = {**{v: k for k, v in ids.items()}, **names}
    assert [back[i] for i in trained] == served
    assert served.count("<ex>") == 1  # 60 + 2 + 82 fits in 200, a second 82 does not
