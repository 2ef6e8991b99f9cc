"""Sample identity at intake: genotype fingerprints at a fixed panel of common biallelic SNPs.

Three questions, answered from the same fingerprint (alt-allele dosage 0/1/2 at every panel site, or "not
called"):

- **Is the CRAM from the same person as the gVCF?** :func:`genotype_cram` genotypes the CRAM at the panel
  sites (``bcftools mpileup`` allele depths, a fixed-threshold caller that tolerates a few % contamination)
  and :func:`cram_gvcf_concordance` compares it with the gVCF's fingerprint; low concordance rejects the
  sample, too few sites covered by both is a note.
- **Is this person already in the cohort under another ID?** Every accepted gVCF's fingerprint is kept in
  the registry (:meth:`Fingerprint.planes`, three bit planes) and :func:`find_matches` compares a batch's
  fingerprints with every earlier participant's at once (numpy popcounts over 64-site words; a cheap
  first pass on a quarter of the words prunes clear non-matches).
- The same panel and genotype rules are used everywhere, so concordances are comparable.

A fingerprint from a gVCF (:func:`fingerprint_gvcf`) reads only the records overlapping panel sites with
``bcftools query`` (index jumps for a sparse panel, a stream for a dense one): a reference block with
GQ >= ``min_gq`` gives 0, a variant record starting at the site gives the dosage of the panel's ALT allele
(GQ >= ``min_gq``), anything else (no data, low GQ, no-call, a site inside a deletion, conflicting
records) is "not called".

The panel (:mod:`callset.intake.panel`) is a sites VCF of biallelic SNVs. ``callset`` ships NGSCheckMate's
~21k-SNP panel for GRCh38 and GRCh37 (``callset/intake/data/fingerprint/``, see its README); a site can
configure its own with ``intake.identity.panel``.
"""

from __future__ import annotations

import gzip
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from callset.errors import ConfigError
from callset.intake.panel import Panel, load_panel, shipped_panel, write_sites_vcf

log = logging.getLogger(__name__)

NOT_CALLED = -1


# ---------------------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentitySettings:
    """``intake.identity`` of the config (schema defaults for what is not given)."""

    activate: bool = True
    #: sites VCF; None = the panel shipped for the reference build (if any)
    panel: str | None = None
    min_gq: int = 20
    min_cram_depth: int = 10
    min_sites: int = 50
    min_cram_concordance: float = 0.9
    duplicate_concordance: float = 0.9
    duplicate_action: str = "reject"  # reject | review
    #: TSV of sample_id pairs confirmed to be different people (e.g. identical twins), one pair a line
    allowed_pairs: str | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> IdentitySettings:
        from callset.config import section as defaults

        cfg = defaults("intake.identity", section or {})
        if cfg["duplicate_action"] not in ("reject", "review"):
            raise ConfigError(
                f"intake.identity.duplicate_action must be reject or review, not {cfg['duplicate_action']!r}"
            )
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__})

    def panel_path(self, reference_genome: str) -> Path | None:
        """The panel to use: the configured one, else the shipped one for ``reference_genome`` (None: none)."""
        if not self.activate:
            return None
        if self.panel:
            p = Path(self.panel)
            if not p.is_file():
                raise ConfigError(f"intake.identity.panel: {p} does not exist")
            return p
        return shipped_panel(reference_genome)

    def allowed(self) -> frozenset[frozenset[str]]:
        """The pairs of ``allowed_pairs`` (two sample_ids a line, tab- or space-separated; ``#`` comments)."""
        if not self.allowed_pairs:
            return frozenset()
        path = Path(self.allowed_pairs)
        try:
            lines = path.read_text().splitlines()
        except OSError as e:
            raise ConfigError(f"intake.identity.allowed_pairs: cannot read {path}: {e}") from None
        out = set()
        for i, line in enumerate(lines, 1):
            f = line.split("#", 1)[0].split()
            if not f:
                continue
            if len(f) != 2:
                raise ConfigError(f"{path}: line {i}: expected two sample_ids, found {len(f)} fields")
            out.add(frozenset(f))
        return frozenset(out)


