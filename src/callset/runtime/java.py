"""Find a Java runtime Hail 0.2 can use (11-17) and say what to install when there is none.

Hail 0.2.138 runs on Java 11 and 17 (17 prints a harmless "not supported" warning); a Java 25 JDK fails
(``getSubject is not supported``), so a ``JAVA_HOME`` pointing there must not be used.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from callset.errors import JavaError

log = logging.getLogger(__name__)

JVM_DIRS = (Path("/usr/lib/jvm"), Path("/usr/local/lib/jvm"), Path("/opt/java"))


def java_major(java: Path) -> int | None:
    """Major version of a ``java`` binary, or None when it does not run."""
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def _candidates() -> list[Path]:
    homes: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        homes.append(Path(os.environ["JAVA_HOME"]))
    for d in JVM_DIRS:
        if d.is_dir():
            homes.extend(sorted(p for p in d.iterdir() if p.is_dir() and not p.is_symlink()))
    return homes


def find_java_home() -> Path:
    """Return a JAVA_HOME whose ``java`` is a supported major version (17 preferred, then 11).

    The ``java`` on PATH is tried too. Raises :class:`JavaError` with install advice when none fits.
    """
    seen: dict[Path, int | None] = {}
    for home in _candidates():
        seen[home] = java_major(home / "bin" / "java")
    on_path = subprocess.run(["sh", "-c", "command -v java"], capture_output=True, text=True).stdout.strip()
    if on_path:
        home = Path(os.path.realpath(on_path)).parent.parent
        seen.setdefault(home, java_major(home / "bin" / "java"))
    for want in (17, 11):
        for home, major in seen.items():
            if major == want:
                return home
    found = ", ".join(f"{h} (Java {m})" for h, m in seen.items() if m) or "none"
    raise JavaError(
        "No Java 11 or 17 runtime found for Hail 0.2 (found: "
        f"{found}). Install one, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME "
        "to a Java 11/17 JDK. Java 21+ does not work with Hail 0.2.138."
    )


def ensure_java_home() -> Path:
    """Point JAVA_HOME (and PATH) at a supported Java for this process and its children."""
    home = find_java_home()
    if os.environ.get("JAVA_HOME") != str(home):
        log.info("using JAVA_HOME=%s", home)
    os.environ["JAVA_HOME"] = str(home)
    os.environ["PATH"] = f"{home / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return home


def main() -> int:
    """``python -m callset.runtime.java``: print the Java home to use, or explain and exit 1."""
    try:
        home = find_java_home()
    except JavaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(home)
    return 0


if __name__ == "__main__":
    sys.exit(main())
