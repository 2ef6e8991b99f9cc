"""Shared fixtures: one Hail session for the whole run, the shared test data, Snakemake runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import chromium  # noqa: F401 - one session-wide browser for every module (two would nest event loops)

# Force the Spark backend and loopback binding before anything imports hail (GM tests/conftest.py).
os.environ.setdefault("HAIL_QUERY_BACKEND", "spark")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CALLSET_SHARED", REPO.parent / "shared"))
TESTDATA = SHARED / "testdata"
CHR22 = TESTDATA / "gvcf" / "1kg_chr22"
VENV_BIN = Path(sys.executable).parent


def chr22_gvcf(sample: str) -> Path:
    return CHR22 / f"{sample}.hg38.g.vcf.gz"


@pytest.fixture(scope="session")
def hail_session(tmp_path_factory: pytest.TempPathFactory):
    """One Hail/Spark context for every test that needs it (never stopped: ~11 s saved)."""
    from callset.runtime.hail_setup import setup_hail

    tmp = tmp_path_factory.mktemp("hail")
    setup_hail(master="local[2]", driver_memory="4g", tmp_dir=tmp, log_path=tmp / "hail.log")
    import hail as hl

    yield hl


#: The default simulated cohort shared by tests/test_sample_qc.py and tests/test_variant_qc.py: the
#: simulator's default genome (no genome option), 60 samples, every planted anomaly kind, and the variant-QC
#: truth (synthetic genes, planted artefacts). Joint-called once per session with relaxed intake.
DEFAULT_COHORT = dict(
    samples=60, seed=7, batches=1, duplicates=2, parent_child=3, contaminated=3, sex_mismatch=2, x0=1, xxy=1,
    low_coverage=1, cram_samples=2, genes=12, artefacts=150,
)


@pytest.fixture(scope="session")
def default_cohort(hail_session, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Paths of :data:`DEFAULT_COHORT` simulated, through intake (relaxed) and joint calling
    (``harness.sample_qc_accuracy.simulate_and_joint_call``): ``sim``, ``results``, ``step``, ``research_ids``,
    ``accepted``."""
    from harness.sample_qc_accuracy import simulate_and_joint_call

    return simulate_and_joint_call(tmp_path_factory.mktemp("default_cohort"), **DEFAULT_COHORT)


def make_batch(inbox: Path, batch: str, samples: list[str], *, source: Path = CHR22) -> Path:
    """Copy real chr22 gVCFs (+ .tbi) into ``inbox/batch`` and write its manifest.tsv."""
    from callset.intake.checks import md5sum

    d = inbox / batch
    d.mkdir(parents=True, exist_ok=True)
    lines = ["sample_id\tgvcf\tgvcf_md5\treported_sex"]
    for s in samples:
        src = source / f"{s}.hg38.g.vcf.gz"
        dst = d / src.name
        shutil.copyfile(src, dst)
        shutil.copyfile(f"{src}.tbi", f"{dst}.tbi")
        lines.append(f"{s}\t{dst.name}\t{md5sum(dst)}\tunknown")
    (d / "manifest.tsv").write_text("\n".join(lines) + "\n")
    return d


def write_config(path: Path, **overrides) -> Path:
    """A small workflow config (absolute paths) for end-to-end tests."""
    import yaml

    cfg = {
        "inbox": str(path.parent / "inbox"),
        "results": str(path.parent / "results"),
        "release": "v1",
        "combiner": {"import_interval_size": 250_000},
        "release_options": {"target_variants_per_shard": 40},
        "spark": {"driver_memory": "2g"},
        # the QC stages are on by default; tests of other stages switch them off to stay fast
        "sample_qc": {"activate": False},
        "variant_qc": {"activate": False},
    }
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = {**cfg[k], **v}  # type: ignore[dict-item]
        else:
            cfg[k] = v
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_snakemake(
    workdir: Path, configfile: Path, *extra: str, check: bool = True, timeout: int = 1200
) -> subprocess.CompletedProcess[str]:
    """Run the workflow in its own working directory (own .snakemake/ metadata and locks)."""
    cmd = [
        str(VENV_BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--cores", "2", *extra, "--configfile", str(configfile),  # --configfile takes several values: last
    ]
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-8000:]}")
    return proc


def bare_release_settings(**options):
    """Release settings for library-level tests: no smaller callsets, exports or public summary unless asked
    (``options`` are ``release_options`` keys); everything else at the schema defaults."""
    from callset.release.write import ReleaseSettings

    return ReleaseSettings.from_config({"smaller_callsets": [], "exports": [], "public_summary": False, **options})
