"""Memory storage and retrieval: CRUD and revisions, durability, id checks, exact and fuzzy lookups.

The store tests run against both stores (SQLite, and PostgreSQL on a throwaway server: ``tests/postgres_server.py``),
so the two keep the same behaviour; PostgreSQL-only tests cover lost connections, an unreachable server and
several app replicas sharing one database.
"""

from __future__ import annotations

import random
import socket
import sqlite3
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.app import create_app
from service.errors import InvalidMemoryId, InvalidRequest, MemoryNotFound, StoreUnavailable
from service.fewshot.index import PairIndex, edit_distance, similarity, words
from service.fewshot.memories import Memories, store_opener
from service.fewshot.store import Entry, Head, MemoryStore, SQLiteMemoryStore, check_memory_id
from service.fewshot.store_postgres import PostgresMemoryStore
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.postgres_server import PostgresServer, disconnect_all
from tests.unit.conftest import serve_in_process
from tests.unit.test_errors import assert_error

OpenStore = Callable[[], MemoryStore]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """Opens a new store object on one shared, initially empty storage (a file, or a fresh database)."""
    opened: list[MemoryStore] = []
    if request.param == "sqlite":
        path = tmp_path / "memories.sqlite3"

        def make() -> MemoryStore:
            return SQLiteMemoryStore(path)
    else:
        url: str = request.getfixturevalue("postgres_url")

        def make() -> MemoryStore:
            return PostgresMemoryStore(url)

    def open_() -> MemoryStore:
        opened.append(make())
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> MemoryStore:
    return open_store()


def test_create_get_list_delete(store: MemoryStore) -> None:
    memory = store.create("legal")
    assert check_memory_id(memory.id) == memory.id and memory.revision == 0
    assert store.get(memory.id).name == "legal" and store.get(memory.id).pairs == ()
    assert [m.id for m in store.list_memories()] == [memory.id]
    store.delete(memory.id)
    assert store.head(memory.id) is None and store.list_memories() == []
    with pytest.raises(MemoryNotFound):
        store.get(memory.id)
    with pytest.raises(MemoryNotFound):
        store.delete(memory.id)


def test_owner_is_stored_and_read_back(store: MemoryStore) -> None:
    owned, unowned = store.create("m", owner="key1"), store.create("n")
    assert store.get(owned.id).owner == "key1" and store.head(owned.id).owner == "key1"
    assert store.get(unowned.id).owner is None and store.head(unowned.id).owner is None
    assert {m.id: m.owner for m in store.list_memories()} == {owned.id: "key1", unowned.id: None}


def test_a_store_from_before_owners_gets_the_column(tmp_path: Path) -> None:
    """Memories written by an older version keep working and stay unowned (anonymous callers and admins)."""
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE memories (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL, "
            "revision INTEGER NOT NULL DEFAULT 0)"
        )
        db.execute("INSERT INTO memories VALUES (?, 'old', 0, 3)", ("a" * 32,))
    db.close()
    store = SQLiteMemoryStore(path)
    try:
        assert store.head("a" * 32) == Head(revision=3, owner=None)
        assert store.get(store.create("new", owner="k").id).owner == "k"
    finally:
        store.close()


def test_writes_upsert_and_bump_the_revision(store: MemoryStore) -> None:
    memory = store.create("m")
    assert store.add(memory.id, "en", "de", [("Hello  world ", "Hallo Welt"), ("Yes", "Ja")]) == 1
    assert store.add(memory.id, "en", "de", [("Hello world", "Hallo, Welt")]) == 2
    assert store.add(memory.id, "en", "fr", [("Yes", "Oui")]) == 3
    info = store.get(memory.id)
    assert info.revision == 3 and [(p.source_lang, p.target_lang, p.entries) for p in info.pairs] == [
        ("en", "de", 2),
        ("en", "fr", 1),
    ]
    assert store.entries_since(memory.id, "en", "de", 0) == [
        Entry("Yes", "Ja", 1),
        Entry("Hello world", "Hallo, Welt", 2),
    ]
    assert store.entries_since(memory.id, "en", "de", 2) == []
    with pytest.raises(MemoryNotFound):
        store.add(uuid.uuid4().hex, "en", "de", [("a", "b")])


