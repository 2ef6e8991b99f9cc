"""Release trust, tried the way a user meets it: their own minimal config through Snakemake on the bundled
real data, then the outputs opened with the field's tools.

- the effective settings are the schema defaults (never the demo's tuning), logged and in the manifest;
- `callset verify` passes on the release as the workflow wrote it, and still catches tampering;
- every released VCF reads with htslib without a single warning; bcftools and tabix work on each;
- the private research-ID map and the registry are owner-only whatever the umask;
- a finished release is never rewritten: not by a rerun with a new batch, changed withdrawals or settings,
  nor by --forcerun/--forceall or a touched QC output; a new release name writes v2 and leaves v1 identical.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, VENV_BIN

HELD_BACK = ["HG03088", "HG03363", "NA18507"]  # demo samples of batch_02 kept for "a later batch"


def run(root: Path, cfg: Path, *extra: str, umask: int = 0o000) -> subprocess.CompletedProcess[str]:
    """Snakemake as a user runs it (the profile picked up automatically), under a permissive umask."""
    cmd = [str(VENV_BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(root), "--cores", "2",
           *extra, "--configfile", str(cfg)]
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1500, env=env, cwd=REPO,
                          preexec_fn=lambda: os.umask(umask))


def split_batch(src: Path, dst: Path, names: list[str]) -> None:
    """Move the rows (and files) of ``names`` from batch folder ``src`` into a new batch folder ``dst``."""
    dst.mkdir(parents=True)
    with (src / "manifest.tsv").open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    header = list(rows[0])
    for folder, keep in ((src, [r for r in rows if r["sample_id"] not in names]),
                         (dst, [r for r in rows if r["sample_id"] in names])):
        with (folder / "manifest.tsv").open("w") as f:
            w = csv.DictWriter(f, header, delimiter="\t", lineterminator="\n")
            w.writeheader()
            w.writerows(keep)
    for r in rows:
        if r["sample_id"] in names:
            for suffix in ("", ".tbi"):
                shutil.move(src / f"{r['gvcf']}{suffix}", dst / f"{r['gvcf']}{suffix}")


def snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """sha256, mtime (ns) and mode of every file and folder under ``root``."""
    out = {}
    for p in sorted([root, *root.rglob("*")]):
        st = p.stat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[p.relative_to(root).as_posix()] = (digest, st.st_mtime_ns, stat.S_IMODE(st.st_mode))
    return out


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    """37 of the 40 real demo samples in two batches, a user's minimal config, everything else default."""
    root = tmp_path_factory.mktemp("user")
    shutil.copytree(REPO / "resources" / "demo" / "inbox", root / "inbox")
    split_batch(root / "inbox" / "batch_02", root / "held" / "batch_03", HELD_BACK)
    cfg = root / "my-config.yaml"
    cfg.write_text("inbox: inbox\nresults: results\nrelease: v1\n")
    proc = run(root, cfg)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return root, cfg, proc


def schema_defaults(user: dict) -> dict:
    from snakemake.utils import validate

    cfg = json.loads(json.dumps(user))
    validate(cfg, str(REPO / "config" / "schemas" / "config.schema.yaml"))
    return cfg


@pytest.mark.slow
def test_minimal_user_config_gets_schema_defaults_not_the_demo_tuning(user_run):
    root, cfg, proc = user_run
    want = schema_defaults(yaml.safe_load(cfg.read_text()))
    logged = json.loads((root / "results" / "logs" / "effective_config.json").read_text())
    manifest = json.loads((root / "results" / "releases" / "v1" / "manifest.json").read_text())
    assert logged == want and manifest["config"] == want
    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    assert manifest["config"]["release_options"]["target_variants_per_shard"] == 100_000
    assert demo["release_options"]["target_variants_per_shard"] != 100_000  # the demo's own tuning stays its own
    assert manifest["config"]["combiner"]["import_interval_size"] == 5_000_000
    # ~2 Mb of chr22 with a few hundred variants: one shard at the default size (the demo config makes 5)
    assert len(manifest["shards"]) == 1 and manifest["n_variants"] > 300
    assert manifest["config"]["sample_qc"]["activate"] and manifest["config"]["variant_qc"]["activate"]
    assert manifest["software"]["callset_code"].startswith("sha256:")


