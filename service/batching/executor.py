"""The one place where asyncio meets threads: a dedicated thread pool per engine.

Why: ``translate_batch`` blocks for milliseconds to seconds; CTranslate2 releases the GIL while it runs, so a
worker thread keeps the event loop free to accept requests and form the next batch. Nothing else in the
service calls an engine from the loop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class EngineExecutor:
    """A thread pool sized to the number of engine calls allowed at once."""

    def __init__(self, name: str, workers: int) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"xlt-{name}")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
