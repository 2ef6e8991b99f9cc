"""Sample identity at intake: fingerprints, CRAM <-> gVCF concordance, the same person under two IDs (registry).

A small simulated cohort (two batches, planted duplicates under new IDs, parent-child pairs, two CRAM swaps)
gives fingerprints with known answers; the registry tests use them and synthetic ones. No Spark.
"""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from callset.core.reference import load_reference
from callset.errors import ConfigError
from callset.intake.checks import scan_gvcf
from callset.intake.identity import (
    NOT_CALLED,
    Fingerprint,
    FingerprintCollector,
    IdentitySettings,
    concordance,
    cram_gvcf_concordance,
    find_matches,
    fingerprint_gvcf,
    genotype_cram,
    stack_planes,
)
from callset.intake.panel import load_panel, shipped_panel
from callset.intake.registry import Decision, Registry, export_identity_matches
from callset.simulate.cohort import SimulationOptions, simulate_cohort

SIM = dict(samples=16, seed=21, batches=2, region_size=1_000_000, duplicates=2, parent_child=2, swaps=2,
           cram_samples=2, contaminated=1, low_coverage=1, sex_mismatch=0, panel_per_ancestry=15)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("idsim")
    simulate_cohort(out, SimulationOptions(**SIM))  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def truth(sim: Path) -> dict[str, dict[str, str]]:
    with open(sim / "truth.tsv") as f:
        return {r["sample_id"]: r for r in csv.DictReader(f, delimiter="\t")}


@pytest.fixture(scope="module")
def panel(sim: Path):  # noqa: ANN201
    return load_panel(sim / "panel" / "fingerprint_sites.vcf")


@pytest.fixture(scope="module")
def fps(sim: Path, truth: dict[str, dict[str, str]], panel) -> dict[str, Fingerprint]:  # noqa: ANN001
    """Fingerprints from the intake scan (the path intake uses)."""
    ref = load_reference("GRCh38")
    out = {}
    for sid, r in truth.items():
        scan = scan_gvcf(sim / r["gvcf"], sample_id=sid, reference=ref, fingerprint_panel=panel)
        assert scan.fingerprint is not None and not scan.problems
        out[sid] = scan.fingerprint
    return out


# ------------------------------------------------------------------------------------------ panel


def test_panel_keeps_biallelic_snvs_and_rejects_unsorted(tmp_path: Path) -> None:
    p = tmp_path / "p.vcf"
    p.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                 "chr1\t100\t.\tA\tG\t.\t.\t.\nchr1\t150\t.\tAT\tA\t.\t.\t.\nchr1\t200\t.\tC\tT,G\t.\t.\t.\n"
                 "chr2\t50\t.\tg\tc\t.\t.\t.\n")
    panel = load_panel.__wrapped__(p)
    assert list(zip(panel.contigs, panel.pos.tolist(), panel.ref, panel.alt, strict=True)) == [
        ("chr1", 100, "A", "G"), ("chr2", 50, "G", "C")]
    assert list(panel.sites_in("chr1", 1, 1000)) == [0] and list(panel.sites_in("chr2", 51, 99)) == []
    bad = tmp_path / "bad.vcf"
    bad.write_text("#CHROM\tPOS\tID\tREF\tALT\nchr1\t200\t.\tA\tG\nchr1\t100\t.\tA\tG\n")
    with pytest.raises(ConfigError, match="not sorted"):
        load_panel.__wrapped__(bad)


def test_shipped_panels_are_genome_wide_documented_and_load() -> None:
    """GRCh38 and GRCh37 panels (NGSCheckMate's ~21k common SNPs, MIT): every autosome and chrX, contig names of
    the build's Hail reference, documented with their source and licence."""
    want = {"GRCh38": [f"chr{c}" for c in [*range(1, 23), "X"]], "GRCh37": [str(c) for c in [*range(1, 23), "X"]]}
    for build, contigs in want.items():
        p = shipped_panel(build)
        assert p is not None and p.name == f"{build}.sites.vcf.gz"
        readme = (p.parent / "README.md").read_text()
        assert p.name in readme and "NGSCheckMate" in readme and (p.parent / "LICENSE-NGSCheckMate").is_file()
        panel = load_panel(p)
        assert len(panel) >= 20_000 and set(panel.contigs) == set(contigs)
        assert IdentitySettings().panel_path(build) == p
    assert shipped_panel("T2T-CHM13") is None


