"""Catalog units filled from a memory are marked by who wrote the entry: a reviewed entry (a person's) is written as
a normal translated unit, an unreviewed one (machine output that ``store`` wrote back) and the model's output as
fuzzy / needs-review, for .po, XLIFF 1.2 and XLIFF 2.0, through ``POST /translate/file`` and through jobs. (The job
stores keep the mark across a resume: ``test_job_store.py``.)"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import polib
import pytest
from lxml import etree

from service.documents import FileOptions, Reviewed, parse_document
from service.fewshot.index import PairIndex
from service.fewshot.store import Entry
from tests.unit.conftest import AppClient
from tests.unit.test_jobs_api import wait_for
from tests.unit.test_memories_api import new_memory

XLIFF12 = "urn:oasis:names:tc:xliff:document:1.2"
XLIFF20 = "urn:oasis:names:tc:xliff:document:2.0"
REVIEWED = ("Save the file", "Datei speichern")  # written by a person (POST /memories/{id}/entries)
STORED = "Open it"  # written back by a first file with store: true (the fake engine's "de:Open de:it")
MACHINE = "Close it"  # in no memory: the model translates it
UNITS = (REVIEWED[0], STORED, MACHINE)


def po_file(sources: tuple[str, ...]) -> bytes:
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    for source in sources:
        po.append(polib.POEntry(msgid=source))
    return str(po).encode()


def po_units(data: bytes) -> dict[str, tuple[str, bool]]:
    return {e.msgid: (e.msgstr, "fuzzy" in e.flags) for e in polib.pofile(data.decode())}


def xliff12_file(sources: tuple[str, ...]) -> bytes:
    units = "".join(f'<trans-unit id="u{i}"><source>{s}</source></trans-unit>' for i, s in enumerate(sources))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<xliff version="1.2" xmlns="{XLIFF12}"><file original="app" '
        f'source-language="en" datatype="plaintext"><body>{units}</body></file></xliff>\n'
    ).encode()


def xliff12_units(data: bytes) -> dict[str, tuple[str, bool]]:
    found = {}
    for unit in etree.fromstring(data).iter(f"{{{XLIFF12}}}trans-unit"):
        target = unit.find(f"{{{XLIFF12}}}target")
        assert target is not None and target.get("state") in ("translated", "needs-review-translation")
        found[unit.findtext(f"{{{XLIFF12}}}source")] = (target.text, target.get("state") != "translated")
    return found


def xliff20_file(sources: tuple[str, ...]) -> bytes:
    units = "".join(
        f'<unit id="u{i}"><segment id="s{i}"><source>{s}</source></segment></unit>' for i, s in enumerate(sources)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<xliff xmlns="{XLIFF20}" version="2.0" srcLang="en">'
        f'<file id="f1">{units}</file></xliff>\n'
    ).encode()


def xliff20_units(data: bytes) -> dict[str, tuple[str, bool]]:
    found = {}
    for segment in etree.fromstring(data).iter(f"{{{XLIFF20}}}segment"):
        assert segment.get("state") == "translated"
        review = segment.get("subState") == "xlt:needs-review"
        found[segment.findtext(f"{{{XLIFF20}}}source")] = (segment.findtext(f"{{{XLIFF20}}}target"), review)
    return found


Reader = Callable[[bytes], dict[str, tuple[str, bool]]]
FORMATS: dict[str, tuple[Callable[[tuple[str, ...]], bytes], Reader]] = {
    "app.po": (po_file, po_units),
    "app.xlf": (xliff12_file, xliff12_units),
    "app.xliff": (xliff20_file, xliff20_units),  # 2.0
}


async def memory_with_both_kinds(client: httpx.AsyncClient) -> str:
    """A memory with one reviewed entry (REVIEWED) and one machine entry (STORED, from a file with store: true)."""
    memory = await new_memory(client, [REVIEWED])
    stored = await client.post(
        "/translate/file",
        files={"file": ("seed.po", po_file((STORED,)))},
        data={"source": "en", "target": "de", "memory": memory, "options": json.dumps({"store": True})},
    )
    assert stored.status_code == 200, stored.text
    pairs = (await client.get(f"/memories/{memory}")).json()["pairs"]
    assert pairs == [{"source_lang": "en", "target_lang": "de", "entries": 2, "unreviewed": 1}]
    return memory


async def translate_file(client: httpx.AsyncClient, name: str, data: bytes, **form: str) -> bytes:
    r = await client.post(
        "/translate/file", files={"file": (name, data)}, data={"source": "en", "target": "de", **form}
    )
    assert r.status_code == 200, r.text
    return r.content


async def translate_job(client: httpx.AsyncClient, name: str, data: bytes, **form: str) -> bytes:
    created = await client.post("/jobs", files={"file": (name, data)}, data={"source": "en", "target": "de", **form})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    done = await wait_for(client, job_id, "done", "failed", "cancelled")
    assert done["state"] == "done", done
    return (await client.get(f"/jobs/{job_id}/result")).content


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("route", ["file", "job"])
async def test_a_reviewed_memory_hit_is_a_translated_unit_and_the_rest_need_review(
    app_client: AppClient, name: str, route: str
) -> None:
    write, read = FORMATS[name]
    send = translate_file if route == "file" else translate_job
    async with app_client(job_chunk_size=1) as client:
        memory = await memory_with_both_kinds(client)
        units = read(await send(client, name, write(UNITS), memory=memory))
        assert units == {
            REVIEWED[0]: ("Datei speichern", False),  # a person's translation: not fuzzy
            STORED: ("de:Open de:it", True),  # from the memory, but machine-written: fuzzy
            MACHINE: ("de:Close de:it", True),  # the model's: fuzzy
        }
        plain = read(await send(client, name, write(UNITS), memory=memory, options='{"mark_fuzzy": false}'))
        assert not any(review for _, review in plain.values())  # mark_fuzzy=false keeps its meaning
        assert read(await send(client, name, write(UNITS)))[REVIEWED[0]] == ("de:Save de:the de:file", True)


async def test_translate_says_whether_a_memory_hit_was_reviewed(app_client: AppClient) -> None:
    async with app_client() as client:
        memory = await memory_with_both_kinds(client)
        body = {"text": list(UNITS), "source": "en", "target": "de", "memory": memory}
        out = (await client.post("/translate", json=body)).json()["translations"]
        assert [(t["origin"], t.get("reviewed")) for t in out] == [("memory", True), ("memory", False), ("model", None)]
        # A person writes the stored entry again: it is reviewed from then on (the cached index catches up).
        confirm = {"source_lang": "en", "target_lang": "de", "pairs": [{"source": STORED, "target": "Öffne es"}]}
        assert (await client.post(f"/memories/{memory}/entries", json=confirm)).status_code == 200
        units = po_units(await translate_file(client, "app.po", po_file(UNITS), memory=memory))
        assert units[STORED] == ("Öffne es", False)


def test_only_an_untouched_reviewed_translation_counts_as_a_persons() -> None:
    """The catalogs judge the whole translation: only an untouched ``Reviewed`` counts as a person's."""
    document = parse_document(po_file(("One", "Two")), "app.po", FileOptions(), "en", "de")
    out = po_units(document.render([Reviewed("Eins"), "Zwei"]))
    assert out == {"One": ("Eins", False), "Two": ("Zwei", True)}
    assert type(Reviewed("Eins ").strip()) is str and type("".join([Reviewed("a"), Reviewed("b")])) is str