# ---------------------------------------------------------------------------------------------------
# fingerprints
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """Alt-allele dosage (0, 1, 2) at each panel site, :data:`NOT_CALLED` (-1) where unknown."""

    genotypes: np.ndarray  # int8
    panel: str  # panel digest

    @property
    def n_called(self) -> int:
        return int((self.genotypes >= 0).sum())

    def planes(self) -> np.ndarray:
        """Three bit planes as uint64 words, shape ``(3, ceil(n/64))``: called, dosage >= 1, dosage == 2."""
        g = self.genotypes
        bits = np.stack([g >= 0, g >= 1, g == 2])
        return _pack_bits(bits)

    def to_bytes(self) -> bytes:
        """The planes as bytes (what the registry stores)."""
        return self.planes().tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes, n_sites: int, panel: str) -> Fingerprint:
        words = np.frombuffer(blob, dtype="<u8").reshape(3, -1)
        bits = np.unpackbits(words.view(np.uint8).reshape(3, -1), axis=1, bitorder="little")[:, :n_sites]
        g = np.where(bits[0] == 1, bits[1].astype(np.int8) + bits[2].astype(np.int8), NOT_CALLED).astype(np.int8)
        return cls(g, panel)


def _pack_bits(bits: np.ndarray) -> np.ndarray:
    """Bool ``(k, n)`` -> uint64 ``(k, ceil(n/64))`` (site i = bit i % 64 of word i // 64)."""
    k, n = bits.shape
    w = -(-n // 64)
    padded = np.zeros((k, w * 64), dtype=bool)
    padded[:, :n] = bits
    return np.packbits(padded, axis=1, bitorder="little").view("<u8").reshape(k, w)


def concordance(a: Fingerprint, b: Fingerprint) -> tuple[float, int]:
    """``(fraction of equal genotypes, number of sites)`` over the sites called in both."""
    if a.panel != b.panel:
        raise ValueError("fingerprints from different panels cannot be compared")
    both = (a.genotypes >= 0) & (b.genotypes >= 0)
    n = int(both.sum())
    if not n:
        return float("nan"), 0
    return float((a.genotypes[both] == b.genotypes[both]).mean()), n


def _bcftools(cmd: str, *args: str) -> str:
    import pysam.bcftools

    fn = getattr(pysam.bcftools, cmd)
    return str(fn(*args))


def fingerprint_gvcf(
    path: str | Path,
    panel: Panel,
    *,
    contig_recoding: Mapping[str, str] | None = None,
    min_gq: int = 20,
    n_records: int | None = None,
) -> Fingerprint:
    """Genotypes of one single-sample gVCF (bgzipped + indexed) at the panel sites, read with ``bcftools
    query`` (rules: module docstring). Intake gets the same fingerprint from its one-pass scan
    (:class:`FingerprintCollector` fed by ``scan_gvcf``); this reader is the stand-alone way and the cross-check.

    ``n_records`` (if known) chooses how to read: index jumps to each site when the panel is sparse compared
    with the file, one stream over it otherwise.
    """
    to_file = {ref: sub for sub, ref in (contig_recoding or {}).items()}
    fp = FingerprintCollector(panel, contig_recoding=contig_recoding, min_gq=min_gq)
    if not len(panel):
        return fp.result()
    with tempfile.TemporaryDirectory(prefix="fingerprint") as tmp:
        regions = panel.regions_file(tmp, to_file)
        sparse = n_records is None or n_records > 200 * len(panel)
        mode = (["-R", str(regions), "--regions-overlap", "1"] if sparse
                else ["-T", str(regions), "--targets-overlap", "1"])
        text = _bcftools("query", *mode, "-f", "%CHROM\t%POS\t%REF\t%ALT\t%INFO/END\t[%GT]\t[%GQ]\n", str(path))
    for line in text.splitlines():
        chrom, pos_s, ref, alt_s, end_s, gt, gq_s = line.split("\t")
        pos = int(pos_s)
        fp.add(chrom, pos, None if end_s == "." else int(end_s), ref, alt_s.split(","), gt,
               int(gq_s) if gq_s.isdigit() else None)
    return fp.result()


class FingerprintCollector:
    """Builds a gVCF's fingerprint from the records that overlap panel sites, fed one record at a time (by
    ``bcftools query`` in :func:`fingerprint_gvcf`, or by the intake scan, which hands over only the records
    whose span holds a panel site).

    Rules: a reference block (``end`` given) with a homozygous-REF GT and GQ >= ``min_gq`` gives 0 at every
    site it covers; a variant record starting at the site (same REF base) with GQ >= ``min_gq`` and a full GT
    gives the dosage of the panel's ALT allele (written as the record spells it: the SNV base plus the rest
    of a longer REF); a haploid call counts twice (hemizygous). A variant record spanning a site it does not
    start at (a deletion), a low GQ or a no-call make the site "not called", as do two records that
    disagree. A variant record overrides a reference block's 0.
    """

    def __init__(self, panel: Panel, *, contig_recoding: Mapping[str, str] | None = None, min_gq: int = 20):
        self.panel = panel
        self.to_ref = dict(contig_recoding or {})
        self.min_gq = min_gq
        self.g = np.full(len(panel), NOT_CALLED, dtype=np.int8)
        self.conflict = np.zeros(len(panel), dtype=bool)

    def add(
        self, chrom: str, pos: int, end: int | None, ref: str, alts: Sequence[str], gt: str, gq: int | None
    ) -> None:
        """One record: ``end`` is INFO END (reference blocks) or None (variant records)."""
        panel = self.panel
        chrom = self.to_ref.get(chrom, chrom)
        ok_gq = gq is not None and gq >= self.min_gq
        alleles = gt.replace("|", "/").split("/")
        if end is not None:
            hom_ref = all(a == "0" for a in alleles)
            for i in panel.sites_in(chrom, pos, end):
                self._set(i, 0 if (hom_ref and ok_gq) else None)
            return
        for i in panel.sites_in(chrom, pos, pos + len(ref) - 1):
            if panel.pos[i] != pos or ref[:1].upper() != panel.ref[i] or not ok_gq or "." in alleles:
                self._set(i, None, variant=True)  # inside a deletion, REF disagrees, low GQ, no-call
                continue
            want = panel.alt[i] + ref[1:].upper()
            idx = {str(k + 1) for k, a in enumerate(alts) if a.upper() == want}
            dose = sum(a in idx for a in alleles)
            self._set(i, dose * 2 if len(alleles) == 1 else dose, variant=True)

    def _set(self, i: int, value: int | None, *, variant: bool = False) -> None:
        g, conflict = self.g, self.conflict
        if value is None:
            if variant:
                conflict[i] = True
            return
        if g[i] == NOT_CALLED:
            g[i] = value
        elif variant and g[i] == 0 and not conflict[i]:
            g[i] = value  # a variant record is more specific than a reference block
        elif g[i] != value:
            conflict[i] = True

    def result(self) -> Fingerprint:
        g = self.g.copy()
        g[self.conflict] = NOT_CALLED
        return Fingerprint(g, self.panel.digest)


def _crai_spans(
    cram: Path, references: Sequence[str], index: str | Path | None = None
) -> dict[str, np.ndarray] | None:
    """Per contig, ``(start, end)`` of every slice in the ``.crai`` (``index``, else ``<cram>.crai``; None when
    there is no readable .crai)."""
    crai = Path(index) if index else Path(f"{cram}.crai")
    if not crai.is_file() or crai.suffix != ".crai":
        return None
    spans: dict[str, list[tuple[int, int]]] = {}
    try:
        with gzip.open(crai, "rt") as f:
            for line in f:
                c = line.split("\t")
                rid, start, span = int(c[0]), int(c[1]), int(c[2])
                if 0 <= rid < len(references):
                    spans.setdefault(references[rid], []).append((start, start + span))
    except (OSError, ValueError, IndexError, EOFError):
        return None
    return {k: np.array(sorted(v), dtype=np.int64).reshape(-1, 2) for k, v in spans.items()}


def genotype_cram(
    cram: str | Path,
    panel: Panel,
    *,
    reference_fasta: str,
    contig_recoding: Mapping[str, str] | None = None,
    min_depth: int = 10,
    min_mapq: int = 20,
    min_baseq: int = 13,
    index: str | Path | None = None,
) -> Fingerprint:
    """Genotypes of a CRAM (or BAM) at the panel sites, from base counts of reads with MAPQ >= ``min_mapq``
    and base quality >= ``min_baseq`` (pysam ``count_coverage``; duplicates, secondary and QC-failed reads
    left out). Sites outside every slice of the ``.crai`` are skipped without a lookup.

    Dosage from the ALT fraction f of REF+ALT reads (>= ``min_depth``): f <= 0.15 -> 0, 0.3-0.7 -> 1, >= 0.85 ->
    2; in between (contamination, noise) the site is not called. No population prior, so any ancestry works.
    ``index``: the CRAM's index when it is not next to it (intake builds one elsewhere for a CRAM sent without).
    """
    import pysam

    to_file = {ref: sub for sub, ref in (contig_recoding or {}).items()}
    g = np.full(len(panel), NOT_CALLED, dtype=np.int8)
    base_index = {"A": 0, "C": 1, "G": 2, "T": 3}

    def keep(read: Any) -> bool:
        return bool(read.mapping_quality >= min_mapq and not (
            read.is_unmapped or read.is_secondary or read.is_supplementary or read.is_duplicate or read.is_qcfail))

    with pysam.AlignmentFile(str(cram), "r", reference_filename=reference_fasta,
                             index_filename=str(index) if index else None) as af:
        spans = _crai_spans(Path(cram), af.references, index) if str(cram).endswith(".cram") else None
        names = set(af.references)
        for contig, (lo, hi) in panel.by_contig.items():
            fc = to_file.get(contig, contig)
            if fc not in names:
                continue
            pos = panel.pos[lo:hi]
            idx = np.arange(lo, hi)
            if spans is not None:
                sp = spans.get(fc)
                if sp is None or not len(sp):
                    continue
                k = np.searchsorted(sp[:, 0], pos, side="right") - 1
                inside = (k >= 0) & (pos <= np.maximum.accumulate(sp[:, 1])[np.maximum(k, 0)])
                pos, idx = pos[inside], idx[inside]
            for i, p in zip(idx.tolist(), pos.tolist(), strict=True):
                counts = af.count_coverage(fc, p - 1, p, quality_threshold=min_baseq, read_callback=keep)
                n_ref = int(counts[base_index[panel.ref[i]]][0])
                n_alt = int(counts[base_index[panel.alt[i]]][0])
                n = n_ref + n_alt
                if n < min_depth:
                    continue
                f = n_alt / n
                g[i] = 0 if f <= 0.15 else 1 if 0.3 <= f <= 0.7 else 2 if f >= 0.85 else NOT_CALLED
    return Fingerprint(g, panel.digest)


@dataclass(frozen=True)
class IdentityCheck:
    """Result of one CRAM <-> gVCF comparison."""

    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    concordance: float | None = None
    n_sites: int = 0


def cram_gvcf_concordance(
    cram: str | Path,
    gvcf_fingerprint: Fingerprint,
    panel: Panel,
    *,
    reference_fasta: str | None,
    settings: IdentitySettings,
    contig_recoding: Mapping[str, str] | None = None,
    index: str | Path | None = None,
) -> IdentityCheck:
    """Compare a CRAM's genotypes with its gVCF's fingerprint: a problem when they are from different people
    (concordance below ``settings.min_cram_concordance``), a note when too few sites are covered by both.
    ``index``: the CRAM's index when it is not next to it."""
    if not reference_fasta:
        return IdentityCheck(notes=(f"{cram}: CRAM/gVCF identity not checked (no intake.reference_fasta to decode "
                                    "the CRAM with)",))
    try:
        cram_fp = genotype_cram(cram, panel, reference_fasta=reference_fasta, contig_recoding=contig_recoding,
                                min_depth=settings.min_cram_depth, index=index)
    except (OSError, ValueError) as e:  # the CRAM passed its own checks; its reference may still not decode it
        return IdentityCheck(notes=(f"{cram}: CRAM/gVCF identity not checked: cannot read it with "
                                    f"{reference_fasta}: {e}",))
    conc, n = concordance(cram_fp, gvcf_fingerprint)
    if n < settings.min_sites:
        return IdentityCheck(
            notes=(f"{cram}: CRAM/gVCF identity not assessable: {n} fingerprint sites called in both "
                   f"(at least {settings.min_sites} needed; panel of {len(panel)} sites)",),
            concordance=None if n == 0 else conc, n_sites=n,
        )
    if conc < settings.min_cram_concordance:
        return IdentityCheck(
            problems=(f"{cram}: CRAM and gVCF are from different people (concordance {conc:.3f} at {n} sites)",),
            concordance=conc, n_sites=n,
        )
    return IdentityCheck(notes=(f"{cram}: CRAM/gVCF identity confirmed (concordance {conc:.3f} at {n} sites)",),
                         concordance=conc, n_sites=n)


# ---------------------------------------------------------------------------------------------------
# the same person under two IDs: one comparison against every stored fingerprint
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """Query ``query`` (index into the queries) matches stored fingerprint ``stored`` (index)."""

    query: int
    stored: int
    concordance: float
    n_sites: int


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x).sum(axis=-1, dtype=np.int64)


