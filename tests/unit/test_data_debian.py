"""The manifest's record of the machine's catalogs: the Debian packages behind them and a fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

polib = pytest.importorskip("polib")

from training.data import debian  # noqa: E402
from training.data.build import build  # noqa: E402


def test_owners_name_the_package_and_version_behind_each_file(tmp_path: Path) -> None:
    dpkg = tmp_path / "dpkg"
    (dpkg / "info").mkdir(parents=True)
    (dpkg / "status").write_text(
        "Package: grep\nStatus: install ok installed\nVersion: 3.8-5\n\n"
        "Package: libc-bin\nArchitecture: amd64\nVersion: 2.36-9\n\n",
        encoding="utf-8",
    )
    (dpkg / "info" / "grep.list").write_text("/usr\n/usr/share/locale/de/LC_MESSAGES/grep.mo\n", encoding="utf-8")
    (dpkg / "info" / "libc-bin:amd64.list").write_text("/usr/share/locale/de/LC_MESSAGES/libc.mo\n", encoding="utf-8")
    wanted = [Path(f"/usr/share/locale/de/LC_MESSAGES/{n}.mo") for n in ("grep", "libc", "local")]
    assert debian.owners(wanted, dpkg) == {
        "/usr/share/locale/de/LC_MESSAGES/grep.mo": "grep=3.8-5",
        "/usr/share/locale/de/LC_MESSAGES/libc.mo": "libc-bin=2.36-9",
    }  # a file no package installed is left out
    assert debian.owners(wanted, tmp_path / "no-dpkg") == {}  # not Debian: nothing known


def test_the_manifest_fingerprints_the_catalogs_it_read(tmp_path: Path) -> None:
    locale = tmp_path / "locale" / "de" / "LC_MESSAGES"
    locale.mkdir(parents=True)
    po = polib.POFile()
    po.append(polib.POEntry(msgid="Open the file", msgstr="Datei öffnen"))
    po.save_as_mofile(str(locale / "demo.mo"))

    def gettext_source(out: str) -> dict[str, object]:
        build(tmp_path / out, ("en", "de"), locale_dir=tmp_path / "locale", pypi_packages=(), bible_books={57})
        manifest = json.loads((tmp_path / out / "manifest.json").read_text(encoding="utf-8"))
        [source] = [s for s in manifest["sources"] if s["name"] == "gettext"]
        return source  # type: ignore[no-any-return]

    first = gettext_source("a")
    assert first["catalogs"] == 1 and first["unowned_catalogs"] == 1 and first["debian_packages"] == []
    assert gettext_source("b")["catalogs_sha256"] == first["catalogs_sha256"]  # same files, same print
    po.append(polib.POEntry(msgid="Close the file", msgstr="Datei schließen"))
    po.save_as_mofile(str(locale / "demo.mo"))
    assert gettext_source("c")["catalogs_sha256"] != first["catalogs_sha256"]
