"""Token-budget batches for training: tensors with padding, and the source/target formats shared with serving.

Source: ``[<ex> ex_src <to> ex_tgt]* [<sep>] source </s>``; target: ``<2xx> target </s>``. The decoder starts from
``<pad>`` (a zero embedding in Marian), then the language tag, so the target language is a decoder prefix that the
service passes as CTranslate2's ``target_prefix``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

MAX_SOURCE = 200
MAX_TARGET = 160


@dataclass(frozen=True, slots=True)
class Example:
    source: list[int]
    target: list[int]  # begins with the language tag, ends with </s>
    pair: int  # index of the language pair (for the per-pair loss)


def source_ids(
    text_ids: list[int],
    eos: int,
    examples: Sequence[tuple[list[int], list[int]]] = (),
    *,
    ex: int = -1,
    to: int = -1,
    sep: int = -1,
) -> list[int]:
    """Source ids with as many examples (in order) as fit beside the whole sentence, as the service joins them.

    Why examples give way, never the sentence: a cut sentence under a full target teaches the model to translate
    what it was not shown (copy or invent from the examples), and the service never cuts the sentence either.
    """
    text = text_ids[: MAX_SOURCE - 1]
    room = MAX_SOURCE - len(text) - 2  # + <sep> and </s>
    out: list[int] = []
    for ex_src, ex_tgt in examples:
        cost = len(ex_src) + len(ex_tgt) + 2  # + <ex> and <to>
        if cost > room:
            break
        out += [ex, *ex_src, to, *ex_tgt]
        room -= cost
    if out:
        out.append(sep)
    return [*out, *text, eos]


def target_ids(tag: int, text_ids: list[int], eos: int) -> list[int]:
    return [tag, *text_ids[: MAX_TARGET - 2], eos]


def collate(batch: Sequence[Example], pad: int) -> dict[str, torch.Tensor]:
    """Padded source tensors and labels (pads -> -100); each model family derives its own decoder input
    from the labels (Marian starts from ``<pad>``, M2M100/NLLB from ``</s>``, mBART rotates the last token)."""
    src_len = max(len(e.source) for e in batch)
    tgt_len = max(len(e.target) for e in batch)
    input_ids = torch.full((len(batch), src_len), pad, dtype=torch.long)
    attention = torch.zeros((len(batch), src_len), dtype=torch.long)
    labels = torch.full((len(batch), tgt_len), -100, dtype=torch.long)
    for i, e in enumerate(batch):
        input_ids[i, : len(e.source)] = torch.tensor(e.source)
        attention[i, : len(e.source)] = 1
        labels[i, : len(e.target)] = torch.tensor(e.target)
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def token_batches(examples: list[Example], max_tokens: int) -> list[list[Example]]:
    """Group length-sorted examples so that (rows x longest target) stays under ``max_tokens``."""
    ordered = sorted(examples, key=lambda e: (len(e.target), len(e.source)))
    batches: list[list[Example]] = []
    current: list[Example] = []
    longest = 0
    for e in ordered:
        longest_next = max(longest, len(e.target), len(e.source) // 2)
        if current and longest_next * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, longest_next = [], max(len(e.target), len(e.source) // 2)
        current.append(e)
        longest = longest_next
    if current:
        batches.append(current)
    return batches
