"""Files that link center sample IDs to research IDs: owner-only permissions, whatever the umask.

The private research-ID map (``<results>/private/``) and the intake registry (with SQLite's ``-wal`` and
``-shm`` files) let anyone who reads them map released research IDs back to center sample IDs. On a shared
cluster filesystem the usual umask (022) would make them world-readable, so they are created ``0600`` in a
``0700`` folder explicitly (README "What is private").
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and parents) if needed and make it ``0700``."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    os.chmod(p, PRIVATE_DIR_MODE)
    return p


def create_private_file(path: str | os.PathLike[str]) -> Path:
    """Make sure ``path`` exists and is ``0600`` (created so, never world-readable for a moment)."""
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # the umask may have removed bits; an older file may have had more
    finally:
        os.close(fd)
    return p


def write_private_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file + rename) with mode ``0600``."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "w") as f:
            fd = -1
            f.write(text)
    finally:
        if fd >= 0:
            os.close(fd)
    tmp.replace(p)
    return p
