"""gettext catalogs inside downloaded wheels (``pip download --no-deps -d DIR weblate pretix ...``).

Why: many PyPI applications ship their interface translations (Weblate, pretix, Wagtail, Plone), the domain the
service is weakest on, but installing them would pull their whole dependency trees into the training environment.
A wheel is a zip file, so only its catalogs are unpacked, into a temporary folder, and read like an installed
package's (the same ``pypi:NAME`` domains, so a wheel and its installed copy split alike).
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from training.data.records import DataError


def name_and_version(path: Path) -> tuple[str, str]:
    """PEP 427 file names: ``{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl``."""
    parts = path.name.removesuffix(".whl").split("-")
    if path.suffix != ".whl" or len(parts) < 5:
        raise DataError(f"{path}: not a wheel file name (NAME-VERSION-PY-ABI-PLATFORM.whl)")
    return parts[0].lower(), parts[1]


@contextmanager
def unpacked_catalogs(path: Path) -> Iterator[Path]:
    """A temporary folder holding the wheel's ``.../LC_MESSAGES/*.mo|po`` files at their paths in the wheel."""
    try:
        wheel = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path}: cannot read the wheel: {e}") from e
    with wheel, tempfile.TemporaryDirectory(prefix="xlt-wheel-") as tmp:
        members = [m for m in wheel.namelist() if "/LC_MESSAGES/" in m and m.endswith((".mo", ".po"))]
        wheel.extractall(tmp, members)  # zipfile drops absolute paths and "..": nothing lands outside tmp
        yield Path(tmp)
