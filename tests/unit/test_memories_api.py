"""Translation memories over HTTP: CRUD, imports, error codes, exact and fuzzy matches in /translate, restarts,
and replicas sharing memories through PostgreSQL."""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app import create_app
from service.engines.manifest import FewShotFormat
from service.settings import Settings
from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient, serve_in_process
from tests.unit.test_errors import assert_error


async def new_memory(
    client: httpx.AsyncClient, pairs: list[tuple[str, str]], langs: tuple[str, str] = ("en", "de")
) -> str:
    created = await client.post("/memories", json={"name": "test"})
    assert created.status_code == 201, created.text
    memory_id: str = created.json()["id"]
    if pairs:
        body = {
            "source_lang": langs[0],
            "target_lang": langs[1],
            "pairs": [{"source": s, "target": t} for s, t in pairs],
        }
        assert (await client.post(f"/memories/{memory_id}/entries", json=body)).status_code == 200
    return memory_id


def translate(text: str | list[str], memory: str, **extra: Any) -> dict[str, Any]:
    return {"text": text, "source": "en", "target": "de", "memory": memory, **extra}


async def test_crud(app_client: AppClient) -> None:
    async with app_client() as client:
        created = (await client.post("/memories", json={"name": "legal"})).json()
        memory_id = created["id"]
        assert created == {
            "id": memory_id,
            "name": "legal",
            "created_at": created["created_at"],
            "revision": 0,
            "pairs": [],
        }
        body = {
            "source_lang": "EN",
            "target_lang": "de",
            "pairs": [{"source": "Yes", "target": "Ja"}, {"source": "No", "target": "Nein"}],
        }
        written = (await client.post(f"/memories/{memory_id}/entries", json=body)).json()
        assert written == {
            "id": memory_id,
            "revision": 1,
            "written": [{"source_lang": "en", "target_lang": "de", "entries": 2}],
        }
        got = (await client.get(f"/memories/{memory_id}")).json()
        pairs = [{"source_lang": "en", "target_lang": "de", "entries": 2, "unreviewed": 0}]
        assert got["revision"] == 1 and got["pairs"] == pairs
        assert [m["id"] for m in (await client.get("/memories")).json()["memories"]] == [memory_id]
        assert (await client.delete(f"/memories/{memory_id}")).status_code == 204
        assert_error(await client.get(f"/memories/{memory_id}"), 404, "memory_not_found")
        assert_error(await client.delete(f"/memories/{memory_id}"), 404, "memory_not_found")


async def test_error_codes(app_client: AppClient) -> None:
    async with app_client(max_text_chars=100) as client:
        memory_id = await new_memory(client, [])
        for bad in ("not-a-uuid", "..", "%2E%2E", uuid.uuid1().hex, uuid.uuid4().hex.upper()):
            assert_error(await client.get(f"/memories/x{bad}"), 422, "invalid_memory_id")
        assert_error(await client.get("/memories/..%2F..%2Fetc"), 404, "not_found")  # never reaches a handler
        assert_error(await client.get(f"/memories/{uuid.uuid4().hex}"), 404, "memory_not_found")
        entries = f"/memories/{memory_id}/entries"
        pair = {"source": "a", "target": "b"}
        for body, status, code in [
            ({"source_lang": "en", "target_lang": "de", "pairs": [{"source": "a", "target": "  "}]}, 422, "empty_text"),
            ({"source_lang": "en", "target_lang": "en", "pairs": [pair]}, 422, "invalid_request"),
            ({"source_lang": "eng", "target_lang": "de", "pairs": [pair]}, 422, "invalid_request"),
            ({"source_lang": "en", "target_lang": "de", "pairs": []}, 422, "invalid_request"),
            (
                {"source_lang": "en", "target_lang": "de", "pairs": [{"source": "x" * 101, "target": "y"}]},
                413,
                "text_too_long",
            ),
        ]:
            assert_error(await client.post(entries, json=body), status, code)
        assert_error(await client.post("/memories", json={}), 422, "invalid_request")
        assert_error(await client.post("/translate", json=translate("Hi", "../x")), 422, "invalid_memory_id")
        assert_error(await client.post("/translate", json=translate("Hi", uuid.uuid4().hex)), 404, "memory_not_found")


