"""Human summaries printed at the end of a run (no Spark: read from manifest.json)."""

from __future__ import annotations

import json
from pathlib import Path


def release_summary(release_dir: str | Path) -> str:
    """A few lines: samples, variants, shards, batches and where the release is."""
    release_dir = Path(release_dir)
    m = json.loads((release_dir / "manifest.json").read_text())
    shards = m["shards"]
    sizes = [s["n_variants"] for s in shards] or [0]
    lines = [
        f"callset release {m['release']} ({m['reference_genome']}) at {release_dir.resolve()}",
        f"  samples:  {m['n_samples']} (withdrawn left out: {m.get('n_withdrawn_excluded', 0)})",
        f"  variants: {m['n_variants']} (multi-allelic sites split)",
        f"  shards:   {len(shards)} dense MatrixTables, {min(sizes)}-{max(sizes)} variants each",
        f"  batches:  {', '.join(m['input_batches'])}",
        f"  VDS:      {release_dir.resolve() / m['vds']['path']}",
        f"  files:    {len(m['files'])} listed with sha256 in manifest.json",
    ]
    return "\n".join(lines)


def write_release_report(release_dir: str | Path, out: str | Path) -> None:
    """Markdown for Snakemake's report: :func:`release_summary` and the release notes."""
    release_dir = Path(release_dir)
    notes = release_dir / "RELEASE_NOTES.md"
    text = "```\n" + release_summary(release_dir) + "\n```\n\n" + (notes.read_text() if notes.is_file() else "")
    Path(out).write_text(text)
