"""gettext catalogs and XLIFF through ``POST /translate/file`` with the fake engine (``de:`` before each word):
what is translated, what stays byte for byte, plural forms, fuzzy flags and the placeholder check.

The files are made with polib (an independent gettext library) and read back with it, so the round trip is not
judged by the library that wrote it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import polib
import pytest
from lxml import etree

from service.documents import FileOptions, parse_document
from tests.unit.conftest import AppClient

XLIFF12 = "urn:oasis:names:tc:xliff:document:1.2"
XLIFF20 = "urn:oasis:names:tc:xliff:document:2.0"


@pytest.fixture
async def client(app_client: AppClient) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client() as c:
        yield c


async def translate(
    client: httpx.AsyncClient, name: str, data: bytes, target: str = "de", **options: Any
) -> httpx.Response:
    form = {"source": "en", "target": target}
    if options:
        form["options"] = json.dumps(options)
    return await client.post("/translate/file", files={"file": (name, data)}, data=form)


def catalog() -> polib.POFile:
    po = polib.POFile(wrapwidth=78)
    po.metadata = {
        "Project-Id-Version": "demo 1.0",
        "Language": "",
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "Plural-Forms": "nplurals=INTEGER; plural=EXPRESSION;",
    }
    po.append(
        polib.POEntry(
            msgid="Hello %s, you have %(count)d new messages",
            tcomment="Shown on the home page",
            comment="%s is the user's name",
            occurrences=[("app/views.py", "12")],
            flags=["python-format"],
        )
    )
    po.append(polib.POEntry(msgid="Open", msgctxt="verb"))
    po.append(polib.POEntry(msgid="One file", msgid_plural="{n} files", msgstr_plural={0: "", 1: ""}))
    po.append(polib.POEntry(msgid="Save", msgstr="Speichern"))
    po.append(polib.POEntry(msgid="Gone", msgstr="Weg", obsolete=True))
    return po


def entry(po: polib.POFile, msgid: str, msgctxt: str | None = None) -> polib.POEntry:
    found = po.find(msgid, msgctxt=msgctxt) if msgctxt else po.find(msgid)
    assert found is not None, msgid
    return found


async def test_po_untranslated_units_translated_and_flagged_fuzzy(client: httpx.AsyncClient) -> None:
    source = str(catalog()).encode()
    r = await translate(client, "demo.po", source)
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"].startswith('attachment; filename="demo.de.po"')
    out = polib.pofile(r.text)
    hello = entry(out, "Hello %s, you have %(count)d new messages")
    assert hello.msgstr == "de:Hello de:%s, de:you de:have de:%(count)d de:new de:messages"
    assert hello.fuzzy and "python-format" in hello.flags
    assert hello.tcomment == "Shown on the home page" and hello.comment == "%s is the user's name"
    assert hello.occurrences == [("app/views.py", "12")]
    opened = entry(out, "Open", "verb")
    assert opened.msgstr == "de:Open" and opened.msgctxt == "verb"
    save = entry(out, "Save")
    assert save.msgstr == "Speichern" and not save.fuzzy  # already translated: untouched
    assert [e.msgid for e in out.obsolete_entries()] == ["Gone"]
    assert out.metadata["Language"] == "de"
    assert out.metadata["Plural-Forms"] == "nplurals=2; plural=(n != 1);"
    assert out.metadata["Project-Id-Version"] == "demo 1.0"


async def test_po_plural_forms_follow_the_target_language(client: httpx.AsyncClient) -> None:
    source = str(catalog()).encode()
    german = polib.pofile((await translate(client, "demo.po", source)).text)
    assert entry(german, "One file").msgstr_plural == {0: "de:One de:file", 1: "de:{n} de:files"}
    french = polib.pofile((await translate(client, "demo.po", source, target="fr")).text)
    # French: form 0 serves 0 and 1 (n > 1), so it is still the singular's translation
    assert entry(french, "One file").msgstr_plural == {0: "fr:One fr:file", 1: "fr:{n} fr:files"}
    assert french.metadata["Plural-Forms"] == "nplurals=2; plural=(n > 1);"


def test_po_plural_forms_of_a_three_form_language() -> None:
    """Russian form 0 also serves 21, 31...: every form takes the plural's translation (its {n} kept)."""
    document = parse_document(str(catalog()).encode(), "demo.po", FileOptions(), "en", "ru")
    texts = [s.text for s in document.segments]
    assert "One file" not in texts and "{n} files" in texts
    out = polib.pofile(document.render([f"T({t})" for t in texts]).decode())
    assert entry(out, "One file").msgstr_plural == {0: "T({n} files)", 1: "T({n} files)", 2: "T({n} files)"}
    assert out.metadata["Plural-Forms"].startswith("nplurals=3;")
    japanese = parse_document(str(catalog()).encode(), "demo.po", FileOptions(), "en", "ja")
    out = polib.pofile(japanese.render([f"T({s.text})" for s in japanese.segments]).decode())
    assert entry(out, "One file").msgstr_plural == {0: "T({n} files)"}


