"""REF bases against the reference FASTA in the intake scan (``intake.reference_fasta``), on the hand-made gVCFs
of tests/data/flavors, whose made-up reference has base ``"ACGT"[p % 4]`` at position p."""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest
from test_flavors import bgzip

from callset.core.reference import load_reference
from callset.intake.checks import scan_gvcf

REF = load_reference("GRCh38")


def write_fasta(path: Path, contigs: dict[str, int], base=lambda p: "ACGT"[p % 4]) -> Path:  # noqa: ANN001
    """A FASTA whose contigs hold ``base(p)`` from 10 kb before the data on (N before that), indexed."""
    with open(path, "w") as f:
        for name, start in contigs.items():
            first = start - 10_000
            seq = "N" * (first - 1) + "".join(base(p) for p in range(first, start + 2_000))
            f.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                f.write(seq[i : i + 60] + "\n")
    pysam.faidx(str(path))
    return path


@pytest.fixture(scope="module")
def gvcfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("refcheck")
    return {n: bgzip(n, d) for n in ("gatk_hc", "dragen", "deepvariant")}


@pytest.fixture(scope="module")
def fasta(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fasta(tmp_path_factory.mktemp("fa") / "ref.fa", {"chr20": 10_000_001, "chrX": 5_000_001})


def test_matching_reference_passes(gvcfs: dict[str, Path], fasta: Path) -> None:
    for name, g in gvcfs.items():
        scan = scan_gvcf(g, sample_id={"gatk_hc": "GATK1", "dragen": "DRAGEN1", "deepvariant": "DV1"}[name],
                         reference=REF, reference_fasta=str(fasta))
        assert not scan.problems and not scan.notes, (name, scan.problems, scan.notes)


def test_another_reference_is_rejected_with_the_first_positions(gvcfs: dict[str, Path], tmp_path: Path) -> None:
    # same contig names and lengths, different bases (every base shifted by one)
    other = write_fasta(tmp_path / "other.fa", {"chr20": 10_000_001, "chrX": 5_000_001},
                        base=lambda p: "ACGT"[(p + 1) % 4])
    scan = scan_gvcf(gvcfs["gatk_hc"], sample_id="GATK1", reference=REF, reference_fasta=str(other))
    assert len(scan.problems) == 1
    msg = scan.problems[0]
    assert msg.startswith(f"{gvcfs['gatk_hc']}: REF differs from the reference FASTA {other} at 9 of 9 records, "
                          "first at chr20:10000001 (line 28: REF C, FASTA G), chr20:10000117 (line 29: REF C, FASTA G)")
    assert msg.endswith("(gVCF made against another reference?)")


def test_case_n_and_missing_contigs(gvcfs: dict[str, Path], tmp_path: Path) -> None:
    # soft-masked (lower case) FASTA and N in the FASTA under a REF both match; a contig the FASTA lacks is a note
    lower = write_fasta(tmp_path / "lower.fa", {"chr20": 10_000_001},
                        base=lambda p: "N" if p == 10_000_117 else "acgt"[p % 4])
    scan = scan_gvcf(gvcfs["dragen"], sample_id="DRAGEN1", reference=REF, reference_fasta=str(lower))
    assert not scan.problems, scan.problems
    assert scan.notes == [f"{gvcfs['dragen']}: REF not checked on 1 contig(s) missing from {lower}: ['chrX']"]


def test_one_wrong_base_in_a_multi_base_ref(gvcfs: dict[str, Path], tmp_path: Path) -> None:
    # the deletion ACGT at 10000300 spans four bases: a difference at its third base is found
    odd = write_fasta(tmp_path / "odd.fa", {"chr20": 10_000_001, "chrX": 5_000_001},
                      base=lambda p: "T" if p == 10_000_302 else "ACGT"[p % 4])
    scan = scan_gvcf(gvcfs["dragen"], sample_id="DRAGEN1", reference=REF, reference_fasta=str(odd))
    assert len(scan.problems) == 1 and "at 1 of 14 records, first at chr20:10000300 (line 43: REF ACGT, FASTA ACTT)" \
        in scan.problems[0]
