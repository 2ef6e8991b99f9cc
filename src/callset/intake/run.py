"""Intake of one genome-center batch: validate every file, decide accept/reject per sample (with every
reason found), register the decisions and research IDs, and write the batch's report.

Two steps, so a cluster can validate a batch in parallel (issue 18):

- :func:`~callset.intake.sample.check_sample` (:mod:`.sample`) — everything about one manifest row that needs
  no other row and no registry: file checks, metrics, and staging the gVCF for joint calling. The workflow runs
  it in one job per chunk of rows (``intake.samples_per_job``; :func:`~callset.intake.sample.check_rows`,
  :func:`~callset.intake.sample.write_sample_results`), each writing its :class:`SampleResult` list as JSON.
- :func:`gather_batch` — the batch as a whole, in one job: within-batch duplicates, the registry (cross-batch
  checks, decisions, research IDs: one write transaction), staged files of rejected samples removed, reports.

:func:`run_intake` does both in one process.

Outputs in ``<results>/intake/<batch_id>/``:

- ``report.tsv`` — ``sample_id, status, reasons`` for every manifest row (the center-facing report);
- ``accepted.tsv`` — what joint calling needs for accepted samples (private: uses center sample IDs);
- ``gvcf/`` — links to accepted gVCFs with their index, or renamed-contig copies when
  ``contig_recoding`` applies, so joint calling never depends on the inbox's index files;
- ``reblocked/`` — the reblocked gVCF (+ ``.tbi``) of every accepted sample (``intake.reblock``; written by the
  sample's check job in the scan's own pass by :class:`callset.intake.reblock.Reblocker`), which joint calling
  reads instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callset.errors import CallsetError
from callset.intake import checks, flavors
from callset.intake.identity import IdentitySettings
from callset.intake.manifest import MANIFEST_NAME
from callset.intake.reblock import ReblockSettings
from callset.intake.registry import Decision, Registry
from callset.intake.report import read_accepted, write_reports  # noqa: F401 - read_accepted: also importable here
from callset.intake.sample import (  # noqa: F401 - the per-row API, also importable from here as before
    IdentityContext,
    IntakeSettings,
    SampleResult,
    check_metrics_notes,
    check_rows,
    check_sample,
    read_sample_results,
    reblocked_path,
    write_sample_results,
)

log = logging.getLogger(__name__)


@dataclass
class IntakeResult:
    batch_id: str
    samples: list[SampleResult]
    research_ids: dict[str, str]
    registry_changed: bool = True
    #: the batch folder: the reports name files relative to it, as the center wrote them in its manifest
    batch_dir: Path | None = None

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


def _dragen_versions(results: Sequence[SampleResult], expected: str | None) -> None:
    """All of Us' check: the DRAGEN gVCFs of a batch share one DRAGEN version (``expected`` when configured)."""
    versions = {str(i): r.flavor.version for i, r in enumerate(results)
                if r.flavor is not None and r.flavor.flavor == "dragen"}
    for i, problem in flavors.dragen_version_problems(versions, expected=expected).items():
        res = results[int(i)]
        res.reasons.append(f"{res.gvcf}: {problem}")


def _drop_reblocked(d: Path, keep: set[str]) -> None:
    """Remove reblocked gVCFs of samples not accepted (rejected now, or a re-run after files changed)."""
    if not d.is_dir():
        return
    for p in d.iterdir():
        name = p.name.removesuffix(".tbi").removesuffix(".partial").removesuffix(".rb.g.vcf.gz")
        if name not in keep:
            p.unlink()


def _decision(res: SampleResult, manifest: Path, dup_ids: set[int]) -> Decision:
    r = res.row
    sid = r.sample_id or f"<line {r.line}>"
    if r.line in dup_ids:
        sid = f"{sid} <line {r.line}>"  # a repeated sample_id row: its own registry key, never a participant
    files = []
    for kind, p, md5 in (("gvcf", res.gvcf, res.gvcf_md5), ("cram", res.cram, res.cram_md5)):
        if p is not None:
            files.append((kind, str(p.absolute()), md5, p.stat().st_size if p.exists() else None))
    outputs = []  # listed by the registry only if it accepts the row too (the gather deletes them otherwise)
    if res.reblocked is not None and res.accepted:
        rb = res.reblocked
        outputs.append(("reblocked_gvcf", str(rb.path.absolute()), rb.md5, rb.size))
    return Decision(
        sample_id=sid,
        status="accepted" if res.accepted else "rejected",
        reasons=tuple(res.reasons),
        resubmission=r.get("resubmission") == "yes",
        files=tuple(files),
        outputs=tuple(outputs),
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
    reblock: ReblockSettings | None = None,
    identity: IdentitySettings | Mapping[str, Any] | None = None,
    gvcf_flavors: Sequence[str] = flavors.FLAVORS,
    expected_dragen_version: str | None = None,
) -> IntakeResult:
    """Validate, decide, register and report one batch in this process (see module docstring for outputs).

    ``reblock``: reblock every accepted gVCF (``intake.reblock``; None: joint calling reads the submitted files).
    ``identity`` (``intake.identity`` of the config, or settings) turns on the sample-identity checks: CRAM vs
    gVCF genotypes, and each gVCF's fingerprint against every earlier participant's (:mod:`.identity`); None
    (library default) leaves them off. ``reference_fasta`` also turns on the REF check of every gVCF record.
    ``gvcf_flavors`` are the callers accepted; DRAGEN gVCFs of the batch must share one DRAGEN version
    (``expected_dragen_version`` when given) (:mod:`.flavors`).
    """
    settings = IntakeSettings(
        reference_genome=reference_genome,
        contig_recoding=contig_recoding or {},
        thresholds=thresholds or {},
        require_metrics=require_metrics,
        reference_fasta=reference_fasta,
        reblock=reblock,
        identity=identity,
        gvcf_flavors=gvcf_flavors,
    )
    samples = check_rows(batch_dir, settings, out_dir=out_dir)
    return gather_batch(batch_dir, samples, out_dir=out_dir, registry_path=registry_path, identity=identity,
                        reference_genome=reference_genome, expected_dragen_version=expected_dragen_version)


