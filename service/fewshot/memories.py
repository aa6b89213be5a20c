"""Translation memories in use: the store plus a cache of fuzzy indexes, one per (memory, language pair).

Why a cache that checks the revision on every lookup: the store is the truth (other replicas may write to it);
one indexed read of the memory's revision tells whether the cached index is current, and only entries newer
than it are read to catch up. Writes refresh the index of the pair they wrote, so the first lookup after a
large import does not pay for building it. The store is opened on first use: apps that never use memories
never create a database file. Every method blocks; routes and the pipeline call them from worker threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.errors import MemoryNotFound
from service.fewshot.format import Example
from service.fewshot.index import PairIndex
from service.fewshot.store import MemoryInfo, MemoryStore, SQLiteMemoryStore

IndexKey = tuple[str, str, str]  # memory id, source language, target language

MEMORY_DB = "memories.sqlite3"  # the default store, under XLT_DATA_DIR


def store_opener(url: str | None, data_dir: Path, given: MemoryStore | None = None) -> Callable[[], MemoryStore]:
    """How to open the store: ``given`` (an app built in code), else the one ``XLT_MEMORY_STORE_URL`` names,
    checked at start so that a wrong URL fails loudly there, not at the first memory request. None -> SQLite
    under ``data_dir``; ``sqlite:///path``; ``postgresql://...``, shared by replicas (psycopg is imported only
    then; the server is reached on first use, so a database still starting answers 503, not a crash loop)."""
    if given is not None:
        store: MemoryStore = given
        return lambda: store
    if url is None:
        path = data_dir / MEMORY_DB
    elif url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))  # sqlite:////abs/path keeps its leading slash
    elif url.startswith("postgres"):
        from service.fewshot.store_postgres import PostgresMemoryStore, conninfo

        conninfo(url)  # no psycopg, or a malformed URL: ValueError now
        return lambda: PostgresMemoryStore(url)
    else:
        raise ValueError(f"XLT_MEMORY_STORE_URL: unsupported store {url.split(':', 1)[0]!r}")
    return lambda: SQLiteMemoryStore(path)


@dataclass(frozen=True)
class Scope:
    """Whose memories a caller may use: those created with its API key (``key_id``; None for callers without a
    key), or all of them (``everyone``: admin keys). Another key's memory answers 404, as if it did not exist,
    so that ids cannot be probed."""

    key_id: str | None = None
    everyone: bool = False

    def sees(self, owner: str | None) -> bool:
        return self.everyone or owner == self.key_id


ANONYMOUS = Scope()


@dataclass(frozen=True)
class Hit:
    """What a memory knows about one sentence: its stored translation (``reviewed``: written by a person, not a
    machine translation a job stored), or similar examples."""

    exact: str | None = None
    examples: tuple[Example, ...] = ()
    reviewed: bool = False


class Memories:
    def __init__(self, open_store: Callable[[], MemoryStore], cache_size: int = 32) -> None:
        self._open_store = open_store
        self._store: MemoryStore | None = None
        self._cache: OrderedDict[IndexKey, PairIndex] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def store(self) -> MemoryStore:
        with self._lock:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    def create(self, name: str, scope: Scope = ANONYMOUS) -> MemoryInfo:
        return self.store.create(name, owner=scope.key_id)

    def get(self, memory_id: str, scope: Scope = ANONYMOUS) -> MemoryInfo:
        info = self.store.get(memory_id)
        if not scope.sees(info.owner):
            raise MemoryNotFound(f"memory {memory_id} not found")
        return info

    def list_memories(self, scope: Scope = ANONYMOUS) -> list[MemoryInfo]:
        return [m for m in self.store.list_memories() if scope.sees(m.owner)]

    def delete(self, memory_id: str, scope: Scope = ANONYMOUS) -> None:
        self.require(memory_id, scope)
        self.store.delete(memory_id)
        self._forget(memory_id)

    def add(
        self,
        memory_id: str,
        source_lang: str,
        target_lang: str,
        pairs: Sequence[tuple[str, str]],
        scope: Scope = ANONYMOUS,
        reviewed: bool = True,
    ) -> int:
        """``reviewed=False``: machine translations (a job's ``store: true``), flagged so; see ``MemoryStore.add``."""
        self.require(memory_id, scope)
        revision = self.store.add(memory_id, source_lang, target_lang, pairs, reviewed)
        self._current((memory_id, source_lang, target_lang), revision)
        return revision

    def require(self, memory_id: str, scope: Scope = ANONYMOUS) -> int:
        """The memory's revision; ``MemoryNotFound`` when it does not exist (any more) or is not the caller's."""
        head = self.store.head(memory_id)
        if head is None:
            self._forget(memory_id)
            raise MemoryNotFound(f"memory {memory_id} not found")
        if not scope.sees(head.owner):
            raise MemoryNotFound(f"memory {memory_id} not found")
        return head.revision

    def lookup(
        self,
        memory_id: str,
        source_lang: str,
        target_lang: str,
        sentences: Sequence[str],
        k: int,
        threshold: float,
        scope: Scope = ANONYMOUS,
    ) -> list[Hit]:
        """Per sentence: the exact match, else up to ``k`` fuzzy matches scoring at least ``threshold``."""
        revision = self.require(memory_id, scope)
        index = self._current((memory_id, source_lang, target_lang), revision)
        hits = []
        with index.lock:
            for sentence in sentences:
                exact = index.exact(sentence)
                if exact is not None:
                    hits.append(Hit(exact=exact, reviewed=index.reviewed(sentence)))
                    continue
                matches = index.fuzzy(sentence, k, threshold)
                hits.append(Hit(examples=tuple(Example(m.source, m.target) for m in matches)))
        return hits

    def _current(self, key: IndexKey, revision: int) -> PairIndex:
        """The cached index of ``key``, caught up to at least ``revision``."""
        with self._lock:
            index = self._cache.get(key)
            if index is None:
                index = self._cache[key] = PairIndex()
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(key)
        with index.lock:
            if index.checked < revision:
                head = self.store.head(key[0])
                index.update(self.store.entries_since(*key, max(index.checked, 0)))
                index.checked = head.revision if head is not None else revision
        return index

    def _forget(self, memory_id: str) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[0] == memory_id]:
                del self._cache[key]

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            self._cache.clear()
