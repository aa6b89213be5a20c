"""Corpus parsers on good and bad input: bad input stops with file and line named, unless skipped and counted."""

from __future__ import annotations

from pathlib import Path

import pytest

polib = pytest.importorskip("polib")

from training.data import generic, gettext_catalogs  # noqa: E402
from training.data.build import BuildReport, dedupe, keep  # noqa: E402
from training.data.records import DataError, Pair, read_pairs, write_pairs  # noqa: E402


def test_tsv_reads_pairs_and_names_the_bad_line(tmp_path: Path) -> None:
    f = tmp_path / "pairs.tsv"
    f.write_text("Hello\tHallo\nno tab here\nBye\tTschüss\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs.tsv:2: no tab"):
        list(generic.read_tsv(f, "en", "de"))
    report = BuildReport()
    rows = list(generic.read_tsv(f, "en", "de", report.on_bad))
    assert [(p.src, p.tgt) for p in rows] == [("Hello", "Hallo"), ("Bye", "Tschüss")]
    assert len(report.skipped) == 1


def test_tsv_wrong_encoding_is_reported_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "latin1.tsv"
    f.write_bytes(b"ok\tgut\n" + "caf\xe9\tKaffee\n".encode("latin-1") + b"tea\tTee\n")
    with pytest.raises(DataError, match=r"latin1.tsv:2: not UTF-8"):
        list(generic.read_tsv(f, "en", "de"))
    report = BuildReport()
    assert [p.src for p in generic.read_tsv(f, "en", "de", report.on_bad)] == ["ok", "tea"]
    assert "latin1.tsv:2" in report.skipped[0]


def test_jsonl_and_tmx(tmp_path: Path) -> None:
    j = tmp_path / "p.jsonl"
    j.write_text('{"source": "Yes", "target": "Oui"}\n{"source": 1}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"p.jsonl:2"):
        list(generic.read_jsonl(j, "en", "fr"))
    t = tmp_path / "m.tmx"
    t.write_text(
        '<tmx version="1.4"><header/><body><tu><tuv xml:lang="en-US"><seg>Save</seg></tuv>'
        '<tuv xml:lang="fr-FR"><seg>Enregistrer</seg></tuv></tu></body></tmx>',
        encoding="utf-8",
    )
    assert [(p.src, p.tgt) for p in generic.read_tmx(t, "en", "fr")] == [("Save", "Enregistrer")]
    bad = tmp_path / "bad.tmx"
    bad.write_text("<tmx><body><tu>", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.tmx"):
        list(generic.read_tmx(bad, "en", "fr"))


def test_gettext_strips_markup_keeps_placeholders_and_skips_fuzzy(tmp_path: Path) -> None:
    po = polib.POFile()
    po.append(polib.POEntry(msgid="_Open %s", msgstr="%s _öffnen"))
    po.append(polib.POEntry(msgid="&File", msgstr="&Datei"))
    po.append(polib.POEntry(msgid="<b>Bold</b> {name}", msgstr="<b>Fett</b> {name}"))
    po.append(polib.POEntry(msgid="Draft", msgstr="Entwurf", flags=["fuzzy"]))
    po.append(polib.POEntry(msgid="Untranslated", msgstr=""))
    folder = tmp_path / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po.save(str(folder / "demo.po"))
    po.save_as_mofile(str(folder / "demo2.mo"))
    cats = gettext_catalogs.find_catalogs(tmp_path, {"de"}, "test")
    assert {c.domain for c in cats} == {"demo", "demo2"}
    rows = {(p.src, p.tgt) for c in cats for p in gettext_catalogs.read_catalog(c)}
    assert rows == {("Open %s", "%s öffnen"), ("File", "Datei"), ("Bold {name}", "Fett {name}")}


def test_corrupt_mo_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "broken.mo").write_bytes(b"\x00\x01 not a catalog")
    (cat,) = gettext_catalogs.find_catalogs(tmp_path, {"fr"}, "test")
    with pytest.raises(DataError, match=r"broken.mo"):
        list(gettext_catalogs.read_catalog(cat))


def test_desktop_catalogs_are_held_out_and_splits_are_stable() -> None:
    assert gettext_catalogs.is_desktop("gtk30")
    assert gettext_catalogs.is_desktop("glib20")
    assert not gettext_catalogs.is_desktop("coreutils")
    assert gettext_catalogs.split_of_domain("coreutils") == gettext_catalogs.split_of_domain("coreutils")


def test_filters_and_dedupe(tmp_path: Path) -> None:
    good = Pair("t", "g", "en", "de", "The house is small.", "Das Haus ist klein.")
    assert keep(good)
    assert not keep(Pair("t", "g", "en", "de", "A" * 50, "B"))  # length ratio
    assert not keep(Pair("t", "g", "en", "de", "Copied sentence here", "Copied sentence here"))
    assert list(dedupe([good, good])) == [good]
    path = tmp_path / "c.tsv"
    write_pairs(path, [good, Pair("t", "g", "en", "de", "tab\there", "back\\slash")])
    rows = list(read_pairs(path))
    assert rows[0] == good and rows[1].src == "tab here" and rows[1].tgt == "back\\slash"
