"""``callset query``: one region (and optionally some samples) of a release, opening only the shards needed.

The shard intervals come from ``manifest.json``; shards whose interval does not overlap the region are
never opened. Output by extension: ``.vcf.bgz``/``.vcf.gz`` (bgzipped VCF + ``.tbi``) or ``.mt``.

:func:`check_query` checks everything a user can get wrong (the release, the region against the release's
reference genome, the sample list, the output path) without Hail, so a mistake costs no JVM start.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callset.errors import ReleaseError

if TYPE_CHECKING:
    import hail as hl

log = logging.getLogger(__name__)

REGION_RE = re.compile(r"^([^:]+):([0-9,]+)-([0-9,]+)$")


def parse_region(region: str, *, label: str = "region") -> tuple[str, int, int]:
    """``chr22:10600000-10700000`` -> ``("chr22", 10600000, 10700000)`` (1-based, inclusive)."""
    m = REGION_RE.match(region.strip())
    if not m:
        raise ReleaseError(f"{label} {region!r}: expected CONTIG:START-END, e.g. chr22:10600000-10700000")
    contig, start, end = m.group(1), int(m.group(2).replace(",", "")), int(m.group(3).replace(",", ""))
    if start < 1 or end < start:
        raise ReleaseError(f"{label} {region!r}: need 1 <= START <= END")
    return contig, start, end


OUT_SUFFIXES = (".vcf.bgz", ".vcf.gz", ".mt")


def check_region(manifest: Mapping[str, Any], region: str, *, label: str = "region") -> tuple[str, int, int]:
    """Parse ``region`` and check it against the release's reference genome (contig known, END within it).

    :raises ReleaseError: unparsable region, a contig the reference lacks (the message lists the reference's
        main contigs and the contigs the release has data on), or an END past the contig's end.
    """
    from callset.core.reference import load_reference

    contig, start, end = parse_region(region, label=label)
    ref = load_reference(manifest["reference_genome"])
    if contig not in ref.lengths:
        main = [c for c in ref.contigs if re.fullmatch(r"(chr)?([0-9]+|X|Y|M|MT)", c)]
        data = sorted({s["contig"] for s in manifest.get("shards", [])}, key=ref.rank)
        hint = next((f"; did you mean {c}?" for c in (f"chr{contig}", contig.removeprefix("chr"))
                     if c != contig and c in ref.lengths), "")
        raise ReleaseError(
            f"{label} {region!r}: contig {contig!r} is not in {ref.name}{hint} ({ref.name} has "
            f"{', '.join(main[:2])} ... {', '.join(main[-3:])} and {len(ref.contigs) - len(main)} other contigs; "
            f"this release has data on {', '.join(data) or 'no contig'})"
        )
    length = ref.lengths[contig]
    if end > length:
        raise ReleaseError(f"{label} {region!r}: END {end:,} is past the end of {contig} ({length:,} bp in {ref.name})")
    return contig, start, end


def read_sample_list(path: str | Path) -> list[str]:
    """Research IDs, one per line (a ``research_id`` header line and ``#`` comments are skipped).

    :raises ReleaseError: the file is missing, not a regular file, unreadable, not text, or lists no ID.
    """
    p = Path(path)
    if not p.exists():
        raise ReleaseError(f"{p}: no such file")
    if not p.is_file():
        raise ReleaseError(f"{p}: not a regular file")
    try:
        text = p.read_text()
    except UnicodeDecodeError as e:
        raise ReleaseError(f"{p}: not a text file of research IDs (byte {e.start} is not UTF-8)") from None
    except OSError as e:
        raise ReleaseError(f"{p}: cannot be read: {e.strerror or e}") from None
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and line != "research_id":
            out.append(line.split("\t")[0])
    if not out:
        raise ReleaseError(f"{p}: empty: no research ID (one per line) in it")
    return out


def release_samples(release_dir: str | Path) -> list[str] | None:
    """The research IDs of a release (``samples.tsv``), or None when the release has no such file."""
    p = Path(release_dir) / "samples.tsv"
    if not p.is_file():
        return None
    return [x for x in p.read_text().split()[1:] if x]


@dataclass
class QueryPlan:
    """A checked query: what to read and write, and a note when the region holds no data in this release."""

    manifest: dict[str, Any]
    contig: str
    start: int
    end: int
    shards: list[dict[str, Any]]
    samples: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def check_query(
    release_dir: str | Path,
    region: str,
    *,
    out: str | Path,
    samples_file: str | Path | None = None,
    callset: str | None = None,
) -> QueryPlan:
    """Check a query before Hail starts: a finished release, a region on its reference, a readable sample list
    of research IDs in the release, the callset, and an output path Hail can write (``.vcf.bgz``/``.vcf.gz``,
    or a ``.mt`` that does not exist yet).

    A contig of the reference with no shard in the release is not an error (its answer is 0 variants); the
    plan's ``notes`` say so.

    :raises ReleaseError: naming the argument and the problem.
    """
    from callset.release.folder import finished_release

    manifest = finished_release(release_dir)
    contig, start, end = check_region(manifest, region, label="--region")
    have = sorted(manifest.get("callsets") or {})
    if callset and callset not in have:
        raise ReleaseError(f"--callset {callset}: not in release {manifest['release']}; it has "
                           f"{', '.join(have) or 'no smaller callset'}")
    shards = overlapping_shards(manifest, contig, start, end, callset=callset)
    plan = QueryPlan(manifest=manifest, contig=contig, start=start, end=end, shards=shards)
    if samples_file is not None:
        try:
            plan.samples = read_sample_list(samples_file)
        except ReleaseError as e:
            raise ReleaseError(f"--samples {e}") from None
        released = release_samples(release_dir)
        unknown = sorted(set(plan.samples) - set(released)) if released is not None else []
        if unknown:
            raise ReleaseError(f"--samples {samples_file}: {len(unknown)} research IDs are not in release "
                               f"{manifest['release']}, e.g. {unknown[:5]}")
    out_s = str(out)
    if not out_s.endswith(OUT_SUFFIXES):
        raise ReleaseError(f"--out {out_s}: unknown output type; use a .vcf.bgz (or .vcf.gz) or a .mt path")
    if out_s.endswith(".mt") and Path(out_s).exists():
        raise ReleaseError(f"--out {out_s}: already exists (a MatrixTable is never overwritten)")
    parent = Path(out_s).absolute().parent
    if not parent.is_dir():
        raise ReleaseError(f"--out {out_s}: folder {parent} does not exist")
    if not shards:
        pool = manifest["callsets"][callset]["shards"] if callset else manifest["shards"]
        data = sorted({s["contig"] for s in pool})
        what = f"release {manifest['release']}" + (f" callset {callset}" if callset else "")
        if contig not in data:
            plan.notes.append(f"{contig} is in {manifest['reference_genome']} but has no variants in {what} (it has "
                              f"data on {', '.join(data) or 'no contig'}): the result has 0 variants")
        else:
            plan.notes.append(f"no variant of {what} lies in {region}: the result has 0 variants")
    return plan


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


def query_region(
    release_dir: str | Path,
    region: str,
    *,
    samples: Sequence[str] | None = None,
    callset: str | None = None,
) -> hl.MatrixTable:
    """The dense MT rows of ``region`` (and columns ``samples`` when given) of a finished release."""
    import hail as hl

    from callset.release.verify import load_finished_manifest

    root = Path(release_dir)
    manifest = load_finished_manifest(root)
    contig, start, end = check_region(manifest, region)
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
    import hail as hl

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
