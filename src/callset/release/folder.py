"""Open a release folder the way every `callset` command needs it, without Hail: is it a finished release?

Hail-free on purpose (importing Hail alone takes seconds): a mistyped folder is reported at once, and
before any JVM starts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from callset.errors import ReleaseError

#: manifest.json keys every command relies on
MANIFEST_KEYS = ("release", "reference_genome", "n_samples", "n_variants", "shards", "files")


def finished_release(path: str | Path) -> dict[str, Any]:
    """The ``manifest.json`` of the finished release in folder ``path``.

    :raises ReleaseError: one line naming the folder: missing (saying when a ``.<name>.partial`` of it is
        being written), not a folder, an unfinished ``.partial`` folder, not a release (no ``manifest.json``;
        lists the releases when given a results folder), or a ``manifest.json`` that is not a release's.
    """
    root = Path(path)
    partial = root.parent / f".{root.name}.partial"
    if not root.exists():
        extra = f" ({partial} exists: still being written, or its run was interrupted)" if partial.exists() else ""
        raise ReleaseError(f"{root}: no such release folder{extra}")
    if not root.is_dir():
        raise ReleaseError(f"{root}: not a folder (give a release folder, e.g. results/releases/v1)")
    if root.name.startswith(".") and root.name.endswith(".partial"):
        raise ReleaseError(f"{root}: an unfinished release (a .partial folder is still being written or was "
                           "abandoned); it is not a release")
    m = root / "manifest.json"
    if not m.is_file():
        if partial.exists():
            raise ReleaseError(f"{root}: no manifest.json: an unfinished release ({partial} exists: still being "
                               "written?)")
        hint = ""
        for releases in (root / "releases", root / "results" / "releases"):
            if releases.is_dir():
                names = sorted(p.name for p in releases.iterdir() if (p / "manifest.json").is_file())
                hint = f"; releases in {releases}: {', '.join(names) or 'none yet'}"
                break
        raise ReleaseError(f"{root}: not a release folder (no manifest.json){hint}")
    try:
        manifest = json.loads(m.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ReleaseError(f"{m}: not valid JSON ({e})") from None
    except OSError as e:
        raise ReleaseError(f"{m}: cannot be read: {e.strerror or e}") from None
    missing = [k for k in MANIFEST_KEYS if k not in manifest] if isinstance(manifest, dict) else list(MANIFEST_KEYS)
    if missing:
        raise ReleaseError(f"{m}: not a release manifest (no {', '.join(missing)})")
    return manifest
