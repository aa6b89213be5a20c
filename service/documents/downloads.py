"""Translated files kept for a while under ``XLT_DATA_DIR/translated_files`` for LibreTranslate's download URL.

Why files and not memory: LibreTranslate's ``POST /translate_file`` answers a URL, and the client fetches it with
a second request, which may come a while later (or, with replicas sharing the data volume, to another replica).
Names are ``<32 hex>.<original name>``, as LibreTranslate's; anything else is refused before touching the disk.
Files older than ``KEEP_S`` are removed whenever a new one is written (LibreTranslate sweeps on a timer).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

KEEP_S = 30 * 60
FOLDER = "translated_files"
_NAME = re.compile(r"^[0-9a-f]{32}\.[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def safe_name(filename: str) -> str:
    """A file name without folders or odd characters (LibreTranslate's ``secure_filename`` in spirit)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename.replace("\\", "/")).name).strip("._") or "file"
    return base[-200:]


def save(data_dir: Path, filename: str, content: bytes, now: float | None = None) -> str:
    """Store ``content``; the stored name, for the download URL."""
    folder = data_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time() if now is None else now
    for old in folder.iterdir():
        try:
            if old.is_file() and now - old.stat().st_mtime > KEEP_S:
                old.unlink()
        except OSError:  # removed meanwhile by another replica
            continue
    name = f"{uuid.uuid4().hex}.{safe_name(filename)}"
    partial = folder / f".{name}.part"
    partial.write_bytes(content)
    os.replace(partial, folder / name)  # never a half-written download
    return name


def load(data_dir: Path, name: str) -> bytes | None:
    """The stored file's bytes, or None when the name is not one of ours or has expired."""
    if not _NAME.match(name):
        return None
    try:
        return (data_dir / FOLDER / name).read_bytes()
    except OSError:
        return None


def download_name(name: str) -> str:
    return name.split(".", 1)[1]
