"""Intake's outputs on a fixed two-batch scenario, normalised so two runs can be compared (issue 18 §2).

The scenario covers every decision path of intake: good samples, every damaged gVCF and CRAM of the shared
test data, failing and missing metrics, a missing index (staged copy with a built index), manifest row
problems (duplicate sample_id, absolute path, ``..``, missing file, bad value), the same gVCF under two IDs in
one batch, and in a second batch a duplicate sample_id, a resubmission with contig recoding (renamed staged
copy), a resubmission of a new sample, the same gVCF under a new ID and a previously rejected sample.

:func:`snapshot` reads everything intake wrote (reports, staged files, CRAM indexes, the research-ID map and
every registry table) with the run's own folder, research IDs and timestamps replaced by placeholders.

``tests/data/intake_golden.json`` is that snapshot for the batch-level intake (one job per batch) as it was
before intake fanned out, made with::

    PYTHONPATH=/path/to/old/checkout/src .venv/bin/python tests/intake_golden.py \\
        --repo /path/to/old/checkout --write tests/data/intake_golden.json

Regenerate it the same way (from the commit whose outputs are the reference) only when intake's outputs
change on purpose. Re-recorded for issue 17 §2-3 (identity notes, accepted.tsv ``gvcf_flavor``, the flavor
check's reason on header-less gVCFs, registry schema 3 with ``fingerprints``/``identity_matches``): every other
value equals the recording before; ``made_with`` names the commit. Re-recorded for the registry fix of issue 18 §2
(a sample the gather rejects keeps no ``reblocked_gvcf`` row for the file the gather deleted): only the row of
b2's rejected HG00190 went. Re-recorded when the shipped GRCh38 fingerprint panel became NGSCheckMate's 20,811
SNPs (issue 17): only the identity notes' site counts and the fingerprints' panel digest, size and planes changed
(a blob longer than 64 bytes is kept as its md5 and length). Re-recorded when intake's reblocked copies became
BGZF deflated with ISA-L (issue 17 §4): only their md5 and size changed (accepted.tsv, registry ``files``); their
records are the same.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intake_fixtures import BAD_GVCF, BAD_HTS, HTS_CARRIERS, copy_gvcf, good_row, write_manifest  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "data" / "intake_golden.json"
#: contig recoding of the run (the second batch holds a file with contig "22")
RECODING = {"22": "chr22"}
GOOD_METRICS = {
    "mean_coverage": "35",
    "genome_coverage_20x": "0.95",
    "aligned_q30_bases": "9e10",
    "contamination": "0.01",
    "array_concordance": "0.99",
}


def build_inbox(inbox: Path) -> list[str]:
    """Write the two batches into ``inbox``; return the batch IDs in the order they must be registered."""
    from conftest import TESTDATA

    b1 = inbox / "b1"
    rows = [
        good_row("HG00187", b1, **GOOD_METRICS),
        good_row("HG00190", b1),
        good_row("HG00308", b1, mean_coverage="31", contamination="0.02"),
    ]
    for f in sorted(BAD_GVCF.iterdir()):
        shutil.copyfile(f, b1 / f.name)
        rows.append({"sample_id": "BAD_" + f.stem.upper(), "gvcf": f.name})
    for f, carrier in zip(sorted(BAD_HTS.iterdir()), HTS_CARRIERS, strict=False):
        shutil.copyfile(f, b1 / f.name)
        rows.append({**good_row(carrier, b1), "cram": f.name})
    rows.append(good_row("HG00637", b1, mean_coverage="29.5", contamination="0.05", array_concordance="0.9"))
    no_index = good_row("HG01357", b1)
    os.unlink(b1 / "HG01357.hg38.g.vcf.gz.tbi")
    rows.append(no_index)
    rows.append({**rows[1]})  # HG00190 again in the same manifest
    rows.append({"sample_id": "X1", "gvcf": "/etc/passwd"})
    rows.append({"sample_id": "X2", "gvcf": "../outside.g.vcf.gz"})
    rows.append({"sample_id": "X3", "gvcf": "missing.g.vcf.gz", "reported_sex": "martian"})
    same = copy_gvcf("HG00190", b1 / "again")  # the same gVCF under another ID in this batch
    rows.append({"sample_id": "HG01378", "gvcf": "again/" + same.name})
    write_manifest(b1, rows)

    b2 = inbox / "b2"
    b2.mkdir(parents=True)
    recoded = TESTDATA / "gvcf" / "edge" / "recoding" / "HG00187.hg38.recoded.g.vcf.gz"
    for suffix in ("", ".tbi"):
        shutil.copyfile(f"{recoded}{suffix}", b2 / f"{recoded.name}{suffix}")
    other = copy_gvcf("HG00308", b2 / "other")
    write_manifest(
        b2,
        [
            {"sample_id": "HG00187", "gvcf": recoded.name, "resubmission": "yes", **GOOD_METRICS},
            good_row("HG00190", b2),  # accepted in b1, no resubmission flag
            {"sample_id": "NEWID", "gvcf": "other/" + other.name},  # HG00308's gVCF under a new ID
            good_row("HG01058", b2, resubmission="yes"),  # flagged but new
            good_row("HG01356", b2, **GOOD_METRICS),
            good_row("HG00637", b2, **GOOD_METRICS),  # rejected in b1, good now
        ],
    )
    return ["b1", "b2"]


_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
_RID = re.compile(r"CS\d{9}")


def snapshot(root: Path, registry: Path | None = None) -> dict[str, Any]:
    """Everything intake wrote under ``root/results``, normalised (see module docstring)."""
    results = root / "results"
    registry = registry or results / "registry.sqlite"
    con = sqlite3.connect(registry)
    rids = {rid: sid for sid, rid in con.execute("SELECT sample_id, research_id FROM participants")}
    real_root = str(root.resolve())

    def norm(v: Any) -> Any:
        if isinstance(v, bytes):  # a long blob (a genome-wide panel's fingerprint planes) by its digest
            return v.hex() if len(v) <= 64 else f"md5:{hashlib.md5(v).hexdigest()} ({len(v)} bytes)"
        if not isinstance(v, str):
            return v
        v = v.replace(real_root, "<ROOT>").replace(str(root), "<ROOT>")
        v = _TS.sub("<time>", v)
        return _RID.sub(lambda m: f"<rid of {rids.get(m.group(0), '?')}>", v)

    out: dict[str, Any] = {}
    for d in sorted((results / "intake").iterdir()):
        if not d.is_dir():
            continue
        for name in ("report.tsv", "details.tsv", "accepted.tsv"):
            out[f"intake/{d.name}/{name}"] = [norm(line) for line in (d / name).read_text().splitlines()]
        for sub in ("gvcf", "cram", "reblocked"):
            if (d / sub).is_dir():
                out[f"intake/{d.name}/{sub}/"] = [
                    [p.name, f"symlink to {norm(os.readlink(p))}" if p.is_symlink() else "file"]
                    for p in sorted((d / sub).iterdir())
                ]
    rmap = results / "private" / "research_ids.tsv"
    if rmap.exists():
        out["private/research_ids.tsv"] = [norm(line) for line in rmap.read_text().splitlines()]
    for table, order in (
        ("meta", "key"),
        ("batches", "rowid"),
        ("batch_state", "seq"),
        ("participants", "rowid"),
        ("submissions", "rowid"),
        ("files", "rowid"),
        ("events", "id"),
        ("fingerprints", "rowid"),  # registry schema 3 (issue 17): genotype planes as hex
        ("identity_matches", "rowid"),
    ):
        cur = con.execute(f"SELECT * FROM {table} ORDER BY {order}")  # noqa: S608 - fixed table names
        cols = [c[0] for c in cur.description]
        rows = []
        for r in cur.fetchall():
            row = dict(zip(cols, map(norm, r), strict=True))
            if table == "batch_state":
                # a digest over the decisions' absolute file paths: differs with the run folder by design
                row["decisions_md5"] = "<digest>" if row["decisions_md5"] else ""
            rows.append(row)
        out[f"registry/{table}"] = rows
    con.close()
    return out


def write_config(path: Path, **intake: Any) -> Path:
    """The run's config: intake only matters; the QC stages off so nothing else is planned."""
    import yaml

    cfg = {
        "inbox": str(path.parent / "inbox"),
        "results": str(path.parent / "results"),
        "contig_recoding": RECODING,
        "sample_qc": {"activate": False},
        "variant_qc": {"activate": False},
        "browser": {"activate": False},
    }
    if intake:
        cfg["intake"] = intake
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_intake_workflow(root: Path, repo: Path, batches: list[str], *extra: str, timeout: int = 900) -> None:
    """Intake through Snakemake, one batch after the other (registration order is part of the outcome),
    then the research-ID map."""
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    results = root.resolve() / "results"
    targets = [[str(results / "intake" / b / "report.tsv")] for b in batches]
    targets[-1].append(str(results / "private" / "research_ids.tsv"))
    for t in targets:
        cmd = [
            str(venv_bin / "snakemake"), "-s", str(repo / "Snakefile"), "--directory", str(root), "--cores", "2",
            *t, *extra, "--configfile", str(root / "config.yaml"),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=repo)
        if proc.returncode != 0:
            raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, required=True, help="checkout whose Snakefile and package make the outputs")
    ap.add_argument("--work", type=Path, required=True, help="empty folder for the run")
    ap.add_argument("--write", type=Path, default=GOLDEN)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    batches = build_inbox(args.work / "inbox")
    write_config(args.work / "config.yaml")
    run_intake_workflow(args.work, args.repo.resolve(), batches)
    commit = subprocess.run(["git", "-C", str(args.repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    snap = {"made_with": commit.stdout.strip(), **snapshot(args.work)}
    args.write.write_text(json.dumps(snap, indent=1, sort_keys=False) + "\n")
    print(f"wrote {args.write} ({len(snap)} entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