def test_panel_from_bed_keeps_sorted_biallelic_snvs_of_primary_contigs(tmp_path: Path) -> None:
    from callset.intake.panel import panel_from_bed

    bed = tmp_path / "snps.bed"
    bed.write_text("".join("\t".join(r) + "\n" for r in [
        ("chr2", "99", "100", "rs1", "A", "G"),
        ("chr1", "499", "500", "rs2", "C", "T"),
        ("chr1", "199", "200", "rs3", "G", "A"),
        ("chr1_KI270766v1_alt", "9", "10", "rs4", "A", "C"),  # not a primary contig
        ("chr1", "299", "300", "rs5", "A", "T,G"),  # two ALTs
        ("chr1", "399", "401", "rs6", "AC", "A"),  # not an SNV
        ("chr1", "199", "200", "rs7", "G", "C"),  # position already listed
    ]))
    got = panel_from_bed(bed, tmp_path / "p.vcf.gz", source="test")
    assert got == {"sites": 3, "other contig": 1, "not a biallelic SNV": 2, "repeated position": 1}
    panel = load_panel.__wrapped__(tmp_path / "p.vcf.gz")
    assert list(zip(panel.contigs, panel.pos.tolist(), panel.ref, panel.alt, strict=True)) == [
        ("chr1", 200, "G", "A"), ("chr1", 500, "C", "T"), ("chr2", 100, "A", "G")]
    bed.write_text("chr1\t1\t2\n")
    with pytest.raises(ConfigError, match="line 1: 3 columns"):
        panel_from_bed(bed, tmp_path / "q.vcf.gz", source="test")


# ------------------------------------------------------------------------------------------ fingerprints


def test_planes_round_trip_and_concordance() -> None:
    rng = np.random.default_rng(1)
    g = rng.integers(-1, 3, size=200).astype(np.int8)
    fp = Fingerprint(g, "x")
    back = Fingerprint.from_bytes(fp.to_bytes(), len(g), "x")
    assert np.array_equal(back.genotypes, g)
    h = g.copy()
    h[:10] = np.where(g[:10] >= 0, (g[:10] + 1) % 3, g[:10])
    conc, n = concordance(fp, Fingerprint(h, "x"))
    assert n == int((g >= 0).sum()) and conc == pytest.approx(1 - int((g[:10] >= 0).sum()) / n)


class TestCollectorRules:
    """The genotype rules on records as a gVCF writes them."""

    @pytest.fixture
    def panel(self, tmp_path: Path):  # noqa: ANN201
        p = tmp_path / "p.vcf"
        p.write_text("#CHROM\tPOS\tID\tREF\tALT\n" + "".join(
            f"chr1\t{pos}\t.\t{r}\t{a}\n" for pos, r, a in
            [(100, "A", "G"), (200, "C", "T"), (300, "G", "A"), (400, "T", "C"), (500, "A", "C"), (600, "C", "G")]))
        return load_panel.__wrapped__(p)

    def test_rules(self, panel) -> None:  # noqa: ANN001
        c = FingerprintCollector(panel, min_gq=20)
        c.add("chr1", 1, 150, "N", ["<NON_REF>"], "0/0", 30)  # block: site 100 -> 0
        c.add("chr1", 151, 250, "N", ["<NON_REF>"], "0/0", 10)  # low GQ block: 200 not called
        c.add("chr1", 300, None, "G", ["A", "<NON_REF>"], "0/1", 50)  # het
        c.add("chr1", 399, None, "AT", ["A", "<NON_REF>"], "0/1", 60)  # deletion over 400: not called
        c.add("chr1", 500, None, "AT", ["CT", "A", "<NON_REF>"], "1/2", 40)  # SNV padded in a multi-allelic
        c.add("chr1", 590, 700, "N", ["<*>"], "0/0", 50)  # block says 0 at 600 ...
        c.add("chr1", 600, None, "C", ["G", "<*>"], "1/1", 45)  # ... a variant record there wins
        g = c.result().genotypes.tolist()
        assert g == [0, NOT_CALLED, 1, NOT_CALLED, 1, 2]

    def test_haploid_and_conflicts(self, panel) -> None:  # noqa: ANN001
        c = FingerprintCollector(panel, contig_recoding={"1": "chr1"})
        c.add("1", 100, None, "A", ["G", "<NON_REF>"], "1", 40)  # hemizygous ALT counts as homozygous
        c.add("1", 300, None, "G", ["A", "<NON_REF>"], "0/1", 40)
        c.add("1", 300, None, "G", ["A", "<NON_REF>"], "1/1", 40)  # two records disagree
        c.add("1", 500, 500, "A", ["<NON_REF>"], "./.", 50)  # DRAGEN no-call block
        g = c.result().genotypes.tolist()
        assert g[0] == 2 and g[2] == NOT_CALLED and g[4] == NOT_CALLED


