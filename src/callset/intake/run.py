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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callset.core.reference import Reference, load_reference
from callset.intake import checks, flavors
from callset.intake.identity import IdentitySettings, Panel, cram_gvcf_concordance, load_panel
from callset.intake.manifest import MANIFEST_NAME, ManifestRow, read_manifest, resolve_member
from callset.intake.registry import Decision, Registry

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
    "replaces_batch",
    "n_records",
    "extents",
    "notes",
    "gvcf_flavor",
]
DETAILS_COLUMNS = ["sample_id", "manifest_line", "status", "kind", "message"]

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
    cram_md5: str | None = None
    scan: checks.GvcfScan | None = None
    rebuild_index: bool = False
    replaces: str | None = None  # batch whose accepted sample this resubmission replaces
    flavor: flavors.FlavorInfo | None = None
    normalised: Path | None = None  # the gVCF rewritten in the GATK layout (joint-called instead of ``gvcf``)

    @property
    def accepted(self) -> bool:
        return not self.reasons

    @property
    def label(self) -> str:
        return self.row.sample_id or f"(line {self.row.line})"


@dataclass
class IntakeResult:
    batch_id: str
    samples: list[SampleResult]
    research_ids: dict[str, str]
    registry_changed: bool = True

    @property
    def n_accepted(self) -> int:
        return sum(s.accepted for s in self.samples)

    def summary(self) -> str:
        n_rej = len(self.samples) - self.n_accepted
        n_notes = sum(len(s.notes) for s in self.samples)
        lines = [
            f"intake {self.batch_id}: {len(self.samples)} samples, "
            f"{self.n_accepted} accepted, {n_rej} rejected"
            + (f", {n_notes} notes" if n_notes else "")
            + ("" if self.registry_changed else " (registry already up to date)")
        ]
        for s in self.samples:
            if not s.accepted:
                lines.append(f"  REJECTED {s.label}: {len(s.reasons)} reason(s)")
                lines.extend(f"    - {r}" for r in s.reasons)
        for s in self.samples:
            if s.accepted and (s.notes or s.replaces):
                lines.append(f"  accepted {s.label}: " + "; ".join(s.notes))
        return "\n".join(lines)


_METRICS = [
    ("mean_coverage", "min_mean_coverage", "mean coverage", ">="),
    ("genome_coverage_20x", "min_genome_coverage_20x", "fraction of genome at 20x", ">="),
    ("aligned_q30_bases", "min_aligned_q30_bases", "aligned Q30 bases", ">="),
    ("contamination", "max_contamination", "contamination", "<="),
    ("array_concordance", "min_array_concordance", "array concordance", ">="),
]


def check_metrics_notes(
    row: ManifestRow, thresholds: Mapping[str, float | None], *, require: bool
) -> tuple[list[str], list[str]]:
    """``(failures, notes)``: notes say which metrics were not provided."""
    out, notes = [], []
    missing = []
    for col, key, label, op in _METRICS:
        limit = thresholds.get(key)
        value = row.get(col)
        if limit is None:
            continue
        if value is None:
            if require and col != "array_concordance":
                out.append(f"column {col}: {label} not provided but required (intake.require_metrics)")
            else:
                missing.append(col)
            continue
        ok = value >= limit if op == ">=" else value <= limit
        if not ok:
            out.append(f"column {col}: {label} {value:g} fails threshold {op} {limit:g}")
    if missing:
        notes.append(f"metrics not provided: {', '.join(missing)}")
    return out, notes


@dataclass(frozen=True)
class IdentityContext:
    """The identity settings of a run and the fingerprint panel they resolve to."""

    settings: IdentitySettings
    panel: Panel

    @classmethod
    def resolve(
        cls, identity: IdentitySettings | Mapping[str, Any] | None, reference_genome: str
    ) -> IdentityContext | None:
        """None when identity checks are off or no panel exists for ``reference_genome`` (logged)."""
        if identity is None:
            return None
        settings = identity if isinstance(identity, IdentitySettings) else IdentitySettings.from_config(identity)
        path = settings.panel_path(reference_genome)
        if path is None:
            if settings.activate:
                log.warning("identity checks off: no fingerprint panel shipped for %s and none configured "
                            "(intake.identity.panel)", reference_genome)
            return None
        return cls(settings, load_panel(path))