def gather_batch(
    batch_dir: str | Path,
    results: list[SampleResult],
    *,
    out_dir: str | Path,
    registry_path: str | Path,
    identity: IdentitySettings | Mapping[str, Any] | None = None,
    reference_genome: str = "GRCh38",
    expected_dragen_version: str | None = None,
) -> IntakeResult:
    """Decide the batch from its rows' :class:`SampleResult` (manifest order): within-batch checks (DRAGEN
    versions agree, duplicate files), then the registry (cross-batch checks, with ``identity`` each fingerprint
    against every earlier participant's, decisions and research IDs in one write transaction), then the
    staged files of samples not accepted are removed and the reports written."""
    batch_dir, out_dir = Path(batch_dir), Path(out_dir)
    batch_id = batch_dir.name
    manifest = batch_dir / MANIFEST_NAME
    ident = IdentityContext.resolve(identity, reference_genome)
    _dragen_versions(results, expected_dragen_version)
    _flag_duplicate_files(results)
    ids = [r.row.sample_id for r in results]
    dup_lines = {r.row.line for k, r in enumerate(results) if r.row.sample_id and r.row.sample_id in ids[:k]}
    outcome = Registry(registry_path).register_batch(
        batch_id, checks.md5sum(manifest), [_decision(r, manifest, dup_lines) for r in results],
        identity=ident.settings if ident else None,
    )
    for m in outcome.identity_matches:
        log.info("identity: %s matches %s of batch %s (concordance %.3f at %d sites): %s", m.sample_id,
                 m.match_sample_id, m.match_batch_id, m.concordance, m.n_sites, m.action)
    for res, d in zip(results, outcome.decisions, strict=True):
        res.reasons = list(d.reasons)
        res.notes = list(d.notes) + res.stage_notes
        res.replaces = outcome.replaces.get(d.sample_id)
        if res.reasons:  # the operator's log keeps the server's paths (the center's reports do not)
            log.info("%s rejected: %s", res.label, "; ".join(res.reasons))
    staged: dict[str, Path] = {}
    for res in results:
        if res.accepted:
            if res.staged is None:
                raise CallsetError(f"{manifest}: line {res.row.line}: accepted but its gVCF was not staged")
            staged[res.row.sample_id] = res.staged
    _clean_staging(out_dir / "gvcf", set(staged))
    _drop_reblocked(out_dir / "reblocked", {r.row.sample_id for r in results if r.accepted and r.reblocked})
    # GATK-layout copies of DRAGEN/DeepVariant gVCFs: only accepted samples' are read (staged or reblocked)
    _clean_staging(out_dir / "normalised", {r.row.sample_id for r in results if r.accepted and r.normalised})
    result = IntakeResult(
        batch_id=batch_id,
        samples=results,
        research_ids=outcome.research_ids,
        registry_changed=outcome.changed,
        batch_dir=batch_dir,
    )
    write_reports(result, out_dir, staged)
    log.info("%s", result.summary())
    return result


def _flag_duplicate_files(results: list[SampleResult]) -> None:
    """Within the batch: the same gVCF content under two rows (the later rows are rejected)."""
    seen_md5: dict[str, SampleResult] = {}
    for res in results:
        if res.gvcf_md5:
            first = seen_md5.setdefault(res.gvcf_md5, res)
            if first is not res:
                res.reasons.append(
                    f"duplicate file: gVCF md5 {res.gvcf_md5} equals the gVCF of {first.label} "
                    f"(line {first.row.line}) in this batch"
                )


def _clean_staging(d: Path, keep: set[str]) -> None:
    """Drop staged (or normalised) files of samples no longer accepted (a re-run after files changed)."""
    if not d.is_dir():
        return
    for p in d.iterdir():
        name = p.name.removesuffix(".tbi").removesuffix(".g.vcf.gz")
        if name not in keep:
            p.unlink()
