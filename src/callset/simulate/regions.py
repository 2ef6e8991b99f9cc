"""Simulated genome windows on GRCh38 coordinates.

A cohort is simulated on a handful of *windows*: several autosomal windows on different chromosomes
(default 10 × 1 Mb), a window in chrX PAR1, one in the chrX non-PAR region and one in the male-specific
region of chrY. Each window has a
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


#: Where autosomal windows go, in the order ``--autosomes N`` takes them (away from centromeres, gaps and
#: the HLA region). The first ten are the default cohort: mid-sized and small chromosomes, so the FASTA
#: (full-length contigs, ``N`` outside the windows) stays ~1 Gb.
AUTOSOME_WINDOWS: tuple[tuple[str, int], ...] = (
    ("chr20", 10_000_001), ("chr15", 60_000_001), ("chr17", 40_000_001), ("chr12", 60_000_001),
    ("chr22", 30_000_001), ("chr13", 50_000_001), ("chr16", 60_000_001), ("chr18", 40_000_001),
    ("chr14", 50_000_001), ("chr19", 40_000_001), ("chr21", 30_000_001), ("chr11", 80_000_001),
    ("chr10", 80_000_001), ("chr9", 80_000_001), ("chr8", 100_000_001), ("chr7", 100_000_001),
    ("chr6", 70_000_001), ("chr5", 100_000_001), ("chr4", 80_000_001), ("chr3", 70_000_001),
    ("chr2", 50_000_001), ("chr1", 60_000_001),
)
DEFAULT_AUTOSOMES = 10


def autosome_layout(
    *, autosomes: int | None = None, contigs: str | None = None, starts: str | int | None = None,
) -> list[tuple[str, int]]:
    """``(contig, start)`` of each autosomal window.

    ``contigs`` (comma-separated) and ``starts`` (one start for all, or comma-separated, one per contig)
    place windows explicitly; otherwise the first ``autosomes`` (default 10) of :data:`AUTOSOME_WINDOWS`.
    """
    if contigs:
        names = [c.strip() for c in contigs.split(",") if c.strip()]
        if autosomes is not None and autosomes != len(names):
            raise ValueError(f"--autosomes {autosomes} but --contig lists {len(names)} contig(s): {contigs}")
        table = dict(AUTOSOME_WINDOWS)
        if starts is None or starts == "":
            missing = [c for c in names if c not in table]
            if missing:
                raise ValueError(f"no default window start for {missing}: give --start")
            pos = [table[c] for c in names]
        else:
            vals = [int(x) for x in str(starts).split(",") if x.strip()]
            if len(vals) == 1:
                vals *= len(names)
            if len(vals) != len(names):
                raise ValueError(f"--start lists {len(vals)} position(s) for {len(names)} contig(s)")
            pos = vals
        layout = list(zip(names, pos, strict=True))
    else:
        n = DEFAULT_AUTOSOMES if autosomes is None else autosomes
        if not 1 <= n <= len(AUTOSOME_WINDOWS):
            raise ValueError(f"--autosomes must be between 1 and {len(AUTOSOME_WINDOWS)}, got {n}")
        if starts is not None and starts != "":
            raise ValueError("--start needs --contig")
        layout = list(AUTOSOME_WINDOWS[:n])
    if len(set(layout)) != len(layout):
        raise ValueError(f"autosomal windows repeat: {layout}")
    return layout


def default_windows(
    *,
    region_size: int = DEFAULT_AUTOSOMES * 1_000_000,
    autosomes: int | None = None,
    autosome_contig: str | None = None,
    autosome_start: str | int | None = None,
    chrx_size: int | None = None,
    par_size: int | None = None,
    chry_size: int | None = None,
) -> list[Window]:
    """The standard window set: autosomal windows, chrX PAR1, chrX non-PAR, chrY (in reference order).

    ``region_size`` is the total autosomal size, split evenly over the autosomal windows
    (:func:`autosome_layout`). Sex-chromosome sizes default to fractions of ``region_size``: chrX non-PAR
    20 % (at least 100 kb), PAR1 and chrY 5 % (at least 20 kb). Windows are validated against GRCh38.
    """
    layout = autosome_layout(autosomes=autosomes, contigs=autosome_contig, starts=autosome_start)
    if region_size < 1_000 * len(layout):
        raise ValueError(f"region_size must be >= 1000 bp per autosomal window, got {region_size}")
    chrx_size = chrx_size or max(100_000, region_size // 5)
    par_size = par_size or max(20_000, region_size // 20)
    chry_size = chry_size or max(20_000, region_size // 20)
    each, extra = divmod(region_size, len(layout))
    windows = [
        Window(f"autosome{i + 1}" if len(layout) > 1 else "autosome", c, s, each + (i < extra), "autosome")
        for i, (c, s) in enumerate(layout)
    ]
    windows += [
        Window("par1", "chrX", 1_000_001, par_size, "par"),
        Window("chrX", "chrX", 20_000_001, chrx_size, "x_nonpar"),
        Window("chrY", "chrY", 12_000_001, chry_size, "y"),
    ]
    lengths = grch38_lengths()
    for w in windows:
        if w.contig not in lengths:
            raise ValueError(f"window {w.name}: contig {w.contig!r} is not a GRCh38 contig")
        if w.contig in ("chrX", "chrY", "chrM") and w.kind == "autosome":
            raise ValueError(f"window {w.name}: {w.contig} is not an autosome")
        if w.end > lengths[w.contig]:
            raise ValueError(f"window {w.name}: {w.interval} runs past the end of {w.contig}")
    par = next(w for w in windows if w.kind == "par")
    if par.end > PAR1_X[1]:
        raise ValueError(f"PAR window {par.interval} leaves PAR1 {PAR1_X}")
    order = {c: i for i, c in enumerate(lengths)}
    windows.sort(key=lambda w: (order[w.contig], w.start))
    for a, b in zip(windows, windows[1:], strict=False):
        if a.contig == b.contig and b.start <= a.end:
            raise ValueError(f"windows {a.interval} and {b.interval} overlap")
    return windows


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
