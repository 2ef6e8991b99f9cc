"""Builders for intake tests: real files from the shared test data, copied (and damaged) in tmp dirs."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import CHR22, TESTDATA

from callset.intake.checks import md5sum

BAD_GVCF = TESTDATA / "bad" / "gvcf"
BAD_HTS = TESTDATA / "bad" / "hts"
GOOD = ["HG00187", "HG00190", "HG00308"]
#: chr22 samples whose (good) gVCF carries one file of bad/hts as its CRAM
HTS_CARRIERS = ["HG00313", "HG00320", "HG00323", "HG00373", "HG00524", "HG00553", "HG00590"]

HEADER = [
    "sample_id",
    "gvcf",
    "gvcf_md5",
    "cram",
    "cram_md5",
    "reported_sex",
    "mean_coverage",
    "genome_coverage_20x",
    "contamination",
    "aligned_q30_bases",
    "array_concordance",
    "resubmission",
]


def copy_gvcf(sample: str, dest_dir: Path, *, index: bool = True) -> Path:
    src = CHR22 / f"{sample}.hg38.g.vcf.gz"
    dst = dest_dir / src.name
    dest_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    if index:
        shutil.copyfile(f"{src}.tbi", f"{dst}.tbi")
    return dst


def write_manifest(batch: Path, rows: list[dict[str, str]]) -> Path:
    batch.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(HEADER)] + ["\t".join(str(r.get(c, "")) for c in HEADER) for r in rows]
    p = batch / "manifest.tsv"
    p.write_text("\n".join(lines) + "\n")
    return p


def good_row(sample: str, batch: Path, **extra: str) -> dict[str, str]:
    g = copy_gvcf(sample, batch)
    return {"sample_id": sample, "gvcf": g.name, "gvcf_md5": md5sum(g), "reported_sex": "unknown", **extra}


def bad_batch(batch: Path, good: list[str] = GOOD) -> dict[str, str]:
    """Good samples + every file of bad/ (gVCFs as gVCFs, bad/hts as CRAMs of otherwise good samples).

    Returns ``sample_id -> bad file name`` for the rows that must be rejected.
    """
    rows = [good_row(s, batch) for s in good]
    expect: dict[str, str] = {}
    for f in sorted(BAD_GVCF.iterdir()):
        sid = "BAD_" + f.stem.upper()
        shutil.copyfile(f, batch / f.name)
        rows.append({"sample_id": sid, "gvcf": f.name})
        expect[sid] = f.name
    hts = sorted(BAD_HTS.iterdir())
    assert len(hts) <= len(HTS_CARRIERS)
    for f, carrier in zip(hts, HTS_CARRIERS, strict=False):
        shutil.copyfile(f, batch / f.name)
        rows.append({**good_row(carrier, batch), "cram": f.name})
        expect[carrier] = f.name
    write_manifest(batch, rows)
    return expect
