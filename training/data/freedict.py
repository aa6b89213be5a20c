"""Word and phrase pairs from the FreeDict bilingual dictionaries (Debian ``dict-freedict-*``, dictd format).

Why: German has no Apertium pair, and a small model learns the words of daily life ("Haus", "klein", "Bahnhof")
from a dictionary far sooner than from the Bible. Each entry gives its headword and first translations as short
pairs; the large eng-deu/deu-eng dictionaries also hold example phrases (``"a creeping process"  - ein
schleichender Prozess``), which are kept whole.

Format: ``<name>.index`` lines ``headword<TAB>offset<TAB>length`` (dictd's base64 numbers) point into the
dictzip-compressed ``<name>.dict.dz`` (gzip-readable). An entry reads::

    creeping /kɹˈiːpɪŋ/
    kriechend, schleichend
          "a creeping process"  - ein schleichender Prozess
     see: {creep}
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

from training.data.generic import OnBad, _raise
from training.data.records import DataError, Pair

ROOT = Path("/usr/share/dictd")
ORIGIN = "freedict"
LICENSE = "GPL-2.0-or-later / GPL-3.0-or-later (FreeDict; see /usr/share/doc/dict-freedict-*/copyright)"
ISO = {"eng": "en", "deu": "de", "fra": "fr", "spa": "es", "ita": "it", "por": "pt"}
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_EXAMPLE = re.compile(r'^\s+"(?P<src>[^"]+)"\s+-\s+(?P<tgt>.+)$')
_ANNOTATION = re.compile(r"<[^>]*>|\[[^\]]*\]|\([^)]*\)|\{[^}]*\}")
_NUMBER = re.compile(r"^\d+\.\s*")


def _number(text: str) -> int:
    n = 0
    for ch in text:
        k = _B64.find(ch)
        if k < 0:
            raise ValueError(ch)
        n = n * 64 + k
    return n


def dictionaries(root: Path = ROOT, langs: set[str] | None = None) -> list[tuple[str, str, str]]:
    """``(name, src_lang, tgt_lang)`` of each installed dictionary between English and one of ``langs``."""
    found = []
    for index in sorted(root.glob("freedict-*.index")):
        name = index.name[len("freedict-") : -len(".index")]
        a, _, b = name.partition("-")
        src, tgt = ISO.get(a), ISO.get(b)
        if src and tgt and "en" in (src, tgt) and (langs is None or {src, tgt} - {"en"} <= langs):
            found.append((name, src, tgt))
    return found


def _clean(text: str) -> str:
    return " ".join(_ANNOTATION.sub(" ", text).split()).strip(" ,;")


def _translations(line: str, most: int) -> list[str]:
    out: list[str] = []
    for part in _ANNOTATION.sub(" ", _NUMBER.sub("", line.strip())).split(","):  # "<masc, n>" holds a comma
        cleaned = _clean(part)
        if cleaned and cleaned not in out:
            out.append(cleaned)
        if len(out) >= most:
            break
    return out


def parse_entry(text: str, most: int = 2) -> tuple[str, list[str], list[tuple[str, str]]]:
    """``(headword, first translations, example phrase pairs)`` of one entry's text."""
    lines = text.split("\n")
    head = _clean(lines[0].split(" /", 1)[0])
    translations: list[str] = []
    examples: list[tuple[str, str]] = []
    for line in lines[1:]:
        if m := _EXAMPLE.match(line):
            examples.append((m["src"].strip(), _clean(m["tgt"])))
        elif line.strip() and not line[0].isspace() and len(translations) < most:
            translations += _translations(line, most - len(translations))
    return head, translations, examples


def read(
    name: str, src_lang: str, tgt_lang: str, root: Path = ROOT, *, most: int = 2, on_bad: OnBad = _raise
) -> Iterator[Pair]:
    """Pairs of one dictionary: headword -> each of its first ``most`` translations, then its example phrases."""
    index, data = root / f"freedict-{name}.index", root / f"freedict-{name}.dict.dz"
    try:
        body = gzip.decompress(data.read_bytes())
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{data}: not a readable dictzip file ({e})") from e
    with index.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                head, offset, length = raw.decode("utf-8").rstrip("\n").split("\t")[:3]
                start, size = _number(offset), _number(length)
                entry = body[start : start + size].decode("utf-8")
            except (UnicodeDecodeError, ValueError) as e:
                on_bad(DataError(f"{index}:{number}: not a dictd index line ({e})"))
                continue
            if head.startswith("00database") or start + size > len(body):
                if not head.startswith("00database"):
                    on_bad(DataError(f"{index}:{number}: points past the end of {data.name}"))
                continue
            word, translations, examples = parse_entry(entry, most)
            if not word:
                continue
            for t in translations:
                yield Pair(ORIGIN, name, src_lang, tgt_lang, word, t)
            for s, t in examples:
                if s and t:
                    yield Pair(ORIGIN, f"{name}-examples", src_lang, tgt_lang, s, t)