def _check_sample(
    row: ManifestRow,
    *,
    batch_dir: Path,
    manifest: Path,
    reference: Reference,
    contig_recoding: Mapping[str, str],
    thresholds: Mapping[str, float | None],
    require_metrics: bool,
    reference_fasta: str | None,
    out_dir: Path | None = None,
    identity: IdentityContext | None = None,
    gvcf_flavors: Sequence[str] = flavors.FLAVORS,
) -> SampleResult:
    """All single-sample checks (files and metrics); cross-batch checks happen in the registry."""
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
        # one streaming pass: md5, BGZF integrity, header and every record
        res.scan = checks.scan_gvcf(
            res.gvcf, sample_id=sid or "", reference=reference, contig_recoding=contig_recoding,
            reference_fasta=reference_fasta,
            fingerprint_panel=identity.panel if identity else None,
            fingerprint_min_gq=identity.settings.min_gq if identity else 20,
        )
        res.gvcf_md5 = res.scan.md5
        want = row.get("gvcf_md5")
        if want and want != res.gvcf_md5:
            res.reasons.append(
                f"{res.gvcf}: md5 {res.gvcf_md5} does not match manifest gvcf_md5 {want} ({where})"
            )
        res.reasons.extend(res.scan.problems)
        res.notes.extend(res.scan.notes)
        if res.scan.compression == "bgzf":
            problems, notes, res.rebuild_index = checks.check_gvcf_index(res.gvcf, res.scan)
            res.reasons.extend(problems)
            res.notes.extend(notes)
        _flavor(res, gvcf_flavors, out_dir)
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
    if res.cram is not None:
        res.cram_md5 = checks.md5sum(res.cram)
        want = row.get("cram_md5")
        if want and want != res.cram_md5:
            res.reasons.append(
                f"{res.cram}: md5 {res.cram_md5} does not match manifest cram_md5 {want} ({where})"
            )
        problems, notes = checks.check_cram(
            res.cram,
            sample_id=sid or "",
            reference=reference,
            contig_recoding=contig_recoding,
            reference_fasta=reference_fasta,
            index_dir=out_dir / "cram" if out_dir else None,
        )
        res.reasons.extend(problems)
        res.notes.extend(notes)
        if not problems:
            _cram_identity(res, identity, reference_fasta, contig_recoding)
    elif row.get("cram_md5") and not rel_cram:
        res.reasons.append(f"{where}, column cram_md5: given without a cram")
    failures, notes = check_metrics_notes(row, thresholds, require=require_metrics)
    res.reasons.extend(f"{where}, {m}" for m in failures)
    res.notes.extend(notes)
    if identity is not None and res.scan is not None and res.scan.fingerprint is not None:
        n, need = res.scan.fingerprint.n_called, identity.settings.min_sites
        if n < need:
            res.notes.append(
                f"identity fingerprint: {n} of {len(identity.panel)} panel sites called (at least {need} needed): "
                "not compared with other participants"
            )
    return res


def _flavor(res: SampleResult, accepted: Sequence[str], out_dir: Path | None) -> None:
    """Which caller wrote the gVCF; reject what joint calling cannot use; normalise DRAGEN/DeepVariant gVCFs and
    same-position variant records into the GATK layout (:mod:`.flavors`)."""
    assert res.scan is not None and res.gvcf is not None
    if not res.scan.header_lines:
        return
    info = flavors.detect_flavor(res.scan.header_lines)
    res.flavor = info
    problems, notes = flavors.check_flavor(info, res.gvcf, accepted=accepted)
    res.reasons.extend(problems)
    res.notes.extend(notes)
    if res.reasons or out_dir is None or not flavors.needs_normalising(info, res.scan.n_same_pos_variants):
        if res.scan.n_same_pos_variants and not res.reasons:
            res.reasons.append(f"{res.gvcf}: {res.scan.n_same_pos_variants} variant records share a position with "
                               "another (not merged: no output folder)")
        return
    nr = flavors.normalise_gvcf(res.gvcf, out_dir / "normalised" / f"{res.row.sample_id}.g.vcf.gz", info,
                                label=str(res.gvcf))
    res.reasons.extend(nr.problems)
    res.notes.extend(nr.notes(str(res.gvcf)))
    res.normalised = nr.path


def _dragen_versions(results: Sequence[SampleResult], expected: str | None) -> None:
    """All of Us' check: the DRAGEN gVCFs of a batch share one DRAGEN version (``expected`` when configured)."""
    versions = {str(i): r.flavor.version for i, r in enumerate(results)
                if r.flavor is not None and r.flavor.flavor == "dragen"}
    for i, problem in flavors.dragen_version_problems(versions, expected=expected).items():
        res = results[int(i)]
        res.reasons.append(f"{res.gvcf}: {problem}")


def _cram_identity(
    res: SampleResult, identity: IdentityContext | None, reference_fasta: str | None,
    contig_recoding: Mapping[str, str],
) -> None:
    """CRAM <-> gVCF: from the same person? (needs both files sound and a fingerprint of the gVCF)."""
    if identity is None or res.cram is None or res.scan is None or res.scan.fingerprint is None:
        return
    chk = cram_gvcf_concordance(
        res.cram, res.scan.fingerprint, identity.panel, reference_fasta=reference_fasta,
        settings=identity.settings, contig_recoding=contig_recoding,
    )
    res.reasons.extend(chk.problems)
    res.notes.extend(chk.notes)


