"""General-domain training pairs: WordNet sentences through the Apertium teacher, FreeDict word and phrase pairs,
and back-translated monolingual text; each switched on by its own argument and recorded as a manifest source.

Why a module of its own: ``build`` reads the two original registers (Bible, catalogs) and splits them; these
sources go to training only, and need the system packages' versions and licences recorded beside them.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from training.data import backtranslate, ding, freedict, lohelp, monolingual, teacher, wordnet
from training.data.debian import DPKG, installed_versions
from training.data.generic import OnBad
from training.data.records import DataError, Pair

MAX_DICT_WORDS = 3  # a headword longer than this is a term, not a word of daily life
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def debian_versions(packages: Iterable[str], dpkg: Path = DPKG) -> dict[str, str]:
    """Installed version of each package, ``"not installed"`` for the others."""
    status = dpkg / "status"
    versions = installed_versions(status) if status.is_file() else {}
    return {p: versions.get(p, "not installed") for p in packages}


def everyday_vocabulary(sentences: Iterable[str], least: int = 3) -> Counter[str]:
    """Lower-case English words seen at least ``least`` times, with their counts: the filter that keeps a
    dictionary's everyday words ("house", "train station") and leaves out its hundreds of thousands of terms."""
    counts = Counter(w for s in sentences for w in _WORD.findall(s.lower()))
    return Counter({w: n for w, n in counts.items() if n >= least})


def teacher_pairs(
    langs: set[str],
    root: Path = wordnet.ROOT,
    *,
    glosses: bool = True,
    fortunes: bool = False,
    fortunes_root: Path = monolingual.ROOT,
    dpkg: Path = DPKG,
    on_bad: OnBad,
) -> tuple[list[Pair], dict[str, object]]:
    """WordNet's sentences (and with ``fortunes`` the English fortune cookies') through Apertium into each of
    ``langs`` it reaches; returns the pairs and the manifest source."""
    texts = [(f"wordnet-{s.kind}", s.text) for s in wordnet.read(root, glosses=glosses, on_bad=on_bad)]
    if fortunes:
        texts += monolingual.read("en", fortunes_root, on_bad, dpkg)
    seen: set[str] = set()
    unique = []
    for group, text in texts:
        if text not in seen:
            seen.add(text)
            unique.append((group, text))
    modes = sorted({m for lang in langs for m in teacher.CHAINS.get(lang, ())})
    if not teacher.available(modes):
        raise DataError(
            f"the teacher needs apertium with the modes {', '.join(modes)}: apt-get install "
            f"apertium {' '.join(teacher.PACKAGES)}"
        )
    report = teacher.TeacherReport()
    pairs = teacher.distill(unique, sorted(langs & set(teacher.CHAINS)), report)
    english = [wordnet.PACKAGE, *(monolingual.IN_ROOT["en"] if fortunes else ())]
    licence = {"wordnet": wordnet.LICENSE, "apertium": teacher.LICENSE}
    source: dict[str, object] = {
        "name": "wordnet+fortunes+apertium" if fortunes else "wordnet+apertium",
        "packages": debian_versions([*english, "apertium", *teacher.PACKAGES], dpkg),
        "licence": {**licence, "fortunes": monolingual.LICENSE} if fortunes else licence,
        "sentences": len(unique),
        "by_origin": dict(Counter(_origin(group) for group, _ in unique)),
        "glosses": glosses,
        "chains": {lang: list(teacher.CHAINS[lang]) for lang in sorted(report.kept)},
        "kept": report.kept,
        "dropped_marked": report.dropped,
    }
    return pairs, source


