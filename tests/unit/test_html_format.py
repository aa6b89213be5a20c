"""``format: "html"``: text nodes are translated, markup, script, style, whitespace and entities are kept."""

from __future__ import annotations

import pytest

from service.html_format import split_html, visible_text
from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient


def upper(source: str) -> str:
    """A stand-in translation that shows which characters went through the "model"."""
    doc = split_html(source)
    return doc.join([s.upper() for s in doc.sentences])


def test_markup_is_kept_and_text_nodes_translated() -> None:
    source = '<p class="x">Hello <b>world</b>!</p>\n<a href="/a?b=1&amp;c=2">link</a>'
    assert upper(source) == '<p class="x">HELLO <b>WORLD</b>!</p>\n<a href="/a?b=1&amp;c=2">LINK</a>'


def test_every_untranslated_byte_is_kept() -> None:
    source = (
        "<!DOCTYPE html>\n<html><head><style>p { color: red }</style></head>\n<body>  <!-- note -->"
        "<script>var s = '<b>not text</b>';</script>\n  <p>Two. Sentences!</p>  2024 &copy; | <br/>\n</body></html>"
    )
    doc = split_html(source)
    assert "".join(doc.pieces) == source
    assert doc.sentences == ["Two.", "Sentences!"]  # script, style, comments, "2024 © |" are left alone
    assert doc.join(["Zwei.", "Sätze!"]) == source.replace("Two. Sentences!", "Zwei. Sätze!")


def test_entities_are_decoded_for_the_model_and_escaped_back() -> None:
    doc = split_html("<p>Tom &amp; Jerry&nbsp;&lt;3 &#169;</p>")
    assert doc.sentences == ["Tom & Jerry\xa0<3 ©"]
    assert doc.join(["Tom & Jerry\xa0<3 ©"]) == "<p>Tom &amp; Jerry&nbsp;&lt;3 ©</p>"


def test_whitespace_around_and_between_sentences_is_kept() -> None:
    source = "<div>\n    First one.\n    Second one.\n</div>"
    doc = split_html(source)
    assert doc.sentences == ["First one.", "Second one."]
    assert doc.join(["A.", "B."]) == "<div>\n    A.\n    B.\n</div>"


def test_broken_and_empty_markup() -> None:
    assert upper("<p>unclosed <i>text") == "<p>UNCLOSED <i>TEXT"
    assert upper("a < b") == "A &lt; B"
    assert upper("") == ""
    assert split_html("<br><img src=x>").sentences == []
    with pytest.raises(ValueError, match="expected 1 sentences"):
        split_html("<p>x</p>").join([])


def test_visible_text_leaves_markup_out() -> None:
    assert visible_text("<p>Das Haus</p><script>var x</script><p>ist klein.</p>") == "Das Haus\nist klein."


async def test_native_api_translates_html(app_client: AppClient) -> None:
    async with app_client(engines=[FakeEngine()]) as client:
        html = '<p title="keep">Hello <b>world</b> &amp; more.</p><script>skip me</script>'
        r = await client.post("/translate", json={"text": html, "source": "en", "target": "de", "format": "html"})
        assert r.status_code == 200, r.text
        assert r.json()["translations"][0]["text"] == (
            '<p title="keep">de:Hello <b>de:world</b> de:&amp; de:more.</p><script>skip me</script>'
        )
        plain = await client.post("/translate", json={"text": "<b>x</b>", "source": "en", "target": "de"})
        assert plain.json()["translations"][0]["text"] == "de:<b>x</b>"  # format defaults to text