def _stage_gvcf(res: SampleResult, dest_dir: Path, contig_recoding: Mapping[str, str]) -> Path:
    """Put an accepted gVCF (+ index) where joint calling reads it: a symlink, or a copy with a new index
    (index missing/older/.csi only), or a contig-renamed copy."""
    import pysam
    import pysam.bcftools

    assert res.gvcf is not None
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{res.row.sample_id}.g.vcf.gz"
    for p in (dest, Path(f"{dest}.tbi")):
        if p.is_symlink() or p.exists():
            p.unlink()
    source = res.normalised or res.gvcf  # a DRAGEN/DeepVariant gVCF is joint-called in the GATK layout
    if res.scan is not None and res.scan.needs_recoding:
        mapping = dest_dir / f"{res.row.sample_id}.rename.txt"
        mapping.write_text("".join(f"{a}\t{b}\n" for a, b in contig_recoding.items()))
        pysam.bcftools.annotate(
            "--rename-chrs", str(mapping), "-Oz", "-o", str(dest), str(source), catch_stdout=False
        )
        mapping.unlink()
        pysam.tabix_index(str(dest), preset="vcf", force=True)
        res.notes.append("contigs renamed with contig_recoding for joint calling")
        return dest
    if res.rebuild_index and res.normalised is None:
        shutil.copyfile(res.gvcf, dest)
        pysam.tabix_index(str(dest), preset="vcf", force=True)
        return dest
    os.symlink(source.resolve(), dest)
    os.symlink(Path(f"{source}.tbi").resolve(), f"{dest}.tbi")
    return dest


def _decision(res: SampleResult, manifest: Path, dup_ids: set[int]) -> Decision:
    r = res.row
    sid = r.sample_id or f"<line {r.line}>"
    if r.line in dup_ids:
        sid = f"{sid} <line {r.line}>"  # a repeated sample_id row: its own registry key, never a participant
    files = []
    for kind, p, md5 in (("gvcf", res.gvcf, res.gvcf_md5), ("cram", res.cram, res.cram_md5)):
        if p is not None:
            files.append((kind, str(p.absolute()), md5, p.stat().st_size if p.exists() else None))
    return Decision(
        sample_id=sid,
        status="accepted" if res.accepted else "rejected",
        reasons=tuple(res.reasons),
        resubmission=r.get("resubmission") == "yes",
        files=tuple(files),
        notes=tuple(res.notes),
        where=f"{manifest}: line {r.line}, column sample_id",
        fingerprint=res.scan.fingerprint if res.scan is not None else None,
    )


def run_intake(
    batch_dir: str | Path,
    *,
    out_dir: str | Path,
    registry_path: str | Path,
    reference_genome: str = "GRCh38",
    contig_recoding: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float | None] | None = None,
    require_metrics: bool = False,
    reference_fasta: str | None = None,
    identity: IdentitySettings | Mapping[str, Any] | None = None,
    gvcf_flavors: Sequence[str] = flavors.FLAVORS,
    expected_dragen_version: str | None = None,
) -> IntakeResult:
    """Validate, decide, register and report one batch (see module docstring for outputs).

    ``identity`` (``intake.identity`` of the config, or settings) turns on the sample-identity checks: CRAM vs
    gVCF genotypes, and each gVCF's fingerprint against every earlier participant's (:mod:`.identity`); None
    (library default) leaves them off. ``reference_fasta`` also turns on the REF check of every gVCF record.
    ``gvcf_flavors`` are the callers accepted; DRAGEN gVCFs of the batch must share one DRAGEN version
    (``expected_dragen_version`` when given) (:mod:`.flavors`).
    """
    batch_dir = Path(batch_dir)
    out_dir = Path(out_dir)
    batch_id = batch_dir.name
    manifest = batch_dir / MANIFEST_NAME
    rows = read_manifest(manifest)
    reference = load_reference(reference_genome)
    recoding = {str(k): str(v) for k, v in (contig_recoding or {}).items()}
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    registry = Registry(registry_path)
    ident = IdentityContext.resolve(identity, reference_genome)
    log.info("intake %s: %d manifest rows", batch_id, len(rows))
    if ident is not None:
        log.info("identity checks with the %d-site fingerprint panel %s", len(ident.panel), ident.panel.path)
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
            reference_fasta=reference_fasta,
            out_dir=out_dir,
            identity=ident,
            gvcf_flavors=gvcf_flavors,
        )
        log.info(
            "[%d/%d] %s: file checks %s",
            i,
            len(rows),
            res.label,
            "passed" if res.accepted else f"found {len(res.reasons)} problem(s)",
        )
        results.append(res)
    _dragen_versions(results, expected_dragen_version)
    # within the batch: the same gVCF content under two rows
    seen_md5: dict[str, SampleResult] = {}
    for res in results:
        if res.gvcf_md5:
            first = seen_md5.setdefault(res.gvcf_md5, res)
            if first is not res:
                res.reasons.append(
                    f"duplicate file: gVCF md5 {res.gvcf_md5} equals the gVCF of {first.label} "
                    f"(line {first.row.line}) in this batch"
                )
    ids = [r.row.sample_id for r in results]
    dup_lines = {r.row.line for k, r in enumerate(results) if r.row.sample_id and r.row.sample_id in ids[:k]}
    outcome = registry.register_batch(
        batch_id, checks.md5sum(manifest), [_decision(r, manifest, dup_lines) for r in results],
        identity=ident.settings if ident else None,
    )
    for m in outcome.identity_matches:
        log.info("identity: %s matches %s of batch %s (concordance %.3f at %d sites): %s", m.sample_id,
                 m.match_sample_id, m.match_batch_id, m.concordance, m.n_sites, m.action)
    for res, d in zip(results, outcome.decisions, strict=True):
        res.reasons = list(d.reasons)
        res.notes = list(d.notes)
        res.replaces = outcome.replaces.get(d.sample_id)
    staged: dict[str, Path] = {}
    for res in results:
        if res.accepted:
            staged[res.row.sample_id] = _stage_gvcf(res, out_dir / "gvcf", recoding)
    _clean_staging(out_dir / "gvcf", set(staged))
    result = IntakeResult(
        batch_id=batch_id,
        samples=results,
        research_ids=outcome.research_ids,
        registry_changed=outcome.changed,
    )
    write_reports(result, out_dir, staged)
    log.info("%s", result.summary())
    return result