def dictionary_pairs(
    langs: set[str],
    vocabulary: Counter[str],
    root: Path = freedict.ROOT,
    *,
    most_words: int = 25000,
    most_examples: int = 40000,
    on_bad: OnBad,
) -> tuple[list[Pair], dict[str, object]]:
    """FreeDict pairs, English side first: of the English headwords of at most ``MAX_DICT_WORDS`` words all in
    ``vocabulary``, the ``most_words`` whose rarest word is most common (a dictionary lists its headwords
    alphabetically, not by use); and up to ``most_examples`` example phrases a dictionary (the large German ones
    have tens of thousands, all human translations)."""
    pairs: list[Pair] = []
    counts: dict[str, int] = {}
    found = freedict.dictionaries(root, langs)
    if not found:
        raise DataError(
            f"no FreeDict dictionary between English and {sorted(langs)} under {root} "
            "(apt-get install dict-freedict-eng-deu ...)"
        )
    for name, src, tgt in found:
        words: list[tuple[int, int, Pair]] = []
        examples: list[Pair] = []
        for p in freedict.read(name, src, tgt, root, on_bad=on_bad):
            p = p if p.src_lang == "en" else p.swapped()
            if p.group.endswith("-examples"):
                if len(examples) < most_examples and len(p.src.split()) <= 16:
                    examples.append(p)
                continue
            if src != "en":  # an X->English dictionary's headwords are inflected forms ("seist"): examples only
                continue
            found_words = _WORD.findall(p.src.lower())
            if found_words and len(p.src.split()) <= MAX_DICT_WORDS and all(w in vocabulary for w in found_words):
                words.append((min(vocabulary[w] for w in found_words), -len(words), p))
        chosen = [p for _, _, p in sorted(words, key=lambda x: (x[0], x[1]), reverse=True)[:most_words]]
        pairs += chosen + examples
        counts[name] = len(chosen) + len(examples)
    source = {
        "name": "freedict",
        "packages": debian_versions(f"dict-freedict-{name}" for name, _, _ in found),
        "licence": freedict.LICENSE,
        "pairs": counts,
        "most_words": most_words,
        "most_examples": most_examples,
    }
    return pairs, source


def ding_pairs(path: Path = ding.ROOT, dpkg: Path = DPKG, *, on_bad: OnBad) -> tuple[list[Pair], dict[str, object]]:
    """Ding's English -> German example sentences (``training.data.ding``), with the manifest source."""
    if not path.is_file():
        raise DataError(f"no Ding dictionary at {path} (apt-get install {ding.PACKAGE})")
    pairs = list(ding.read(path, on_bad=on_bad))
    source: dict[str, object] = {
        "name": "ding",
        "file": str(path),
        "sha256": _sha256(path),
        "packages": debian_versions([ding.PACKAGE], dpkg),
        "licence": ding.LICENSE,
        "pairs": len(pairs),
    }
    return pairs, source


def lohelp_pairs(
    langs: set[str], root: Path = lohelp.ROOT, dpkg: Path = DPKG, *, on_bad: OnBad
) -> tuple[list[Pair], dict[str, object]]:
    """LibreOffice help's English -> X paragraphs (``training.data.lohelp``) for each of ``langs``, with the
    manifest source."""
    targets = sorted(langs & set(lohelp.FOLDERS) - {"en"})  # English is the source side of every pair
    pairs = list(lohelp.read(targets, root, on_bad=on_bad))
    found = Counter(p.tgt_lang for p in pairs)
    counts = {lang: found[lang] for lang in targets}
    source: dict[str, object] = {
        "name": "lohelp",
        "root": str(root),
        "packages": debian_versions([lohelp.package(lang) for lang in ("en", *sorted(counts))], dpkg),
        "licence": lohelp.LICENSE,
        "pairs": counts,
    }
    return pairs, source


def backtranslation_pairs(files: Iterable[Path], on_bad: OnBad) -> tuple[list[Pair], list[dict[str, object]]]:
    """Rows written by ``xlt data backtranslate`` (origin ``backtranslation``, English side machine-made)."""
    pairs: list[Pair] = []
    sources: list[dict[str, object]] = []
    for path in files:
        rows = backtranslate.read(path, on_bad)
        pairs += rows
        origins = Counter(_origin(p.group) for p in rows)
        debian = [name for name in map(monolingual.package, origins) if name]
        sources.append(
            {
                "name": "backtranslation",
                "file": str(path),
                "sha256": _sha256(path),
                "pairs": len(rows),
                "by_origin": dict(origins),
                "packages": debian_versions(debian),
                "licence": monolingual.LICENSE if debian else "see where the file's text came from",
            }
        )
    return pairs, sources


def _origin(group: str) -> str:
    """``fortunes-de-kuchen`` -> ``fortunes-de``; ``wordnet-example`` -> ``wordnet-example``."""
    return "-".join(group.split("-")[:2])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