async def test_po_overwrite_and_mark_fuzzy_false(client: httpx.AsyncClient) -> None:
    source = str(catalog()).encode()
    out = polib.pofile((await translate(client, "demo.po", source, overwrite=True, mark_fuzzy=False)).text)
    save = entry(out, "Save")
    assert save.msgstr == "de:Save" and not save.fuzzy
    assert not entry(out, "Open", "verb").fuzzy


def test_lost_placeholders_are_written_fuzzy_with_a_comment_even_without_mark_fuzzy() -> None:
    document = parse_document(str(catalog()).encode(), "demo.po", FileOptions(mark_fuzzy=False), "en", "de")
    broken = ["Hallo, du hast neue Nachrichten" if "Hello" in s.text else f"T({s.text})" for s in document.segments]
    out = polib.pofile(document.render(broken).decode())
    hello = entry(out, "Hello %s, you have %(count)d new messages")
    assert hello.fuzzy  # never silently broken: msgfmt leaves fuzzy entries out
    assert "xlt: check the placeholders" in hello.tcomment and "%s" in hello.tcomment
    assert "Shown on the home page" in hello.tcomment
    assert not entry(out, "Open", "verb").fuzzy


async def test_pot_template_becomes_the_targets_po(client: httpx.AsyncClient) -> None:
    template = catalog()
    template.metadata["Content-Type"] = "text/plain; charset=CHARSET"
    r = await translate(client, "messages.pot", str(template).encode())
    assert r.status_code == 200, r.text
    assert 'filename="messages.de.po"' in r.headers["content-disposition"]
    out = polib.pofile(r.text)
    assert out.metadata["Content-Type"] == "text/plain; charset=UTF-8" and out.metadata["Language"] == "de"


async def test_po_untouched_parts_are_byte_for_byte(client: httpx.AsyncClient) -> None:
    po = catalog()
    for e in po:
        if not e.translated() and not e.msgid_plural:
            e.msgstr = "x"  # everything translated already: the catalog comes back as it was, but for the header
    source = str(po).encode()
    out = (await translate(client, "demo.po", source)).content
    body = source.split(b"\n\n", 1)[1]
    assert out.split(b"\n\n", 1)[1] == body.replace(
        b'msgstr[0] ""\nmsgstr[1] ""', b'msgstr[0] "de:One de:file"\nmsgstr[1] "de:{n} de:files"'
    ).replace(b'msgid "One file"', b'#, fuzzy\nmsgid "One file"')


def xliff12() -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xliff version="1.2" xmlns="{XLIFF12}">
  <file original="app" source-language="en" datatype="plaintext">
    <body>
      <trans-unit id="greeting">
        <source>Hello %s</source>
        <note>a greeting</note>
      </trans-unit>
      <trans-unit id="link">
        <source>Click <g id="1">here</g> to <x id="2"/> continue &amp; save</source>
      </trans-unit>
      <trans-unit id="done">
        <source>Done</source>
        <target state="translated">Fertig</target>
      </trans-unit>
      <trans-unit id="code" translate="no">
        <source>API_KEY</source>
      </trans-unit>
    </body>
  </file>
