"""Temperature sampling across language pairs (Arivazhagan et al. 2019): p(pair) ~ n_pair^(1/T).

T=1 follows the data (German/French Bible would dominate), T->inf is uniform; T=5 lifts the small pairs without
repeating them endlessly. Each draw returns a length-homogeneous sub-batch of one pair.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence

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
        extra: dict[Hashable, list[Example]] | None = None,
        extra_share: float = 0.0,
        more: Sequence[tuple[dict[Hashable, list[Example]], float]] = (),
    ) -> None:
        """``extra``: pairs drawn ``extra_share`` of the time, by temperature among themselves (synthetic
        directions: many small ones, which temperature sampling over all pairs would draw most of the time).
        ``more``: further groups, each drawn its share of the time (a new kind of data whose weight should not
        follow its size); the first group gets what the others leave."""
        rng = random.Random(seed)
        extra = extra or {}
        others = [(g, share) for g, share in [(extra, extra_share), *more] if g]
        keys: set[Hashable] = set(examples)
        for group, _ in others:
            if keys & set(group):
                raise ValueError(f"pairs in two groups: {sorted(keys & set(group), key=str)}")
            keys |= set(group)
        rest = 1.0 - sum(share for _, share in others)
        if not 0.0 <= rest <= 1.0:
            raise ValueError(f"the groups' shares add up to {1.0 - rest:.2f}, more than 1")
        groups = [(examples, rest), *others]
        self.names, self.probs = [], []
        for group, share in groups:
            names = sorted(group, key=str)
            weights = [len(group[k]) ** (1.0 / temperature) for k in names]
            total = sum(weights)
            self.names += names
            self.probs += [share * w / total for w in weights]
        self.batches = {k: token_batches(g[k], tokens_per_pair) for g, _ in groups for k in g}
        for name in self.names:
            rng.shuffle(self.batches[name])
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
