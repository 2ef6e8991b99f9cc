"""Fingerprint panels: the fixed sites (common biallelic SNVs) at which :mod:`callset.intake.identity` genotypes
every gVCF and CRAM — reading a panel, the panels shipped per reference build (``data/fingerprint/``, see its
README), and writing one as a sites VCF."""

from __future__ import annotations

import gzip
import hashlib
import logging
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from callset.errors import ConfigError

log = logging.getLogger(__name__)

#: shipped panels (package data), one per reference build
PANEL_DATA = resources.files("callset.intake") / "data" / "fingerprint"


def shipped_panel(reference_genome: str) -> Path | None:
    """The fingerprint panel shipped for ``reference_genome``, or None when there is none."""
    for name in (f"{reference_genome}.sites.vcf.gz", f"{reference_genome}.sites.vcf"):
        p = PANEL_DATA / name
        if p.is_file():
            return Path(str(p))
    return None


@dataclass(frozen=True, eq=False)
class Panel:
    """Biallelic SNV sites, in file order (sorted by contig then position)."""

    path: str
    contigs: tuple[str, ...]  # contig of each site
    pos: np.ndarray  # int64, 1-based
    ref: tuple[str, ...]
    alt: tuple[str, ...]
    digest: str  # md5 of the site list: fingerprints are comparable only under one digest
    by_contig: dict[str, tuple[int, int]] = field(default_factory=dict)  # contig -> [first, last+1) site index

    def __len__(self) -> int:
        return len(self.pos)

    def sites_in(self, contig: str, start: int, end: int) -> range:
        """Indices of sites with ``start <= pos <= end`` on ``contig``."""
        lo, hi = self.by_contig.get(contig, (0, 0))
        p = self.pos[lo:hi]
        return range(lo + int(np.searchsorted(p, start, "left")), lo + int(np.searchsorted(p, end, "right")))

    def regions_file(self, directory: str | Path, rename: Mapping[str, str] | None = None) -> Path:
        """``CHROM POS POS`` of every site (contigs renamed by ``rename``, reference -> file names)."""
        rename = rename or {}
        out = Path(directory) / "panel_regions.tsv"
        out.write_text(
            "".join(f"{rename.get(c, c)}\t{p}\t{p}\n" for c, p in zip(self.contigs, self.pos.tolist(), strict=True))
        )
        return out


@lru_cache(maxsize=8)
def load_panel(path: str | Path) -> Panel:
    """Read a sites VCF (plain or gzip/bgzip). Biallelic SNVs (A/C/G/T) are kept, anything else skipped; sites
    must be sorted by position within each contig and each contig in one run."""
    path = str(path)
    opener = gzip.open if path.endswith((".gz", ".bgz")) else open
    contigs: list[str] = []
    pos: list[int] = []
    ref: list[str] = []
    alt: list[str] = []
    skipped = 0
    try:
        with opener(path, "rt") as f:  # type: ignore[operator]
            for line in f:
                if line.startswith("#"):
                    continue
                c = line.rstrip("\r\n").split("\t", 5)
                if len(c) < 5:
                    raise ConfigError(f"{path}: line {line[:60]!r} is not a VCF record")
                r, a = c[3].upper(), c[4].upper()
                if len(r) != 1 or len(a) != 1 or r not in "ACGT" or a not in "ACGT" or r == a:
                    skipped += 1
                    continue
                contigs.append(c[0])
                pos.append(int(c[1]))
                ref.append(r)
                alt.append(a)
    except (OSError, ValueError, EOFError) as e:
        raise ConfigError(f"{path}: cannot read the fingerprint panel: {e}") from None
    arr = np.asarray(pos, dtype=np.int64)
    by: dict[str, tuple[int, int]] = {}
    i = 0
    while i < len(contigs):
        j = i
        while j < len(contigs) and contigs[j] == contigs[i]:
            j += 1
        if contigs[i] in by:
            raise ConfigError(f"{path}: contig {contigs[i]} appears in two runs (sort the panel)")
        if np.any(np.diff(arr[i:j]) <= 0):
            raise ConfigError(f"{path}: sites of {contigs[i]} are not sorted by position (or repeat)")
        by[contigs[i]] = (i, j)
        i = j
    if skipped:
        log.info("fingerprint panel %s: %d records that are not biallelic SNVs ignored", path, skipped)
    digest = hashlib.md5(
        "".join(f"{c}:{p}:{r}:{a}\n" for c, p, r, a in zip(contigs, pos, ref, alt, strict=True)).encode()
    ).hexdigest()
    return Panel(path, tuple(contigs), arr, tuple(ref), tuple(alt), digest, by)


def write_sites_vcf(path: str | Path, meta: Iterable[str], records: Iterable[str]) -> None:
    """A plain sites VCF: ``##fileformat``, the ``meta`` lines, the header line, then ``records`` (tab-separated
    CHROM..INFO, without newlines)."""
    head = ["##fileformat=VCFv4.2", *meta, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    Path(path).write_text("".join(f"{line}\n" for line in (*head, *records)))


#: contig order of the panels made by :func:`panel_from_bed` (both naming styles)
_PANEL_CONTIGS = [f"{p}{x}" for p in ("chr", "") for x in [*map(str, range(1, 23)), "X", "Y"]]


def panel_from_bed(bed: str | Path, out: str | Path, *, source: str) -> dict[str, int]:
    """Write a published SNP list in BED form (``chrom start0 end rsID REF ALT``, as NGSCheckMate's ``SNP/*.bed``)
    as a panel: a bgzipped sites VCF sorted by contig and position, with primary-assembly contigs only, biallelic
    SNVs only and each position once (how the shipped panels were made; see their README). Returns the number of
    sites written and of lines dropped per reason."""
    import pysam

    order = {c: i for i, c in enumerate(_PANEL_CONTIGS)}
    counts = {"sites": 0, "other contig": 0, "not a biallelic SNV": 0, "repeated position": 0}
    seen: set[tuple[str, int]] = set()
    rows: list[tuple[int, int, str, str, str, str]] = []
    with open(bed) as f:
        for n, line in enumerate(f, 1):
            c = line.rstrip("\r\n").split("\t")
            if len(c) < 6:
                raise ConfigError(f"{bed}: line {n}: {len(c)} columns, expected chrom, start, end, ID, REF, ALT")
            contig, start, end, rsid, ref, alt = c[:6]
            if contig not in order:
                counts["other contig"] += 1
            elif int(end) - int(start) != 1 or len(ref) != 1 or len(alt) != 1 or ref == alt or \
                    ref not in "ACGT" or alt not in "ACGT":
                counts["not a biallelic SNV"] += 1
            elif (contig, int(end)) in seen:
                counts["repeated position"] += 1
            else:
                seen.add((contig, int(end)))
                rows.append((order[contig], int(end), contig, rsid, ref, alt))
    rows.sort()
    counts["sites"] = len(rows)
    dropped = {k: v for k, v in counts.items() if k != "sites"}
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "panel.vcf"
        write_sites_vcf(plain, [
            f"##source={source}",
            f"##callset_panel=callset.intake.panel.panel_from_bed of {Path(bed).name}: sorted; dropped {dropped}",
        ], (f"{c}\t{p}\t{rs}\t{r}\t{a}\t.\t.\t." for _, p, c, rs, r, a in rows))
        pysam.tabix_compress(str(plain), str(out), force=True)
    return counts