def test_machine_entries_are_flagged_unreviewed_and_never_replace_a_persons(store: MemoryStore) -> None:
    memory = store.create("m")
    store.add(memory.id, "en", "de", [("Yes", "Ja")])  # a person's
    store.add(memory.id, "en", "de", [("Yes", "Jawohl"), ("No", "Nein?"), ("Maybe", "Vielleicht")], reviewed=False)
    assert [(p.entries, p.unreviewed) for p in store.get(memory.id).pairs] == [(3, 2)]
    store.add(memory.id, "en", "de", [("No", "Nee")], reviewed=False)  # machine over machine: replaced
    store.add(memory.id, "en", "de", [("Maybe", "Vielleicht")])  # a person writes it: reviewed now
    assert [(p.entries, p.unreviewed) for p in store.get(memory.id).pairs] == [(3, 1)]
    latest = {e.source: (e.target, e.reviewed) for e in store.entries_since(memory.id, "en", "de", 0)}
    assert latest == {"Yes": ("Ja", True), "No": ("Nee", False), "Maybe": ("Vielleicht", True)}


def test_a_store_from_before_the_reviewed_flag_counts_every_entry_reviewed(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE memories (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at REAL NOT NULL, "
                   "revision INTEGER NOT NULL DEFAULT 0, owner TEXT)")  # fmt: skip
        db.execute("CREATE TABLE entries (memory_id TEXT NOT NULL, source_lang TEXT NOT NULL, target_lang TEXT "
                   "NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL, revision INTEGER NOT NULL, "
                   "PRIMARY KEY (memory_id, source_lang, target_lang, source)) WITHOUT ROWID")  # fmt: skip
        db.execute("INSERT INTO memories VALUES (?, 'old', 0, 1, NULL)", ("a" * 32,))
        db.execute("INSERT INTO entries VALUES (?, 'en', 'de', 'Yes', 'Ja', 1)", ("a" * 32,))
    db.close()
    store = SQLiteMemoryStore(path)
    try:
        assert [(p.entries, p.unreviewed) for p in store.get("a" * 32).pairs] == [(1, 0)]
    finally:
        store.close()


def test_committed_writes_survive_a_crash_and_a_restart(open_store: OpenStore) -> None:
    first = open_store()
    memory = first.create("m")
    first.add(memory.id, "en", "de", [("Yes", "Ja")])
    # Another process opening the store while the first never closed it (as after a crash) sees every commit.
    second = open_store()
    assert second.get(memory.id).pairs[0].entries == 1
    first.close()
    second.close()
    assert open_store().head(memory.id).revision == 1


def test_concurrent_writers_get_distinct_revisions_in_commit_order(open_store: OpenStore) -> None:
    """Writers through two store objects (two replicas) never share a revision, and a reader that has seen
    revision N has seen every entry written at or before N: what the index caches rely on."""
    stores = [open_store(), open_store()]
    memory = stores[0].create("m")

    def write(worker: int) -> list[int]:
        store = stores[worker % 2]
        return [store.add(memory.id, "en", "de", [(f"s{worker}-{i}", f"t{worker}-{i}")]) for i in range(5)]

    with ThreadPoolExecutor(4) as pool:
        revisions = [r for rs in pool.map(write, range(4)) for r in rs]
    assert sorted(revisions) == list(range(1, 21))
    entries = stores[1].entries_since(memory.id, "en", "de", 0)
    assert len(entries) == 20 and sorted(e.revision for e in entries) == list(range(1, 21))
    assert stores[0].head(memory.id).revision == 20


def test_long_segments_and_unusual_text(store: MemoryStore) -> None:
    """Segments beyond an index key's size limit, and text beyond ASCII, round-trip unchanged."""
    memory = store.create("Ünïcødé 名前 🙂")
    long_source = "word " * 3000
    pairs = [(long_source, "lang " * 3000), ("Grüß Gott 🙂", "こんにちは"), ("'; DROP TABLE x; --", "%s %(x)s ?")]
    assert store.add(memory.id, "en", "de", pairs) == 1
    assert store.get(memory.id).name == "Ünïcødé 名前 🙂"
    got = {e.source: e.target for e in store.entries_since(memory.id, "en", "de", 0)}
    assert got == {normalized: target for normalized, target in [(long_source.strip(), "lang " * 3000), *pairs[1:]]}
    assert store.add(memory.id, "en", "de", [(long_source, "new")]) == 2  # the long key upserts like any other
    assert store.entries_since(memory.id, "en", "de", 1) == [Entry(long_source.strip(), "new", 2)]


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd",
        "not-a-uuid",
        uuid.uuid4().hex.upper(),
        uuid.uuid1().hex,
        uuid.uuid4().hex[:-1],
        str(uuid.uuid4()),
    ],
)
def test_only_uuid4_hex_ids_pass(bad: str) -> None:
    with pytest.raises(InvalidMemoryId):
        check_memory_id(bad)


