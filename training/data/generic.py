"""User-supplied parallel files: TSV (``source<TAB>target``), JSONL (``{"source","target"}``) and TMX.

Bad lines stop the build with the file and line named, unless the caller counts and skips them (``--skip-bad``).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

from training.data.records import DataError, Pair

OnBad = Callable[[DataError], None]


def _raise(error: DataError) -> None:
    raise error


def _lines(path: Path, on_bad: OnBad) -> Iterator[tuple[int, str]]:
    """Numbered UTF-8 lines; a line that does not decode goes to ``on_bad`` (which raises unless skipping)."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                on_bad(DataError(f"{path}:{number}: not UTF-8 ({e.reason})"))


def read_tsv(path: Path, src_lang: str, tgt_lang: str, on_bad: OnBad = _raise) -> Iterator[Pair]:
    for number, line in _lines(path, on_bad):
        if not line.strip():
            continue
        if "\t" not in line:
            on_bad(DataError(f"{path}:{number}: no tab between source and target"))
            continue
        src, tgt = line.split("\t", 1)
        yield Pair("tsv", path.stem, src_lang, tgt_lang, src.strip(), tgt.split("\t")[0].strip())


def read_jsonl(path: Path, src_lang: str, tgt_lang: str, on_bad: OnBad = _raise) -> Iterator[Pair]:
    for number, line in _lines(path, on_bad):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            src, tgt = str(row["source"]), str(row["target"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            on_bad(DataError(f"{path}:{number}: not a JSON object with 'source' and 'target' ({e})"))
            continue
        yield Pair("jsonl", path.stem, row.get("source_lang", src_lang), row.get("target_lang", tgt_lang), src, tgt)


def read_tmx(path: Path, src_lang: str, tgt_lang: str, on_bad: OnBad = _raise) -> Iterator[Pair]:
    """Translation units that hold both languages (``xml:lang`` compared on its primary subtag)."""
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise DataError(f"{path}:{e.position[0]}: not well-formed TMX ({e})") from e
    for tu in root.iter("tu"):
        segs: dict[str, str] = {}
        for tuv in tu.iter("tuv"):
            lang = (tuv.get(xml_lang) or tuv.get("lang") or "").split("-")[0].split("_")[0].lower()
            seg = tuv.find("seg")
            if lang and seg is not None:
                segs[lang] = "".join(seg.itertext()).strip()
        if segs.get(src_lang) and segs.get(tgt_lang):
            yield Pair("tmx", path.stem, src_lang, tgt_lang, segs[src_lang], segs[tgt_lang])


READERS: dict[str, Callable[..., Iterator[Pair]]] = {".tsv": read_tsv, ".jsonl": read_jsonl, ".tmx": read_tmx}
