"""Temperature sampling across language pairs (Arivazhagan et al. 2019): p(pair) ~ n_pair^(1/T).

T=1 follows the data (German/French Bible would dominate), T->inf is uniform; T=5 lifts the small pairs without
repeating them endlessly. Each draw returns a length-homogeneous sub-batch of one pair.
"""

from __future__ import annotations

import random
from collections.abc import Hashable

from training.batching import Example, token_batches
from training.trainer import SubBatch


class PairSampler:
    def __init__(
        self,
        examples: dict[Hashable, list[Example]],
        tokens_per_pair: int,
        pairs_per_step: int,
        temperature: float = 5.0,
        seed: int = 0,
    ) -> None:
        rng = random.Random(seed)
        self.names = sorted(examples, key=str)
        self.batches = {k: token_batches(examples[k], tokens_per_pair) for k in self.names}
        for b in self.batches.values():
            rng.shuffle(b)
        sizes = [len(examples[k]) for k in self.names]
        weights = [n ** (1.0 / temperature) for n in sizes]
        total = sum(weights)
        self.probs = [w / total for w in weights]
        self.pairs_per_step = pairs_per_step
        self.cursor = dict.fromkeys(self.names, 0)

    def __call__(self, rng: random.Random) -> list[SubBatch]:
        chosen = rng.choices(self.names, weights=self.probs, k=self.pairs_per_step)
        out: list[SubBatch] = []
        for name in chosen:
            batches = self.batches[name]
            # Draw a random batch of this pair: cheap, and resumable without storing a cursor.
            out.append((_label(name), batches[rng.randrange(len(batches))]))
        return out


def _label(name: Hashable) -> str:
    return "-".join(name) if isinstance(name, tuple) else str(name)