</xliff>
""".encode()


def units(data: bytes, namespace: str, tag: str) -> dict[str, Any]:
    root = etree.fromstring(data)
    return {u.get("id"): u for u in root.iter(f"{{{namespace}}}{tag}")}


def text_of(element: Any, namespace: str, name: str) -> str | None:
    found = element.find(f"{{{namespace}}}{name}")
    return None if found is None else etree.tostring(found, encoding="unicode", with_tail=False)


async def test_xliff12_targets_states_and_inline_codes(client: httpx.AsyncClient) -> None:
    r = await translate(client, "app.xlf", xliff12())
    assert r.status_code == 200, r.text
    root = etree.fromstring(r.content)
    assert root.find(f"{{{XLIFF12}}}file").get("target-language") == "de"
    found = units(r.content, XLIFF12, "trans-unit")
    greeting = found["greeting"].find(f"{{{XLIFF12}}}target")
    assert greeting.text == "de:Hello de:%s" and greeting.get("state") == "needs-review-translation"
    link = text_of(found["link"], XLIFF12, "target")
    assert link == (
        f'<target xmlns="{XLIFF12}" state="needs-review-translation">de:Click <g id="1">de:here</g> de:to '
        '<x id="2"/> de:continue de:&amp; de:save</target>'
    )
    assert text_of(found["done"], XLIFF12, "target") == f'<target xmlns="{XLIFF12}" state="translated">Fertig</target>'
    assert found["code"].find(f"{{{XLIFF12}}}target") is None  # translate="no"
    assert [n.text for n in found["greeting"].iter(f"{{{XLIFF12}}}note")] == ["a greeting"]


def test_xliff12_mark_fuzzy_false_and_broken_placeholders() -> None:
    document = parse_document(xliff12(), "app.xliff", FileOptions(mark_fuzzy=False), "en", "de")
    assert [s.markup for s in document.segments] == [False, True]
    out = document.render(["Hallo", 'Klick <g id="1">hier</g> <x id="2"/> weiter'])
    found = units(out, XLIFF12, "trans-unit")
    greeting = found["greeting"]
    assert greeting.find(f"{{{XLIFF12}}}target").get("state") == "needs-review-translation"  # %s lost
    assert any("placeholders" in (n.text or "") and n.get("from") == "xlt" for n in greeting.iter(f"{{{XLIFF12}}}note"))
    assert found["link"].find(f"{{{XLIFF12}}}target").get("state") == "translated"


def test_xliff_inline_tags_that_do_not_parse_are_not_written() -> None:
    document = parse_document(xliff12(), "app.xlf", FileOptions(), "en", "de")
    out = document.render(["Hallo %s", 'Klick <g id="1">hier weiter'])  # <g> never closed
    link = units(out, XLIFF12, "trans-unit")["link"]
    assert link.find(f"{{{XLIFF12}}}target") is None
    assert any("inline tags are broken" in (n.text or "") for n in link.iter(f"{{{XLIFF12}}}note"))


def xliff20() -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="{XLIFF20}" version="2.0" srcLang="en">
  <file id="f1">
    <unit id="u1">
      <segment id="s1">
        <source>Hello {{name}}</source>
      </segment>
    </unit>
    <unit id="u2">
      <segment id="s2">
        <source>Press <pc id="1">Save</pc> now.</source>
      </segment>
      <segment id="s3" state="final">
        <source>Thanks.</source>
        <target>Danke.</target>
      </segment>
    </unit>
  </file>
</xliff>
""".encode()


async def test_xliff20_segments(client: httpx.AsyncClient) -> None:
    r = await translate(client, "app.xliff", xliff20())
    assert r.status_code == 200, r.text
    assert etree.fromstring(r.content).get("trgLang") == "de"
    found = units(r.content, XLIFF20, "segment")
    assert found["s1"].get("state") == "translated" and found["s1"].get("subState") == "xlt:needs-review"
    assert found["s1"].find(f"{{{XLIFF20}}}target").text == "de:Hello de:{name}"
    assert text_of(found["s2"], XLIFF20, "target") == (
        f'<target xmlns="{XLIFF20}">de:Press <pc id="1">de:Save</pc> de:now.</target>'
    )
    assert found["s3"].get("state") == "final" and found["s3"].find(f"{{{XLIFF20}}}target").text == "Danke."
    plain = (await translate(client, "app.xliff", xliff20(), mark_fuzzy=False)).content
    assert "subState" not in units(plain, XLIFF20, "segment")["s1"].attrib


def test_xliff_with_nothing_to_translate_comes_back_as_it_was_but_for_the_target_language() -> None:
    source = xliff20()
    document = parse_document(source, "app.xliff", FileOptions(), "en", "de")
    out = document.render([None] * len(document.segments))
    assert out == source.replace(b'srcLang="en"', b'srcLang="en" trgLang="de"')
