"""English -> X paragraph pairs from LibreOffice's offline help (Debian ``libreoffice-help-<lang>``).

Why: it is the largest body of whole, human-translated sentences in every language of the model that this machine
has offline (about 35,000 distinct English-German paragraphs: "Specifies the character set for text export." /
"Gibt den Zeichensatz für den Textexport an."), where the gettext catalogs are mostly short interface strings and
German has no rule-based teacher. Its register is documentation, not daily life; it is a source to switch on where it
pays. LibreOffice is no desktop catalog of the out-of-domain test (GNOME, GTK, KDE and the like).

Format: one HTML page per help topic, the same relative path in every language's folder
(``<root>/en-US/text/shared/02/12090000.html``, ``<root>/de/text/...``); each paragraph and heading carries the
help id it was translated under (``<p id="par_id3143267">``), so a page's paragraphs align by id. Pages are parsed
with lxml, which reads what browsers read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import lxml.html
from lxml.etree import ParserError

from training.data.generic import OnBad, _raise
from training.data.records import DataError, Pair

ROOT = Path("/usr/share/libreoffice/help")
ORIGIN = "lohelp"
FOLDERS = {"en": "en-US", "de": "de", "fr": "fr", "es": "es", "it": "it", "pt": "pt-BR"}  # Brazilian, as the rest
LICENSE = "MPL-2.0, parts Apache-2.0 (LibreOffice help; see /usr/share/doc/libreoffice-help-*/copyright)"
_HELP_ID = re.compile(r"^(?:par|hd)_id")
_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "td", "li"}
_PARSER = lxml.html.HTMLParser(encoding="utf-8")  # every page is UTF-8 (and says so); lxml's default is Latin-1
MIN_WORDS = 3  # shorter ones are headings and labels, which the catalogs already give by the hundred thousand


def package(lang: str) -> str:
    """``pt`` -> ``libreoffice-help-pt-br``."""
    return f"libreoffice-help-{FOLDERS[lang].lower()}"


def paragraphs(page: Path) -> dict[str, str]:
    """Help id -> the text of that paragraph or heading on one page, whitespace collapsed."""
    try:
        doc = lxml.html.fromstring(page.read_bytes(), parser=_PARSER)
    except (OSError, ParserError, ValueError) as e:
        raise DataError(f"{page}: not a readable help page ({e})") from e
    found: dict[str, str] = {}
    for element in doc.iter(*_TAGS):
        help_id = element.get("id") or ""
        text = " ".join(element.text_content().split())
        if _HELP_ID.match(help_id) and text:
            found[help_id] = text
    return found


def read(langs: Sequence[str], root: Path = ROOT, *, on_bad: OnBad = _raise) -> Iterator[Pair]:
    """English -> X pairs for each of ``langs``, page by page (each English page parsed once), paragraph by
    paragraph, of ``MIN_WORDS`` English words or more; a paragraph left in English in the translation is no pair."""
    english = root / FOLDERS["en"]
    for lang in langs:
        if not (english / "text").is_dir() or not (root / FOLDERS[lang] / "text").is_dir():
            raise DataError(f"no LibreOffice help for en and {lang} under {root} (apt-get install {package(lang)})")
    for page in sorted((english / "text").rglob("*.html")):
        relative = page.relative_to(english)
        translated = {lang: path for lang in langs if (path := root / FOLDERS[lang] / relative).is_file()}
        if not translated:
            continue
        try:
            source = paragraphs(page)
        except DataError as e:
            on_bad(e)
            continue
        group = f"{ORIGIN}-{relative.parent.as_posix().removeprefix('text/').replace('/', '-')}"
        for lang, path in translated.items():
            try:
                target = paragraphs(path)
            except DataError as e:
                on_bad(e)
                continue
            for help_id, text in source.items():
                found = target.get(help_id)
                if found and found != text and len(text.split()) >= MIN_WORDS:
                    yield Pair(ORIGIN, group, "en", lang, text, found)
