"""Manifest parsing: structural errors raise, row problems name file, line and column. No Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from callset.errors import ManifestError
from callset.intake.manifest import read_manifest, resolve_member


def write(tmp: Path, text: str) -> Path:
    p = tmp / "manifest.tsv"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("sample_id\tcram\nA\ta.cram\n", "missing required column"),
        ("sample_id\tgvcf\tfoo\nA\ta\tb\n", "unknown column"),
        ("sample_id,gvcf\nA,a\n", "comma-separated"),
        ("sample_id\tgvcf\tgvcf\nA\ta\ta\n", "duplicate column"),
        ("", "empty file"),
        ("sample_id\tgvcf\n", "no sample rows"),
    ],
)
def test_structural_errors(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ManifestError, match=match):
        read_manifest(write(tmp_path, text))


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "manifest.tsv")


def test_row_problems(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "sample_id\tgvcf\tmean_coverage\tcontamination\tresubmission\tgvcf_md5\n"
        "A\ta.g.vcf.gz\t30\t0.01\t\t\n"
        "B b\t\tthirty\t2\tmaybe\tXYZ\n"
        "A\tc.g.vcf.gz\t\t\t\t\n"
        "C\tshort\n",
    )
    rows = read_manifest(p)
    assert rows[0].problems == [] and rows[0].get("mean_coverage") == 30.0
    text = "\n".join(rows[1].problems)
    for col in ["gvcf", "mean_coverage", "contamination", "resubmission", "gvcf_md5", "sample_id"]:
        assert f"line 3, column {col}" in text, col
    assert "duplicate sample_id 'A' (first on line 2)" in rows[2].problems[0]
    assert "line 5: has 2 fields" in rows[3].problems[0]


def test_resolve_member(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_text("x")
    assert resolve_member(tmp_path, "sub/f") == (tmp_path / "sub" / "f", None)
    assert "absolute" in (resolve_member(tmp_path, "/etc/passwd")[1] or "")
    assert "'..'" in (resolve_member(tmp_path, "sub/../../x")[1] or "")
    (tmp_path / "sub" / "esc").symlink_to("/etc/passwd")
    assert "symlink escape" in (resolve_member(tmp_path, "sub/esc")[1] or "")