def test_exact_and_fuzzy_lookups(store: MemoryStore) -> None:
    memories = Memories(lambda: store)
    memory = memories.create("m")
    memories.add(
        memory.id,
        "en",
        "de",
        [
            ("The red house is big.", "Das rote Haus ist groß."),
            ("The red car is fast.", "Das rote Auto ist schnell."),
            ("Good morning.", "Guten Morgen."),
        ],
    )
    exact, fuzzy, miss = memories.lookup(
        memory.id, "en", "de", ["  The red house  is big. ", "The blue house is big.", "Nothing alike here"], 2, 0.6
    )
    assert exact.exact == "Das rote Haus ist groß."
    assert fuzzy.exact is None and [e.target for e in fuzzy.examples] == ["Das rote Haus ist groß."]
    assert miss.exact is None and miss.examples == ()
    assert memories.lookup(memory.id, "en", "fr", ["Good morning."], 2, 0.6)[0].exact is None  # other pair
    with pytest.raises(MemoryNotFound):
        memories.lookup(uuid.uuid4().hex, "en", "de", ["x"], 2, 0.6)


def test_an_index_catches_up_with_writes_from_another_replica(open_store: OpenStore) -> None:
    here, there = Memories(open_store), Memories(open_store)
    memory = here.create("shared")
    assert here.lookup(memory.id, "en", "de", ["Yes"], 2, 0.6)[0].exact is None  # index built, empty
    there.add(memory.id, "en", "de", [("Yes", "Ja")])
    assert here.lookup(memory.id, "en", "de", ["Yes"], 2, 0.6)[0].exact == "Ja"
    there.add(memory.id, "en", "de", [("Yes", "Jawohl")])
    assert here.lookup(memory.id, "en", "de", ["Yes"], 2, 0.6)[0].exact == "Jawohl"
    there.delete(memory.id)
    with pytest.raises(MemoryNotFound):
        here.lookup(memory.id, "en", "de", ["Yes"], 2, 0.6)


def test_fuzzy_ranking_threshold_and_k() -> None:
    index = PairIndex()
    index.update(
        [
            Entry("a b c d e", "1", 1),
            Entry("a b c d x", "2", 1),
            Entry("a b c y x", "3", 1),
            Entry("q r s t u", "4", 1),
        ]
    )
    assert [m.target for m in index.fuzzy("a b c d z", k=2, threshold=0.5)] == ["1", "2"]
    assert [m.target for m in index.fuzzy("a b c d z", k=5, threshold=0.5)] == ["1", "2", "3"]
    assert index.fuzzy("a b c d z", k=5, threshold=0.9) == []
    assert index.fuzzy("", k=2, threshold=0.1) == []


def test_bit_parallel_edit_distance_matches_the_table() -> None:
    def table(a: tuple[str, ...], b: tuple[str, ...]) -> int:
        previous = list(range(len(b) + 1))
        for i, x in enumerate(a, 1):
            current = [i]
            for j, y in enumerate(b, 1):
                current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
            previous = current
        return previous[-1]

    rng = random.Random(0)
    for _ in range(500):
        a = tuple(rng.choice("abcd") for _ in range(rng.randint(0, 70)))
        b = tuple(rng.choice("abcd") for _ in range(rng.randint(0, 70)))
        assert edit_distance(a, b) == table(a, b)
    assert similarity(words("The red house"), words("the RED house!")) == 1.0


def test_the_store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = store_opener(None, tmp_path)()
    assert isinstance(default, SQLiteMemoryStore) and default.path == tmp_path / "memories.sqlite3"
    absolute = store_opener(f"sqlite:///{tmp_path}/other.sqlite3", Path("unused"))()
    assert isinstance(absolute, SQLiteMemoryStore) and absolute.path == tmp_path / "other.sqlite3"
    store_opener("postgresql://xlt:secret@db:5432/xlt", tmp_path)  # checked, not connected: the server may be starting
    store_opener("postgresql+psycopg://db/xlt", tmp_path)
    with pytest.raises(ValueError, match="not a valid PostgreSQL URL") as bad:
        store_opener("postgresql://xlt:secret@[::1/xlt", tmp_path)
    assert "secret" not in str(bad.value) and bad.value.__cause__ is None and bad.value.__suppress_context__
    with pytest.raises(ValidationError):
        Settings(memory_store_url="mysql://db/xlt")
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as in a serving install without the driver
    with pytest.raises(ValueError, match=r"pip install 'psycopg\[binary\]"):
        store_opener("postgresql://xlt:secret@db:5432/xlt", tmp_path)


