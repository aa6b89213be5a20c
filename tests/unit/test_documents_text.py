"""Subtitles, plain text, Markdown and HTML files: the text translated (the fake engine writes ``de:`` before
each word), everything else byte for byte. The subtitle files are written with ``srt`` and read back with it.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import httpx
import pytest
import srt

from service.documents import FileOptions, parse_document
from service.documents.spans import wrap
from tests.unit.conftest import AppClient


@pytest.fixture
async def client(app_client: AppClient) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client() as c:
        yield c


async def translate(client: httpx.AsyncClient, name: str, data: bytes) -> bytes:
    r = await client.post("/translate/file", files={"file": (name, data)}, data={"source": "en", "target": "de"})
    assert r.status_code == 200, r.text
    return r.content


def seconds(s: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=s)


async def test_srt_timing_and_numbering_untouched(client: httpx.AsyncClient) -> None:
    subtitles = [
        srt.Subtitle(7, seconds(1), seconds(2.5), "Hello there,\nmy friend."),
        srt.Subtitle(9, seconds(3), seconds(4), "<i>Run!</i>"),
        srt.Subtitle(12, seconds(5), seconds(6), "♪ 1 2 3 ♪"),
    ]
    source = srt.compose(subtitles, reindex=False).replace("\n", "\r\n").encode()
    out = await translate(client, "film.srt", source)
    parsed = list(srt.parse(out.decode()))
    assert [(s.index, s.start, s.end) for s in parsed] == [(s.index, s.start, s.end) for s in subtitles]
    assert [s.content for s in parsed] == ["de:Hello de:there,\nde:my de:friend.", "<i>de:Run!</i>", "♪ 1 2 3 ♪"]
    assert out.replace(b"de:", b"") == source  # nothing else moved, CRLF kept


async def test_vtt_header_notes_styles_and_cue_settings_untouched(client: httpx.AsyncClient) -> None:
    source = (
        b"WEBVTT - demo\n\nNOTE a comment that stays\n\nSTYLE\n::cue { color: yellow }\n\n"
        b"intro\n00:00:01.000 --> 00:00:04.000 align:start position:10%\nWelcome to the <b>show</b>\n\n"
        b"00:00:05.000 --> 00:00:06.500\n<v Ann>Good night.\n"
    )
    out = await translate(client, "show.vtt", source)
    assert out.decode() == (
        "WEBVTT - demo\n\nNOTE a comment that stays\n\nSTYLE\n::cue { color: yellow }\n\n"
        "intro\n00:00:01.000 --> 00:00:04.000 align:start position:10%\nde:Welcome de:to de:the <b>de:show</b>\n\n"
        "00:00:05.000 --> 00:00:06.500\n<v Ann>de:Good de:night.\n"
    )


def test_a_cues_translation_is_wrapped_back_onto_as_many_lines() -> None:
    assert wrap("one two three four", 2) == ["one two", "three four"]
    assert wrap('a <i class="x y">b</i> c', 2) == ['a <i class="x y">b</i>', "c"]  # never inside a tag
    assert wrap("single", 3) == ["single", "", ""]


async def test_txt_paragraphs_and_blank_lines_kept(client: httpx.AsyncClient) -> None:
    source = b"\xef\xbb\xbfTitle\n\nFirst line of a paragraph,\nits second line.\n\n  \n2024\n"
    out = await translate(client, "notes.txt", source)
    assert (
        out
        == b"\xef\xbb\xbfde:Title\n\nde:First de:line de:of de:a de:paragraph,\nde:its de:second de:line.\n\n  \n2024\n"
    )


MARKDOWN = """---
title: Not prose
---
# Install `xlt` today

Run the *server* with `xlt serve --port 8000`, then open
[the playground](http://localhost:8000/ "Playground") & enjoy.

> Quoted **text**
> on two lines

- first item
- see ![a diagram](img/arch.png)

| Name | Value |
|------|-------|
| Port | `8000` |

```python
print("code is never translated")
```

    indented code stays too
"""


async def test_markdown_code_and_syntax_untouched(client: httpx.AsyncClient) -> None:
    out = (await translate(client, "README.md", MARKDOWN.encode())).decode()
    # the fake engine writes "de:" before every word of each text node, the comma after a code span included
    assert (
        out
        == """---
title: Not prose
---
# de:Install `xlt` de:today

de:Run de:the *de:server* de:with `xlt serve --port 8000`de:,
de:then de:open [de:the de:playground](http://localhost:8000/ "Playground") de:& de:enjoy.

> de:Quoted **de:text**
> de:on de:two de:lines

- de:first de:item
- de:see ![a diagram](img/arch.png)

| de:Name | de:Value |
|------|-------|
| de:Port | `8000` |

```python
print("code is never translated")
```

    indented code stays too
"""
    )


def test_markdown_segments_hide_code_as_placeholders() -> None:
    document = parse_document(MARKDOWN.encode(), "README.md", FileOptions(), "en", "de")
    texts = [s.text for s in document.segments]
    assert texts[0] == 'Install <xlt-k n="0"/> today'
    assert all("code is never" not in t and "xlt serve" not in t and "Not prose" not in t for t in texts)


async def test_html_page_markup_untouched(client: httpx.AsyncClient) -> None:
    source = (
        b'<!DOCTYPE html>\n<html lang="en"><head><title>My page</title>'
        b"<script>var s = 'not text';</script></head>\n"
        b'<body><p class="x">Tom &amp; Jerry&nbsp;run. <a href="/a">Read more</a></p><!-- note --></body></html>\n'
    )
    out = (await translate(client, "page.html", source)).decode()
    # the fake engine splits words at the no-break space too
    assert out == (
        '<!DOCTYPE html>\n<html lang="en"><head><title>de:My de:page</title>'
        "<script>var s = 'not text';</script></head>\n"
        '<body><p class="x">de:Tom de:&amp; de:Jerry de:run. <a href="/a">de:Read de:more</a></p><!-- note --></body>'
        "</html>\n"
    )


async def test_html_in_its_declared_charset(client: httpx.AsyncClient) -> None:
    source = '<html><head><meta charset="iso-8859-1"></head><body><p>Café</p></body></html>'.encode("latin-1")
    out = await translate(client, "page.htm", source)
    assert out == '<html><head><meta charset="iso-8859-1"></head><body><p>de:Café</p></body></html>'.encode("latin-1")