@pytest.mark.slow
def test_callset_verify_passes_on_the_workflow_release_and_catches_tampering(user_run, tmp_path):
    root, _, _ = user_run
    release = root / "results" / "releases" / "v1"
    assert (release / ".snakemake_timestamp").is_file()  # Snakemake's bookkeeping inside the directory output
    callset = [str(VENV_BIN / "callset"), "verify"]
    ok = subprocess.run([*callset, str(release), "--tmp-dir", str(tmp_path / "hail")], capture_output=True,
                        text=True, timeout=600)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK" in ok.stdout and "PROBLEM" not in ok.stdout

    manifest = json.loads((release / "manifest.json").read_text())
    shard = manifest["shards"][0]["path"]
    cases = {
        "flipped byte": lambda d: _flip(next(p for p in sorted((d / shard).rglob("part-*")) if p.is_file())),
        "deleted shard": lambda d: shutil.rmtree(d / shard),
        "unlisted file": lambda d: (d / "aux" / "notes.txt").write_text("added later\n"),
        "unlisted bookkeeping-like file elsewhere": lambda d: (d / "mt" / ".snakemake_timestamp").write_text(""),
    }
    for name, damage in cases.items():
        copy = tmp_path / name.replace(" ", "_") / "v1"
        shutil.copytree(release, copy)
        damage(copy)
        bad = subprocess.run([*callset, str(copy), "--no-hail"], capture_output=True, text=True, timeout=300)
        assert bad.returncode == 1, (name, bad.stdout, bad.stderr)
        assert "PROBLEM" in bad.stdout, name


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


READ_ALL = r"""
import sys, pysam
for path in sys.argv[1:]:
    with pysam.VariantFile(path) as vf:
        n = sum(1 for _ in vf)
    print(path, n)
"""


