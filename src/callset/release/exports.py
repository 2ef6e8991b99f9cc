"""Exports of release shards: bgzipped VCF + ``.tbi``, PLINK 1.9 ``.bed/.bim/.fam``, BGEN 1.2 (8 bit).

The release exports all shards of a callset at once (:func:`export_all_shards`, one query per format) and cuts
the result into shards (:func:`cut_exports`); :func:`export_shard` exports one MatrixTable.

VCFs are standard: a ``##contig`` line with length for every contig of the reference, ``##FILTER`` for every
filter value (site filters, learned-filter labels and genotype-filter codes used by ``FT``), a description for
every INFO/FORMAT field and ``##reference``/``##source`` lines naming the build and the release.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import hail as hl

from callset.errors import ConfigError
from callset.release.cut import CutError, concat_bgzf, cut_plink, merge_bgen
from callset.runtime.jvm_memory import collecting_native_garbage

EXPORT_FORMATS = ("vcf", "plink", "bgen")


def diploid_gt_expr(gt: hl.expr.CallExpression) -> hl.expr.CallExpression:
    """Haploid calls (chrX non-PAR / chrY of XY samples) as homozygous diploid calls, the PLINK 1.9 and
    BGEN-v1.2-hard-call convention; diploid calls unchanged. The VCF export keeps the haploid call."""
    return hl.if_else(gt.ploidy == 1, hl.call(gt[0], gt[0]), gt)


def gp_from_gt_expr(gt: hl.expr.CallExpression) -> hl.expr.ArrayExpression:
    """Hard-call genotype probabilities ``[P(0/0), P(0/1), P(1/1)]`` of a biallelic diploid call."""
    n = gt.n_alt_alleles()
    return hl.or_missing(
        hl.is_defined(gt) & (gt.ploidy == 2),
        hl.range(3).map(lambda i: hl.float64(hl.int32(i == n))),
    )


def vcf_ready(mt: hl.MatrixTable) -> hl.MatrixTable:
    """Rows ``rsid, filters?, info{AC, AN, AF}`` and the exportable entries (GT, AD, DP, GQ, FT?)."""
    rows: dict[str, hl.expr.Expression] = {
        "info": hl.struct(AC=hl.array([mt.AC]), AN=mt.AN, AF=hl.array([mt.AF])),
    }
    if "filters" in mt.row and isinstance(mt.filters.dtype, hl.tset):
        rows["filters"] = mt.filters
    if "rsid" in mt.row:
        rows["rsid"] = mt.rsid
    entries = [f for f in ("GT", "AD", "DP", "GQ") if f in mt.entry]
    if "FT" in mt.entry and mt.FT.dtype in (hl.tstr, hl.tset(hl.tstr)):
        entries.append("FT")
    return mt.select_rows(**rows).select_entries(*entries).select_cols().select_globals()


#: every FILTER value a released VCF can carry: variant QC's site filters and learned-filter labels (row
#: FILTER) and the genotype filter's codes (FORMAT FT uses the same codes, as the VCF specification asks).
#: A test checks that every name the variant-QC code can emit is described here.
FILTER_DESCRIPTIONS = {
    "ExcessHet": "Site fails the excess heterozygosity test (phred-scaled HWE p-value above variant_qc.site_filters)",
    "NO_HQ_GENOTYPES": "No sample has a high-quality (GQ/DP/allele-balance passing) non-reference genotype",
    "EXCESS_ALLELES": "Site has more alternate alleles than variant_qc.site_filters.max_alt_alleles",
    "LowQual": "Allele-specific QUALapprox below the SNV/indel threshold of variant_qc.site_filters",
    "high_CALIBRATION_SENSITIVITY_SNP": "SNV outside the learned filter's calibration sensitivity threshold",
    "high_CALIBRATION_SENSITIVITY_INDEL": "Indel outside the learned filter's calibration sensitivity threshold",
    "LowGQ": "Genotype filter: GQ below variant_qc.genotype_filter.min_gq",
    "LowDP": "Genotype filter: DP below variant_qc.genotype_filter.min_dp",
    "LowAB": "Genotype filter: heterozygous allele balance below variant_qc.genotype_filter.min_het_ab",
}


VCF_METADATA = {
    "filter": {name: {"Description": desc} for name, desc in FILTER_DESCRIPTIONS.items()},
    "info": {
        "AC": {"Number": "A", "Type": "Integer", "Description": "Allele count in released genotypes"},
        "AN": {"Number": "1", "Type": "Integer", "Description": "Number of called alleles"},
        "AF": {"Number": "A", "Type": "Float", "Description": "Allele frequency (AC/AN)"},
    },
    "format": {
        "GT": {"Number": "1", "Type": "String", "Description": "Genotype"},
        "AD": {"Number": "R", "Type": "Integer", "Description": "Allelic depths"},
        "DP": {"Number": "1", "Type": "Integer", "Description": "Read depth"},
        "GQ": {"Number": "1", "Type": "Integer", "Description": "Genotype quality"},
        "FT": {"Number": "1", "Type": "String",
               "Description": "Genotype filter: PASS or the ;-separated failed criteria (LowGQ, LowDP, LowAB)"},
    },
}


def vcf_header_lines(*, reference_genome: str, release: str | None = None) -> list[str]:
    """``##reference`` and ``##source`` lines naming the reference genome and the callset release."""
    from callset import __version__

    src = f"callset {__version__}" + (f", release {release}" if release else "")
    return [f"##reference={reference_genome}", f"##source={src}"]