async def test_exact_matches_skip_the_engine(app_client: AppClient) -> None:
    engine = FakeEngine(few_shot=True)
    async with app_client([engine]) as client:
        memory_id = await new_memory(
            client, [("Hello world.", "Hallo Welt."), ("Two sentences. Stored whole.", "Zwei Sätze. Ganz.")]
        )
        texts = [" Hello  world. ", "Good night.", "Hello world. Good night.", "Two sentences. Stored whole."]
        response = await client.post("/translate", json=translate(texts, memory_id))
        out = response.json()["translations"]
        assert [(t["text"], t["origin"]) for t in out] == [
            (" Hallo Welt. ", "memory"),
            ("de:Good de:night.", "model"),
            ("Hallo Welt. de:Good de:night.", "model"),
            ("Zwei Sätze. Ganz.", "memory"),
        ]
        assert engine.batches() == [["Good night.", "Good night."]]
        metrics = (await client.get("/metrics")).text
        assert 'xlt_memory_hits_total{kind="exact",model="fake"} 3.0' in metrics


async def test_fuzzy_matches_become_examples(app_client: AppClient) -> None:
    engine = FakeEngine(few_shot=True)
    async with app_client([engine], memory_fuzzy_threshold=0.6) as client:
        memory_id = await new_memory(client, [("the red house is big", "das rote Haus ist groß")])
        response = await client.post(
            "/translate", json=translate(["the blue house is big", "nothing like it"], memory_id)
        )
        assert [t["origin"] for t in response.json()["translations"]] == ["model", "model"]
        sources = {src[-2]: src for src in engine.calls[0].sources}  # the batch is sorted by length
        assert sources["big"] == [
            "<ex>", "the", "red", "house", "is", "big", "<to>", "das", "rote", "Haus", "ist", "groß", "<sep>",
            "the", "blue", "house", "is", "big", "</s>",
        ]  # fmt: skip
        assert sources["it"] == ["nothing", "like", "it", "</s>"]
        assert 'xlt_memory_hits_total{kind="fuzzy",model="fake"} 1.0' in (await client.get("/metrics")).text


async def test_a_model_without_few_shot_uses_exact_matches_only(app_client: AppClient) -> None:
    engine = FakeEngine()
    async with app_client([engine]) as client:
        memory_id = await new_memory(client, [("the red house is big", "das rote Haus ist groß")])
        await client.post("/translate", json=translate("the blue house is big", memory_id))
        assert engine.calls[0].sources == [["the", "blue", "house", "is", "big", "</s>"]]


async def test_a_model_that_examples_hurt_uses_exact_matches_only_but_keeps_request_examples(
    app_client: AppClient,
) -> None:
    """``few_shot.memory_examples: false`` (set when the model's few-shot evaluation found examples lowering
    chrF): fuzzy matches add nothing; examples sent in the request are still used."""
    engine = FakeEngine(few_shot=True)
    engine._manifest = engine.manifest.model_copy(update={"few_shot": FewShotFormat(memory_examples=False)})
    async with app_client([engine], memory_fuzzy_threshold=0.6) as client:
        memory_id = await new_memory(client, [("the red house is big", "das rote Haus ist groß")])
        await client.post("/translate", json=translate("the blue house is big", memory_id))
        assert engine.calls[0].sources == [["the", "blue", "house", "is", "big", "</s>"]]
        example = [{"source": "red", "target": "rot"}]
        await client.post("/translate", json=translate("the blue house is big", memory_id, examples=example))
        assert engine.calls[1].sources[0][:4] == ["<ex>", "red", "<to>", "rot"]


