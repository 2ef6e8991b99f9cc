"""``callset query``: one region (and optionally some samples) of a release, opening only the shards needed.

The shard intervals come from ``manifest.json``; shards whose interval does not overlap the region are
never opened. Output by extension: ``.vcf.bgz``/``.vcf.gz`` (bgzipped VCF + ``.tbi``) or ``.mt``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hail as hl

from callset.errors import ReleaseError

log = logging.getLogger(__name__)

REGION_RE = re.compile(r"^([^:]+):([0-9,]+)-([0-9,]+)$")


def parse_region(region: str) -> tuple[str, int, int]:
    """``chr22:10600000-10700000`` -> ``("chr22", 10600000, 10700000)`` (1-based, inclusive)."""
    m = REGION_RE.match(region.strip())
    if not m:
        raise ReleaseError(f"region {region!r}: expected CONTIG:START-END, e.g. chr22:10600000-10700000")
    contig, start, end = m.group(1), int(m.group(2).replace(",", "")), int(m.group(3).replace(",", ""))
    if start < 1 or end < start:
        raise ReleaseError(f"region {region!r}: need 1 <= START <= END")
    return contig, start, end


def overlapping_shards(
    manifest: Mapping[str, Any], contig: str, start: int, end: int, *, callset: str | None = None
) -> list[dict[str, Any]]:
    """Manifest entries of the shards (main, or of a smaller callset) whose interval overlaps the region."""
    if callset:
        cs = (manifest.get("callsets") or {}).get(callset)
        if cs is None:
            have = sorted(manifest.get("callsets") or {})
            raise ReleaseError(f"callset {callset!r} not in this release; have {have}")
        shards = cs["shards"]
    else:
        shards = manifest["shards"]
    return [s for s in shards if s["contig"] == contig and s["start"] <= end and start <= s["end"]]


def read_sample_list(path: str | Path) -> list[str]:
    """Research IDs, one per line (a ``research_id`` header line and ``#`` comments are skipped)."""
    out = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and line != "research_id":
            out.append(line.split("\t")[0])
    return out


def query_region(
    release_dir: str | Path,
    region: str,
    *,
    samples: Sequence[str] | None = None,
    callset: str | None = None,
) -> hl.MatrixTable:
    """The dense MT rows of ``region`` (and columns ``samples`` when given) of a finished release."""
    from callset.release.verify import load_finished_manifest

    root = Path(release_dir)
    manifest = load_finished_manifest(root)
    contig, start, end = parse_region(region)
    shards = overlapping_shards(manifest, contig, start, end, callset=callset)
    log.info("region %s: %d of %d shards overlap: %s", region, len(shards), len(manifest["shards"]),
             ", ".join(s["path"] for s in shards) or "none")
    rg = manifest["reference_genome"]
    interval = hl.Interval(hl.Locus(contig, start, rg), hl.Locus(contig, end, rg), includes_end=True)
    if not shards:  # still return a correctly shaped, empty result: take the first shard's schema
        first = manifest["shards"][0] if manifest["shards"] else None
        if first is None:
            raise ReleaseError(f"{root}: the release has no shards")
        mt = hl.read_matrix_table(str(root / first["path"])).filter_rows(False)
    else:
        mts = [hl.read_matrix_table(str(root / s["path"])) for s in shards]
        mt = mts[0].union_rows(*mts[1:]) if len(mts) > 1 else mts[0]
        mt = hl.filter_intervals(mt, [interval])
    if samples is not None:
        have = set(mt.s.collect())
        unknown = sorted(set(samples) - have)
        if unknown:
            raise ReleaseError(f"{len(unknown)} requested samples are not in release {manifest['release']}: "
                               f"{unknown[:5]}")
        mt = mt.filter_cols(hl.literal(set(samples)).contains(mt.s))
    return mt


def write_query(mt: hl.MatrixTable, out: str | Path) -> str:
    """Write a query result: VCF (bgzipped + tabix) for ``.vcf.bgz``/``.vcf.gz``, MatrixTable for ``.mt``."""
    from callset.release.exports import VCF_METADATA, vcf_ready

    out = str(out)
    if out.endswith((".vcf.bgz", ".vcf.gz")):
        hl.export_vcf(vcf_ready(mt), out, metadata=VCF_METADATA, tabix=True)
        for crc in Path(out).parent.glob(f".{Path(out).name}*.crc"):
            crc.unlink()
        return "vcf"
    if out.endswith(".mt"):
        mt.write(out, overwrite=False)
        return "mt"
    raise ReleaseError(f"--out {out}: use a .vcf.bgz (or .vcf.gz) or a .mt path")