def export_shard(
    mt: hl.MatrixTable, root: Path, rel_stem: str, *, formats: Iterable[str] = EXPORT_FORMATS,
    reference_genome: str = "GRCh38", release: str | None = None,
) -> dict[str, list[str]]:
    """Export one split shard in ``formats``; return format -> files written (relative to ``root``).

    ``rel_stem`` like ``acaf/{fmt}/shard_00001``: VCF ``.vcf.bgz`` + ``.tbi`` (a ``##contig`` line with length
    for every contig of the reference, ``##FILTER`` for every filter value, a description for every field,
    ``##reference``/``##source`` naming the build and ``release``); PLINK ``.bed/.bim/.fam``; BGEN ``.bgen`` +
    ``.sample`` + ``.bgen.idx2/`` (hard-call GP from GT).
    """
    import tempfile

    out: dict[str, list[str]] = {}
    for fmt in formats:
        stem = rel_stem.format(fmt=fmt)
        (root / stem).parent.mkdir(parents=True, exist_ok=True)
        if fmt == "vcf":
            path = root / f"{stem}.vcf.bgz"
            with tempfile.NamedTemporaryFile("w", suffix=".header.txt") as extra:  # outside the release
                extra.write("\n".join(vcf_header_lines(reference_genome=reference_genome, release=release)) + "\n")
                extra.flush()
                hl.export_vcf(vcf_ready(mt), str(path), metadata=VCF_METADATA, tabix=True,
                              append_to_header=extra.name)
            out[fmt] = [f"{stem}.vcf.bgz", f"{stem}.vcf.bgz.tbi"]
        elif fmt == "plink":
            hl.export_plink(mt, str(root / stem), call=diploid_gt_expr(mt.GT), ind_id=mt.s)
            out[fmt] = [f"{stem}.bed", f"{stem}.bim", f"{stem}.fam"]
        elif fmt == "bgen":
            bmt = mt.select_entries(GP=gp_from_gt_expr(diploid_gt_expr(mt.GT)))
            bmt = bmt.select_rows().select_cols().select_globals()
            with collecting_native_garbage(why=f"BGEN export {stem}"):  # Hail's per-variant zlib state
                hl.export_bgen(bmt, str(root / stem))
            hl.index_bgen(str(root / f"{stem}.bgen"), reference_genome=reference_genome)
            out[fmt] = [f"{stem}.bgen", f"{stem}.sample", f"{stem}.bgen.idx2"]
        else:
            raise ConfigError(f"release_options.exports: unknown format {fmt!r}; known: {EXPORT_FORMATS}")
        for crc in (root / stem).parent.glob(f".{Path(stem).name}.*.crc"):  # Hadoop sidecars: noise for users
            crc.unlink()
    return out


def _vcf_header_file(reference_genome: str, release: str | None) -> Any:
    import tempfile

    extra = tempfile.NamedTemporaryFile("w", suffix=".header.txt")  # outside the release
    extra.write("\n".join(vcf_header_lines(reference_genome=reference_genome, release=release)) + "\n")
    extra.flush()
    return extra


