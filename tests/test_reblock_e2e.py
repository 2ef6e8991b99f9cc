"""Every call of every submitted gVCF survives joint calling from the gVCFs reblocked at intake: the 40 real
chr22 gVCFs (the demo's two batches) and a simulated GATK-band cohort, each run through Snakemake and compared,
call by call (genotype, AD, DP, GQ), with the released dense MatrixTables."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, VENV_BIN, run_snakemake, write_config
from test_workflow_e2e import minrep, read_map

Call = tuple[int, tuple[int, int] | None, int | None, int | None]  # alt allele count, AD (others, this), DP, GQ
Calls = dict[tuple[str, int, str, str], Call]


def submitted_calls(path: Path) -> Calls:
    """Non-reference calls of a gVCF, split per alt allele as the release splits them:
    (contig, pos, ref, alt) -> (alt allele count, (AD of the other alleles, AD of this one), DP, GQ)."""
    from cyvcf2 import VCF

    out: Calls = {}
    for rec in VCF(str(path)):
        alts = rec.ALT
        if all(a in ("<NON_REF>", "<*>") for a in alts):
            continue
        alleles = [a for a in rec.genotypes[0][:-1] if a >= 0]
        ad = field(rec, "AD")  # some HaplotypeCaller records have no AD (FORMAT GT:GQ:PL:SB)
        if ad is not None and alts[-1] in ("<NON_REF>", "<*>"):
            ad = ad[:-1]  # the combiner keeps AD of the real alleles only
        dp, gq = field(rec, "DP"), field(rec, "GQ")
        for i in sorted({a for a in alleles if a > 0}):
            alt = alts[i - 1]
            if alt in ("<NON_REF>", "<*>"):
                continue
            pos, ref, alt = minrep(rec.POS, rec.REF, alt)
            ad_i = (sum(ad) - ad[i], ad[i]) if ad is not None else None
            out[(rec.CHROM, pos, ref, alt)] = (alleles.count(i), ad_i, dp[0] if dp else None, gq[0] if gq else None)
    return out


def field(rec, name: str) -> list[int] | None:  # noqa: ANN001 - a cyvcf2 Variant
    """A FORMAT integer field of the one sample, None when absent or missing."""
    v = rec.format(name)
    if v is None:
        return None
    vals = [int(x) for x in v[0]]
    return None if any(x < 0 for x in vals) else vals


def released_calls(hl, release: Path, rid_to_sample: dict[str, str]) -> dict[str, Calls]:
    manifest = json.loads((release / "manifest.json").read_text())
    calls: dict[str, Calls] = {s: {} for s in rid_to_sample.values()}
    for shard in manifest["shards"]:
        mt = hl.read_matrix_table(str(release / shard["path"]))
        mt = mt.filter_entries(mt.GT.is_non_ref())
        for r in mt.entries().select("GT", "AD", "DP", "GQ").collect():
            key = (r.locus.contig, r.locus.position, r.alleles[0], r.alleles[1])
            ad = tuple(r.AD) if r.AD is not None else None
            calls[rid_to_sample[r.s]][key] = (r.GT.n_alt_alleles(), ad, r.DP, r.GQ)
    return calls


def check_every_call(hl, results: Path, gvcfs: dict[str, Path]) -> int:
    rid_to_sample = read_map(results)
    assert sorted(rid_to_sample.values()) == sorted(gvcfs)
    got = released_calls(hl, results / "releases" / "v1", rid_to_sample)
    n = 0
    for sample, path in gvcfs.items():
        want = submitted_calls(path)
        assert want, sample
        diff = {k: (v, got[sample].get(k)) for k, v in want.items() if got[sample].get(k) != v}
        extra = {k: v for k, v in got[sample].items() if k not in want}
        assert not diff, f"{sample}: calls absent or changed in the release (in, out): {list(diff.items())[:5]}"
        assert not extra, f"{sample}: non-ref genotypes with no call in its gVCF: {list(extra.items())[:5]}"
        n += len(want)
    return n


def reblocked_md5s(results: Path) -> dict[str, str]:
    out = {}
    for acc in sorted(results.glob("intake/*/accepted.tsv")):
        with open(acc) as f:
            for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                out[r["sample_id"]] = r["reblocked_md5"]
                assert Path(r["reblocked_gvcf"]).is_file() and json.loads(r["reblock"])["gq_bands"] == [0, 20, 30, 40]
    return out


@pytest.mark.slow
def test_every_call_of_the_40_real_gvcfs_is_released_unchanged(hail_session, tmp_path):
    inbox = REPO / "resources" / "demo" / "inbox"
    cfg = write_config(tmp_path / "config.yaml", inbox=str(inbox))
    run_snakemake(tmp_path, cfg)
    results = tmp_path / "results"
    gvcfs = {p.name.split(".")[0]: p for p in sorted(inbox.glob("*/*.g.vcf.gz"))}
    assert len(gvcfs) == 40
    n = check_every_call(hail_session, results, gvcfs)
    assert n > 900  # 984 non-reference calls in the 40 files
    md5 = reblocked_md5s(results)
    assert sorted(md5) == sorted(gvcfs) and all(len(v) == 32 for v in md5.values())
    # how the reference data was made is recorded in the cohort and the release
    step = json.loads((results / "joint" / "cohort" / "batch_02" / "cohort.json").read_text())
    assert sorted(step["reblock"]) == ["batch_01", "batch_02"]
    manifest = json.loads((results / "releases" / "v1" / "manifest.json").read_text())
    blocks = manifest["vds"]["reference_blocks"]
    assert [g["batches"] for g in blocks] == [["batch_01", "batch_02"]]
    assert blocks[0]["reblock"]["gq0"] == "no_call" and blocks[0]["reblock"]["max_block_length"] == 1000
    # every reference block of the released VDS has a band floor as GQ and the release's length cap
    vds = hail_session.vds.read_vds(str(results / "releases" / "v1" / "vds"))
    rd = vds.reference_data
    gqs, max_len = rd.aggregate_entries((hail_session.agg.collect_as_set(rd.GQ), hail_session.agg.max(rd.LEN)))
    assert gqs <= {20, 30, 40} and max_len <= 1000  # GQ-0 blocks are no-calls in the release


@pytest.mark.slow
def test_every_call_of_a_simulated_gatk_band_cohort_is_released_unchanged(hail_session, tmp_path):
    sim = tmp_path / "sim"
    subprocess.run([str(VENV_BIN / "callset"), "simulate", "--samples", "8", "--seed", "11", "--out", str(sim),
                    "--region-size", "300000", "--gq-bands", "gatk", "--anomaly-rate", "0", "--batches", "2"],
                   check=True, capture_output=True)
    cfg = write_config(tmp_path / "config.yaml", inbox=str(sim / "inbox"),
                       intake={"thresholds": {"min_aligned_q30_bases": None, "min_mean_coverage": None,
                                              "min_genome_coverage_20x": None, "max_contamination": None,
                                              "min_array_concordance": None}})
    run_snakemake(tmp_path, cfg)
    results = tmp_path / "results"
    gvcfs = {p.name.split(".")[0]: p for p in sorted((sim / "inbox").glob("*/*.g.vcf.gz"))}
    assert len(gvcfs) == 8
    assert check_every_call(hail_session, results, gvcfs) > 200
    assert sorted(reblocked_md5s(results)) == sorted(gvcfs)
