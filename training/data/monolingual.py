"""Real monolingual text from Debian's fortune cookies: sayings, jokes, anecdotes, recipes, split into sentences.
German, Spanish, Italian and Portuguese (``fortunes-de/-es/-it/-br``) go to back-translation
(``training.data.backtranslate``); English (``fortunes``, ``fortunes-min``) goes through the Apertium teacher beside
WordNet's sentences (``training.data.general``).

Why fortunes: they are the everyday prose that this machine has offline (kitchen, family, work, small talk), unlike
the Bible's and the catalogs' registers. Cookie files are plain UTF-8 text whose entries end at a line holding
``%``. The German, Spanish and Italian packages keep their files in a folder named for the language; the English and
Portuguese ones put theirs straight in ``ROOT``, beside fortunes-it's, so those are told apart by dpkg's file lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from training.data.debian import DPKG
from training.data.generic import OnBad, _raise
from training.data.records import DataError

ROOT = Path("/usr/share/games/fortunes")
PACKAGES = {"de": "fortunes-de", "es": "fortunes-es", "it": "fortunes-it", "pt": "fortunes-br", "en": "fortunes"}
IN_ROOT = {"en": ("fortunes", "fortunes-min"), "pt": ("fortunes-br",)}  # packages whose files lie straight in ROOT
LICENSE = "public domain / free for any use (see /usr/share/doc/fortunes-*/copyright)"
MIN_WORDS, MAX_WORDS = 4, 30
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"„»«¿¡A-ZÄÖÜÁÉÍÓÚÀÈÌÒÙ])")
_LETTERS = re.compile(r"[^\W\d_]")


def package(origin: str) -> str | None:
    """The Debian package an origin such as ``fortunes-pt`` was read from (``fortunes-br``); None for others."""
    lang = origin.removeprefix("fortunes-")
    return PACKAGES.get(lang) if lang != origin else None


def cookie_files(lang: str, root: Path = ROOT, dpkg: Path = DPKG) -> list[Path]:
    """The cookie files of one language (not the ``.dat`` indexes, not the ``.u8`` links to the same files)."""
    install = f"apt-get install {' '.join(IN_ROOT.get(lang, (PACKAGES.get(lang, 'fortunes-' + lang),)))}"
    if lang in IN_ROOT:
        listed = {
            Path(line)
            for package in IN_ROOT[lang]
            if (dpkg / "info" / f"{package}.list").is_file()
            for line in (dpkg / "info" / f"{package}.list").read_text(encoding="utf-8").splitlines()
        }
        candidates = [root / p.name for p in listed if p.parent == ROOT]
        found = sorted(p for p in candidates if p.is_file() and not p.is_symlink() and p.suffix not in (".dat", ".u8"))
        if not found:
            raise DataError(f"{root}: no fortunes for {lang} ({install})")
        return found
    folder = root / lang
    if not folder.is_dir():
        raise DataError(f"{folder}: no fortunes for {lang} ({install})")
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


def read(lang: str, root: Path = ROOT, on_bad: OnBad = _raise, dpkg: Path = DPKG) -> list[tuple[str, str]]:
    """``(group, sentence)`` of every cookie file of ``lang``, each sentence once."""
    seen: set[str] = set()
    out = []
    for path in cookie_files(lang, root, dpkg):
        for s in sentences(path, on_bad):
            if s not in seen:
                seen.add(s)
                out.append((f"fortunes-{lang}-{path.name}", s))
    return out