def test_scan_fingerprint_equals_bcftools_reader(sim: Path, truth, panel, fps) -> None:  # noqa: ANN001
    """Two independent readers (the intake scan's vectorised hook, bcftools query) give the same genotypes."""
    for sid in [s for s, r in truth.items() if not r["low_coverage"]][:3]:
        other = fingerprint_gvcf(sim / truth[sid]["gvcf"], panel)
        assert np.array_equal(other.genotypes, fps[sid].genotypes), sid
        assert fps[sid].n_called > 0.95 * len(panel)


def test_fingerprints_separate_duplicates_relatives_and_strangers(truth, fps) -> None:  # noqa: ANN001
    ids = list(truth)
    kinds = {"dup": [], "rel": [], "none": []}
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            ta, tb = truth[a], truth[b]
            kind = ("dup" if ta["true_individual"] == tb["true_individual"]
                    else "rel" if b in ta["relatives"] else "none")
            kinds[kind].append(concordance(fps[a], fps[b])[0])
    assert len(kinds["dup"]) == 2 and min(kinds["dup"]) > 0.99
    assert len(kinds["rel"]) == 2 and max(kinds["rel"]) < 0.8
    assert max(kinds["none"]) < 0.7


def test_cram_identity_confirms_own_and_rejects_swaps(sim: Path, truth, panel, fps) -> None:  # noqa: ANN001
    fasta = str(sim / "reference" / "sim.fa.gz")
    settings = IdentitySettings(min_sites=30)
    crams = {s: r for s, r in truth.items() if r["cram"]}
    swapped = {s for s, r in crams.items() if r["cram_person"]}
    assert len(swapped) == 2 and len(crams) >= 3
    for sid, r in crams.items():
        chk = cram_gvcf_concordance(sim / r["cram"], fps[sid], panel, reference_fasta=fasta, settings=settings)
        assert chk.n_sites >= 30, chk
        if sid in swapped:
            assert chk.problems and chk.problems[0] == (
                f"{sim / r['cram']}: CRAM and gVCF are from different people "
                f"(concordance {chk.concordance:.3f} at {chk.n_sites} sites)")
            assert chk.concordance is not None and chk.concordance < 0.7
        else:
            assert not chk.problems and chk.concordance is not None and chk.concordance > 0.95, chk
    # too few covered sites: a note, never a rejection
    sid = next(iter(swapped))
    chk = cram_gvcf_concordance(sim / crams[sid]["cram"], fps[sid], panel, reference_fasta=fasta,
                                settings=IdentitySettings(min_sites=10_000))
    assert not chk.problems and "not assessable" in chk.notes[0]
    # no FASTA: not checked (a note)
    assert "not checked" in cram_gvcf_concordance(sim / crams[sid]["cram"], fps[sid], panel, reference_fasta=None,
                                                  settings=settings).notes[0]