def _clean_staging(d: Path, keep: set[str]) -> None:
    """Drop staged files of samples no longer accepted (a re-run after files changed)."""
    if not d.is_dir():
        return
    for p in d.iterdir():
        name = p.name.removesuffix(".tbi").removesuffix(".g.vcf.gz")
        if name not in keep:
            p.unlink()


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _clean(s: str) -> str:
    return s.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def write_reports(result: IntakeResult, out_dir: Path, staged: Mapping[str, Path]) -> None:
    """Write ``report.tsv``, ``accepted.tsv`` and ``details.tsv`` atomically (temp file, then rename).

    ``report.tsv`` is the contract (``sample_id status reasons``); ``details.tsv`` has one line per reason
    or note (e.g. "metrics not provided", "index built") so nothing is lost from the report's one cell.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "sample_id": s.row.sample_id,
            "status": "accepted" if s.accepted else "rejected",
            "reasons": "; ".join(_clean(r) for r in s.reasons),
        }
        for s in result.samples
    ]
    details = [
        {
            "sample_id": s.row.sample_id,
            "manifest_line": str(s.row.line),
            "status": "accepted" if s.accepted else "rejected",
            "kind": kind,
            "message": _clean(m),
        }
        for s in result.samples
        for kind, msgs in (("reason", s.reasons), ("note", s.notes))
        for m in msgs
    ]
    acc = []
    for s in result.samples:
        if not s.accepted:
            continue
        v = s.row.values
        acc.append(
            {
                **{c: _fmt(v.get(c)) for c in ACCEPTED_COLUMNS if c in v},
                "sample_id": s.row.sample_id,
                "research_id": result.research_ids[s.row.sample_id],
                "batch_id": result.batch_id,
                "gvcf": str(staged[s.row.sample_id].absolute()),
                "gvcf_md5": s.gvcf_md5 or "",
                "cram": str(s.cram.absolute()) if s.cram else "",
                "resubmission": "yes" if s.replaces else "",
                "replaces_batch": s.replaces or "",
                "n_records": str(s.scan.n_records if s.scan else ""),
                "extents": json.dumps(s.scan.extents if s.scan else {}, separators=(",", ":")),
                "notes": "; ".join(_clean(n) for n in s.notes),
                "gvcf_flavor": s.flavor.flavor if s.flavor else "",
            }
        )
    _write_tsv(out_dir / "details.tsv", DETAILS_COLUMNS, details)
    _write_tsv(out_dir / "accepted.tsv", ACCEPTED_COLUMNS, acc)
    _write_tsv(out_dir / "report.tsv", REPORT_COLUMNS, rows)


def _write_tsv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Plain TSV (no quoting: values never hold tabs or newlines)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as f:
        f.write("\t".join(columns) + "\n")
        for r in rows:
            f.write("\t".join(_clean(r.get(c, "")) for c in columns) + "\n")
    tmp.replace(path)


def read_accepted(path: str | Path) -> list[dict[str, str]]:
    """Rows of an ``accepted.tsv`` (as strings)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
