"""TSV and TMX imports: what is read, and the line or unit named when a file is refused."""

from __future__ import annotations

import pytest

from service.errors import InvalidImport
from service.fewshot.imports import parse_tmx, parse_tsv

TMX = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE tmx SYSTEM "tmx14.dtd">
<tmx version="1.4">
  <header srclang="en-US" segtype="sentence" adminlang="en" datatype="plaintext" o-tmf="x" creationtool="x"
    creationtoolversion="1"/>
  <body>
    <tu>
      <tuv xml:lang="en-US"><seg>Press <ph>{1}</ph>OK <hi>now</hi>.</seg></tuv>
      <tuv xml:lang="de-DE"><seg>Drücken Sie <ph>{1}</ph>OK <hi>jetzt</hi>.</seg></tuv>
      <tuv xml:lang="fr"><seg>Appuyez sur OK.</seg></tuv>
    </tu>
    <tu>
      <tuv lang="EN"><seg>Cancel</seg></tuv>
      <tuv lang="de"><seg>Abbrechen</seg></tuv>
    </tu>
    <tu><tuv xml:lang="de"><seg>Nur Deutsch</seg></tuv></tu>
  </body>
</tmx>
"""


def test_tsv() -> None:
    data = "\ufeffHello\tHallo\n\n  Yes \t Ja \r\n".encode()
    assert parse_tsv(data, "en", "de", 100) == {("en", "de"): [("Hello", "Hallo"), ("Yes", "Ja")]}
    assert parse_tsv(b"\n\n", "en", "de", 100) == {}


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"a\tb\nno tab here\n", "line 2"),
        (b"a\tb\tc\n", "line 1"),
        (b"a\t \n", "line 1"),
        (b"\xff\xfe\x00", "UTF-8"),
        (b"aaaaaaaaaaaa\tb\n", "longer than 10"),
    ],
)
def test_bad_tsv_names_the_line(data: bytes, where: str) -> None:
    with pytest.raises(InvalidImport, match=where):
        parse_tsv(data, "en", "de", 10)


def test_tmx_pairs_the_source_language_with_every_other() -> None:
    pairs = parse_tmx(TMX.encode(), None, None, 1000)
    assert pairs == {
        ("en", "de"): [("Press OK now.", "Drücken Sie OK jetzt."), ("Cancel", "Abbrechen")],
        ("en", "fr"): [("Press OK now.", "Appuyez sur OK.")],
    }
    assert list(parse_tmx(TMX.encode(), "en", "fr", 1000)) == [("en", "fr")]
    assert parse_tmx(TMX.encode(), "de", "en", 1000) == {
        ("de", "en"): [("Drücken Sie OK jetzt.", "Press OK now."), ("Abbrechen", "Cancel")]
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<tmx><body><tu>", "not a valid TMX"),
        (b"<html></html>", "root element"),
        (b'<tmx><header srclang="*all*"/><body/></tmx>', "srclang"),
        (
            b'<!DOCTYPE tmx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
            b'<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>'
            b'<tmx><header srclang="en"/><body><tu><tuv xml:lang="en"><seg>&f;&f;&f;&f;&f;&f;&f;</seg></tuv>'
            b'<tuv xml:lang="de"><seg>x</seg></tuv></tu></body></tmx>',
            "amplification",  # an entity-expansion bomb is stopped by expat
        ),
    ],
)
def test_bad_tmx_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidImport, match=message):
        parse_tmx(data, None, None, 10**9)
