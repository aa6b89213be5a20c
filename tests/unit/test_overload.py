"""Overload in-process: beyond capacity the answer is a fast 429 with Retry-After, never a 504 or a hang, and
every accepted request is answered. (The 4x-capacity run on a real model is ``benchmarks/soak.py overload``.)"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import httpx

from service.engines.base import DecodeOptions, Hypothesis
from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient

BODY = {"text": "a", "source": "en", "target": "de"}


class SlowEngine(FakeEngine):
    """0.1 s of "inference" per sentence: a capacity of ten sentences a second."""

    def translate_batch(
        self, sources: Sequence[list[str]], targets: Sequence[str], options: DecodeOptions, max_batch_tokens: int
    ) -> list[Hypothesis]:
        time.sleep(0.1 * len(sources))
        return super().translate_batch(sources, targets, options, max_batch_tokens)


async def test_a_burst_on_a_blocked_engine_is_shed_at_once(app_client: AppClient) -> None:
    """429s are answered while the engine is still blocked: they never wait for it. At most one running batch
    and a full queue (8 + 8 sentences) are accepted; every other request of the burst is shed."""
    engine = FakeEngine(gate=threading.Event())
    try:
        async with app_client([engine], max_queue=8, max_batch_size=8) as client:
            tasks = [asyncio.create_task(client.post("/translate", json=BODY)) for _ in range(40)]
            done: list[asyncio.Task[httpx.Response]] = []
            for _ in range(3000):  # bounded: until at least the surely-shed ones are answered
                done = [t for t in tasks if t.done()]
                if len(done) >= 40 - 16:
                    break
                await asyncio.sleep(0.01)
            assert engine.gate is not None and not engine.gate.is_set()  # the engine never moved meanwhile
            shed = [t.result() for t in done]
            assert len(shed) >= 24 and all(r.status_code == 429 for r in shed)
            assert all(int(r.headers["retry-after"]) >= 1 for r in shed)
            engine.gate.set()
            answers = await asyncio.gather(*tasks)
    finally:
        assert engine.gate is not None
        engine.gate.set()
    statuses = [r.status_code for r in answers]
    assert set(statuses) == {200, 429} and 1 <= statuses.count(200) <= 16


async def test_overload_is_429_never_504_even_with_a_long_queue(app_client: AppClient) -> None:
    """A slow engine behind a queue that could hold minutes of work: admission stops at half the deadline."""
    engine = SlowEngine()
    settings = {"max_queue": 1024, "max_batch_size": 1, "request_timeout_s": 10.0}
    async with app_client([engine], **settings) as client:
        for _ in range(3):  # the batcher learns the engine's speed
            assert (await client.post("/translate", json=BODY)).status_code == 200
        answers = await asyncio.gather(*(client.post("/translate", json=BODY) for _ in range(150)))
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {200, 429}, sorted(set(statuses))
    assert statuses.count(429) > 0 and statuses.count(200) > 0
    assert all(r.json()["error"]["code"] == "overloaded" and "retry-after" in r.headers for r in answers
               if r.status_code == 429)  # fmt: skip


async def test_when_every_queue_is_full_translate_is_shed_before_its_body_is_read(app_client: AppClient) -> None:
    """The answer is known without the body: even a malformed one gets the 429 (it would get 400 otherwise)."""
    engine = FakeEngine(gate=threading.Event())
    malformed = {"content": b'{"text": ', "headers": {"content-type": "application/json"}}
    try:
        async with app_client([engine], max_queue=8, max_batch_size=8, inter_threads=1) as client:
            assert (await client.post("/translate", **malformed)).status_code == 400  # type: ignore[arg-type]
            running = asyncio.create_task(client.post("/translate", json=BODY))
            assert await asyncio.to_thread(engine.started.wait, 30)
            queued = [asyncio.create_task(client.post("/translate", json={**BODY, "text": ["a"] * 8}))]
            for _ in range(500):
                if 'xlt_queue_depth{model="fake"} 8.0' in (await client.get("/metrics")).text:
                    break
                await asyncio.sleep(0.01)
            shed = await client.post("/translate", **malformed)  # type: ignore[arg-type]
            assert shed.status_code == 429 and shed.json()["error"]["code"] == "overloaded"
            assert int(shed.headers["retry-after"]) >= 1
            assert (await client.get("/languages")).status_code == 200  # other routes are not shed
            metrics = (await client.get("/metrics")).text
            assert 'xlt_requests_total{code="overloaded",route="/translate",status="429"} 1.0' in metrics
            engine.gate.set()
            assert (await running).status_code == 200 and (await queued[0]).status_code == 200
            assert (await client.post("/translate", **malformed)).status_code == 400  # queue empty: read again
    finally:
        assert engine.gate is not None
        engine.gate.set()
