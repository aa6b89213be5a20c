"""Catalogs read from downloaded wheels: found, split like an installed package's, recorded; bad wheels named."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

polib = pytest.importorskip("polib")

from training.cli import main  # noqa: E402
from training.data import gettext_catalogs, wheels  # noqa: E402
from training.data.build import build  # noqa: E402
from training.data.records import DataError, read_pairs  # noqa: E402

BOOKS = {57}  # one short Bible book keeps the build small


def make_wheel(folder: Path, name: str = "demoapp-1.2.0-py3-none-any.whl") -> Path:
    po = polib.POFile()
    po.append(polib.POEntry(msgid="Save the _invoice", msgstr="Rechnung _speichern"))
    po.append(polib.POEntry(msgid="Delete %(count)s events", msgstr="%(count)s Termine löschen"))
    catalog = folder / "django.po"
    po.save(str(catalog))
    po.save_as_mofile(str(folder / "django.mo"))
    wheel = folder / name
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(folder / "django.mo", "demoapp/locale/de/LC_MESSAGES/django.mo")
        z.write(catalog, "demoapp/locale/de/LC_MESSAGES/django.po")  # Django ships both; the pairs dedupe
        z.writestr("demoapp/__init__.py", "")
        z.writestr("../../escape/de/LC_MESSAGES/evil.po", catalog.read_text(encoding="utf-8"))
    return wheel


def test_a_wheels_catalogs_join_the_corpus_as_its_package(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path)
    manifest = build(tmp_path / "corpus", ("en", "de"), locale_dir=None, pypi_packages=(), wheel_files=[wheel],
                     bible_books=BOOKS)  # fmt: skip
    [source] = [s for s in manifest["sources"] if s.get("file") == str(wheel)]  # type: ignore[union-attr]
    assert source["package"] == "pypi:demoapp" and source["version"] == "1.2.0" and source["catalogs"] == 3
    assert len(source["sha256"]) == 64
    split = gettext_catalogs.split_of_domain("demoapp-demoapp-django")  # the installed package's domain
    rows = {(p.src, p.tgt) for p in read_pairs(tmp_path / "corpus" / f"{split}.tsv") if p.origin == "gettext"}
    wanted = {("Save the invoice", "Rechnung speichern"), ("Delete %(count)s events", "%(count)s Termine löschen")}
    assert rows == wanted
    assert not (tmp_path.parent / "escape").exists()  # a "../" member stayed inside the temporary folder


def test_a_corrupt_wheel_is_named_or_counted_when_skipped(tmp_path: Path) -> None:
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"broken-1.0-py3-none-any.whl"):
        build(tmp_path / "a", ("en", "de"), locale_dir=None, pypi_packages=(), wheel_files=[broken], bible_books=BOOKS)
    manifest = build(tmp_path / "b", ("en", "de"), locale_dir=None, pypi_packages=(), wheel_files=[broken],
                     bible_books=BOOKS, skip_bad=True)  # fmt: skip
    assert manifest["skipped"]["count"] == 1  # type: ignore[index]


def test_wheel_file_names() -> None:
    assert wheels.name_and_version(Path("Django_Oscar-4.2.1-py3-none-any.whl")) == ("django_oscar", "4.2.1")
    with pytest.raises(DataError, match="not a wheel"):
        wheels.name_and_version(Path("notes.txt"))


def test_the_cli_reads_every_wheel_in_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_wheel(tmp_path)
    out = tmp_path / "corpus"
    args = ["data", "build", "--out", str(out), "--langs", "en,de", "--no-system-catalogs", "--pypi", ""]
    assert main([*args, "--bible-books", "57", "--wheels", str(tmp_path)]) == 0
    packages = [s.get("package") for s in json.loads((out / "manifest.json").read_text())["sources"]]
    assert "pypi:demoapp" in packages
    assert main([*args, "--wheels", str(tmp_path / "corpus")]) == 2  # a folder without wheels is an error
    assert "no .whl file" in capsys.readouterr().err
