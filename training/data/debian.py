"""Which Debian package, at which version, installed each catalog under ``/usr/share/locale``.

Why: those catalogs change whenever a package is installed on the machine, so "debian" alone says nothing about
which corpus a build saw; the manifest records the packages and versions behind the catalogs it read, and a
fingerprint of the files, so that two builds on different images can be told apart and compared.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

DPKG = Path("/var/lib/dpkg")


def installed_versions(status: Path) -> dict[str, str]:
    """Package -> version, from dpkg's ``status`` file (RFC 822-style stanzas)."""
    versions: dict[str, str] = {}
    package = None
    for line in status.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Package: "):
            package = line[9:].strip()
        elif line.startswith("Version: ") and package:
            versions[package] = line[9:].strip()
    return versions


def owners(paths: Iterable[Path], dpkg: Path = DPKG) -> dict[str, str]:
    """The Debian package (``name=version``) that installed each of ``paths``, keyed by path; paths no package
    owns are left out, and without a dpkg database (not Debian) the answer is empty."""
    wanted = {str(p) for p in paths}
    info = dpkg / "info"
    if not wanted or not info.is_dir():
        return {}
    versions = installed_versions(dpkg / "status") if (dpkg / "status").is_file() else {}
    found: dict[str, str] = {}
    for listing in sorted(info.glob("*.list")):
        name = listing.stem.split(":")[0]  # "pkg:amd64.list" for multi-arch packages
        for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
            if line in wanted:
                found[line] = f"{name}={versions.get(name, 'unknown')}"
    return found
