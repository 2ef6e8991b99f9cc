"""Intake of one genome-center batch: validate every file, decide accept/reject per sample (with every
reason found), register the decisions and research IDs, and write the batch's report.

Outputs in ``<results>/intake/<batch_id>/``:

- ``report.tsv`` — ``sample_id, status, reasons`` for every manifest row (the center-facing report);
- ``accepted.tsv`` — what joint calling needs for accepted samples (private: uses center sample IDs);
- ``gvcf/`` — links to accepted gVCFs with their index, or renamed-contig copies when
  ``contig_recoding`` applies, so joint calling never depends on the inbox's index files.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callset import checks
from callset.manifest import MANIFEST_NAME, ManifestRow, read_manifest, resolve_member
from callset.reference import Reference, load_reference
from callset.registry import Decision, Registry

log = logging.getLogger(__name__)

REPORT_COLUMNS = ["sample_id", "status", "reasons"]
ACCEPTED_COLUMNS = [
    "sample_id",
    "research_id",
    "batch_id",
    "gvcf",
    "gvcf_md5",
    "cram",
    "reported_sex",
    "mean_coverage",
    "genome_coverage_20x",
    "contamination",
    "aligned_q30_bases",
    "array_concordance",
    "resubmission",
    "n_records",
    "extents",
]

#: All of Us genome-center contract defaults; ``None`` switches a check off.
DEFAULT_THRESHOLDS: dict[str, float | None] = {
    "min_mean_coverage": 30.0,
    "min_genome_coverage_20x": 0.90,
    "min_aligned_q30_bases": 8e10,
    "max_contamination": 0.03,
    "min_array_concordance": 0.95,
}


@dataclass
class SampleResult:
    row: ManifestRow
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gvcf: Path | None = None
    gvcf_md5: str | None = None
    cram: Path | None = None
    scan: checks.GvcfScan | None = None

    @property
    def accepted(self) -> bool:
        return not self.reasons


@dataclass
class IntakeResult:
    batch_id: str
    samples: list[SampleResult]
    research_ids: dict[str, str]

    @property
    def n_accepted(self) -> int:
        return sum(s.accepted for s in self.samples)

    def summary(self) -> str:
        lines = [
            f"intake {self.batch_id}: {len(self.samples)} samples, {self.n_accepted} accepted, "
            f"{len(self.samples) - self.n_accepted} rejected"
        ]
        for s in self.samples:
            if not s.accepted:
                lines.append(f"  REJECTED {s.row.sample_id or '(line ' + str(s.row.line) + ')'}: {'; '.join(s.reasons)}")
        return "\n".join(lines)


def check_metrics(row: ManifestRow, thresholds: Mapping[str, float | None], *, require: bool) -> list[str]:
    """Center-reported metrics against thresholds; missing values fail only when ``require``."""
    specs = [
        ("mean_coverage", "min_mean_coverage", "mean coverage", ">="),
        ("genome_coverage_20x", "min_genome_coverage_20x", "fraction of genome at 20x", ">="),
        ("aligned_q30_bases", "min_aligned_q30_bases", "aligned Q30 bases", ">="),
        ("contamination", "max_contamination", "contamination", "<="),
        ("array_concordance", "min_array_concordance", "array concordance", ">="),
    ]
    out = []
    for col, key, label, op in specs:
        limit = thresholds.get(key)
        value = row.get(col)
        if limit is None:
            continue
        if value is None:
            if require and col != "array_concordance":
                out.append(f"{label} ({col}) not provided but required")
            continue
        ok = value >= limit if op == ">=" else value <= limit
        if not ok:
            out.append(f"{label} ({col}) {value:g} fails threshold {op} {limit:g}")
    return out


def _check_sample(
    row: ManifestRow,
    *,
    batch_dir: Path,
    manifest: Path,
    reference: Reference,
    contig_recoding: Mapping[str, str],
    thresholds: Mapping[str, float | None],
    require_metrics: bool,
    registry: Registry,
) -> SampleResult:
    res = SampleResult(row=row, reasons=list(row.problems))
    sid = row.sample_id
    where = f"{manifest}: line {row.line}"
    rel = row.get("gvcf")
    if rel:
        gvcf, why = resolve_member(batch_dir, rel)
        if why:
            res.reasons.append(f"{where}, column gvcf: {why}")
        else:
            assert gvcf is not None
            missing = checks.check_present(gvcf, "gVCF")
            if missing:
                res.reasons.append(f"{where}, column gvcf: {missing[0]}")
            else:
                res.gvcf = gvcf
    if res.gvcf is not None:
        res.gvcf_md5 = checks.md5sum(res.gvcf)
        want = row.get("gvcf_md5")
        if want and want != res.gvcf_md5:
            res.reasons.append(f"{res.gvcf}: md5 {res.gvcf_md5} does not match manifest gvcf_md5 {want}")
        res.reasons.extend(checks.check_bgzf_eof(res.gvcf))
        if sid:
            res.scan = checks.scan_gvcf(res.gvcf, sample_id=sid, reference=reference, contig_recoding=contig_recoding)
            res.reasons.extend(res.scan.problems)
            res.notes.extend(res.scan.notes)
    rel_cram = row.get("cram")
    if rel_cram:
        cram, why = resolve_member(batch_dir, rel_cram)
        if why:
            res.reasons.append(f"{where}, column cram: {why}")
        else:
            assert cram is not None
            missing = checks.check_present(cram, "CRAM")
            res.reasons.extend(f"{where}, column cram: {m}" for m in missing)
            if not missing:
                res.cram = cram
    res.reasons.extend(f"{where}: {m}" for m in check_metrics(row, thresholds, require=require_metrics))
    # across batches
    if sid:
        prior = registry.participant(sid)
        if prior is not None and prior.batch_id != batch_dir.name and row.get("resubmission") != "yes":
            res.reasons.append(
                f"{where}: sample_id {sid!r} was already accepted in batch {prior.batch_id} "
                "(set resubmission=yes to replace it deliberately)"
            )
    if res.gvcf_md5:
        dup = registry.accepted_file_with_md5(res.gvcf_md5)
        if dup is not None and dup[1] != sid:
            res.reasons.append(
                f"{res.gvcf}: identical file (md5 {res.gvcf_md5}) already accepted as {dup[1]} in batch {dup[0]}"
            )
    return res


def _stage_gvcf(res: SampleResult, dest_dir: Path, contig_recoding: Mapping[str, str]) -> Path:
    """Put an accepted gVCF (+ index) where joint calling reads it: a symlink, or a recoded copy."""
    import pysam
    import pysam.bcftools

    assert res.gvcf is not None
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{res.row.sample_id}.g.vcf.gz"
    for p in (dest, Path(f"{dest}.tbi")):
        if p.is_symlink() or p.exists():
            p.unlink()
    if res.scan is not None and res.scan.needs_recoding:
        mapping = dest_dir / f"{res.row.sample_id}.rename.txt"
        mapping.write_text("".join(f"{a}\t{b}\n" for a, b in contig_recoding.items()))
        pysam.bcftools.annotate(
            "--rename-chrs", str(mapping), "-Oz", "-o", str(dest), str(res.gvcf), catch_stdout=False
        )
        mapping.unlink()
        pysam.tabix_index(str(dest), preset="vcf", force=True)
        res.notes.append(f"contigs renamed with contig_recoding into {dest}")
        return dest
    os.symlink(res.gvcf.resolve(), dest)
    src_index = Path(f"{res.gvcf}.tbi")
    if src_index.exists() and src_index.stat().st_mtime >= res.gvcf.stat().st_mtime:
        os.symlink(src_index.resolve(), f"{dest}.tbi")
    else:
        why = "missing" if not src_index.exists() else "older than the gVCF"
        os.unlink(dest)
        shutil.copyfile(res.gvcf, dest)
        pysam.tabix_index(str(dest), preset="vcf", force=True)
        res.notes.append(f"tabix index {why}: built one for the staged copy")
    return dest


def run_intake(
    batch_dir: str | Path,
    *,
    out_dir: str | Path,
    registry_path: str | Path,
    reference_genome: str = "GRCh38",
    contig_recoding: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float | None] | None = None,
    require_metrics: bool = False,
) -> IntakeResult:
    """Validate, decide, register and report one batch (see module docstring for outputs)."""
    batch_dir = Path(batch_dir)
    out_dir = Path(out_dir)
    batch_id = batch_dir.name
    manifest = batch_dir / MANIFEST_NAME
    rows = read_manifest(manifest)
    reference = load_reference(reference_genome)
    recoding = {str(k): str(v) for k, v in (contig_recoding or {}).items()}
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    registry = Registry(registry_path)
    log.info("intake %s: %d manifest rows", batch_id, len(rows))
    results = []
    for i, row in enumerate(rows, 1):
        res = _check_sample(
            row,
            batch_dir=batch_dir,
            manifest=manifest,
            reference=reference,
            contig_recoding=recoding,
            thresholds=limits,
            require_metrics=require_metrics,
            registry=registry,
        )
        log.info(
            "[%d/%d] %s: %s%s", i, len(rows), row.sample_id or f"line {row.line}",
            "accepted" if res.accepted else "rejected", "" if res.accepted else f" ({len(res.reasons)} reasons)",
        )
        results.append(res)
    staged: dict[str, Path] = {}
    for res in results:
        if res.accepted:
            staged[res.row.sample_id] = _stage_gvcf(res, out_dir / "gvcf", recoding)
    decisions = [
        Decision(
            sample_id=r.row.sample_id or f"<line {r.row.line}>",
            status="accepted" if r.accepted else "rejected",
            reasons=tuple(r.reasons),
            resubmission=r.row.get("resubmission") == "yes",
            files=tuple(
                (kind, str(p), md5, p.stat().st_size if p.exists() else None)
                for kind, p, md5 in (("gvcf", r.gvcf, r.gvcf_md5), ("cram", r.cram, r.row.get("cram_md5")))
                if p is not None
            ),
        )
        for r in results
    ]
    rids = registry.record_batch(batch_id, checks.md5sum(manifest), decisions)
    result = IntakeResult(batch_id=batch_id, samples=results, research_ids=rids)
    write_reports(result, out_dir, staged)
    log.info("%s", result.summary())
    return result


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def write_reports(result: IntakeResult, out_dir: Path, staged: Mapping[str, Path]) -> None:
    """Write ``report.tsv`` and ``accepted.tsv`` atomically (temp file, then rename)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [
        {"sample_id": s.row.sample_id, "status": "accepted" if s.accepted else "rejected",
         "reasons": "; ".join(r.replace("\t", " ").replace("\n", " ") for r in s.reasons)}
        for s in result.samples
    ]
    _write_tsv(out_dir / "report.tsv", REPORT_COLUMNS, rows)
    acc = []
    for s in result.samples:
        if not s.accepted:
            continue
        v = s.row.values
        acc.append({
            **{c: _fmt(v.get(c)) for c in ACCEPTED_COLUMNS if c in v},
            "sample_id": s.row.sample_id,
            "research_id": result.research_ids[s.row.sample_id],
            "batch_id": result.batch_id,
            "gvcf": str(staged[s.row.sample_id].absolute()),
            "gvcf_md5": s.gvcf_md5 or "",
            "cram": str(s.cram.absolute()) if s.cram else "",
            "n_records": str(s.scan.n_records if s.scan else ""),
            "extents": json.dumps(s.scan.extents if s.scan else {}, separators=(",", ":")),
        })
    _write_tsv(out_dir / "accepted.tsv", ACCEPTED_COLUMNS, acc)


def _write_tsv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, delimiter="\t", lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})
    tmp.replace(path)


def read_accepted(path: str | Path) -> list[dict[str, str]]:
    """Rows of an ``accepted.tsv`` (as strings)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))
