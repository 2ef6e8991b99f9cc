# ruff: noqa: E501
"""Header of the simulated gVCFs: GATK 4.1 HaplotypeCaller ``-ERC GVCF`` lines plus the full contig list."""

from __future__ import annotations

import numpy as np

BAND_PRESETS: dict[str, tuple[int, ...]] = {
    "gatk": tuple(range(1, 60)) + (60, 70, 80, 90, 99),
    "coarse": (1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99),
    "reblock": (20, 30, 40),
}
"""Lower GQ bounds of the reference-block bands (0 is implicit). ``gatk`` = GATK 4 defaults."""


def band_edges(bands: str | tuple[int, ...]) -> np.ndarray:
    """Band lower bounds including 0, from a preset name or explicit bounds."""
    lows = BAND_PRESETS[bands] if isinstance(bands, str) else tuple(bands)
    return np.array(sorted({0, *lows}), dtype=np.int64)


def gvcf_header(
    contig_lengths: dict[str, int], *, bands: str | tuple[int, ...] = "gatk", note: str = ""
) -> str:
    """The ``##`` header lines (without ``#CHROM``) shared by all simulated gVCFs."""
    edges = band_edges(bands)
    uppers = list(edges[1:]) + [100]
    block_lines = sorted(
        f"##GVCFBlock{lo}-{hi}=minGQ={lo}(inclusive),maxGQ={hi}(exclusive)"
        for lo, hi in zip(edges.tolist(), uppers, strict=True)
    )
    lines = [
        "##fileformat=VCFv4.2",
        '##ALT=<ID=NON_REF,Description="Represents any possible alternative allele at this location">',
        '##FILTER=<ID=LowQual,Description="Low quality">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and alt alleles in the order listed">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth (reads with MQ=255 or with bad mates are filtered)">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype Quality">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=MIN_DP,Number=1,Type=Integer,Description="Minimum DP observed within the GVCF block">',
        '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Normalized, Phred-scaled likelihoods for genotypes as defined in the VCF specification">',
        '##FORMAT=<ID=SB,Number=4,Type=Integer,Description="Per-sample component statistics which comprise the Fisher\'s Exact Test to detect strand bias.">',
        '##GATKCommandLine=<ID=HaplotypeCaller,CommandLine="HaplotypeCaller --emit-ref-confidence GVCF '
        f'(simulated by callset.simulate{(" " + note) if note else ""})",Version="4.1.4.0",Date="simulated">',
        *block_lines,
        '##INFO=<ID=AS_QUALapprox,Number=1,Type=String,Description="Allele-specific QUAL approximations">',
        '##INFO=<ID=AS_RAW_MQ,Number=1,Type=String,Description="Allele-specfic raw data for RMS Mapping Quality">',
        '##INFO=<ID=AS_SB_TABLE,Number=1,Type=String,Description="Allele-specific forward/reverse read counts for strand bias tests">',
        '##INFO=<ID=AS_VarDP,Number=1,Type=String,Description="Allele-specific (informative) depth over variant genotypes -- including ref, RAW format">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth; some reads may have been filtered">',
        '##INFO=<ID=END,Number=1,Type=Integer,Description="Stop position of the interval">',
        '##INFO=<ID=ExcessHet,Number=1,Type=Float,Description="Phred-scaled p-value for exact test of excess heterozygosity">',
        '##INFO=<ID=MLEAC,Number=A,Type=Integer,Description="Maximum likelihood expectation (MLE) for the allele counts (not necessarily the same as the AC), for each ALT allele, in the same order as listed">',
        '##INFO=<ID=MLEAF,Number=A,Type=Float,Description="Maximum likelihood expectation (MLE) for the allele frequency (not necessarily the same as the AF), for each ALT allele, in the same order as listed">',
        '##INFO=<ID=QUALapprox,Number=1,Type=Integer,Description="Sum of PL[0] values; used to approximate the QUAL score">',
        '##INFO=<ID=RAW_MQandDP,Number=2,Type=Integer,Description="Raw data (sum of squared MQ and total depth) for improved RMS Mapping Quality calculation. Incompatible with deprecated RAW_MQ formulation.">',
        '##INFO=<ID=VarDP,Number=1,Type=Integer,Description="(informative) depth over variant genotypes">',
        "##source=HaplotypeCaller",
    ]
    lines += [f"##contig=<ID={c},length={n},assembly=38>" for c, n in contig_lengths.items()]
    return "\n".join(lines) + "\n"


