"""Coverage from a submitted CRAM (sample QC): the measured depth on a CRAM with a known answer, and a CRAM that
cannot be decoded (truncated; the damaged files of the shared test data) falling back to the center's reported
coverage with one warning line instead of a pysam traceback. No Spark."""

from __future__ import annotations

import logging
import math
import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TESTDATA

from callset.errors import CallsetError
from callset.sample_qc.coverage import cram_coverage, cram_coverage_or_none

CONTIG_LEN = 60_000
READ_LEN = 100
STEP = 5  # a read every 5 bp: depth 20 away from the ends
DUP_EVERY = 7  # every 7th read is flagged duplicate and must not count


@pytest.fixture(scope="module")
def cram(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A coordinate-sorted, indexed CRAM on one autosome (chr1) and chrX, written with pysam from a random
    reference; several containers (random qualities keep it from compressing into one)."""
    import pysam

    d = tmp_path_factory.mktemp("cram")
    rng = random.Random(11)
    seqs = {c: "".join(rng.choice("ACGT") for _ in range(CONTIG_LEN)) for c in ("chr1", "chrX")}
    fasta = d / "ref.fa"
    fasta.write_text("".join(f">{c}\n" + "\n".join(s[i : i + 60] for i in range(0, len(s), 60)) + "\n"
                             for c, s in seqs.items()))
    pysam.faidx(str(fasta))
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": c, "LN": CONTIG_LEN} for c in seqs],
              "RG": [{"ID": "rg1", "SM": "S1"}]}
    path = d / "S1.cram"
    counted = []
    with pysam.AlignmentFile(str(path), "wc", header=header, reference_filename=str(fasta)) as out:
        for tid, (contig, seq) in enumerate(seqs.items()):
            starts = range(0, CONTIG_LEN - READ_LEN, STEP) if contig == "chr1" else range(1000, 2000, STEP)
            for i, start in enumerate(starts):
                a = pysam.AlignedSegment(out.header)
                a.query_name, a.reference_id, a.reference_start = f"{contig}_{i}", tid, start
                a.query_sequence = seq[start : start + READ_LEN]
                a.cigartuples = [(0, READ_LEN)]
                a.mapping_quality = 60
                a.query_qualities = pysam.qualitystring_to_array("".join(rng.choice("#+5?I") for _ in range(READ_LEN)))
                a.set_tag("RG", "rg1")
                if i % DUP_EVERY == 0:
                    a.flag |= 0x400
                elif contig == "chr1":
                    counted.append(start)
                out.write(a)
    pysam.index(str(path))
    # the answer, base by base: the span is the first read start to the last read end on chr1 (chrX not counted)
    first, last = 0, max(range(0, CONTIG_LEN - READ_LEN, STEP)) + READ_LEN
    depth = np.zeros(last - first, np.int64)
    for s in counted:
        depth[s - first : s - first + READ_LEN] += 1
    return {"path": path, "fasta": str(fasta), "mean": float(depth.mean()), "frac20": float((depth >= 20).mean())}


def truncated_copy(src: Path, dst: Path, fraction: float) -> Path:
    """The first ``fraction`` of ``src``'s bytes, with ``src``'s index (as a copy cut short in transfer)."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    shutil.copyfile(f"{src}.crai", f"{dst}.crai")
    return dst


def test_cram_coverage_counts_autosomal_non_duplicate_reads(cram: dict) -> None:
    mean, frac = cram_coverage(str(cram["path"]), reference_fasta=cram["fasta"])
    assert 17 < cram["mean"] < 18  # 20x minus the duplicates, lower at the two ends
    assert math.isclose(mean, cram["mean"], rel_tol=1e-12) and math.isclose(frac, cram["frac20"], rel_tol=1e-12)


@pytest.mark.parametrize("fraction", [0.3, 0.7])
def test_truncated_cram_raises_one_line_error(cram: dict, tmp_path: Path, fraction: float) -> None:
    bad = truncated_copy(cram["path"], tmp_path / "T.cram", fraction)
    with pytest.raises(CallsetError) as err:
        cram_coverage(str(bad), reference_fasta=cram["fasta"])
    assert str(err.value) == f"{bad}: cannot decode CRAM for coverage (truncated file)"


def test_sample_qc_falls_back_to_center_coverage_for_a_truncated_cram(
    cram: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """Sample QC's coverage step (``pipeline._coverage``): S1's CRAM is measured; S2's and S3's CRAM is truncated,
    so S2 gets the center's reported coverage and S3 (nothing reported) the gVCF estimate, each with one warning
    line naming the sample, the file and the reason; htslib prints nothing of its own."""
    from callset.sample_qc.pipeline import _coverage

    shutil.copyfile(cram["path"], tmp_path / "S1.cram")
    shutil.copyfile(f"{cram['path']}.crai", tmp_path / "S1.cram.crai")
    bad = truncated_copy(cram["path"], tmp_path / "S2.cram", 0.3)
    df = pd.DataFrame({"s": ["S1", "S2", "S3"], "dp_autosome_covered": [30.0, 31.0, 32.0],
                       "frac_autosome_dp20": [0.90, 0.91, 0.92]})
    center = pd.DataFrame({
        "sample_id": ["S1", "S2", "S3"], "batch_id": ["b1"] * 3, "reported_sex": ["female"] * 3,
        "reported_mean_coverage": [40.0, 35.0, np.nan], "reported_coverage_20x": [0.97, 0.95, np.nan],
        "reported_contamination": [0.01] * 3, "cram": ["S1.cram", "S2.cram", "S2.cram"],
    })
    capfd.readouterr()
    with caplog.at_level(logging.WARNING):
        out = _coverage(df, center, cram_base={"b1": str(tmp_path)}, reference_fasta=cram["fasta"]).set_index("s")
    assert list(out.coverage_source) == ["cram", "center", "gvcf"]
    assert math.isclose(out.loc["S1", "mean_coverage"], cram["mean"], rel_tol=1e-12)
    assert (out.loc["S2", "mean_coverage"], out.loc["S2", "coverage_20x"]) == (35.0, 0.95)
    assert (out.loc["S3", "mean_coverage"], out.loc["S3", "coverage_20x"]) == (32.0, 0.92)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        f"sample S2: {bad}: cannot decode CRAM for coverage (truncated file): coverage from the center's report "
        "instead",
        f"sample S3: {bad}: cannot decode CRAM for coverage (truncated file): coverage from the gVCF estimate instead",
    ]
    assert all(r.exc_info is None for r in warnings)  # no traceback
    err = capfd.readouterr().err
    assert "[E::" not in err and "[W::" not in err, err


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("1.quickcheck.badeof.bam", "cannot open CRAM for coverage (no BGZF EOF marker; file may be truncated)"),
        ("2.quickcheck.badheader.bam", "cannot open CRAM for coverage (file does not contain alignment data)"),
        ("5.quickcheck.scramble30.truncated.cram", "cannot decode CRAM for coverage (fetch called on bamfile without "
                                                   "index)"),
        ("8.quickcheck.cram21.truncated.cram", "cannot decode CRAM for coverage (fetch called on bamfile without "
                                               "index)"),
    ],
)
def test_damaged_shared_files_give_one_warning_and_no_value(
    name: str, reason: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The damaged BAM/CRAMs of the shared test data (samtools' quickcheck set; no index, no reference)."""
    path = tmp_path / name
    shutil.copyfile(TESTDATA / "bad" / "hts" / name, path)
    capfd.readouterr()
    with caplog.at_level(logging.WARNING):
        got = cram_coverage_or_none(str(path), reference_fasta=None, sample="X", fallback="the center's report")
    assert got is None
    assert [r.getMessage() for r in caplog.records] == [f"sample X: {path}: {reason}: coverage from the center's "
                                                        "report instead"]
    err = capfd.readouterr().err
    assert "[E::" not in err and "[W::" not in err, err
