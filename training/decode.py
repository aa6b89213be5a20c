"""Greedy/beam decoding with the PyTorch model during training (dev chrF); serving decodes with CTranslate2."""

from __future__ import annotations

import torch
from torch import nn

from training.batching import source_ids
from training.corpus import Vocab


def translate(
    model: nn.Module,
    vocab: Vocab,
    texts: list[str],
    tgt_lang: str,
    beam: int = 1,
    batch_size: int = 32,
    max_new_tokens: int = 160,
) -> list[str]:
    outputs: list[str] = []
    encoded = vocab.encode(texts)
    for start in range(0, len(texts), batch_size):
        chunk = [source_ids(ids, vocab.eos) for ids in encoded[start : start + batch_size]]
        width = max(len(c) for c in chunk)
        input_ids = torch.full((len(chunk), width), vocab.pad, dtype=torch.long)
        mask = torch.zeros_like(input_ids)
        for i, c in enumerate(chunk):
            input_ids[i, : len(c)] = torch.tensor(c)
            mask[i, : len(c)] = 1
        prefix = torch.tensor([[vocab.pad, vocab.tag(tgt_lang)]] * len(chunk))
        with torch.no_grad():
            gen = model.generate(  # type: ignore[operator]
                input_ids=input_ids,
                attention_mask=mask,
                decoder_input_ids=prefix,
                num_beams=beam,
                max_new_tokens=max_new_tokens,
                do_sample=False,
            )
        for row in gen.tolist():
            ids = [t for t in row[2:] if t not in (vocab.pad,)]
            if vocab.eos in ids:
                ids = ids[: ids.index(vocab.eos)]
            outputs.append(vocab.sp.decode(ids))
    return outputs