def test_cram_genotypes_skip_sites_outside_the_crai(sim: Path, truth, panel) -> None:  # noqa: ANN001
    sid, r = next((s, r) for s, r in truth.items() if r["cram"] and not r["cram_person"])
    fp = genotype_cram(sim / r["cram"], panel, reference_fasta=str(sim / "reference" / "sim.fa.gz"))
    called = panel.pos[fp.genotypes >= 0]
    # reads cover only the first cram_region_size bp of each window
    starts: dict[str, int] = {}
    for c, p in zip(panel.contigs, panel.pos.tolist(), strict=True):
        starts.setdefault(c, p)
    assert 0 < len(called) < 0.5 * len(panel) and all(int(p) - starts[c] < 25_000 for c, p in
                                                      zip(np.array(panel.contigs)[fp.genotypes >= 0], called,
                                                          strict=True))


def test_cram_sent_without_an_index_is_checked_with_the_one_intake_builds(sim: Path, truth, panel, fps,
                                                                          tmp_path: Path) -> None:  # noqa: ANN001
    """A center sends a CRAM without its .crai: intake's CRAM check builds one into results/intake/<batch>/cram
    (not next to the center's file); the identity check and sample QC's coverage must read it from there —
    before, a swapped CRAM sent without an index passed intake with a note ("cannot read it")."""
    import shutil

    from callset.intake.checks import alignment_index, check_cram
    from callset.sample_qc.coverage import cram_coverage

    fasta = str(sim / "reference" / "sim.fa.gz")
    settings = IdentitySettings(min_sites=30)
    for sid, r in ((s, r) for s, r in truth.items() if r["cram"]):
        src = sim / r["cram"]
        inbox = tmp_path / sid / "inbox"
        inbox.mkdir(parents=True)
        cram = inbox / src.name
        shutil.copyfile(src, cram)  # the CRAM alone, as the center sent it
        built_dir = tmp_path / sid / "results" / "cram"
        problems, notes = check_cram(cram, sample_id=sid, reference=load_reference("GRCh38"),
                                     reference_fasta=fasta, index_dir=built_dir)
        assert not problems and any("no index: built one" in n for n in notes), (problems, notes)
        index = alignment_index(cram, built_dir)
        assert index == built_dir / f"{cram.name}.crai" and not Path(f"{cram}.crai").exists()
        chk = cram_gvcf_concordance(cram, fps[sid], panel, reference_fasta=fasta, settings=settings, index=index)
        own = cram_gvcf_concordance(src, fps[sid], panel, reference_fasta=fasta, settings=settings)
        assert (len(chk.problems), chk.concordance, chk.n_sites) == (len(own.problems), own.concordance, own.n_sites)
        assert chk.n_sites >= 30 and bool(chk.problems) == bool(r["cram_person"]), chk
        # without the built index the CRAM cannot be read at the panel sites: not checked, never confirmed
        blind = cram_gvcf_concordance(cram, fps[sid], panel, reference_fasta=fasta, settings=settings)
        assert not blind.problems and "not checked" in blind.notes[0]
        assert cram_coverage(str(cram), reference_fasta=fasta, index=str(index)) == cram_coverage(
            str(src), reference_fasta=fasta)


# ------------------------------------------------------------------------------------------ the comparison


def _random_fps(n: int, sites: int, rng: np.random.Generator, missing: float = 0.05) -> np.ndarray:
    af = rng.uniform(0.2, 0.8, sites)
    g = rng.binomial(2, af, size=(n, sites)).astype(np.int8)
    g[rng.random((n, sites)) < missing] = NOT_CALLED
    return g


def test_find_matches_equals_brute_force() -> None:
    rng = np.random.default_rng(7)
    stored = _random_fps(500, 700, rng)
    q = _random_fps(20, 700, rng)
    q[3] = stored[17]  # a duplicate ...
    flip = rng.random(700) < 0.02
    q[3, flip & (q[3] >= 0)] = (q[3, flip & (q[3] >= 0)] + 1) % 3  # ... with 2 % genotype errors
    q[9] = stored[250]
    q[9, 350:] = NOT_CALLED  # half the sites missing
    qs = stack_planes([Fingerprint(x, "p") for x in q])
    ss = stack_planes([Fingerprint(x, "p") for x in stored])
    got = {(m.query, m.stored): (m.concordance, m.n_sites) for m in find_matches(qs, ss, min_concordance=0.9,
                                                                                  min_sites=50)}
    assert set(got) == {(3, 17), (9, 250)}
    for (a, b), (conc, n) in got.items():
        want = concordance(Fingerprint(q[a], "p"), Fingerprint(stored[b], "p"))
        assert conc == pytest.approx(want[0]) and n == want[1]
    # the first pass prunes nothing it should keep: the same result without pruning, at any threshold
    for thr in (0.5, 0.6):
        pruned = find_matches(qs, ss, min_concordance=thr, min_sites=50)
        full = find_matches(qs, ss, min_concordance=thr, min_sites=50, prefilter_margin=2.0)
        assert {(m.query, m.stored) for m in pruned} == {(m.query, m.stored) for m in full}


