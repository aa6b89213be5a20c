"""The bounded per-engine queue of sentence items, and its length-sorted pops (infinity ``queue.py`` style).

Why length-sorted: a batch pays for its longest source; grouping sentences of similar length inside a window
wastes little on padding. The oldest live item is always in the next batch, so nothing starves, and only items
that arrived within ``slack_s`` of the oldest may join it: an item is overtaken by at most ``slack_s`` of later
arrivals, so its wait stays close to the first-in-first-out estimate the batcher admits it by (an unbounded
window let long sentences of an unusual length wait several times that, past their deadline). Items whose
future is already done (the client went away or timed out) are dropped here, before any inference.
A batch shares its decoding options; for an engine that decodes each target language in a call of its own (a
model that holds pieces back per language), it shares its target language too, so that it stays one engine call.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from service.engines.base import DecodeOptions, Hypothesis
from service.errors import Overloaded

Priority = Literal["interactive", "bulk"]  # requests, and background jobs' segments (served after requests)
PRIORITIES: tuple[Priority, ...] = ("interactive", "bulk")


@dataclass(eq=False)
class WorkItem:
    """One sentence to translate, with the future its request awaits."""

    tokens: list[str]
    target: str
    options: DecodeOptions
    future: asyncio.Future[Hypothesis]
    submission: int = 0  # set by the scheduler: items of one request share it
    enqueued_at: float = field(default_factory=time.monotonic)
    priority: Priority = "interactive"

    @classmethod
    def create(
        cls, tokens: list[str], target: str, options: DecodeOptions, priority: Priority = "interactive"
    ) -> WorkItem:
        return cls(tokens, target, options, asyncio.get_running_loop().create_future(), priority=priority)

    @property
    def cost(self) -> int:
        return max(1, len(self.tokens))

    @property
    def live(self) -> bool:
        return not self.future.done()


def padded_tokens(items: Sequence[WorkItem]) -> int:
    """What a batch costs the engine: examples x longest source."""
    return len(items) * max((i.cost for i in items), default=0)


class BatchQueue:
    """FIFO of items with a size bound; pops batches under a token budget and a size cap."""

    def __init__(self, max_items: int, window: int, by_target: bool = False) -> None:
        self._items: list[WorkItem] = []
        self._max_items = max_items
        self._window = window
        self._by_target = by_target  # a batch takes only items of the oldest's target language
        self._submissions = itertools.count(1)

    def __len__(self) -> int:
        return len(self._items)

    def put(self, items: Sequence[WorkItem], retry_after_s: int = 1) -> None:
        """Enqueue all items of one request, or none.

        An empty queue admits any request (one request larger than the bound still runs on an otherwise idle
        server); a non-empty one admits items up to the bound, then raises ``Overloaded``.
        """
        self.purge()
        if self._items and len(self._items) + len(items) > self._max_items:
            raise Overloaded(
                f"queue is full ({len(self._items)} sentences waiting); retry later",
                retry_after_s=retry_after_s,
            )
        submission = next(self._submissions)
        for item in items:
            item.submission = submission
        self._items.extend(items)

    def purge(self) -> None:
        """Drop cancelled or otherwise finished items."""
        if any(not i.live for i in self._items):
            self._items = [i for i in self._items if i.live]

    def oldest(self) -> WorkItem | None:
        self.purge()
        return self._items[0] if self._items else None

    def submissions(self) -> int:
        """How many distinct requests have items waiting."""
        return len({i.submission for i in self._items if i.live})

    def _select(self, max_tokens: int, max_size: int, slack_s: float) -> tuple[list[WorkItem], bool]:
        """The next batch and whether it is full (some compatible item in the window did not fit)."""
        self.purge()
        if not self._items:
            return [], False
        oldest = self._items[0]
        latest = oldest.enqueued_at + slack_s
        window = list(itertools.takewhile(lambda i: i.enqueued_at <= latest, self._items[: self._window]))
        candidates = [
            i for i in window if i.options == oldest.options and (not self._by_target or i.target == oldest.target)
        ]
        candidates.sort(key=lambda i: i.cost)  # stable: FIFO among equal lengths
        lo = hi = candidates.index(oldest)
        while hi - lo + 1 < max_size:
            longest = candidates[hi].cost
            if lo > 0 and (hi - lo + 2) * longest <= max_tokens:
                lo -= 1  # a shorter neighbour never raises the padded length
            elif hi + 1 < len(candidates) and (hi - lo + 2) * candidates[hi + 1].cost <= max_tokens:
                hi += 1
            else:
                break
        batch = candidates[lo : hi + 1]
        full = len(batch) < len(candidates) or len(batch) >= max_size or len(self._items) > len(window)
        return batch, full

    def full_batch_ready(self, max_tokens: int, max_size: int, slack_s: float = float("inf")) -> bool:
        return self._select(max_tokens, max_size, slack_s)[1]

    def pop_batch(self, max_tokens: int, max_size: int, slack_s: float = float("inf")) -> list[WorkItem]:
        """The oldest item and similar-length items that arrived at most ``slack_s`` after it."""
        batch, _ = self._select(max_tokens, max_size, slack_s)
        if batch:
            chosen = set(map(id, batch))
            self._items = [i for i in self._items if id(i) not in chosen]
        return batch

    def fail_all(self, error: Exception) -> None:
        for item in self._items:
            if item.live:
                item.future.set_exception(error)
        self._items = []
