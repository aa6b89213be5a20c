"""Real monolingual text in German, Spanish and Italian from Debian's ``fortunes-de/-es/-it``: sayings, jokes,
anecdotes, recipes, split into sentences for back-translation (``training.data.backtranslate``).

Why fortunes: they are the everyday prose in those languages that this machine has offline (kitchen, family,
work, small talk), unlike the Bible's and the catalogs' registers. Cookie files are plain UTF-8 text whose entries
end at a line holding ``%``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from training.data.generic import OnBad, _raise
from training.data.records import DataError

ROOT = Path("/usr/share/games/fortunes")
PACKAGES = {"de": "fortunes-de", "es": "fortunes-es", "it": "fortunes-it"}
LICENSE = "public domain / free for any use (see /usr/share/doc/fortunes-*/copyright)"
MIN_WORDS, MAX_WORDS = 4, 30
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"„»«¿¡A-ZÄÖÜÁÉÍÓÚÀÈÌÒÙ])")
_LETTERS = re.compile(r"[^\W\d_]")


def cookie_files(lang: str, root: Path = ROOT) -> list[Path]:
    """The cookie files of one language (not the ``.dat`` indexes, not the ``.u8`` links to the same files)."""
    folder = root / lang
    if not folder.is_dir():
        raise DataError(f"{folder}: no fortunes for {lang} (apt-get install {PACKAGES.get(lang, 'fortunes-' + lang)})")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink() and p.suffix != ".dat")


def sentences(path: Path, on_bad: OnBad = _raise) -> Iterator[str]:
    """Sentences of one cookie file that look like prose: enough words, mostly letters (no ASCII art, no
    ingredient tables)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        on_bad(DataError(f"{path}: not UTF-8 ({e.reason})"))
        return
    for cookie in re.split(r"^%\s*$", text, flags=re.MULTILINE):
        joined = " ".join(cookie.split())
        for sentence in _SPLIT.split(joined):
            sentence = sentence.strip(" -–—\"'")
            words = sentence.split()
            if not MIN_WORDS <= len(words) <= MAX_WORDS or sentence[-1:] not in ".!?":
                continue
            if len(_LETTERS.findall(sentence)) < 0.75 * len(sentence.replace(" ", "")):
                continue
            yield sentence


def read(lang: str, root: Path = ROOT, on_bad: OnBad = _raise) -> list[tuple[str, str]]:
    """``(group, sentence)`` of every cookie file of ``lang``, each sentence once."""
    seen: set[str] = set()
    out = []
    for path in cookie_files(lang, root):
        for s in sentences(path, on_bad):
            if s not in seen:
                seen.add(s)
                out.append((f"fortunes-{lang}-{path.name}", s))
    return out
