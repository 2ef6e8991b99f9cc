"""Per-file checks used by intake. Each returns problems as strings that name the file, and the line or
record where that applies. No Spark: htslib (through pysam/cyvcf2) reads everything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from callset.reference import Reference

log = logging.getLogger(__name__)

BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
_BASES = re.compile(r"^[ACGTNacgtn]+$")


def md5sum(path: str | Path, *, chunk: int = 1 << 22) -> str:
    """md5 of a file, streamed."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_present(path: Path, what: str) -> list[str]:
    """The file exists, is a regular file and is not empty."""
    if not path.exists():
        return [f"{path}: {what} file does not exist"]
    if not path.is_file():
        return [f"{path}: {what} is not a regular file"]
    if path.stat().st_size == 0:
        return [f"{path}: {what} file is empty"]
    return []


def check_bgzf_eof(path: Path) -> list[str]:
    """A bgzip/BAM/CRAM-3 style file ends with the BGZF EOF marker block (truncation check)."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head[:2] != b"\x1f\x8b":
            return [f"{path}: not bgzip-compressed (gVCFs must be bgzipped and tabix-indexed)"]
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - len(BGZF_EOF)))
        if f.read() != BGZF_EOF:
            return [f"{path}: bgzip EOF block missing (file truncated or not bgzip)"]
    return []


@dataclass
class GvcfScan:
    """What one streaming pass over a gVCF found."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extents: dict[str, tuple[int, int]] = field(default_factory=dict)  # recoded contig -> (first POS, last END)
    n_records: int = 0
    n_variant_records: int = 0
    needs_recoding: bool = False


def scan_gvcf(
    path: Path,
    *,
    sample_id: str,
    reference: Reference,
    contig_recoding: Mapping[str, str] | None = None,
    max_problems: int = 5,
) -> GvcfScan:
    """Stream the whole gVCF once: header (sample, contigs) and every record.

    Checks: exactly one sample named ``sample_id``; gVCF-ness (reference blocks with END and a
    ``<NON_REF>``/``<*>`` allele); records sorted; END >= POS; REF/ALT bases; GT allele indices;
    contigs known to ``reference`` with matching lengths after ``contig_recoding``. Collects per-contig
    extents for import partitioning. At most ``max_problems`` record-level problems of each kind are kept.
    """
    from cyvcf2 import VCF

    recode = dict(contig_recoding or {})
    out = GvcfScan()
    try:
        vcf = VCF(str(path), lazy=True, threads=1)
    except (OSError, Exception) as e:  # noqa: BLE001 - cyvcf2 raises plain Exception on bad headers
        out.problems.append(f"{path}: cannot read VCF header: {e}")
        return out
    samples = list(vcf.samples)
    if len(samples) != 1:
        out.problems.append(f"{path}: header has {len(samples)} sample columns {samples[:5]}, expected exactly 1")
    elif samples[0] != sample_id:
        out.problems.append(f"{path}: header sample name {samples[0]!r} does not match manifest sample_id {sample_id!r}")
    # contigs declared in the header: names must recode to the reference with matching lengths
    header_lengths: dict[str, int | None] = {}
    for h in vcf.header_iter():
        if h.type == "CONTIG":
            info = h.info()
            ln = info.get("length")
            header_lengths[info["ID"]] = int(ln) if ln and ln.isdigit() else None
    wrong_len = []
    for name, ln in header_lengths.items():
        target = recode.get(name, name)
        ref_len = reference.lengths.get(target)
        if ref_len is not None and ln is not None and ln != ref_len:
            wrong_len.append(f"{name} ({ln} vs {reference.name} {ref_len})")
    if wrong_len:
        out.problems.append(
            f"{path}: {len(wrong_len)} header contig lengths differ from {reference.name}, e.g. "
            f"{', '.join(wrong_len[:3])} (wrong reference build?)"
        )
    counts: dict[str, int] = {}

    def problem(kind: str, msg: str) -> None:
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] <= max_problems:
            out.problems.append(msg)

    last_contig: str | None = None
    last_pos = 0
    done_contigs: set[str] = set()
    has_ref_block = False
    record_no = 0
    try:
        for rec in vcf:
            record_no += 1
            chrom, pos = rec.CHROM, rec.POS
            where = f"{path}: record {record_no} ({chrom}:{pos})"
            target = recode.get(chrom, chrom)
            if chrom in recode:
                out.needs_recoding = True
            if target not in reference.lengths:
                problem("contig", f"{where}: contig {chrom!r} is not in {reference.name}")
            if chrom != last_contig:
                if chrom in done_contigs:
                    problem("sort", f"{where}: records not sorted (contig {chrom} seen before)")
                if last_contig is not None:
                    done_contigs.add(last_contig)
                last_contig, last_pos = chrom, 0
            if pos < last_pos:
                problem("sort", f"{where}: records not sorted (POS {pos} after {last_pos})")
            last_pos = pos
            ref = rec.REF
            alts = rec.ALT
            if not _BASES.match(ref or ""):
                problem("ref", f"{where}: invalid REF {ref!r}")
            for a in alts:
                if not (_BASES.match(a) or (a.startswith("<") and a.endswith(">")) or a == "*"):
                    problem("alt", f"{where}: invalid ALT {a!r}")
            end = rec.INFO.get("END")
            is_block = end is not None and all(a in ("<NON_REF>", "<*>") for a in alts)
            if end is not None:
                end = int(end)
                if end < pos:
                    problem("end", f"{where}: END {end} is before POS {pos}")
                has_ref_block = has_ref_block or is_block
            else:
                end = pos + len(ref) - 1
            if not is_block:
                out.n_variant_records += 1
            gts = rec.genotypes
            if gts:
                alleles = gts[0][:-1]
                n_alleles = 1 + len(alts)
                if any(a >= n_alleles or a < -1 for a in alleles):
                    problem("gt", f"{where}: GT allele index out of range ({alleles}, {n_alleles} alleles)")
                if len(alleles) not in (1, 2):
                    problem("gt", f"{where}: GT ploidy {len(alleles)} not supported")
            elif samples:
                problem("gt", f"{where}: no genotype for the sample")
            if target in reference.lengths:
                first, last = out.extents.get(target, (pos, end))
                out.extents[target] = (min(first, pos), max(last, end))
                if end > reference.lengths[target]:
                    problem("len", f"{where}: END {end} beyond {target} length {reference.lengths[target]}")
    except Exception as e:  # noqa: BLE001 - htslib decode errors surface as generic exceptions
        out.problems.append(f"{path}: record {record_no + 1}: cannot decode: {e}")
    finally:
        vcf.close()
    out.n_records = record_no
    for kind, n in counts.items():
        if n > max_problems:
            out.problems.append(f"{path}: ... {n - max_problems} more {kind} problems not shown")
    if record_no == 0:
        out.problems.append(f"{path}: no records")
    elif not has_ref_block:
        out.problems.append(f"{path}: no reference blocks (<NON_REF> with END): not a gVCF")
    return out
