"""Simulated genome windows on GRCh38 coordinates.

A cohort is simulated on a handful of *windows*: one autosomal window (default on chr20), a window in
chrX PAR1, one in the chrX non-PAR region and one in the male-specific region of chrY. Each window has a
*kind* that decides its copy number per karyotype (see :func:`copy_number`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from callset.core.reference import load_reference

WindowKind = Literal["autosome", "par", "x_nonpar", "y"]

#: GRCh38 pseudo-autosomal region 1 on chrX (1-based, inclusive).
PAR1_X = (10_001, 2_781_479)
#: GRCh38 pseudo-autosomal region 2 on chrX (1-based, inclusive).
PAR2_X = (155_701_383, 156_030_895)

KARYOTYPES = ("XX", "XY", "X0", "XXY")


@dataclass(frozen=True)
class Window:
    """A simulated stretch of the genome: ``contig:start-end`` (1-based, inclusive)."""

    name: str
    contig: str
    start: int
    length: int
    kind: WindowKind

    @property
    def end(self) -> int:
        return self.start + self.length - 1

    @property
    def interval(self) -> str:
        """The window as ``contig:start-end``."""
        return f"{self.contig}:{self.start}-{self.end}"


def grch38_lengths() -> dict[str, int]:
    """Ordered GRCh38 contig lengths (all 3,366 contigs, as Hail defines them)."""
    return dict(load_reference("GRCh38").lengths)


def default_windows(
    *,
    region_size: int = 1_000_000,
    autosome_contig: str = "chr20",
    autosome_start: int = 10_000_001,
    chrx_size: int | None = None,
    par_size: int | None = None,
    chry_size: int | None = None,
) -> list[Window]:
    """The standard window set: autosome, chrX PAR1, chrX non-PAR, chrY (in reference order).

    Sizes default to fractions of ``region_size``: chrX non-PAR 20 % (at least 100 kb), PAR1 and chrY 5 %
    (at least 20 kb). Windows are validated against GRCh38 lengths.
    """
    if region_size < 1_000:
        raise ValueError(f"region_size must be >= 1000 bp, got {region_size}")
    chrx_size = chrx_size or max(100_000, region_size // 5)
    par_size = par_size or max(20_000, region_size // 20)
    chry_size = chry_size or max(20_000, region_size // 20)
    windows = [
        Window("autosome", autosome_contig, autosome_start, region_size, "autosome"),
        Window("par1", "chrX", 1_000_001, par_size, "par"),
        Window("chrX", "chrX", 20_000_001, chrx_size, "x_nonpar"),
        Window("chrY", "chrY", 12_000_001, chry_size, "y"),
    ]
    lengths = grch38_lengths()
    for w in windows:
        if w.contig not in lengths:
            raise ValueError(f"window {w.name}: contig {w.contig!r} is not a GRCh38 contig")
        if w.end > lengths[w.contig]:
            raise ValueError(f"window {w.name}: {w.interval} runs past the end of {w.contig}")
    if windows[1].end > PAR1_X[1]:
        raise ValueError(f"PAR window {windows[1].interval} leaves PAR1 {PAR1_X}")
    order = {c: i for i, c in enumerate(lengths)}
    return sorted(windows, key=lambda w: (order[w.contig], w.start))


def copy_number(kind: WindowKind, karyotype: str) -> int:
    """Number of copies of a window's sequence in an individual with ``karyotype``."""
    n_x = karyotype.count("X")
    n_y = karyotype.count("Y")
    if kind == "autosome":
        return 2
    if kind == "par":
        return n_x + n_y
    if kind == "x_nonpar":
        return n_x
    if kind == "y":
        return n_y
    raise ValueError(f"unknown window kind {kind!r}")