def export_all_shards(
    mt: hl.MatrixTable, work: Path, *, formats: Iterable[str] = EXPORT_FORMATS, reference_genome: str = "GRCh38",
    release: str | None = None,
) -> dict[str, Path]:
    """Export every shard of a split callset at once, one Hail query per format, into the scratch folder ``work``
    (cut into shards by :func:`cut_exports`); return format -> what was written.

    VCF: a header file and one headerless BGZF part per partition (``parallel="separate_header"``); PLINK: one
    ``.bed/.bim/.fam`` in partition order; BGEN: one complete file per partition (``parallel="header_per_shard"``)
    and the ``.sample`` file. Same content and header as :func:`export_shard` of each shard.
    """
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for fmt in formats:
        if fmt == "vcf":
            with _vcf_header_file(reference_genome, release) as extra:
                # the .bgz extension makes every part block-gzipped
                hl.export_vcf(vcf_ready(mt), str(work / "vcf.bgz"), metadata=VCF_METADATA,
                              append_to_header=extra.name, parallel="separate_header")
            out[fmt] = work / "vcf.bgz"
        elif fmt == "plink":
            hl.export_plink(mt, str(work / "plink"), call=diploid_gt_expr(mt.GT), ind_id=mt.s)
            out[fmt] = work / "plink"
        elif fmt == "bgen":
            bmt = mt.select_entries(GP=gp_from_gt_expr(diploid_gt_expr(mt.GT)))
            with collecting_native_garbage(why=f"BGEN export {work.name}"):  # Hail's per-variant zlib state
                hl.export_bgen(bmt.select_rows().select_cols().select_globals(), str(work / "bgen"),
                               parallel="header_per_shard")
            out[fmt] = work / "bgen"
        else:
            raise ConfigError(f"release_options.exports: unknown format {fmt!r}; known: {EXPORT_FORMATS}")
    return out


def _part_files(folder: Path, n_partitions: int) -> list[Path]:
    """Hail's per-partition output files ``part-<i>-<uuid>...`` in ``folder``, in partition order."""
    parts = sorted((p for p in folder.iterdir() if p.name.startswith("part-")),
                   key=lambda p: int(p.name.split("-")[1]))
    if len(parts) != n_partitions:
        raise CutError(f"{folder}: {len(parts)} part files for {n_partitions} partitions")
    return parts


def cut_exports(
    written: dict[str, Path], root: Path, stems: Sequence[str | None], groups: Sequence[Sequence[int]],
    partition_counts: Sequence[int], *, n_samples: int, reference_genome: str = "GRCh38",
) -> list[dict[str, list[str]]]:
    """Cut the exports of :func:`export_all_shards` into shard ``k``'s files ``root/stems[k]`` (``{fmt}`` in the stem
    is the format; None: shard ``k`` is not written), ``groups[k]`` being its partitions; return each shard's
    format -> files (relative to ``root``), as :func:`export_shard` does."""
    import pysam

    out: list[dict[str, list[str]]] = [{} for _ in stems]
    for fmt, path in written.items():
        if fmt == "vcf":
            header, parts = path / "header.bgz", _part_files(path, len(partition_counts))
            for k, stem in enumerate(stems):
                if stem is None:
                    continue
                dest = root / f"{stem.format(fmt=fmt)}.vcf.bgz"
                dest.parent.mkdir(parents=True, exist_ok=True)
                concat_bgzf([header, *(parts[i] for i in groups[k])], dest)
                pysam.tabix_index(str(dest), preset="vcf", force=True)
                out[k][fmt] = [f"{stem.format(fmt=fmt)}.vcf.bgz", f"{stem.format(fmt=fmt)}.vcf.bgz.tbi"]
        elif fmt == "plink":
            rows = [sum(partition_counts[i] for i in g) for g in groups]
            dests = [None if s is None else root / s.format(fmt=fmt) for s in stems]
            cut_plink(path, rows, dests, n_samples=n_samples)
            for k, stem in enumerate(stems):
                if stem is not None:
                    out[k][fmt] = [f"{stem.format(fmt=fmt)}{x}" for x in (".bed", ".bim", ".fam")]
        elif fmt == "bgen":
            parts = _part_files(path.with_suffix(".bgen"), len(partition_counts))
            written_bgen = []
            for k, stem in enumerate(stems):
                if stem is None:
                    continue
                dest = root / f"{stem.format(fmt=fmt)}.bgen"
                dest.parent.mkdir(parents=True, exist_ok=True)
                merge_bgen([parts[i] for i in groups[k]], dest)
                shutil.copyfile(path.with_suffix(".sample"), dest.with_suffix(".sample"))
                written_bgen.append(str(dest))
                out[k][fmt] = [f"{stem.format(fmt=fmt)}{x}" for x in (".bgen", ".sample", ".bgen.idx2")]
            if written_bgen:
                hl.index_bgen(written_bgen, reference_genome=reference_genome)  # one query for every shard
    return out  # files written by Python here: no Hadoop .crc sidecars next to them
