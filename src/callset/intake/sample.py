"""One manifest row of a genome-center batch: everything about it that needs no other row and no registry.

:func:`check_sample` checks the row's files (md5, BGZF, header, every record, index, caller flavor; the CRAM;
identity with the gVCF), its center metrics, reblocks the gVCF in the scan's pass and stages it for joint
calling. The workflow runs :func:`check_rows` in one job per chunk of rows (``intake.samples_per_job``), each
writing its :class:`SampleResult` list as JSON (:func:`write_sample_results`) for the batch's gather
(:func:`callset.intake.run.gather_batch`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callset.config import section
from callset.core.reference import Reference, load_reference
from callset.errors import CallsetError
from callset.intake import checks, flavors
from callset.intake.identity import IdentitySettings, cram_gvcf_concordance
from callset.intake.manifest import MANIFEST_NAME, ManifestRow, read_manifest, resolve_member
from callset.intake.panel import Panel, load_panel
from callset.intake.reblock import Reblocker, ReblockResult, ReblockSettings, reblock_gvcf
from callset.intake.report import read_accepted, write_reports  # noqa: F401 - read_accepted: also importable here
from callset.intake.results_json import from_json_obj, to_json_obj

log = logging.getLogger(__name__)


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


@dataclass
class IntakeSettings:
    """What the checks of every sample of a run need, built once from the validated config (the rule's
    ``params.settings``): :meth:`from_params`."""

    reference_genome: str = "GRCh38"
    contig_recoding: Mapping[str, str] = field(default_factory=dict)
    #: ``intake.thresholds`` (All of Us genome-center contract; ``None`` switches a check off): keys not given
    #: take the config schema's defaults
    thresholds: Mapping[str, float | None] = field(default_factory=dict)
    require_metrics: bool = False
    reference_fasta: str | None = None
    #: reblock every gVCF that scans clean in the scan's pass (``intake.reblock``); None: joint calling reads
    #: the submitted files
    reblock: ReblockSettings | None = None
    #: ``intake.identity`` (or settings): CRAM vs gVCF genotypes and the gVCF's fingerprint (compared with
    #: earlier participants' by the gather); None (library default) leaves them off (:mod:`.identity`)
    identity: IdentitySettings | Mapping[str, Any] | None = None
    #: callers whose gVCFs are accepted (:mod:`.flavors`)
    gvcf_flavors: Sequence[str] = flavors.FLAVORS
    reference: Reference = field(init=False, repr=False)
    identity_context: IdentityContext | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.contig_recoding = {str(k): str(v) for k, v in (self.contig_recoding or {}).items()}
        self.thresholds = section("intake.thresholds", self.thresholds)  # the schema's for keys not given
        self.reference = load_reference(self.reference_genome)
        self.identity_context = IdentityContext.resolve(self.identity, self.reference_genome)
        if self.identity_context is not None:
            ctx = self.identity_context
            log.info("identity checks with the %d-site fingerprint panel %s", len(ctx.panel), ctx.panel.path)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> IntakeSettings:
        """From the intake_check rule's ``params.settings``: the plain settings plus the ``intake.reblock``
        section and the release's block length cap (``ref_block_max_length``; one setting, never two)."""
        kw = dict(params)
        reblock = kw.pop("reblock", None)
        cap = kw.pop("ref_block_max_length", None)
        settings = None
        if reblock is not None and reblock["activate"]:
            if cap is None:
                raise ValueError("intake settings: reblock given without ref_block_max_length")
            settings = ReblockSettings.from_config(reblock, max_block_length=int(cap))
        return cls(**kw, reblock=settings)