def _fp_decision(sid: str, g: np.ndarray, **kw) -> Decision:  # noqa: ANN003
    return Decision(sample_id=sid, status="accepted", files=(("gvcf", f"/x/{sid}", sid.ljust(32, "0"), 1),),
                    fingerprint=Fingerprint(g, "panel1"), where=f"m.tsv: line {sid}", **kw)


def test_registry_says_when_earlier_participants_were_fingerprinted_on_another_panel(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Fingerprints are comparable on one panel only: after a panel change the earlier participants are not
    compared, and the log says how many (not a silent gap in the duplicate check)."""
    import logging

    rng = np.random.default_rng(11)
    a, b, c = _random_fps(3, 300, rng)
    reg = Registry(tmp_path / "r.sqlite")
    on = IdentitySettings(min_sites=50)
    reg.register_batch("b1", "m1", [_fp_decision("A", a), _fp_decision("B", b)], identity=on)
    new_panel = Decision(sample_id="C", status="accepted", files=(("gvcf", "/x/C", "C".ljust(32, "0"), 1),),
                         fingerprint=Fingerprint(c, "panel2"), where="m.tsv: line C")
    with caplog.at_level(logging.WARNING, logger="callset.intake.registry"):
        out = reg.register_batch("b2", "m2", [new_panel], identity=on)
    assert out.decisions[0].status == "accepted"
    assert "identity: 2 earlier participant(s) were fingerprinted on another panel" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="callset.intake.registry"):
        reg.register_batch("b3", "m3", [_fp_decision("D", _random_fps(1, 300, rng)[0])], identity=on)
    assert "identity: 1 earlier participant(s) were fingerprinted on another panel" in caplog.text  # C


def test_registry_same_person_under_two_ids(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    people = _random_fps(6, 400, rng)
    reg = Registry(tmp_path / "r.sqlite")
    on = IdentitySettings(min_sites=50)
    out1 = reg.register_batch("b1", "m1", [_fp_decision(s, people[i]) for i, s in enumerate(["A", "B", "C"])],
                              identity=on)
    assert [d.status for d in out1.decisions] == ["accepted"] * 3
    rid_a = out1.research_ids["A"]
    reg.record_withdrawals(["C"])
    # b2: A's person as "D", C's (withdrawn) as "E", a stranger F, F again as G in the same batch, and B resubmitted
    out2 = reg.register_batch("b2", "m2", [
        _fp_decision("D", people[0]), _fp_decision("E", people[2]), _fp_decision("F", people[3]),
        _fp_decision("G", people[3]), _fp_decision("B", people[1], resubmission=True),
    ], identity=on)
    st = {d.sample_id: d for d in out2.decisions}
    assert st["D"].status == "rejected" and "same person as a participant accepted in batch b1" in st["D"].reasons[0]
    assert "genotype concordance 1.000 at" in st["D"].reasons[0] and "A" not in st["D"].reasons[0].split("(")[0]
    assert st["E"].status == "rejected" and "withdrew" in st["E"].reasons[0]
    assert st["F"].status == "accepted"
    assert st["G"].status == "rejected" and "same person as F in this batch" in st["G"].reasons[0]
    assert st["B"].status == "accepted" and out2.replaces == {"B": "b1"}  # its own earlier sample: expected
    matches = {(m.sample_id, m.match_sample_id): m for m in out2.identity_matches}
    assert set(matches) == {("D", "A"), ("E", "C"), ("G", "F")}
    assert matches[("D", "A")].match_research_id == rid_a and matches[("E", "C")].action == "withdrawn"
    # re-running a batch gives the same decisions (only earlier batches count) and changes nothing
    again = reg.register_batch("b1", "m1", [_fp_decision(s, people[i]) for i, s in enumerate(["A", "B", "C"])],
                               identity=on)
    assert not again.changed and all(d.status == "accepted" for d in again.decisions)
    # the private export: every match with the research ID, owner-only
    out = tmp_path / "private" / "identity_matches.tsv"
    assert export_identity_matches(tmp_path / "r.sqlite", out) == 3
    rows = list(csv.DictReader(out.open(), delimiter="\t"))
    assert {(r["sample_id"], r["match_sample_id"], r["match_research_id"]) for r in rows} >= {("D", "A", rid_a)}
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_registry_review_mode_and_off(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    people = _random_fps(2, 300, rng)
    reg = Registry(tmp_path / "r.sqlite")
    review = IdentitySettings(min_sites=50, duplicate_action="review")
    reg.register_batch("b1", "m1", [_fp_decision("A", people[0])], identity=review)
    out = reg.register_batch("b2", "m2", [_fp_decision("X", people[0]), _fp_decision("Y", people[1])],
                             identity=review)
    x, y = out.decisions
    assert x.status == "rejected" and x.reasons[0].startswith("m.tsv: line X: held for review")
    assert "private/identity_matches.tsv" in x.reasons[0] and y.status == "accepted"
    assert out.identity_matches[0].action == "review"
    # the operator confirms X and A are different people (identical twins): the same rows are accepted
    pairs = tmp_path / "twins.tsv"
    pairs.write_text("# confirmed twins\nA\tX\n")
    twins = IdentitySettings(min_sites=50, duplicate_action="review", allowed_pairs=str(pairs))
    again = reg.register_batch("b2", "m2", [_fp_decision("X", people[0]), _fp_decision("Y", people[1])],
                               identity=twins)
    assert [d.status for d in again.decisions] == ["accepted", "accepted"] and not again.identity_matches
    bad = tmp_path / "bad.tsv"
    bad.write_text("A X Y\n")
    with pytest.raises(ConfigError, match="line 1: expected two sample_ids"):
        IdentitySettings(allowed_pairs=str(bad)).allowed()
    # identity off (a library call without settings): no fingerprint comparison
    reg2 = Registry(tmp_path / "r2.sqlite")
    reg2.register_batch("b1", "m1", [_fp_decision("A", people[0])])
    off = reg2.register_batch("b2", "m2", [_fp_decision("X", people[0])])
    assert all(d.status == "accepted" for d in off.decisions)
    # too few sites called: not compared
    sparse = people[0].copy()
    sparse[40:] = NOT_CALLED
    reg3 = Registry(tmp_path / "r3.sqlite")
    reg3.register_batch("b1", "m1", [_fp_decision("A", people[0])], identity=review)
    few = reg3.register_batch("b2", "m2", [_fp_decision("X", sparse)], identity=review)
    assert few.decisions[0].status == "accepted"


def test_registry_from_before_fingerprints_is_upgraded(tmp_path: Path) -> None:
    """A registry written before identity checks (schema 2) gains the new tables and keeps its rows."""
    import sqlite3

    path = tmp_path / "r.sqlite"
    reg = Registry(path)
    rids = reg.record_batch("b1", "m1", [Decision(sample_id="A", status="accepted")])
    con = sqlite3.connect(path)
    with con:
        con.execute("DROP TABLE fingerprints")
        con.execute("DROP TABLE identity_matches")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    reg = Registry(path)
    assert [p.research_id for p in reg.participants()] == [rids["A"]]
    rng = np.random.default_rng(5)
    g = _random_fps(1, 200, rng)[0]
    out = reg.register_batch("b2", "m2", [_fp_decision("B", g)], identity=IdentitySettings(min_sites=50))
    assert out.decisions[0].status == "accepted"
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM fingerprints").fetchone() == (1,)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("3",)
