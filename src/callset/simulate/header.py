# ruff: noqa: E501
"""Header of the simulated gVCFs: GATK 4.1 HaplotypeCaller ``-ERC GVCF`` lines plus the full contig list."""

from __future__ import annotations

import numpy as np

from callset.core.gatk_header import GATK_GVCF_FORMAT_META, GATK_GVCF_INFO_META

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
        *GATK_GVCF_FORMAT_META,
        '##GATKCommandLine=<ID=HaplotypeCaller,CommandLine="HaplotypeCaller --emit-ref-confidence GVCF '
        f'(simulated by callset.simulate{(" " + note) if note else ""})",Version="4.1.4.0",Date="simulated">',
        *block_lines,
        *GATK_GVCF_INFO_META,
        "##source=HaplotypeCaller",
    ]
    lines += [f"##contig=<ID={c},length={n},assembly=38>" for c, n in contig_lengths.items()]
    return "\n".join(lines) + "\n"


