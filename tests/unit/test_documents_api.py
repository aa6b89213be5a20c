"""``POST /translate/file`` as an API: its name and type, the memory (exact matches fill units, ``store`` writes
machine output back unreviewed), auto detection once per file, quota, and the LibreTranslate download's names."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import httpx
import polib
import pytest

from service.documents import downloads, output_filename
from service.routes.files import content_disposition
from tests.unit.conftest import AppClient
from tests.unit.test_memories_api import new_memory


def catalog(*msgids: str) -> bytes:
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    for msgid in msgids:
        po.append(polib.POEntry(msgid=msgid))
    return str(po).encode()


async def upload(client: httpx.AsyncClient, name: str, data: bytes, **form: str) -> httpx.Response:
    return await client.post("/translate/file", files={"file": (name, data)}, data={"target": "de", **form})


async def test_memory_exact_matches_fill_units(app_client: AppClient) -> None:
    async with app_client() as client:
        memory = await new_memory(client, [("Save the file", "Datei speichern")])
        r = await upload(client, "app.po", catalog("Save the file", "Open it"), source="en", memory=memory)
        assert r.status_code == 200, r.text
        out = polib.pofile(r.text)
        assert out.find("Save the file").msgstr == "Datei speichern"
        assert out.find("Open it").msgstr == "de:Open de:it"


async def test_store_writes_machine_translations_back_unreviewed(app_client: AppClient) -> None:
    async with app_client() as client:
        memory = await new_memory(client, [("Save the file", "Datei speichern")])
        options = json.dumps({"store": True})
        r = await upload(
            client, "app.po", catalog("Save the file", "Open it"), source="en", memory=memory, options=options
        )
        assert r.status_code == 200, r.text
        pairs = (await client.get(f"/memories/{memory}")).json()["pairs"]
        assert pairs == [{"source_lang": "en", "target_lang": "de", "entries": 2, "unreviewed": 1}]
        again = await upload(client, "app.po", catalog("Open it"), source="en", memory=memory)
        assert polib.pofile(again.text).find("Open it").msgstr == "de:Open de:it"  # now from the memory


class OneLanguage:
    """Detects English; counts how often it is asked."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, text: str, candidates: Sequence[str]) -> str | None:
        self.calls += 1
        return "en"

    def rank(self, text: str, candidates: Sequence[str]) -> list[tuple[str, float]]:
        self.calls += 1
        return [("en", 0.9), *((c, 0.05) for c in candidates if c != "en")]


async def test_auto_source_is_detected_once_per_file(tmp_path: Path) -> None:
    from service.app import create_app
    from service.settings import Settings
    from tests.fakes import FakeEngine
    from tests.unit.conftest import serve_in_process

    detector = OneLanguage()
    settings = Settings(models_dir=tmp_path, data_dir=tmp_path / "data", max_items=2)
    app = create_app(settings, extra_engines=[FakeEngine()], detector=detector)
    async with serve_in_process(app) as client:
        r = await upload(client, "app.po", catalog("Yes", "No", "Maybe", "Later", "Never"), source="auto")
        assert r.status_code == 200, r.text
        assert polib.pofile(r.text).find("Maybe").msgstr == "de:Maybe"
    assert detector.calls == 1  # not once per unit (short strings fool the identifier)


async def test_unknown_target_language_is_a_422(app_client: AppClient) -> None:
    async with app_client() as client:
        r = await upload(client, "a.txt", b"Hello", source="en", target="xx")
        assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported_language"


async def test_a_file_with_nothing_to_translate_comes_back_unchanged(app_client: AppClient) -> None:
    async with app_client() as client:
        r = await upload(client, "numbers.txt", b"1 2 3\n\n42\n", source="en")
        assert r.status_code == 200 and r.content == b"1 2 3\n\n42\n"


def test_output_names() -> None:
    assert output_filename("guide.docx", "de") == "guide.de.docx"
    assert output_filename("locale/messages.pot", "fr") == "messages.fr.po"
    assert output_filename("../../etc/passwd.txt", "de") == "passwd.de.txt"
    assert content_disposition("résumé.de.txt") == (
        "attachment; filename=\"r_sum_.de.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.de.txt"
    )


@pytest.mark.parametrize("name", ["../x.txt", "x.txt", "0" * 32 + "./x", "0" * 31 + ".x.txt", "0" * 32 + ".."])
def test_download_names_that_are_not_ours_are_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / "x.txt").write_text("secret")
    assert downloads.load(tmp_path, name) is None


def test_downloads_expire(tmp_path: Path) -> None:
    old = downloads.save(tmp_path, "a.txt", b"old")
    assert downloads.load(tmp_path, old) == b"old"
    os.utime(tmp_path / downloads.FOLDER / old, (0, 0))  # written at the epoch
    new = downloads.save(tmp_path, "../b c.txt", b"new", now=downloads.KEEP_S + 1)
    assert new.endswith(".b_c.txt") and downloads.load(tmp_path, new) == b"new"
    assert downloads.load(tmp_path, old) is None
