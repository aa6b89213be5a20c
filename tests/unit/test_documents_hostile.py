"""The hostile-file battery: each bad file gets a 4xx with its stable code, and the server keeps serving.

Bombs and entity tricks are refused before any format library opens the file (``service.documents.safety``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import docx
import httpx
import pytest

from service.documents import Limits
from service.documents.base import UnsafeFile
from service.documents.safety import check_zip
from tests.unit.conftest import AppClient

MAX_FILE_BYTES = 512 << 10  # the crowded archive (2,100 entries) fits

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xliff [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2"><file original="a" source-language="en"
datatype="plaintext"><body><trans-unit id="1"><source>&lol3;</source></trans-unit></body></file></xliff>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xliff [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2"><file original="a" source-language="en"
datatype="plaintext"><body><trans-unit id="1"><source>&secret;</source></trans-unit></body></file></xliff>
"""


def word_file() -> bytes:
    document = docx.Document()
    document.add_paragraph("Hello world.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def rezip(data: bytes, extra: dict[str, bytes] | None = None, replace: dict[str, bytes] | None = None) -> bytes:
    """``data``'s archive with entries replaced or added."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, (replace or {}).get(info.filename, source.read(info)))
        for name, content in (extra or {}).items():
            target.writestr(name, content)
    return out.getvalue()


def zip_bomb() -> bytes:
    """A .docx with one entry of 4 MiB of zeros: compressed ~1000:1."""
    return rezip(word_file(), extra={"word/media/padding.bin": bytes(4 << 20)})


def many_entries() -> bytes:
    return rezip(word_file(), extra={f"customXml/item{i}.bin": b"x" for i in range(2100)})


def entity_in_docx() -> bytes:
    document = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e SYSTEM "http://example.invalid/x">]><w>&e;</w>'
    return rezip(word_file(), replace={"word/document.xml": document})


LATIN1_CATALOG = 'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\nmsgid "Café"\nmsgstr ""\n'.encode(
    "latin-1"
)

CASES = [
    ("corrupt.docx", word_file()[: len(word_file()) // 2], 422, "invalid_file"),
    ("not-a-zip.pptx", b"PK\x03\x04 this is no archive", 422, "invalid_file"),
    ("bomb.docx", zip_bomb(), 422, "unsafe_file"),
    ("crowded.docx", many_entries(), 422, "unsafe_file"),
    ("laughs.xlf", BILLION_LAUGHS, 422, "unsafe_file"),
    ("external.xliff", EXTERNAL_ENTITY, 422, "unsafe_file"),
    ("entity.docx", entity_in_docx(), 422, "unsafe_file"),
    ("broken.xlf", b"<xliff><file>", 422, "invalid_file"),
    ("broken.po", b'msgid "Hello"\nmsgstr "Hallo\n', 422, "invalid_file"),
    ("program.exe", b"MZ\x90\x00", 415, "unsupported_format"),
    ("no-extension", b"Hello", 415, "unsupported_format"),
    ("big.txt", b"word " * (MAX_FILE_BYTES // 5 + 10), 413, "file_too_large"),
    ("latin1.txt", "Café au lait.".encode("latin-1"), 422, "invalid_encoding"),
    ("latin1.po", LATIN1_CATALOG, 422, "invalid_encoding"),
    ("bad.srt", b"1\n00:00:01,000 --> nonsense\nHello\n", 422, "invalid_file"),
    ("bad.vtt", b"NOT A WEBVTT FILE\n", 422, "invalid_file"),
]  # fmt: skip


@pytest.fixture
async def client(app_client: AppClient, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(max_file_bytes=MAX_FILE_BYTES, data_dir=tmp_path / "data") as c:
        yield c


@pytest.mark.parametrize(("name", "data", "status", "code"), CASES, ids=[c[0] for c in CASES])
async def test_hostile_file_gets_its_code_and_the_server_keeps_serving(
    client: httpx.AsyncClient, name: str, data: bytes, status: int, code: str
) -> None:
    r = await client.post("/translate/file", files={"file": (name, data)}, data={"source": "en", "target": "de"})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    ok = await client.post("/translate", json={"text": "still here", "source": "en", "target": "de"})
    assert ok.status_code == 200 and ok.json()["translations"][0]["text"] == "de:still de:here"
    metrics = (await client.get("/metrics")).text
    assert f'code="{code}"' in metrics


async def test_po_syntax_error_names_the_line(client: httpx.AsyncClient) -> None:
    data = b'msgid ""\nmsgstr ""\n\nmsgid "One"\nmsgstr "Eins"\nthis is not gettext\n'
    r = await client.post("/translate/file", files={"file": ("app.po", data)}, data={"target": "de"})
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("app.po: ") and "line 6" in r.json()["error"]["message"]


async def test_a_body_far_over_the_limit_is_refused_unread(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/translate/file", files={"file": ("big.txt", b"x" * (MAX_FILE_BYTES * 3))}, data={"target": "de"}
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


async def test_bad_options_are_a_clear_422(client: httpx.AsyncClient) -> None:
    for options, needle in (
        ("{not json", "not a JSON object"),
        ('{"overwrit": true}', "overwrit"),
        ('{"overwrite": 1}', "true or false"),
    ):
        r = await client.post(
            "/translate/file", files={"file": ("a.txt", b"Hello")}, data={"target": "de", "options": options}
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", r.text
        assert needle in r.json()["error"]["message"]


def test_zip_limits_on_total_size_and_ratio() -> None:
    data = zip_bomb()
    with pytest.raises(UnsafeFile, match="compressed"):
        check_zip(data, Limits())
    with pytest.raises(UnsafeFile, match="unpacks to"):
        check_zip(word_file(), Limits(max_unzipped_bytes=1000))
    check_zip(word_file(), Limits())  # an ordinary document passes


async def test_libretranslate_upload_of_a_hostile_file_leaves_nothing_to_download(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    r = await client.post(
        "/libretranslate/translate_file",
        files={"file": ("laughs.xlf", BILLION_LAUGHS)},
        data={"source": "en", "target": "de"},
    )
    assert r.status_code == 400 and "DTD" in r.json()["error"]
    folder = tmp_path / "data" / "translated_files"
    assert not folder.exists() or not any(folder.iterdir())
