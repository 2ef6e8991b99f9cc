"""Release products on real data: smaller callsets, VCF/PLINK/BGEN round-trips, aux tables, sample-QC
exclusions, frequencies; membership rules on hand-built cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TESTDATA

from callset.core.reference import load_reference
from callset.release.auxiliary import AOU_LAYOUT
from callset.release.write import ReleaseInputs, ReleaseSettings, write_release

GRCH38 = load_reference("GRCh38")
VDS = TESTDATA / "vds" / "1kg_chr22_5_samples.vds"
SAMPLES = ["HG00187", "HG00190", "HG00308", "HG00313", "HG00320"]
RIDS = {s: f"CS{i:09d}" for i, s in enumerate(SAMPLES, 1)}
WITHDRAWN = "HG00190"
HARD_FILTERED = RIDS["HG00320"]
ANCESTRY = {RIDS["HG00187"]: "eur", RIDS["HG00308"]: "eur", RIDS["HG00313"]: "afr", HARD_FILTERED: "afr"}
# the first exon holds 10,631,873; 10,678,964 is 6 bp before the second; the last two overlap (merged)
EXONS = [(10_600_000, 10_650_000), (10_678_970, 10_679_110), (10_685_590, 10_685_600), (10_685_595, 10_686_000)]


def write_qc_tables(d: Path) -> dict[str, str]:
    d.mkdir(parents=True, exist_ok=True)
    rows = ["research_id\tancestry\tancestry_prob\thard_filter_reasons\tflags"]
    for s, r in RIDS.items():
        reasons = "contamination>0.03" if r == HARD_FILTERED else ""
        flags = "outlier_n_snp" if s == "HG00308" else ""
        rows.append(f"{r}\t{ANCESTRY.get(r, '')}\t0.9\t{reasons}\t{flags}")
    (d / "sample_qc.tsv").write_text("\n".join(rows) + "\n")
    (d / "related_pairs.tsv").write_text(
        f"id1\tid2\tkinship\tdegree\n{RIDS['HG00187']}\t{RIDS['HG00308']}\t0.24\tfirst\n"
        f"{RIDS['HG00313']}\t{HARD_FILTERED}\t0.12\tsecond\n"
    )
    (d / "ancestry_preds.tsv").write_text(
        "research_id\tancestry\tancestry_prob\tPC1\tPC2\n"
        + "".join(f"{r}\t{ANCESTRY.get(r, 'oth')}\t0.9\t0.1\t-0.2\n" for r in RIDS.values())
    )
    (d / "flagged_samples.tsv").write_text(f"research_id\tflags\n{RIDS['HG00308']}\toutlier_n_snp\n")
    return {n: str(d / f"{n}.tsv") for n in ("sample_qc", "related_pairs", "ancestry_preds", "flagged_samples")}


def write_gff3(path: Path) -> Path:
    lines = ["##gff-version 3", "chr22\ttest\tgene\t10600000\t10700000\t.\t+\t.\tID=gene:G1",
             "chrUn_nope\ttest\texon\t1\t100\t.\t+\t.\tParent=transcript:T0"]
    lines += [f"chr22\ttest\texon\t{s}\t{e}\t.\t+\t.\tParent=transcript:T1" for s, e in EXONS]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def release(hail_session, tmp_path_factory):
    root = tmp_path_factory.mktemp("products")
    qc = write_qc_tables(root / "qc")
    out = root / "releases" / "v1"
    settings = ReleaseSettings.from_config({
        "target_variants_per_shard": 10**6, "smaller_callsets": ["acaf", "exome", "clinvar"],
        "acaf": {"min_ac": 100, "min_af": 0.5}, "exome_gene_model": str(write_gff3(root / "genes.gff3")),
        "exome_padding": 15, "exports": ["vcf", "plink", "bgen"], "public_summary": True, "suppress_below": 20,
    })
    manifest = write_release(
        ReleaseInputs(cohort_vds=str(VDS), research_ids=RIDS, withdrawn=frozenset({WITHDRAWN}), input_batches=("b1",),
                      qc_tables=qc),
        release_dir=out, release="v1", reference=GRCH38, settings=settings,
    )
    return out, manifest


def _entries(hl, mt):
    mt = mt.select_entries("GT").select_rows().select_cols()
    # missing genotypes: absent entries in the dense MT, missing GT after an export; compare called ones
    return {(r.locus.position, tuple(r.alleles), r.s): r.GT for r in mt.entries().collect() if r.GT is not None}


def test_exports_round_trip_to_mt_genotypes(hail_session, release):
    hl = hail_session
    out, manifest = release
    n_checked = 0
    for name in ("acaf", "exome"):
        shards = manifest["callsets"][name]["shards"]
        assert shards, name
        for s in shards:
            want = _entries(hl, hl.read_matrix_table(str(out / s["path"])))
            vcf, _tbi = s["exports"]["vcf"]
            got_vcf = _entries(hl, hl.import_vcf(str(out / vcf), reference_genome="GRCh38", force_bgz=True))
            bed, bim, fam = (str(out / f) for f in s["exports"]["plink"])
            got_plink = _entries(hl, hl.import_plink(bed, bim, fam, reference_genome="GRCh38", a2_reference=True))
            bgen, sample, _idx = (str(out / f) for f in s["exports"]["bgen"])
            got_bgen = _entries(hl, hl.import_bgen(bgen, ["GT"], sample_file=sample))
            assert got_vcf == want, f"{vcf} differs from {s['path']}"
            dosage = {k: v.n_alt_alleles() for k, v in want.items()}
            assert {k: v.n_alt_alleles() for k, v in got_plink.items()} == dosage, f"{bed} != {s['path']}"
            assert {k: v.n_alt_alleles() for k, v in got_bgen.items()} == dosage, f"{bgen} != {s['path']}"
            n_checked += len(want)
    assert n_checked > 30  # called genotypes of 3 released samples in the acaf and exome shards


def test_exome_callset_is_padded_exons(hail_session, release):
    hl = hail_session
    out, manifest = release
    main = [r for s in manifest["shards"] for r in hl.read_matrix_table(str(out / s["path"])).rows().collect()]
    inside = {(r.locus.position, tuple(r.alleles)) for r in main
              if any(a - 15 <= r.locus.position <= b + 15 for a, b in EXONS)}
    got = {(r.locus.position, tuple(r.alleles)) for s in manifest["callsets"]["exome"]["shards"]
           for r in hl.read_matrix_table(str(out / s["path"])).rows().collect()}
    assert got == inside and len(got) >= 4
    assert manifest["callsets"]["exome"]["rule"] == {"gene_model": "genes.gff3", "padding": 15}


def test_acaf_on_real_data_uses_group_af(hail_session, release):
    hl = hail_session
    out, manifest = release
    rows = [r for s in manifest["shards"] for r in hl.read_matrix_table(str(out / s["path"])).rows().collect()]
    qualifying = {r.locus.position for r in rows
                  if any(k != "all" and (v.AC >= 100 or (v.AF or 0) > 0.5) for k, v in r.freq.items())}
    want = {(r.locus.position, tuple(r.alleles)) for r in rows if r.locus.position in qualifying}
    got = {(r.locus.position, tuple(r.alleles)) for s in manifest["callsets"]["acaf"]["shards"]
           for r in hl.read_matrix_table(str(out / s["path"])).rows().collect()}
    assert got == want and 0 < len(got) < len(rows)
    assert manifest["callsets"]["acaf"]["rule"]["groups"] == ["afr", "eur"]


def test_frequencies_per_group_match_genotypes(hail_session, release):
    hl = hail_session
    out, manifest = release
    mt = hl.read_matrix_table(str(out / manifest["shards"][0]["path"]))
    ents = mt.select_rows("freq").select_entries("GT").entries().collect()
    by_row: dict = {}
    for e in ents:
        by_row.setdefault((e.locus, tuple(e.alleles)), (e.freq, []))[1].append((e.s, e.GT))
    assert by_row
    for (_locus, _alleles), (freq, calls) in by_row.items():
        assert set(freq) == {"all", "afr", "eur"}
        for group in ("all", "afr", "eur"):
            gts = [g for s, g in calls if g is not None and (group == "all" or ANCESTRY.get(s) == group)]
            f = freq[group]
            assert f.AC == sum(g.n_alt_alleles() for g in gts) and f.AN == 2 * len(gts)
            assert f.homozygote_count == sum(g.is_hom_var() for g in gts)
            assert f.sample_count == sum(g.is_non_ref() for g in gts)


def test_sample_qc_exclusions_counted_not_named_and_aux_tables(hail_session, release):
    hl = hail_session
    out, manifest = release
    assert manifest["n_samples"] == 3 and manifest["n_withdrawn_excluded"] == 1
    assert manifest["n_hard_filtered_excluded"] == 1 and manifest["sample_qc"]["applied"]
    assert sorted(manifest["sample_qc"]["aux"]) == sorted(
        [f"aux/{n}.tsv" for n in ("sample_qc", "related_pairs", "ancestry_preds", "flagged_samples")]
        + [f"aux/{p}" for p in AOU_LAYOUT])
    released = set((out / "samples.tsv").read_text().split()[1:])
    assert released == {RIDS[s] for s in ("HG00187", "HG00308", "HG00313")}
    for p in out.rglob("*"):  # neither left-out sample is named anywhere (text files and Hail column keys)
        if p.is_file() and p.suffix in {".tsv", ".json", ".md", ".fam", ".sample"}:
            text = p.read_text()
            assert HARD_FILTERED not in text and RIDS[WITHDRAWN] not in text, p
    assert set(hl.read_matrix_table(str(out / manifest["shards"][0]["path"])).s.collect()) == released
    pairs = (out / "aux" / "related_pairs.tsv").read_text().splitlines()
    assert pairs[0].split("\t") == ["id1", "id2", "kinship", "degree"] and len(pairs) == 2
    preds = (out / "aux" / "ancestry_preds.tsv").read_text().splitlines()
    assert preds[0].split("\t")[-2:] == ["PC1", "PC2"] and len(preds) == 4
    notes = (out / "RELEASE_NOTES.md").read_text()
    assert "samples failing sample-QC hard filters left out: 1" in notes
    assert "withdrawn participants left out: 1" in notes
    assert "`clinvar`: 0 variants" in notes and "no ClinVar annotation" in notes


def test_aux_tables_in_the_all_of_us_layout(release):
    """aux/ancestry, aux/relatedness, aux/qc hold the AoU names and columns, released samples only."""
    import pandas as pd

    out, manifest = release

    def read(p: str) -> pd.DataFrame:
        return pd.read_csv(out / "aux" / p, sep="\t", dtype=str, keep_default_na=False)

    released = {RIDS[s] for s in ("HG00187", "HG00308", "HG00313")}
    preds = read("ancestry/ancestry_preds.tsv")
    assert list(preds.columns) == ["research_id", "ancestry_pred", "probabilities", "pca_features"]
    assert set(preds.research_id) == released
    row = preds.set_index("research_id").loc[RIDS["HG00313"]]
    assert row.ancestry_pred == "afr" and json.loads(row.probabilities) == {"afr": 0.9}
    assert json.loads(row.pca_features) == [0.1, -0.2]
    rel = read("relatedness/relatedness.tsv")
    assert list(rel.columns) == ["i.s", "j.s", "kin"]
    assert rel.values.tolist() == [[RIDS["HG00187"], RIDS["HG00308"], "0.24"]]  # the pair with a left-out sample: gone
    assert list(read("relatedness/relatedness_flagged_samples.tsv").columns) == ["sample_id"]
    assert read("relatedness/relatedness_flagged_samples.tsv").empty  # nobody flagged "related" here
    flagged = read("qc/flagged_samples.tsv")
    assert flagged.values.tolist() == [[RIDS["HG00308"], "outlier_n_snp"]] and list(flagged.columns) == [
        "s", "qc_metrics_filters"]
    metrics = read("qc/genomic_metrics.tsv")
    assert list(metrics.columns) == ["research_id", "mean_coverage", "genome_coverage", "contamination",
                                     "inferred_karyotype"]
    assert set(metrics.research_id) == released
    # today's paths keep working
    assert all((out / "aux" / f"{n}.tsv").is_file() for n in ("sample_qc", "related_pairs", "ancestry_preds"))


def test_release_verifies_clean_and_lists_every_file(hail_session, release):
    from callset.release.verify import verify_release

    out, manifest = release
    assert verify_release(out) == []
    listed = {f["path"] for f in manifest["files"]}
    assert {"RELEASE_NOTES.md", "public/variant_summary.tsv.bgz", "aux/sample_qc.tsv"} <= listed
    assert not [p for p in listed if p.endswith(".crc") and not any(x in p for x in (".mt/", "vds/", ".idx2/"))]
    assert json.loads((out / "manifest.json").read_text())["callsets"]["clinvar"]["shards"] == []


def test_public_summary_of_release_has_no_derivable_small_count(release):
    from test_public import find_leaks, read_summary

    out, manifest = release
    rows = read_summary(out / "public" / "variant_summary.tsv.bgz")
    assert len(rows) == manifest["n_variants"] * 3  # all + afr + eur
    assert not find_leaks(rows)


# --- membership rules on hand-built rows --------------------------------------------------------


def _freq(**groups):
    return {g: {"AC": ac, "AN": an, "AF": ac / an if an else None, "homozygote_count": 0, "sample_count": ac}
            for g, (ac, an) in groups.items()}


@pytest.fixture(scope="module")
def hand_mt(hail_session):
    hl = hail_session
    ftype = hl.tdict(hl.tstr, hl.tstruct(AC=hl.tint32, AN=hl.tint32, AF=hl.tfloat64, homozygote_count=hl.tint32,
                                          sample_count=hl.tint32))
    rows = [
        # (pos, alt, freq, clinvar clnsig)
        (100, "A", _freq(all=(150, 28000), afr=(100, 12000), eur=(50, 16000)), "Pathogenic"),  # AC 100 in afr
        (200, "A", _freq(all=(120, 20000), afr=(30, 4000), eur=(90, 16000)), None),  # AC 120 only overall
        (300, "A", _freq(all=(45, 20000), afr=(41, 4000), eur=(4, 16000)), ""),  # afr AF 1.025 % > 1 %
        (400, "A", _freq(all=(41, 20000), afr=(40, 4000), eur=(1, 16000)), None),  # afr AF exactly 1 %: out
        (500, "A", _freq(all=(3, 20000), afr=(3, 4000), eur=(0, 16000)), "Benign"),  # multi-allelic: rare allele
        (500, "C", _freq(all=(300, 20000), afr=(20, 4000), eur=(280, 16000)), None),  # ... kept with its sibling
        (600, "A", _freq(all=(2, 20000), afr=(1, 4000), eur=(1, 16000)), None),
        (610, "G", _freq(all=(2, 20000), afr=(1, 4000), eur=(1, 16000)), None),
    ]
    t = hl.Table.parallelize(
        [{"locus": hl.Locus("chr22", p, "GRCh38"), "alleles": ["G", a], "freq": f,
          "clinvar": None if c is None else {"clnsig": c, "clndn": "x", "clnrevstat": "y"}} for p, a, f, c in rows],
        hl.tstruct(locus=hl.tlocus("GRCh38"), alleles=hl.tarray(hl.tstr), freq=ftype,
                   clinvar=hl.tstruct(clnsig=hl.tstr, clndn=hl.tstr, clnrevstat=hl.tstr)),
        key=["locus", "alleles"],
    )
    t = t.annotate(s=["a", "b"], GT=hl.call(0, 1)).explode("s")
    mt = t.to_matrix_table(row_key=["locus", "alleles"], col_key=["s"], row_fields=["freq", "clinvar"])
    return mt


def _kept(mt):
    return [(r.locus.position, r.alleles[1]) for r in mt.rows().collect()]


class TestMembership:
    def test_acaf_ac_or_group_af_and_whole_sites(self, hand_mt):
        from callset.release.callsets import filter_acaf

        assert _kept(filter_acaf(hand_mt, min_ac=100, min_af=0.01)) == [(100, "A"), (300, "A"), (500, "A"),
                                                                         (500, "C")]

    def test_acaf_thresholds_can_be_switched_off(self, hand_mt):
        from callset.release.callsets import filter_acaf

        assert _kept(filter_acaf(hand_mt, min_ac=100, min_af=None)) == [(100, "A"), (500, "A"), (500, "C")]
        assert _kept(filter_acaf(hand_mt, min_ac=None, min_af=0.01)) == [(300, "A"), (500, "A"), (500, "C")]
        assert _kept(filter_acaf(hand_mt, min_ac=None, min_af=None)) == []

    def test_acaf_uses_all_without_groups(self, hand_mt, hail_session):
        from callset.release.callsets import filter_acaf

        hl = hail_session
        only_all = hand_mt.annotate_rows(freq=hl.dict([("all", hand_mt.freq["all"])]))
        got = _kept(filter_acaf(only_all, min_ac=100, min_af=0.01))
        assert got == [(100, "A"), (200, "A"), (500, "A"), (500, "C")]

    def test_clinvar_needs_a_classification(self, hand_mt):
        from callset.release.callsets import filter_clinvar

        assert _kept(filter_clinvar(hand_mt)) == [(100, "A"), (500, "A")]
        assert _kept(filter_clinvar(hand_mt.drop("clinvar"))) == []

    def test_exome_padding_boundaries(self, hand_mt, tmp_path):
        from callset.release.callsets import filter_exome, read_exon_intervals

        gff = tmp_path / "g.gff3"
        gff.write_text("##gff-version 3\nchr22\tt\texon\t215\t285\t.\t+\t.\tParent=T\n"
                       "chr22\tt\tCDS\t500\t500\t.\t+\t0\tParent=T\n"
                       "chr22\tt\texon\t401\t584\t.\t+\t.\tParent=T\n"
                       "chr22\tt\texon\t625\t700\t.\t+\t.\tParent=T\n")
        ivs = read_exon_intervals(gff, padding=15, contig_lengths=GRCH38.lengths)
        assert ivs == [("chr22", 200, 300), ("chr22", 386, 599), ("chr22", 610, 715)]  # CDS lines ignored
        # 200/300 and 610 sit exactly on padded ends, 600 one base past one
        assert _kept(filter_exome(hand_mt, ivs)) == [(200, "A"), (300, "A"), (400, "A"), (500, "A"), (500, "C"),
                                                     (610, "G")]
        ivs14 = read_exon_intervals(gff, padding=14, contig_lengths=GRCH38.lengths)
        assert (200, "A") not in _kept(filter_exome(hand_mt, ivs14))


def test_haploid_calls_export_to_plink_and_bgen_as_homozygous(hail_session, tmp_path):
    """chrX non-PAR calls of XY samples are haploid (GT 0 / 1); PLINK and BGEN store them as 0/0, 1/1."""
    from callset.release.exports import export_shard

    hl = hail_session
    mt = hl.utils.range_matrix_table(n_rows=4, n_cols=3)
    mt = mt.key_rows_by(locus=hl.locus("chrX", 3_000_000 + mt.row_idx * 10, reference_genome="GRCh38"),
                        alleles=hl.array(["A", "G"]))
    mt = mt.key_cols_by(s=hl.str("R") + hl.str(mt.col_idx)).drop("row_idx", "col_idx")
    haploid = (mt.col_key.s == "R0") | (mt.col_key.s == "R1")
    alt = (mt.locus.position // 10 + hl.len(mt.s)) % 2
    mt = mt.annotate_entries(GT=hl.if_else(haploid, hl.call(alt), hl.call(0, alt)))
    mt = mt.annotate_rows(rsid=hl.missing(hl.tstr), AC=1, AN=4, AF=0.25)
    files = export_shard(mt, tmp_path, "{fmt}/shard", formats=["plink", "bgen"])
    assert set(files) == {"plink", "bgen"}
    want = mt.select_entries(GT=hl.if_else(mt.GT.ploidy == 1, hl.call(mt.GT[0], mt.GT[0]), mt.GT))
    want = {(r.locus.position, r.s): r.GT for r in want.entries().collect()}
    plink = hl.import_plink(str(tmp_path / "plink" / "shard.bed"), str(tmp_path / "plink" / "shard.bim"),
                            str(tmp_path / "plink" / "shard.fam"), reference_genome="GRCh38", a2_reference=True)
    got = {(r.locus.position, r.s): r.GT for r in plink.entries().collect()}
    assert got == want and any(g.is_hom_var() for g in got.values())
    bgen = hl.import_bgen(str(tmp_path / "bgen" / "shard.bgen"), entry_fields=["GT"],
                          sample_file=str(tmp_path / "bgen" / "shard.sample"))
    assert {(r.locus.position, r.s): r.GT for r in bgen.entries().collect()} == want


def test_every_filter_name_variant_qc_can_emit_is_described_for_the_vcf_header():
    """A FILTER/FT value without a ##FILTER line makes htslib warn on every record (and strict readers fail)."""
    from callset.release.exports import VCF_METADATA
    from callset.variant_qc.filters import GENOTYPE_FILTERS, SITE_FILTERS
    from callset.variant_qc.learned import FILTER_NAMES

    described = VCF_METADATA["filter"]
    for name in (*SITE_FILTERS, *GENOTYPE_FILTERS, *FILTER_NAMES.values()):
        assert described.get(name, {}).get("Description", "").strip(), name
    for kind in ("info", "format"):
        for name, meta in VCF_METADATA[kind].items():
            assert meta["Description"].strip(), (kind, name)


def test_aux_layout_when_no_released_sample_is_flagged(tmp_path):
    """A release whose samples carry no QC flag (e.g. the flagged one was withdrawn) still writes the AoU aux
    files, with headers and no rows (seen: a KeyError from pandas reading an empty mask as column labels)."""
    from callset.release.auxiliary import write_aux_tables

    qc = tmp_path / "sample_qc.tsv"
    qc.write_text("sample_id\thard_filter_reasons\tflags\tmean_coverage\n"
                  "S1\t\t\t30.1\nS2\t\trelated\t29.0\n")
    written = write_aux_tables({"sample_qc": str(qc)}, tmp_path / "aux", {"CS000000001"},
                               {"S1": "CS000000001", "S2": "CS000000002"})
    assert "relatedness/relatedness_flagged_samples.tsv" in written and "qc/flagged_samples.tsv" in written
    for name in ("relatedness/relatedness_flagged_samples.tsv", "qc/flagged_samples.tsv"):
        lines = (tmp_path / "aux" / name).read_text().splitlines()
        assert len(lines) == 1, (name, lines)  # the header only: S2 (flagged) is not released
