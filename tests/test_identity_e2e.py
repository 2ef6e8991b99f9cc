"""Sample identity through Snakemake on a default-model simulation: planted CRAM swaps and people submitted again
under new IDs in another batch are all caught, no clean sample is rejected, and a gVCF made against another
reference (same contig names and lengths) is rejected with the first mismatching positions.

The two batches' intake jobs run in parallel, so either may register first: of a person submitted twice, the row
of the batch registered second is the one rejected (the registry compares each batch with the batches registered
before it), whichever batch that is."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pysam
import pytest
import yaml
from conftest import run_snakemake

from callset.intake.checks import md5sum
from callset.simulate import cli

pytestmark = pytest.mark.slow

SWAPS, DUPLICATES = 3, 3


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def plant_other_reference(gvcf: Path, every: int = 50) -> int:
    """Rewrite ``gvcf`` as if called against another reference: the REF base of every ``every``-th record (and
    of its ALTs' first base when they share it) changed; returns the number of records changed."""
    swap = {"A": "C", "C": "G", "G": "T", "T": "A"}
    out, n = [], 0
    with gzip.open(gvcf, "rt") as f:
        for i, line in enumerate(f):
            if line.startswith("#") or i % every:
                out.append(line)
                continue
            c = line.split("\t")
            new = swap.get(c[3][0], "A")
            alts = c[4].split(",")
            c[4] = ",".join(a if a.startswith("<") or a == "*" or a[0] != c[3][0] else new + a[1:] for a in alts)
            c[3] = new + c[3][1:]
            out.append("\t".join(c))
            n += 1
    plain = gvcf.with_suffix("")
    plain.write_text("".join(out))
    gvcf.unlink()
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return n


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("identity_e2e")
    sim = d / "sim"
    # the default model and anomaly mix, a smaller genome (10 autosomal windows of 200 kb) to stay quick; beyond
    # the size knobs (samples, batches, region size), the planted counts: --swaps 3 (default 0), --duplicates 3
    # (the default anomaly rate gives 1 on 40 samples) and CRAMs for 6 clean samples (default none), so that the
    # CRAM check also meets samples it must confirm
    assert cli.main(["--samples", "40", "--batches", "2", "--seed", "31", "--region-size", "2000000",
                     "--duplicates", str(DUPLICATES), "--swaps", str(SWAPS), "--cram-samples", "6",
                     "--out", str(sim)]) == 0
    truth = {r["sample_id"]: r for r in read_tsv(sim / "truth.tsv")}
    # one clean sample of the second batch gets a gVCF made against another reference
    other_ref = next(s for s, r in truth.items() if r["batch_id"] == "batch_002" and not (
        r["duplicate_of"] or r["relatives"] or r["cram"] or r["contaminant"] or r["low_coverage"]
        or r["sex_mismatch"]) and not any(o["duplicate_of"] == s for o in truth.values()))
    gv = sim / truth[other_ref]["gvcf"]
    assert plant_other_reference(gv) > 10
    manifest = sim / "inbox" / "batch_002" / "manifest.tsv"
    rows = read_tsv(manifest)
    for r in rows:
        if r["sample_id"] == other_ref:
            r["gvcf_md5"] = md5sum(gv)
    manifest.write_text("\t".join(rows[0]) + "\n" + "".join("\t".join(r.values()) + "\n" for r in rows))
    # two centers sent a CRAM without its .crai (one swapped, one clean): intake builds the index in its results
    # folder and must check identity with it (before, such a swap passed with a note "cannot read it")
    no_index = [next(s for s, r in truth.items() if r["cram"] and bool(r["cram_person"]) == swapped)
                for swapped in (True, False)]
    for s in no_index:
        Path(f"{sim / truth[s]['cram']}.crai").unlink()
    cfg = yaml.safe_load((sim / "config.yaml").read_text())
    results = Path(cfg["results"])
    run_snakemake(d, sim / "config.yaml", str(results / "private" / "research_ids.tsv"), timeout=2400)
    report = {}
    for b in ("batch_001", "batch_002"):
        report.update({r["sample_id"]: r for r in read_tsv(results / "intake" / b / "report.tsv")})
    return {"sim": sim, "results": results, "truth": truth, "report": report, "other_ref": other_ref,
            "no_index": no_index}


def test_every_swap_and_duplicate_caught(run) -> None:  # noqa: ANN001
    truth, report = run["truth"], run["report"]
    swaps = [s for s, r in truth.items() if r["cram_person"]]
    dups = [s for s, r in truth.items() if r["duplicate_of"]]
    assert len(swaps) == SWAPS and len(dups) == DUPLICATES
    for s in swaps:
        assert report[s]["status"] == "rejected", report[s]
        assert "CRAM and gVCF are from different people (concordance" in report[s]["reasons"], report[s]
    for s in dups:
        pair = [s, truth[s]["duplicate_of"]]
        assert truth[pair[0]]["batch_id"] != truth[pair[1]]["batch_id"]  # planted in another batch, under a new ID
        status = sorted((report[x]["status"], x) for x in pair)
        assert [st for st, _ in status] == ["accepted", "rejected"], [report[x] for x in pair]
        kept, dropped = status[0][1], status[1][1]
        assert (f"same person as a participant accepted in batch {truth[kept]['batch_id']}"
                in report[dropped]["reasons"]), report[dropped]


def test_no_clean_sample_rejected(run) -> None:  # noqa: ANN001
    truth, report = run["truth"], run["report"]
    identity_words = ("same person", "different people", "REF differs", "held for review")
    twice = {x for s, r in truth.items() if r["duplicate_of"] for x in (s, r["duplicate_of"])}
    for s, r in truth.items():
        planted = r["cram_person"] or s in twice or s == run["other_ref"]
        if planted:
            continue
        assert not any(w in report[s]["reasons"] for w in identity_words), report[s]
        # only the metrics of planted low-coverage or contaminated samples may reject anyone else
        if not (r["low_coverage"] or float(r["contamination"]) >= 0.03):
            assert report[s]["status"] == "accepted", report[s]


def test_unswapped_crams_confirmed_and_matches_recorded_privately(run) -> None:  # noqa: ANN001
    truth, results = run["truth"], run["results"]
    details = []
    for b in ("batch_001", "batch_002"):
        details += read_tsv(results / "intake" / b / "details.tsv")
    for s, r in truth.items():
        if r["cram"] and not r["cram_person"]:
            assert any(d["sample_id"] == s and "CRAM/gVCF identity confirmed" in d["message"] for d in details), s
    rids = {r["sample_id"]: r["research_id"] for r in read_tsv(results / "private" / "research_ids.tsv")}
    matches = read_tsv(results / "private" / "identity_matches.tsv")
    got = {frozenset((m["sample_id"], m["match_sample_id"])) for m in matches}
    want = {frozenset((s, r["duplicate_of"])) for s, r in truth.items() if r["duplicate_of"]}
    assert got == want and len(matches) == len(want)
    for m in matches:  # the research ID recorded is the accepted participant's
        assert m["match_research_id"] == rids[m["match_sample_id"]] and m["sample_id"] not in rids
    assert (results / "private" / "identity_matches.tsv").stat().st_mode & 0o077 == 0


def test_gvcf_against_another_reference_rejected(run) -> None:  # noqa: ANN001
    rep = run["report"][run["other_ref"]]
    assert rep["status"] == "rejected" and "REF differs from the reference FASTA" in rep["reasons"]
    assert "first at chr" in rep["reasons"] and "(gVCF made against another reference?)" in rep["reasons"]


def test_crams_sent_without_an_index_are_indexed_and_checked(run) -> None:  # noqa: ANN001
    """The swapped CRAM sent without a .crai is rejected like the others, the clean one confirmed; both with the
    index intake built under results/intake/<batch>/cram."""
    truth, results, report = run["truth"], run["results"], run["report"]
    details = []
    for b in ("batch_001", "batch_002"):
        details += read_tsv(results / "intake" / b / "details.tsv")
    swapped, clean = run["no_index"]
    for s in (swapped, clean):
        cram = Path(truth[s]["cram"]).name
        built = results / "intake" / truth[s]["batch_id"] / "cram" / f"{cram}.crai"
        assert built.is_file(), built
        assert any(d["sample_id"] == s and "no index: built one" in d["message"] for d in details), s
    assert report[swapped]["status"] == "rejected"
    assert "CRAM and gVCF are from different people (concordance" in report[swapped]["reasons"], report[swapped]
    assert any(d["sample_id"] == clean and "CRAM/gVCF identity confirmed" in d["message"] for d in details), clean