def find_matches(
    queries: np.ndarray,
    stored: np.ndarray,
    *,
    min_concordance: float,
    min_sites: int,
    prefilter_margin: float = 0.15,
) -> list[Match]:
    """Every (query, stored) pair whose genotypes agree at >= ``min_concordance`` of >= ``min_sites`` sites
    called in both. ``queries`` ``(Q, 3, W)`` and ``stored`` ``(N, 3, W)`` are :meth:`Fingerprint.planes` stacks.

    Vectorised over the stored fingerprints: for each query, popcounts of ``called & called`` and of
    ``called & called & ~(alt1 ^ alt1') & ~(alt2 ^ alt2')`` over all words. A first pass on about 8 words (512
    sites spread over the panel) drops pairs that already disagree clearly there (concordance below
    ``min_concordance - prefilter_margin`` at >= 32 sites); the rest get the full count.
    """
    out: list[Match] = []
    if not len(queries) or not len(stored):
        return out
    w = stored.shape[2]
    sub = np.arange(0, w, max(1, w // 8))  # about 8 words (512 sites) spread over the panel
    s_sub = np.ascontiguousarray(stored[:, :, sub])
    for qi in range(len(queries)):
        q = queries[qi]
        both = s_sub[:, 0] & q[0, sub]
        n1 = _popcount(both)
        eq1 = _popcount(both & ~(s_sub[:, 1] ^ q[1, sub]) & ~(s_sub[:, 2] ^ q[2, sub]))
        keep = (n1 < 32) | (eq1 >= (min_concordance - prefilter_margin) * n1)
        cand = np.flatnonzero(keep)
        if not len(cand):
            continue
        s = stored[cand]
        both = s[:, 0] & q[0]
        n = _popcount(both)
        eq = _popcount(both & ~(s[:, 1] ^ q[1]) & ~(s[:, 2] ^ q[2]))
        hit = (n >= min_sites) & (eq >= min_concordance * n)
        for j in np.flatnonzero(hit).tolist():
            out.append(Match(qi, int(cand[j]), float(eq[j] / n[j]), int(n[j])))
    return out


def derive_panel(
    gvcfs: Sequence[str | Path],
    out: str | Path,
    *,
    min_maf: float = 0.1,
    min_called: int = 10,
    spacing: int = 100,
    min_gq: int = 20,
    source: str = "",
) -> int:
    """Write a sites VCF of common biallelic SNVs seen in ``gvcfs`` (how the shipped panels were made; a site
    can derive one from its own deliveries): candidates are the biallelic SNVs called in any gVCF, genotyped in
    every gVCF with the fingerprint rules; kept when confidently genotyped in >= ``min_called`` gVCFs with an
    ALT frequency in [``min_maf``, 1 - ``min_maf``], at least ``spacing`` bp apart. Returns the number of sites."""
    import pysam

    cand: dict[tuple[str, int], tuple[str, str]] = {}
    order: dict[str, int] = {}
    for path in gvcfs:
        with pysam.VariantFile(str(path)) as vf:
            for i, c in enumerate(vf.header.contigs):
                order.setdefault(str(c), i)
            for rec in vf:
                alts = [a for a in (rec.alts or ()) if a not in ("<NON_REF>", "<*>")]
                ref = rec.ref or ""
                if len(alts) == 1 and len(ref) == 1 and len(alts[0]) == 1 and alts[0] in "ACGT":
                    cand.setdefault((rec.chrom, rec.pos), (ref.upper(), alts[0]))
    keys = sorted((k for k, (r, a) in cand.items() if r in "ACGT" and r != a),
                  key=lambda k: (order.get(k[0], 10**6), k[1]))
    with tempfile.TemporaryDirectory() as tmp:
        cand_vcf = Path(tmp) / "candidates.vcf"
        write_sites_vcf(cand_vcf, [], (f"{c}\t{p}\t.\t{cand[(c, p)][0]}\t{cand[(c, p)][1]}\t.\t.\t." for c, p in keys))
        panel = load_panel.__wrapped__(cand_vcf)
    if not len(panel):
        g = np.zeros((len(gvcfs), 0), dtype=np.int8)
    else:
        g = np.stack([fingerprint_gvcf(p, panel, min_gq=min_gq).genotypes for p in gvcfs])
    called = (g >= 0).sum(axis=0)
    af = np.where(called > 0, np.where(g >= 0, g, 0).sum(axis=0) / np.maximum(2 * called, 1), 0.0)
    keep = (called >= min_called) & (af >= min_maf) & (af <= 1 - min_maf)
    lines = []
    last: tuple[str, int] | None = None
    for i in np.flatnonzero(keep).tolist():
        c, p = panel.contigs[i], int(panel.pos[i])
        if last and last[0] == c and p - last[1] < spacing:
            continue
        last = (c, p)
        lines.append(f"{c}\t{p}\t.\t{panel.ref[i]}\t{panel.alt[i]}\t.\tPASS\tAF={af[i]:.3f};NS={int(called[i])}")
    write_sites_vcf(out, [
        f"##source=callset.intake.identity.derive_panel (biallelic SNVs, MAF >= {min_maf}, genotyped in >= "
        f"{min_called} of {len(gvcfs)} gVCFs at GQ >= {min_gq}, >= {spacing} bp apart){' ' + source if source else ''}",
        '##INFO=<ID=AF,Number=A,Type=Float,Description="ALT frequency among the gVCFs the panel was derived from">',
        '##INFO=<ID=NS,Number=1,Type=Integer,Description="gVCFs genotyped at the site">',
    ], lines)
    return len(lines)


def stack_planes(fingerprints: Sequence[Fingerprint]) -> np.ndarray:
    """``(N, 3, W)`` planes of fingerprints from one panel."""
    if not fingerprints:
        return np.zeros((0, 3, 0), dtype="<u8")
    return np.stack([f.planes() for f in fingerprints])