@dataclass
class SampleResult:
    """What :func:`check_sample` found for one manifest row (JSON: :meth:`to_json` / :meth:`from_json`).

    Fields added here travel from the per-sample job to the gather as long as their types are JSON-friendly
    (:mod:`callset.intake.results_json`).
    """

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
    staged: Path | None = None  # where joint calling reads the gVCF (staged when the sample's own checks pass)
    stage_notes: list[str] = field(default_factory=list)  # notes of staging, reported after the registry's
    reblocked: ReblockResult | None = None  # the reblocked gVCF (kept by the gather only if accepted)
    flavor: flavors.FlavorInfo | None = None
    normalised: Path | None = None  # the gVCF rewritten in the GATK layout (joint-called instead of ``gvcf``)

    def to_json(self) -> dict[str, Any]:
        return to_json_obj(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SampleResult:
        return from_json_obj(cls, data)

    @property
    def accepted(self) -> bool:
        return not self.reasons

    @property
    def label(self) -> str:
        return self.row.sample_id or f"(line {self.row.line})"


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


def check_sample(row: ManifestRow, settings: IntakeSettings, *, batch_dir: Path, out_dir: Path) -> SampleResult:
    """Everything about one manifest row that needs neither another row nor the registry: file checks and
    metrics, then, when they pass, the gVCF staged for joint calling under ``out_dir/gvcf``. Within-batch and
    cross-batch checks happen in :func:`callset.intake.run.gather_batch`.

    With ``settings.reblock``, the gVCF is also reblocked in the scan's pass
    (``out_dir/reblocked/<sample_id>.rb.g.vcf.gz``; a DRAGEN/DeepVariant gVCF is reblocked from its
    GATK-layout copy instead); a file with content problems leaves nothing behind, and the gather removes the
    reblocked file of a sample it does not accept. With ``settings.identity``, the gVCF's fingerprint is taken
    in the same pass and compared with the CRAM's genotypes; the comparison with other participants is the
    gather's (registry).

    The steps run in this order (their reasons and notes are reported in it): the gVCF (located, scanned,
    flavor), the CRAM (located, checked, identity with the gVCF), the center's metrics, the fingerprint's
    coverage, staging.
    """
    sample = _check(row, settings, batch_dir=batch_dir, out_dir=out_dir)
    sample.settle_reblock()
    return sample.res


def _check(row: ManifestRow, settings: IntakeSettings, *, batch_dir: Path, out_dir: Path) -> _SampleCheck:
    """:func:`check_sample`'s steps, the reblocked copy of a clean gVCF possibly still being finished (compressed,
    indexed) in its own thread: :meth:`_SampleCheck.settle_reblock` waits for it."""
    sample = _SampleCheck(SampleResult(row=row, reasons=list(row.problems)), settings, Path(batch_dir), Path(out_dir))
    for step in (_gvcf_step, _cram_step, _metrics_step, _fingerprint_step, _staging_step):
        step(sample)
    return sample


@dataclass
class _SampleCheck:
    """One manifest row under :func:`check_sample`: its result so far and what every step reads."""

    res: SampleResult
    settings: IntakeSettings
    batch_dir: Path
    out_dir: Path
    pending: Reblocker | None = None  # the reblocked copy, still being finished in its thread

    @property
    def where(self) -> str:
        """The manifest line, for reasons."""
        return f"{self.batch_dir / MANIFEST_NAME}: line {self.res.row.line}"

    def settle_reblock(self) -> None:
        """Wait for the reblocked copy being finished in the background: its result, or (never expected for a
        file that scanned clean) the sample rejected naming why, with its staged gVCF taken back."""
        sink, self.pending = self.pending, None
        if sink is None:
            return
        res = self.res
        try:
            res.reblocked = sink.wait()
        except Exception as e:  # noqa: BLE001 - reject the file, naming why
            sink.abort()
            _reblock_failed(res, e)
            if res.staged is not None:
                for p in (res.staged, Path(f"{res.staged}.tbi")):
                    p.unlink(missing_ok=True)
                res.staged = None
            return
        log.info("%s: %s", res.label, res.reblocked.summary())


def _locate(sample: _SampleCheck, column: str, kind: str) -> tuple[Path | None, list[str]]:
    """The file of ``column`` (``gvcf``/``cram``) inside the batch folder, or None and why not (column empty:
    None, no reasons). ``kind`` names the file in messages."""
    rel = sample.res.row.get(column)
    if not rel:
        return None, []
    path, why = resolve_member(sample.batch_dir, rel)
    if why:
        return None, [f"{sample.where}, column {column}: {why}"]
    assert path is not None
    missing = checks.check_present(path, kind)
    return (None if missing else path), [f"{sample.where}, column {column}: {m}" for m in missing]


def _gvcf_step(sample: _SampleCheck) -> None:
    """Locate the gVCF; scan it (md5, BGZF, header, every record, the reblocked copy and the fingerprint in one
    pass), its index and its flavor."""
    res = sample.res
    res.gvcf, problems = _locate(sample, "gvcf", "gVCF")
    res.reasons.extend(problems[:1])
    if res.gvcf is None:
        return
    res.scan = _scan_gvcf(sample)
    res.gvcf_md5 = res.scan.md5
    want = res.row.get("gvcf_md5")
    if want and want != res.gvcf_md5:
        res.reasons.append(
            f"{res.gvcf}: md5 {res.gvcf_md5} does not match manifest gvcf_md5 {want} ({sample.where})"
        )
    res.reasons.extend(res.scan.problems)
    res.notes.extend(res.scan.notes)
    if res.scan.compression == "bgzf":
        problems, notes, res.rebuild_index = checks.check_gvcf_index(res.gvcf, res.scan)
        res.reasons.extend(problems)
        res.notes.extend(notes)
    settings = sample.settings
    _flavor(res, settings.gvcf_flavors, sample.out_dir)
    if res.normalised is not None:
        sample.settle_reblock()  # its file is about to be replaced
    if res.normalised is not None and res.reblocked is not None and not res.reasons:
        # the scan's pass reblocked the caller's own layout: joint calling reads the GATK-layout copy
        res.reblocked = _reblock_normalised(res, settings.reblock, sample.out_dir, settings.contig_recoding,
                                            settings.reference_fasta)
    # the header was for the flavor check; it does not travel to the gather (thousands of contig lines)
    res.scan.header_lines = []


def _scan_gvcf(sample: _SampleCheck) -> checks.GvcfScan:
    """The scan's one streaming pass over the gVCF, reblocking it on the way (``settings.reblock``; only a row
    without manifest problems) and taking its fingerprint (identity checks on)."""
    res, settings = sample.res, sample.settings
    assert res.gvcf is not None
    sid = res.row.sample_id
    identity = settings.identity_context
    sink = None
    if settings.reblock is not None and sid and not res.row.problems:
        sink = Reblocker(reblocked_path(sample.out_dir, sid), settings.reblock,
                         contig_recoding=settings.contig_recoding, fasta=settings.reference_fasta)
    res.scan = checks.scan_gvcf(
        res.gvcf, sample_id=sid or "", reference=settings.reference, contig_recoding=settings.contig_recoding,
        sink=sink, reference_fasta=settings.reference_fasta,
        fingerprint_panel=identity.panel if identity else None,
        fingerprint_min_gq=identity.settings.min_gq if identity else 20,
    )
    if sink is not None:
        sample.pending = _finish_reblock(sink, res)
    return res.scan


def _cram_step(sample: _SampleCheck) -> None:
    """Locate the CRAM; its md5, integrity, header and index; from the gVCF's person? (identity checks on)."""
    res, settings = sample.res, sample.settings
    res.cram, problems = _locate(sample, "cram", "CRAM")
    res.reasons.extend(problems)
    if res.cram is None:
        if res.row.get("cram_md5") and not res.row.get("cram"):
            res.reasons.append(f"{sample.where}, column cram_md5: given without a cram")
        return
    res.cram_md5 = checks.md5sum(res.cram)
    want = res.row.get("cram_md5")
    if want and want != res.cram_md5:
        res.reasons.append(
            f"{res.cram}: md5 {res.cram_md5} does not match manifest cram_md5 {want} ({sample.where})"
        )
    problems, notes = checks.check_cram(
        res.cram,
        sample_id=res.row.sample_id or "",
        reference=settings.reference,
        contig_recoding=settings.contig_recoding,
        reference_fasta=settings.reference_fasta,
        index_dir=sample.out_dir / "cram",
    )
    res.reasons.extend(problems)
    res.notes.extend(notes)
    if not problems:
        _cram_identity(res, settings.identity_context, settings.reference_fasta, settings.contig_recoding,
                       index=checks.alignment_index(res.cram, sample.out_dir / "cram"))


def _metrics_step(sample: _SampleCheck) -> None:
    """The center's metrics against the thresholds (``intake.thresholds``, ``intake.require_metrics``)."""
    failures, notes = check_metrics_notes(sample.res.row, sample.settings.thresholds,
                                          require=sample.settings.require_metrics)
    sample.res.reasons.extend(f"{sample.where}, {m}" for m in failures)
    sample.res.notes.extend(notes)


def _fingerprint_step(sample: _SampleCheck) -> None:
    """A note when the gVCF called too few panel sites for its fingerprint to be compared with others'."""
    res, identity = sample.res, sample.settings.identity_context
    if identity is None or res.scan is None or res.scan.fingerprint is None:
        return
    n, need = res.scan.fingerprint.n_called, identity.settings.min_sites
    if n < need:
        res.notes.append(
            f"identity fingerprint: {n} of {len(identity.panel)} panel sites called (at least {need} needed): "
            "not compared with other participants"
        )


def _staging_step(sample: _SampleCheck) -> None:
    """An accepted gVCF staged where joint calling reads it (``out_dir/gvcf``)."""
    res = sample.res
    if res.accepted and res.gvcf is not None:
        res.staged = _stage_gvcf(res, sample.out_dir / "gvcf", sample.settings.contig_recoding)


def reblocked_path(out_dir: Path, sample_id: str) -> Path:
    """Where intake writes a sample's reblocked gVCF."""
    return out_dir / "reblocked" / f"{sample_id}.rb.g.vcf.gz"


def _finish_reblock(sink: Reblocker, res: SampleResult) -> Reblocker | None:
    """Have the reblocked gVCF of a file that scanned clean finished (indexed) in its thread, and return the
    sink to wait for; drop it otherwise."""
    assert res.scan is not None
    if res.scan.problems or not res.scan.complete:
        sink.abort()
        return None
    sink.finish_in_background()
    return sink


def _reblock_failed(res: SampleResult, e: Exception) -> None:
    log.error("%s: reblocking failed", res.gvcf, exc_info=e)
    res.reasons.append(f"{res.gvcf}: reblocking failed ({type(e).__name__}: {e}); please report this file")


def _reblock_normalised(
    res: SampleResult, settings: ReblockSettings | None, out_dir: Path, contig_recoding: Mapping[str, str],
    fasta: str | None,
) -> ReblockResult | None:
    """Reblock the GATK-layout copy of a DRAGEN/DeepVariant gVCF (or one whose same-position records were
    merged) in place of the reblocked copy of the submitted layout."""
    assert res.normalised is not None and settings is not None
    dst = reblocked_path(out_dir, res.row.sample_id)
    try:
        out = reblock_gvcf(res.normalised, dst, bands=settings.gq_bands, max_block=settings.max_block_length,
                           gq0=settings.gq0, contig_recoding=contig_recoding, fasta=fasta)
    except Exception as e:  # noqa: BLE001 - never expected for a file that normalised clean: reject, naming why
        _reblock_failed(res, e)
        return None
    log.info("%s: %s (from the GATK-layout copy)", res.label, out.summary())
    return out


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


def _cram_identity(
    res: SampleResult, identity: IdentityContext | None, reference_fasta: str | None,
    contig_recoding: Mapping[str, str], *, index: Path | None = None,
) -> None:
    """CRAM <-> gVCF: from the same person? (needs both files sound and a fingerprint of the gVCF)."""
    if identity is None or res.cram is None or res.scan is None or res.scan.fingerprint is None:
        return
    chk = cram_gvcf_concordance(
        res.cram, res.scan.fingerprint, identity.panel, reference_fasta=reference_fasta,
        settings=identity.settings, contig_recoding=contig_recoding, index=index,
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
        res.stage_notes.append("contigs renamed with contig_recoding for joint calling")
        return dest
    if res.rebuild_index and res.normalised is None:
        shutil.copyfile(res.gvcf, dest)
        pysam.tabix_index(str(dest), preset="vcf", force=True)
        return dest
    os.symlink(source.resolve(), dest)
    os.symlink(Path(f"{source}.tbi").resolve(), f"{dest}.tbi")
    return dest


def check_rows(
    batch_dir: str | Path, settings: IntakeSettings, *, out_dir: str | Path, rows: slice = slice(None)
) -> list[SampleResult]:
    """:func:`check_sample` for the manifest rows ``rows`` (positions among the data rows, 0-based)."""
    batch_dir, out_dir = Path(batch_dir), Path(out_dir)
    all_rows = read_manifest(batch_dir / MANIFEST_NAME)
    chosen = all_rows[rows]
    log.info("intake %s: %d of %d manifest rows", batch_dir.name, len(chosen), len(all_rows))
    results: list[SampleResult] = []

    def done(sample: _SampleCheck) -> None:
        sample.settle_reblock()
        res = sample.res
        log.info("[%d/%d] %s: file checks %s", len(results) + 1, len(chosen), res.label,
                 "passed" if res.accepted else f"found {len(res.reasons)} problem(s)")
        results.append(res)

    # a row's reblocked copy is finished (compressed, indexed) in its thread while the next row is scanned
    previous: _SampleCheck | None = None
    for row in chosen:
        if previous is not None and previous.res.row.sample_id == row.sample_id:
            done(previous)  # a repeated sample_id: its reblocked copy goes to the same path
            previous = None
        sample = _check(row, settings, batch_dir=batch_dir, out_dir=out_dir)
        if previous is not None:
            done(previous)
        previous = sample
    if previous is not None:
        done(previous)
    return results


def write_sample_results(path: str | Path, batch_dir: str | Path, results: list[SampleResult]) -> None:
    """Write one job's :class:`SampleResult` list as JSON (atomically), with the md5 of the manifest they
    were checked against."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "manifest_md5": checks.md5sum(Path(batch_dir) / MANIFEST_NAME),
        "samples": [r.to_json() for r in results],
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    tmp.replace(path)


def read_sample_results(paths: list[str | Path], batch_dir: str | Path) -> list[SampleResult]:
    """The :class:`SampleResult` of every manifest row of ``batch_dir``, in manifest order, from the JSON
    files of its per-sample jobs; a file checked against another manifest, or a row missing or twice,
    raises :class:`~callset.errors.CallsetError`."""
    manifest = Path(batch_dir) / MANIFEST_NAME
    want_md5 = checks.md5sum(manifest)
    lines = [r.line for r in read_manifest(manifest)]
    by_line: dict[int, SampleResult] = {}
    for p in paths:
        doc = json.loads(Path(p).read_text())
        if doc["manifest_md5"] != want_md5:
            raise CallsetError(f"{p}: checked against another version of {manifest} (rerun its intake)")
        for item in doc["samples"]:
            res = SampleResult.from_json(item)
            if res.row.line in by_line:
                raise CallsetError(f"{p}: manifest line {res.row.line} was also checked by another job")
            by_line[res.row.line] = res
    if sorted(by_line) != lines:
        missing = sorted(set(lines) - set(by_line))
        raise CallsetError(f"{manifest}: no per-sample result for line(s) {missing[:10]}")
    return [by_line[n] for n in lines]
