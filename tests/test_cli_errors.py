"""`callset` usage and input errors: exit 2, one line on stderr naming the argument or file and the problem, no
traceback, found before any JVM starts (the command's Hail tmp dir is never created).

Every case runs the installed `callset` command as a user would, in a subprocess.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, TESTDATA, VENV_BIN, bare_release_settings

from callset.core.reference import load_reference
from callset.release.write import ReleaseInputs, write_release

GRCH38 = load_reference("GRCh38")
VDS = TESTDATA / "vds" / "1kg_chr22_5_samples.vds"
SAMPLES = ["HG00187", "HG00190", "HG00308", "HG00313", "HG00320"]
RIDS = {s: f"CS{i:09d}" for i, s in enumerate(SAMPLES, 1)}


@pytest.fixture(scope="module")
def release(hail_session, tmp_path_factory) -> Path:
    """A finished release (5 real chr22 samples) in <results>/releases/v1."""
    out = tmp_path_factory.mktemp("cli") / "results" / "releases" / "v1"
    write_release(ReleaseInputs(cohort_vds=str(VDS), research_ids=RIDS, input_batches=("b1",)), release_dir=out,
                  release="v1", reference=GRCH38, settings=bare_release_settings(target_variants_per_shard=40))
    return out


def callset(*args: str | Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run([str(VENV_BIN / "callset"), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=REPO)


def assert_usage_error(proc: subprocess.CompletedProcess[str], *needles: str, hail_tmp: Path | None = None) -> str:
    """Exit 2, exactly one stderr line starting ``callset: error:`` holding every needle, no traceback, nothing
    on stdout; with ``hail_tmp``, Hail never started (setup_hail creates its tmp dir before the JVM)."""
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("callset: error: "), lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    assert proc.stdout == ""
    if hail_tmp is not None:
        assert not hail_tmp.exists(), "Hail was started before the error was found"
    return lines[0]


def query(release: Path, tmp_path: Path, region: str, *extra: str | Path, out: str | Path | None = None):
    hail_tmp = tmp_path / "hail-tmp"
    out = out or tmp_path / "out.vcf.bgz"
    return callset("query", "--release", release, "--region", region, "--out", out, "--tmp-dir", hail_tmp,
                   *extra), hail_tmp


def test_query_contig_not_in_reference(release, tmp_path):
    proc, hail_tmp = query(release, tmp_path, "chrQ:1-100")
    line = assert_usage_error(proc, "--region", "'chrQ'", "not in GRCh38", "chr1", "data on chr22",
                              hail_tmp=hail_tmp)
    assert not (tmp_path / "out.vcf.bgz").exists()
    assert "did you mean" not in line
    proc, hail_tmp = query(release, tmp_path, "22:10600000-10700000")
    assert_usage_error(proc, "'22'", "did you mean chr22?", hail_tmp=hail_tmp)


def test_query_end_past_contig_end(release, tmp_path):
    length = GRCH38.lengths["chr22"]
    proc, hail_tmp = query(release, tmp_path, f"chr22:50000000-{length + 1}")
    assert_usage_error(proc, "--region", f"END {length + 1:,}", f"past the end of chr22 ({length:,} bp",
                       hail_tmp=hail_tmp)
    proc, hail_tmp = query(release, tmp_path, "chr22:200-100")
    assert_usage_error(proc, "--region", "START <= END", hail_tmp=hail_tmp)


def test_query_sample_list_missing_unreadable_empty_or_unknown(release, tmp_path):
    missing = tmp_path / "nope.txt"
    proc, hail_tmp = query(release, tmp_path, "chr22:10600000-10700000", "--samples", missing)
    assert_usage_error(proc, f"--samples {missing}: no such file", hail_tmp=hail_tmp)
    proc, _ = query(release, tmp_path, "chr22:10600000-10700000", "--samples", tmp_path)
    assert_usage_error(proc, f"--samples {tmp_path}: not a regular file", hail_tmp=hail_tmp)
    binary = tmp_path / "ids.txt.gz"
    binary.write_bytes(gzip.compress(b"CS000000001\n"))  # compressed by mistake
    proc, _ = query(release, tmp_path, "chr22:10600000-10700000", "--samples", binary)
    assert_usage_error(proc, f"--samples {binary}: not a text file", hail_tmp=hail_tmp)
    empty = tmp_path / "empty.txt"
    empty.write_text("research_id\n# nobody yet\n")
    proc, _ = query(release, tmp_path, "chr22:10600000-10700000", "--samples", empty)
    assert_usage_error(proc, f"--samples {empty}: empty", hail_tmp=hail_tmp)
    unknown = tmp_path / "ids.txt"
    unknown.write_text(f"{RIDS['HG00187']}\nCS999999999\n")
    proc, _ = query(release, tmp_path, "chr22:10600000-10700000", "--samples", unknown)
    assert_usage_error(proc, f"--samples {unknown}", "1 research IDs are not in release v1", "CS999999999",
                       hail_tmp=hail_tmp)


def test_query_bad_out_rejected_before_the_query(release, tmp_path):
    proc, hail_tmp = query(release, tmp_path, "chr22:10600000-10700000", out=tmp_path / "region.txt")
    assert_usage_error(proc, f"--out {tmp_path / 'region.txt'}", ".vcf.bgz", ".mt", hail_tmp=hail_tmp)
    existing = tmp_path / "region.mt"
    existing.mkdir()
    proc, _ = query(release, tmp_path, "chr22:10600000-10700000", out=existing)
    assert_usage_error(proc, f"--out {existing}: already exists", hail_tmp=hail_tmp)
    proc, _ = query(release, tmp_path, "chr22:10600000-10700000", out=tmp_path / "no" / "dir.vcf.bgz")
    assert_usage_error(proc, "--out", f"folder {tmp_path / 'no'} does not exist", hail_tmp=hail_tmp)
    proc, _ = query(release, tmp_path, "chr22:10600000-10700000", "--callset", "exome")
    assert_usage_error(proc, "--callset exome: not in release v1", hail_tmp=hail_tmp)


def test_summary_missing_not_a_release_unfinished(release, tmp_path):
    results = release.parent.parent
    missing = tmp_path / "v9"
    assert_usage_error(callset("summary", missing), f"{missing}: no such release folder")
    assert_usage_error(callset("summary", results), f"{results}: not a release folder (no manifest.json)",
                       f"releases in {results / 'releases'}: v1")
    partial = tmp_path / "releases" / ".v2.partial"
    shutil.copytree(release, partial)
    (partial / "manifest.json").unlink()
    assert_usage_error(callset("summary", partial), f"{partial}: an unfinished release")
    assert_usage_error(callset("summary", tmp_path / "releases" / "v2"), "no such release folder",
                       f"{partial} exists: still being written")
    broken = tmp_path / "broken"
    shutil.copytree(release, broken)
    (broken / "manifest.json").write_text('{"release": "v1",\n')
    assert_usage_error(callset("summary", broken), f"{broken / 'manifest.json'}: not valid JSON")
    (broken / "manifest.json").write_text('{"hello": 1}')
    assert_usage_error(callset("summary", broken), "not a release manifest (no release, reference_genome")
    ok = callset("summary", release)
    assert ok.returncode == 0 and "samples:  5" in ok.stdout, ok.stderr


def test_verify_missing_folder_fails_before_the_jvm(release, tmp_path):
    hail_tmp = tmp_path / "hail-tmp"
    missing = release.parent / "v7"
    assert_usage_error(callset("verify", missing, "--tmp-dir", hail_tmp), f"{missing}: no such release folder",
                       hail_tmp=hail_tmp)
    assert_usage_error(callset("verify", release.parent, "--tmp-dir", hail_tmp), "not a release folder",
                       hail_tmp=hail_tmp)


def test_contig_without_data_is_zero_variants_not_an_error(release, tmp_path):
    """chr21 is in GRCh38 but this release has data on chr22 only: a real answer (0 variants), said so."""
    import pysam

    out = tmp_path / "chr21.vcf.bgz"
    proc, _ = query(release, tmp_path, "chr21:1-1000000", out=out)
    assert proc.returncode == 0, proc.stderr
    assert "callset query: chr21 is in GRCh38 but has no variants in release v1 (it has data on chr22)" in proc.stderr
    with pysam.VariantFile(str(out)) as vf:
        assert set(vf.header.samples) == set(RIDS.values())
        assert sum(1 for _ in vf) == 0


def test_unexpected_failure_is_one_line_with_exit_3(release, tmp_path):
    """A fault (here: a driver heap Spark refuses) is one line naming it, exit 3, no traceback unless -v."""
    proc, _ = query(release, tmp_path, "chr22:10600000-10700000", "--driver-memory", "100m")
    assert proc.returncode == 3, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("callset: failed: ") and "INVALID_DRIVER_MEMORY" in last, last
    assert "Traceback" not in proc.stderr