def test_an_overwritten_xliff12_unit_keeps_its_approval_only_for_a_persons_translation() -> None:
    units = "".join(
        f'<trans-unit id="u{i}" approved="yes"><source>{s}</source><target state="final">{s}!</target></trans-unit>'
        for i, s in enumerate(("One", "Two"))
    )
    data = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<xliff version="1.2" xmlns="{XLIFF12}"><file original="app" '
        f'source-language="en" datatype="plaintext"><body>{units}</body></file></xliff>\n'
    ).encode()
    document = parse_document(data, "app.xlf", FileOptions(overwrite=True), "en", "de")
    out = etree.fromstring(document.render([Reviewed("Eins"), "Zwei"]))
    approved = {u.findtext(f"{{{XLIFF12}}}source"): u.get("approved") for u in out.iter(f"{{{XLIFF12}}}trans-unit")}
    assert approved == {"One": "yes", "Two": "no"}
    assert xliff12_units(etree.tostring(out)) == {"One": ("Eins", False), "Two": ("Zwei", True)}


def test_the_index_knows_which_exact_matches_a_person_wrote() -> None:
    index = PairIndex()
    index.update([Entry("Yes", "Ja", 1), Entry("No", "Nein", 2, reviewed=False)])
    assert (index.reviewed("Yes"), index.reviewed(" No "), index.reviewed("Maybe")) == (True, False, False)
    index.update([Entry("No", "Nee", 3)])  # a person wrote it since
    assert index.exact("No") == "Nee" and index.reviewed("No")