@pytest.mark.slow
def test_every_released_vcf_is_standard_and_reads_without_warnings(user_run):
    import pysam
    import pysam.bcftools

    root, _, _ = user_run
    release = root / "results" / "releases" / "v1"
    vcfs = sorted(release.rglob("*.vcf.bgz"))
    assert vcfs, "the default release exports the ACAF callset as VCF"
    # htslib prints its warnings on the C stderr: read every record in a child process and look at it
    proc = subprocess.run([sys.executable, "-c", READ_ALL, *map(str, vcfs)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "[W::" not in proc.stderr and "[E::" not in proc.stderr, proc.stderr[:2000]
    from callset.core.reference import load_reference

    lengths = load_reference("GRCh38").lengths
    seen_filters: set[str] = set()
    for vcf in vcfs:
        with pysam.VariantFile(str(vcf)) as vf:
            hdr = vf.header
            lines = [str(r) for r in hdr.records]
            assert any(x.startswith("##reference=GRCh38") for x in lines), vcf
            assert any(x.startswith("##source=") and "release v1" in x for x in lines), vcf
            for kind in (hdr.info, hdr.formats):
                for name, meta in kind.items():
                    assert meta.description and meta.description.strip(), (vcf, name)
            declared_filters = set(hdr.filters)
            used_contigs = set()
            for rec in vf:
                used_contigs.add(rec.chrom)
                seen_filters.update(rec.filter.keys())
                assert set(rec.filter.keys()) <= declared_filters, (vcf, rec.pos, list(rec.filter.keys()))
            for c in used_contigs:
                assert hdr.contigs[c].length == lengths[c], (vcf, c)
        # the field's command-line tools accept it
        pysam.bcftools.view("-h", str(vcf))
        stats = pysam.bcftools.stats(str(vcf))
        assert "number of records:" in stats
        with pysam.TabixFile(str(vcf)) as tbx:
            contig = tbx.contigs[0]
            assert sum(1 for _ in tbx.fetch(contig)) > 0
    assert seen_filters - {"PASS"}, "variant QC is on by default: some site should carry a filter"


@pytest.mark.slow
def test_private_files_are_owner_only_whatever_the_umask(user_run):
    root, _, _ = user_run
    results = root / "results"
    private = results / "private"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    files = [p for p in private.rglob("*") if p.is_file()]
    assert results / "private" / "research_ids.tsv" in files and results / "private" / "releases" / "v1.json" in files
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    for p in results.glob("registry.sqlite*"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    # the run was under umask 000: what is not private is world-readable, as the umask asked
    assert stat.S_IMODE((results / "releases" / "v1" / "manifest.json").stat().st_mode) & 0o004
    # nothing under releases/ names a center sample ID
    with (private / "research_ids.tsv").open() as f:
        center = [r["sample_id"] for r in csv.DictReader(f, delimiter="\t")]
    for p in (results / "releases").rglob("*"):
        if p.is_file() and p.suffix in {".json", ".tsv", ".md"}:
            text = p.read_text()
            assert not [s for s in center if s in text], p


@pytest.mark.slow
def test_a_finished_release_is_never_rewritten(user_run, tmp_path):
    """Rerun, force, touch, withdraw, add a batch: every attempt on v1 stops at start-up and leaves it
    identical (content, mtimes, modes); naming v2 writes v2 with notes against v1, v1 still identical."""
    src, _, _ = user_run
    root = tmp_path / "user"
    shutil.copytree(src, root, symlinks=True)  # a copy of the finished run (metadata and mtimes kept)
    cfg = root / "my-config.yaml"
    v1 = root / "results" / "releases" / "v1"
    before = snapshot(v1)

    same = run(root, cfg)
    assert same.returncode == 0 and "Nothing to be done" in same.stdout + same.stderr, same.stderr[-3000:]

    def refused(*extra: str, config: Path = cfg) -> str:
        proc = run(root, config, *extra)
        msg = proc.stdout + proc.stderr
        assert proc.returncode != 0, (extra, msg[-3000:])
        assert "release 'v1'" in msg and "immutable" in msg and "release: v2" in msg, msg[-3000:]
        assert "Execute" not in msg, msg[-3000:]  # no job started
        assert snapshot(v1) == before, extra
        return msg

    assert "--forcerun release" in refused("--forcerun", "release")
    assert "--forceall" in refused("--forceall")
    assert "--forcerun sample_qc" in refused("-R", "sample_qc")
    assert "--forcerun release" in refused("-n", "--forcerun", "release")  # a dry run says so too

    # the withdrawals list changed
    with (root / "results" / "private" / "research_ids.tsv").open() as f:
        first = next(csv.DictReader(f, delimiter="\t"))["sample_id"]
    (root / "withdrawals.txt").write_text(f"{first}\n")
    wcfg = root / "with-withdrawals.yaml"
    wcfg.write_text(cfg.read_text() + "withdrawals: withdrawals.txt\n")
    assert "withdrawals list changed" in refused(config=wcfg)

    # a setting that shapes the release changed
    scfg = root / "stricter.yaml"
    scfg.write_text(cfg.read_text() + "variant_qc:\n  genotype_filter:\n    min_gq: 30\n")
    assert "variant_qc.genotype_filter.min_gq: 20 -> 30" in refused(config=scfg)

    # a QC output edited by hand after the release (newer, other content): Snakemake itself plans the release
    # job, which the checks above do not model; the last check, with the job graph built, stops the run
    qc = root / "results" / "qc" / "flagged_samples.tsv"
    st, original = qc.stat(), qc.read_bytes()
    qc.write_bytes(original + b"\n")
    os.utime(qc, ns=(st.st_atime_ns, v1.stat().st_mtime_ns + 10**9))
    assert "Snakemake planned its job" in refused()
    qc.write_bytes(original)
    os.utime(qc, ns=(st.st_atime_ns, st.st_mtime_ns))

    # a new batch in the inbox
    shutil.move(root / "held" / "batch_03", root / "inbox" / "batch_03")
    assert "new batch(es) in the inbox: batch_03" in refused(config=wcfg)

    # a new name writes v2 from the new batch and the withdrawal; v1 is untouched
    v2cfg = root / "v2.yaml"
    v2cfg.write_text(wcfg.read_text().replace("release: v1", "release: v2"))
    proc = run(root, v2cfg)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert snapshot(v1) == before
    m1 = json.loads((v1 / "manifest.json").read_text())
    m2 = json.loads((root / "results" / "releases" / "v2" / "manifest.json").read_text())
    assert m2["previous_release"] == "v1" and m2["input_batches"] == ["batch_01", "batch_02", "batch_03"]
    assert m2["n_withdrawn_excluded"] == 1
    assert m2["n_samples"] == m1["n_samples"] + len(HELD_BACK) - 1 - (
        m2["n_hard_filtered_excluded"] - m1["n_hard_filtered_excluded"])
    notes = (root / "results" / "releases" / "v2" / "RELEASE_NOTES.md").read_text()
    assert "v1" in notes
    again = run(root, v2cfg)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