async def test_an_unusable_store_url_stops_the_app_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    settings = Settings(models_dir=tmp_path, memory_store_url="postgresql://db/xlt", language_detection=False)
    app = create_app(settings, extra_engines=[FakeEngine()])
    with pytest.raises(ValueError, match="psycopg"):
        async with serve_in_process(app):
            pass


# PostgreSQL only: what a server database adds (text limits, lost connections, an unreachable server).


def test_postgres_refuses_nul_with_a_clear_error(postgres_url: str) -> None:
    store = PostgresMemoryStore(postgres_url)
    memory = store.create("m")
    with pytest.raises(InvalidRequest, match="NUL"):
        store.add(memory.id, "en", "de", [("ok", "fine"), ("a\x00b", "c")])
    with pytest.raises(InvalidRequest, match="NUL"):
        store.create("a\x00b")
    assert store.head(memory.id).revision == 0  # nothing of the refused write was stored
    store.close()


def test_postgres_survives_lost_connections(postgres_server: PostgresServer, postgres_url: str) -> None:
    """After the server drops every session (a restart), reads retry on a new connection; a write fails at most
    once with 503 (its commit may have happened, so it is not replayed) and leaves nothing half-written."""
    store = PostgresMemoryStore(postgres_url)
    memory = store.create("m")
    assert disconnect_all(postgres_server) >= 1
    assert store.head(memory.id).revision == 0 and store.list_memories()[0].id == memory.id
    assert disconnect_all(postgres_server) >= 1
    with pytest.raises(StoreUnavailable):
        store.add(memory.id, "en", "de", [("Yes", "Ja")])
    assert store.add(memory.id, "en", "de", [("Yes", "Ja")]) == 1  # the failed write left no revision behind
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.head(memory.id)


def test_postgres_retries_a_read_when_the_socket_closed_before_libpq_marked_the_connection(postgres_url: str) -> None:
    """psycopg can raise "connection socket closed" (no SQLSTATE) while the connection is not yet marked broken: a
    read retries once on a fresh connection; an error the server answered (with a SQLSTATE) is not retried."""
    import psycopg

    store = PostgresMemoryStore(postgres_url)  # its schema call leaves one idle connection: the next call reuses it
    used: list[object] = []

    def read(db: object) -> int:
        used.append(db)
        if len(used) == 1:
            raise psycopg.OperationalError("connection socket closed")
        return 1

    assert store._call(read, write=False) == 1
    assert used[0] is not used[1] and used[0].closed  # type: ignore[attr-defined]  # the first was not given back

    def timed_out(db: object) -> int:
        used.append(db)
        raise psycopg.errors.LockNotAvailable("lock timeout")

    with pytest.raises(StoreUnavailable):
        store._call(timed_out, write=False)
    assert len(used) == 3  # one try
    store.close()


def test_postgres_calls_wait_for_a_free_connection_then_give_up(postgres_url: str) -> None:
    store = PostgresMemoryStore(postgres_url, pool_size=1, wait_s=0.2)
    memory = store.create("m")
    with store._pool.connection(), pytest.raises(StoreUnavailable, match="busy"):  # the one connection is held
        store.head(memory.id)
    assert store.head(memory.id).revision == 0
    store.close()


async def test_an_unreachable_postgres_answers_503(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"postgresql://xlt:x@127.0.0.1:{s.getsockname()[1]}/xlt"
    with pytest.raises(StoreUnavailable, match="unreachable"):
        PostgresMemoryStore(url)
    settings = Settings(models_dir=tmp_path, memory_store_url=url, language_detection=False)
    async with serve_in_process(create_app(settings, extra_engines=[FakeEngine()])) as client:  # starts anyway
        response = await client.post("/memories", json={"name": "m"})
        assert_error(response, 503, "store_unavailable")
        assert response.headers["Retry-After"] == "1" and "127.0.0.1" not in response.text
