"""Release notes: find the previous finished release and describe what changed (counts, never names)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hail as hl

log = logging.getLogger(__name__)


def find_previous_release(releases_dir: Path, release: str) -> Path | None:
    """The most recently created finished release under ``releases_dir`` other than ``release``."""
    found = []
    for d in releases_dir.iterdir() if releases_dir.is_dir() else []:
        m = d / "manifest.json"
        if d.name == release or d.name.startswith(".") or not m.is_file():
            continue
        try:
            found.append((json.loads(m.read_text()).get("created", ""), d.name, d))
        except json.JSONDecodeError:
            log.warning("%s: unreadable manifest, not a previous release", m)
    return max(found)[2] if found else None


def _release_rows(root: Path, manifest: Mapping[str, Any]) -> hl.Table | None:
    tables = [hl.read_matrix_table(str(root / s["path"])).rows() for s in manifest["shards"]]
    if not tables:
        return None
    tables = [t.select(filters=t.filters if "filters" in t.row else hl.missing(hl.tset(hl.tstr))) for t in tables]
    return tables[0].union(*tables[1:])


def compare_releases(old_root: Path, old: Mapping[str, Any], new_root: Path, new: Mapping[str, Any]) -> dict[str, Any]:
    """Samples added/removed (counts), variants added/removed and per-filter counts, old vs new."""
    def samples(root: Path) -> set[str]:
        return set((root / "samples.tsv").read_text().split()[1:])

    s_old, s_new = samples(old_root), samples(new_root)
    out: dict[str, Any] = {"samples_added": len(s_new - s_old), "samples_removed": len(s_old - s_new)}
    a, b = _release_rows(old_root, old), _release_rows(new_root, new)
    if a is None or b is None:
        out.update(variants_added=new["n_variants"] if a is None else 0, variants_removed=0 if a is None else
                   old["n_variants"])
        return out

    def filter_counts(t: hl.Table) -> dict[str, int]:
        flt = hl.coalesce(t.filters, hl.empty_set(hl.tstr))
        return dict(t.aggregate(hl.agg.explode(lambda f: hl.agg.counter(f), flt)))

    ka, kb = a.select(), b.select()
    out["variants_added"] = kb.anti_join(ka).count()
    out["variants_removed"] = ka.anti_join(kb).count()
    out["filters_old"] = filter_counts(a)
    out["filters_new"] = filter_counts(b)
    return out


def release_notes(manifest: Mapping[str, Any], diff: Mapping[str, Any] | None, previous: str | None) -> str:
    """RELEASE_NOTES.md: what the release holds and what changed since the previous one (counts only)."""
    lines = [f"# Release {manifest['release']}", "", f"Created {manifest['created']} ({manifest['reference_genome']}); "
             f"input batches: {', '.join(manifest['input_batches'])}.", "",
             "## Contents", "",
             f"- samples: {manifest['n_samples']}",
             f"- withdrawn participants left out: {manifest['n_withdrawn_excluded']}",
             f"- samples failing sample-QC hard filters left out: {manifest['n_hard_filtered_excluded']}"
             + ("" if manifest["sample_qc"]["applied"] else " (sample QC not run for this release)"),
             f"- variants (split): {manifest['n_variants']} in {len(manifest['shards'])} shards"]
    for name, cs in manifest.get("callsets", {}).items():
        note = f" — {cs['note']}" if cs.get("note") else ""
        lines.append(f"- smaller callset `{name}`: {cs['n_variants']} variants in {len(cs['shards'])} shards{note}")
    for name, why in manifest.get("callsets_skipped", {}).items():
        lines.append(f"- smaller callset `{name}` not written: {why}")
    if manifest.get("variant_qc_notes"):
        lines += ["", "## Notes on variant QC", ""] + [f"- {n}" for n in manifest["variant_qc_notes"]]
    lines += ["", "## Changes since the previous release", ""]
    if previous is None or diff is None:
        lines.append("First release: no previous release found.")
    else:
        lines += [f"Compared with `{previous}`:", "",
                  f"- samples added: {diff['samples_added']}",
                  f"- samples no longer released (withdrawn or failing QC; counted, not named): "
                  f"{diff['samples_removed']}",
                  f"- variants added: {diff['variants_added']}",
                  f"- variants removed: {diff['variants_removed']}"]
        fo, fn = diff.get("filters_old", {}), diff.get("filters_new", {})
        for f in sorted(set(fo) | set(fn)):
            lines.append(f"- variants with filter `{f}`: {fo.get(f, 0)} -> {fn.get(f, 0)}")
        if not (fo or fn):
            lines.append("- site filters: none in either release")
    return "\n".join(lines) + "\n"


