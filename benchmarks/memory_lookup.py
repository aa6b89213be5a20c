"""Translation-memory lookup cost at 100k entries: what a ``memory`` adds to one ``/translate`` sentence.

It fills a SQLite memory (a temporary folder) with synthetic segments drawn from a Zipf-distributed vocabulary,
as real text is, then times ``Memories.lookup`` (revision check + exact map + fuzzy index + edit-distance
rescoring) for three kinds of query sentence: stored ones (exact), stored ones with two words changed (fuzzy),
and new ones (misses). Results go to ``benchmarks/results/memory_lookup.json``.

    python benchmarks/memory_lookup.py --entries 100000 --queries 300
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from service.fewshot.memories import Memories
from service.fewshot.store import SQLiteMemoryStore


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(2, 10))))
    return sorted(words)


def sentences(count: int, vocab: list[str], rng: random.Random) -> list[str]:
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]  # Zipf: a few words in most sentences
    return [" ".join(rng.choices(vocab, weights, k=rng.randint(5, 25))).capitalize() + "." for _ in range(count)]


def perturb(sentence: str, vocab: list[str], rng: random.Random) -> str:
    words = sentence.rstrip(".").split()
    for _ in range(2):
        words[rng.randrange(len(words))] = rng.choice(vocab)
    return " ".join(words) + "."


def percentiles(values: list[float]) -> dict[str, float]:
    """Milliseconds; the machine's other load shows in the tail of wall time, not of CPU time."""
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "p50_ms": round(pick(0.50) * 1000, 3),
        "p95_ms": round(pick(0.95) * 1000, 3),
        "p99_ms": round(pick(0.99) * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300, help="per kind (exact, fuzzy, miss)")
    parser.add_argument("--vocabulary", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/memory_lookup.json"))
    args = parser.parse_args()
    rng = random.Random(7)
    vocab = vocabulary(args.vocabulary, rng)
    sources = sentences(args.entries, vocab, rng)
    with tempfile.TemporaryDirectory() as tmp:
        memories = Memories(lambda: SQLiteMemoryStore(Path(tmp) / "memories.sqlite3"))
        memory = memories.create("benchmark")
        started = time.perf_counter()
        for i in range(0, len(sources), 10_000):  # writes commit and refresh the index, as the API does
            memories.add(memory.id, "en", "de", [(s, f"DE {s}") for s in sources[i : i + 10_000]])
        fill_s = time.perf_counter() - started
        picked = rng.sample(sources, args.queries)
        kinds = {
            "exact": picked,
            "fuzzy": [perturb(s, vocab, rng) for s in picked],
            "miss": sentences(args.queries, vocab, rng),
        }
        results: dict[str, dict[str, float]] = {}
        for kind, queries in kinds.items():
            wall, cpu, found = [], [], 0
            for query in queries:
                t0, c0 = time.perf_counter(), time.thread_time()
                (hit,) = memories.lookup(memory.id, "en", "de", [query], k=2, threshold=0.6)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)
                found += hit.exact is not None or bool(hit.examples)
            results[kind] = {
                "wall": percentiles(wall),
                "cpu": percentiles(cpu),  # without the time this thread waited for a core
                "found": round(found / len(queries), 3),
            }
        memories.close()
    report = {
        "benchmark": "memory_lookup",
        "entries": args.entries,
        "queries_per_kind": args.queries,
        "vocabulary": args.vocabulary,
        "fill_and_index_s": round(fill_s, 2),
        "lookup": results,
        "budget_ms": 5.0,
        "within_budget_p99_wall": all(r["wall"]["p99_ms"] <= 5.0 for r in results.values()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
