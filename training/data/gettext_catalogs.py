"""English -> X message pairs from gettext catalogs (``.mo``/``.po``), with UI markup stripped.

Why a module of its own: catalogs carry accelerators (``_Open``, ``&File``), plural forms, fuzzy entries and
headers that must not reach training; placeholders (``%s``, ``%(name)s``, ``{0}``) are kept verbatim, because a
translation service must carry them through.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polib

from training.data.records import DataError, Pair

# Desktop-application catalogs stay out of training: they are the out-of-domain evaluation set.
DESKTOP_DOMAINS = re.compile(
    r"^(gtk|glib|gdk|gnome|kde|k[a-z]+5|plasma|xfce|xdg-|at-spi|atk|gsettings|gstreamer|gst-|packagekit|polkit|"
    r"shared-mime-info|xkeyboard|avahi|software-properties|appstream|nautilus|evince|totem|libgweather|cheese|"
    r"gedit|mutter|metacity|notification|pulseaudio|network-manager|nm-|libsoup|json-glib|vte|webkit|tracker)",
    re.IGNORECASE,
)
_ACCEL = re.compile(r"(?<![\w&_])[_&](?=\w)")
_TAGS = re.compile(r"</?(b|i|u|big|small|tt|span|a)\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Catalog:
    path: Path
    domain: str
    lang: str
    package: str  # "debian:/usr/share/locale" or "pypi:django"


def is_desktop(domain: str) -> bool:
    return bool(DESKTOP_DOMAINS.match(domain))


def split_of_domain(domain: str) -> str:
    """Whole domains go to dev/test by a stable hash, so no catalog leaks across splits."""
    bucket = int(hashlib.sha1(domain.encode()).hexdigest(), 16) % 20
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def strip_markup(text: str) -> str:
    text = _TAGS.sub("", text)
    text = _ACCEL.sub("", text)
    text = text.replace("\\n", " ")
    return " ".join(text.split())


def find_catalogs(root: Path, langs: set[str], package: str) -> list[Catalog]:
    """Catalogs under ``root/<lang>/LC_MESSAGES/*.mo|po`` (both Debian's and Django's layout)."""
    found: list[Catalog] = []
    for lang in sorted(langs):
        for path in sorted(root.glob(f"**/{lang}/LC_MESSAGES/*.[mp]o")):
            domain = path.stem
            if package.startswith("pypi:"):
                domain = f"{package[5:]}-{path.parent.parent.parent.parent.name}-{domain}"
            found.append(Catalog(path, domain, lang, package))
    return found


def read_catalog(cat: Catalog) -> Iterator[Pair]:
    try:
        entries = polib.mofile(str(cat.path)) if cat.path.suffix == ".mo" else polib.pofile(str(cat.path))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{cat.path}: not a readable gettext catalog: {e}") from e
    for entry in entries:
        if entry.obsolete or "fuzzy" in entry.flags or not entry.msgid:
            continue
        target = entry.msgstr or (entry.msgstr_plural or {}).get(0, "")
        src, tgt = strip_markup(entry.msgid), strip_markup(target)
        if src and tgt:
            yield Pair("gettext", cat.domain, "en", cat.lang, src, tgt)
