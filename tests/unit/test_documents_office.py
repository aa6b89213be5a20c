"""Office documents through ``POST /translate/file`` with the fake engine: made with python-docx, python-pptx and
odfdo, read back with them. Runs, styles, tables, headers and notes are checked as the module docstring of
``service.documents.runs`` promises, including a sentence split across differently styled runs.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import docx
import httpx
import odfdo
import pptx
import pytest
from docx.shared import Pt

from tests.unit.conftest import AppClient


@pytest.fixture
async def client(app_client: AppClient) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client() as c:
        yield c


async def translate(client: httpx.AsyncClient, name: str, data: bytes) -> bytes:
    r = await client.post("/translate/file", files={"file": (name, data)}, data={"source": "en", "target": "de"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.")
    return r.content


def word_document() -> bytes:
    document = docx.Document()
    document.add_heading("Annual report", level=1)
    plain = document.add_paragraph("The first sentence. ")
    plain.add_run("The second one, in a run of its own.")  # same formatting: one segment
    mixed = document.add_paragraph("This is ")
    mixed.add_run("very").bold = True
    mixed.add_run(" important for everyone.")
    lead = document.add_paragraph()
    lead.add_run("Bold lead sentence.").bold = True
    lead.add_run(" Then the plain text follows.")
    sized = document.add_paragraph()
    big = sized.add_run("Large letters")
    big.font.size = Pt(20)
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Cell text"
    table.cell(0, 1).text = "42"
    document.sections[0].header.paragraphs[0].text = "Confidential header"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def test_docx_runs_styles_tables_and_headers(client: httpx.AsyncClient) -> None:
    out = docx.Document(io.BytesIO(await translate(client, "report.docx", word_document())))
    paragraphs = out.paragraphs
    assert paragraphs[0].text == "de:Annual de:report" and paragraphs[0].style.name == "Heading 1"
    # one formatting: translated as one segment, into the first run; the other run is emptied, not removed
    assert [r.text for r in paragraphs[1].runs] == [
        "de:The de:first de:sentence. de:The de:second de:one, de:in de:a de:run de:of de:its de:own.",
        "",
    ]
    # bold inside a sentence: the sentence is translated whole, in the formatting of the run with most letters
    assert [(r.text, r.bold) for r in paragraphs[2].runs] == [
        ("", None),
        ("", True),
        ("de:This de:is de:very de:important de:for de:everyone.", None),
    ]
    # bold only between sentences: each keeps its formatting
    assert [(r.text, r.bold) for r in paragraphs[3].runs] == [
        ("de:Bold de:lead de:sentence.", True),
        (" de:Then de:the de:plain de:text de:follows.", None),
    ]
    assert paragraphs[4].runs[0].text == "de:Large de:letters" and paragraphs[4].runs[0].font.size == Pt(20)
    assert out.tables[0].cell(0, 0).text == "de:Cell de:text" and out.tables[0].cell(0, 1).text == "42"
    assert out.sections[0].header.paragraphs[0].text == "de:Confidential de:header"


def slides() -> bytes:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "Quarterly results"
    body = slide.placeholders[1].text_frame
    body.text = "Revenue grew"
    paragraph = body.add_paragraph()
    first, second = paragraph.add_run(), paragraph.add_run()
    first.text, second.text = "Costs ", "fell"
    second.font.bold = True
    table = slide.shapes.add_table(1, 2, 0, 0, 100, 100).table
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).text = "2024"
    slide.notes_slide.notes_text_frame.text = "Say thanks"
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


async def test_pptx_shapes_tables_and_notes(client: httpx.AsyncClient) -> None:
    out = pptx.Presentation(io.BytesIO(await translate(client, "deck.pptx", slides())))
    slide = out.slides[0]
    assert slide.shapes.title.text == "de:Quarterly de:results"
    body = slide.placeholders[1].text_frame.paragraphs
    assert body[0].text == "de:Revenue de:grew"
    assert [(r.text, r.font.bold) for r in body[1].runs] == [("de:Costs de:fell", None), ("", True)]
    table = next(s for s in slide.shapes if s.has_table).table
    assert table.cell(0, 0).text == "de:Region" and table.cell(0, 1).text == "2024"
    assert slide.notes_slide.notes_text_frame.text == "de:Say de:thanks"


def open_document(kind: str) -> bytes:
    document = odfdo.Document(kind)
    body = document.body
    if kind == "text":
        body.append(odfdo.Header(1, "A heading"))
        paragraph = odfdo.Paragraph("Hello ")
        paragraph.append(odfdo.Span("bold", style="Strong"))
        paragraph.append(" world.")
        body.append(paragraph)
        body.append(odfdo.Paragraph("Second paragraph."))
    else:
        page = odfdo.DrawPage("page1")
        frame = odfdo.Frame.text_frame("Slide text here", size=("10cm", "2cm"), position=("1cm", "1cm"))
        page.append(frame)
        body.append(page)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def test_odt_paragraphs_headings_and_spans(client: httpx.AsyncClient) -> None:
    out = odfdo.Document(io.BytesIO(await translate(client, "letter.odt", open_document("text"))))
    assert [h.text_recursive for h in out.body.get_headers()] == ["de:A de:heading"]
    texts = [p.text_recursive for p in out.body.get_paragraphs() if p.text_recursive]
    assert texts == ["de:Hello de:bold de:world.", "de:Second de:paragraph."]
    assert out.body.get_spans(style="Strong")  # the span is still there, emptied


async def test_odp_frames(client: httpx.AsyncClient) -> None:
    out = odfdo.Document(io.BytesIO(await translate(client, "talk.odp", open_document("presentation"))))
    assert [p.text_recursive for p in out.body.get_paragraphs()] == ["de:Slide de:text de:here"]
