"""Memory storage and retrieval: SQLite CRUD and revisions, durability, id checks, exact and fuzzy lookups."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.app import create_app
from service.errors import InvalidMemoryId, MemoryNotFound
from service.fewshot.index import PairIndex, edit_distance, similarity, words
from service.fewshot.memories import Memories, store_opener
from service.fewshot.store import Entry, SQLiteMemoryStore, check_memory_id
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.unit.conftest import serve_in_process


@pytest.fixture
def store(tmp_path: Path) -> SQLiteMemoryStore:
    return SQLiteMemoryStore(tmp_path / "memories.sqlite3")


def test_create_get_list_delete(store: SQLiteMemoryStore) -> None:
    memory = store.create("legal")
    assert check_memory_id(memory.id) == memory.id and memory.revision == 0
    assert store.get(memory.id).name == "legal" and store.get(memory.id).pairs == ()
    assert [m.id for m in store.list_memories()] == [memory.id]
    store.delete(memory.id)
    assert store.revision(memory.id) is None and store.list_memories() == []
    with pytest.raises(MemoryNotFound):
        store.get(memory.id)
    with pytest.raises(MemoryNotFound):
        store.delete(memory.id)


def test_writes_upsert_and_bump_the_revision(store: SQLiteMemoryStore) -> None:
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


def test_committed_writes_survive_a_crash_and_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "memories.sqlite3"
    first = SQLiteMemoryStore(path)
    memory = first.create("m")
    first.add(memory.id, "en", "de", [("Yes", "Ja")])
    # Another process opening the file while the first never closed it (as after a crash) sees every commit.
    second = SQLiteMemoryStore(path)
    assert second.get(memory.id).pairs[0].entries == 1
    first.close()
    second.close()
    assert SQLiteMemoryStore(path).revision(memory.id) == 1


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


def test_exact_and_fuzzy_lookups(store: SQLiteMemoryStore) -> None:
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


def test_an_index_catches_up_with_writes_from_another_replica(tmp_path: Path) -> None:
    path = tmp_path / "memories.sqlite3"
    here, there = Memories(lambda: SQLiteMemoryStore(path)), Memories(lambda: SQLiteMemoryStore(path))
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


def test_the_store_url(tmp_path: Path) -> None:
    default = store_opener(None, tmp_path)()
    assert isinstance(default, SQLiteMemoryStore) and default.path == tmp_path / "memories.sqlite3"
    absolute = store_opener(f"sqlite:///{tmp_path}/other.sqlite3", Path("unused"))()
    assert isinstance(absolute, SQLiteMemoryStore) and absolute.path == tmp_path / "other.sqlite3"
    with pytest.raises(ValueError, match="PostgreSQL"):
        store_opener("postgresql://xlt:secret@db:5432/xlt", tmp_path)
    with pytest.raises(ValidationError):
        Settings(memory_store_url="mysql://db/xlt")


async def test_an_unusable_store_url_stops_the_app_at_start(tmp_path: Path) -> None:
    settings = Settings(models_dir=tmp_path, memory_store_url="postgresql://db/xlt", language_detection=False)
    app = create_app(settings, extra_engines=[FakeEngine()])
    with pytest.raises(ValueError, match="PostgreSQL"):
        async with serve_in_process(app):
            pass