async def test_imports(app_client: AppClient) -> None:
    engine = FakeEngine()
    async with app_client([engine], max_body_bytes=1024) as client:
        memory_id = await new_memory(client, [])
        url = f"/memories/{memory_id}/import"
        tsv = "".join(f"Sentence number {i}\tSatz Nummer {i}\n" for i in range(200)).encode()  # > max_body_bytes
        response = await client.post(
            url, params={"format": "tsv", "source_lang": "en", "target_lang": "de"}, content=tsv
        )
        assert response.status_code == 200, response.text
        assert response.json()["written"] == [{"source_lang": "en", "target_lang": "de", "entries": 200}]
        tmx = (
            b'<tmx version="1.4"><header srclang="en"/><body><tu><tuv xml:lang="en"><seg>Cancel</seg></tuv>'
            b'<tuv xml:lang="fr"><seg>Annuler</seg></tuv></tu></body></tmx>'
        )
        response = await client.post(url, params={"format": "tmx"}, content=tmx)
        assert response.json()["written"] == [{"source_lang": "en", "target_lang": "fr", "entries": 1}]
        translated = await client.post(
            "/translate", json=translate(["Sentence number 7", "Cancel"], memory_id, target="fr")
        )
        assert [t["origin"] for t in translated.json()["translations"]] == ["model", "memory"]
        assert_error(
            await client.post(url, params={"format": "tsv", "source_lang": "en", "target_lang": "de"}, content=b"a\n"),
            422,
            "invalid_import",
        )
        assert_error(await client.post(url, params={"format": "tsv"}, content=b"a\tb\n"), 422, "invalid_request")
        assert_error(await client.post(url, params={"format": "csv"}, content=b"a,b\n"), 422, "invalid_request")
        assert_error(await client.post(url, content=b"a\tb\n"), 422, "invalid_request")
        assert_error(await client.post(url, params={"format": "tmx"}, content=b"<tmx"), 422, "invalid_import")
        assert_error(
            await client.post("/translate", json={"text": "x" * 2000, "target": "de"}), 413, "payload_too_large"
        )


async def test_memories_survive_an_app_restart(tmp_path: Path) -> None:
    settings = Settings(models_dir=tmp_path, data_dir=tmp_path / "data", language_detection=False)
    async with serve_in_process(create_app(settings, extra_engines=[FakeEngine()])) as client:
        memory_id = await new_memory(client, [("Good morning.", "Guten Morgen.")])
    async with serve_in_process(create_app(settings, extra_engines=[FakeEngine()])) as client:
        assert (await client.get(f"/memories/{memory_id}")).json()["pairs"][0]["entries"] == 1
        response = await client.post("/translate", json=translate("Good morning.", memory_id))
        (out,) = response.json()["translations"]
        assert (out["text"], out["origin"], out["zero_shot"]) == ("Guten Morgen.", "memory", False)


async def test_replicas_share_memories_through_postgres(tmp_path: Path, postgres_url: str) -> None:
    """Two apps on one PostgreSQL URL (the compose ``scale`` profile's replicas) see each other's writes, and
    what they wrote survives a restart of both."""

    def replica(name: str) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        settings = Settings(
            models_dir=tmp_path, data_dir=tmp_path / name, memory_store_url=postgres_url, language_detection=False
        )
        return serve_in_process(create_app(settings, extra_engines=[FakeEngine()]))

    async with replica("a") as a, replica("b") as b:
        memory_id = await new_memory(a, [("Good morning.", "Guten Morgen.")])
        assert (await b.get(f"/memories/{memory_id}")).json()["pairs"][0]["entries"] == 1
        (out,) = (await b.post("/translate", json=translate("Good morning.", memory_id))).json()["translations"]
        assert (out["text"], out["origin"]) == ("Guten Morgen.", "memory")
        body = {"source_lang": "en", "target_lang": "de", "pairs": [{"source": "Good morning.", "target": "Moin."}]}
        assert (await a.post(f"/memories/{memory_id}/entries", json=body)).json()["revision"] == 2
        (out,) = (await b.post("/translate", json=translate("Good morning.", memory_id))).json()["translations"]
        assert (out["text"], out["origin"]) == ("Moin.", "memory")  # b's cached index caught up
        other = await new_memory(b, [("Yes", "Ja")])
        assert {m["id"] for m in (await a.get("/memories")).json()["memories"]} == {memory_id, other}
        assert (await a.delete(f"/memories/{other}")).status_code == 204
        assert_error(await b.post("/translate", json=translate("Yes", other)), 404, "memory_not_found")
    assert not list(tmp_path.glob("*/memories.sqlite3"))  # nothing went to a replica-local file
    async with replica("c") as c:
        assert [m["id"] for m in (await c.get("/memories")).json()["memories"]] == [memory_id]
        (out,) = (await c.post("/translate", json=translate("Good morning.", memory_id))).json()["translations"]
        assert (out["text"], out["origin"]) == ("Moin.", "memory")


@pytest.mark.parametrize("route", ["/memories", "/models/reload"])
async def test_new_routes_are_in_the_openapi_schema(app_client: AppClient, route: str) -> None:
    async with app_client() as client:
        assert route in (await client.get("/openapi.json")).json()["paths"]
