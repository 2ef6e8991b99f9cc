"""The browser stage through Snakemake on a simulated cohort with genes, ancestry groups and ClinVar records:
the run writes `<results>/browser/<release>/`, whose files and pages show exactly the public summary (no
count 1..20, no research or center ID), with the VAT's genes, consequences and ClinVar; the release carries
the All of Us aux layout and VAT names."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pysam
import pytest
import yaml
from browser_support import (
    assert_dom_private,
    display,
    download_csv,
    goto,
    n_rows,
    open_page,
    read_summary,
    read_vat,
    scan_site_files,
    search,
)
from conftest import run_snakemake

from callset.simulate.cohort import SimulationOptions, simulate_cohort

CLINVAR_HEADER = Path(__file__).parent / "data" / "annotation" / "clinvar_chr22_small.vcf"
CLNSIG = ("Pathogenic", "Likely_benign", "Uncertain_significance")


def write_clinvar(truth_vcf: Path, out: Path, n: int = 12) -> dict[tuple[int, str, str], str]:
    """A ClinVar-format VCF (contigs '20', as NCBI's) for n simulated SNVs that some sample carries."""
    header = [ln for ln in CLINVAR_HEADER.read_text().splitlines() if ln.startswith("#")]
    picked: dict[tuple[int, str, str], str] = {}
    lines = []
    with pysam.VariantFile(str(truth_vcf)) as vf:
        for rec in vf:
            if rec.contig != "chr20" or len(rec.alts or ()) != 1 or len(rec.ref) != 1:
                continue
            if sum(1 for s in rec.samples.values() for a in s["GT"] if a) < 3:
                continue
            sig = CLNSIG[len(picked) % len(CLNSIG)]
            picked[(rec.pos, rec.ref, rec.alts[0])] = sig
            lines.append(f"20\t{rec.pos}\t{9_800_000 + len(picked)}\t{rec.ref}\t{rec.alts[0]}\t.\t.\t"
                         f"ALLELEID={len(picked)};CLNDN=Simulated_condition;"
                         f"CLNREVSTAT=criteria_provided,_single_submitter;CLNSIG={sig}")
            if len(picked) == n:
                break
    out.write_text("\n".join(header + lines) + "\n")
    return picked


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("browser_e2e")
    sim = root / "sim"
    # 22 short windows rather than 10: ancestry needs many independent genealogies, not many markers (10
    # windows of 15 kb gave 222 pruned SNPs on which the panel's groups were told apart in 76%: not assessable)
    simulate_cohort(sim, SimulationOptions(
        samples=48, seed=19, region_size=220_000, autosomes=22, chrx_size=30_000, par_size=20_000, chry_size=20_000,
        panel_per_ancestry=15, gq_bands="reblock", genes=6, artefacts=20, anomaly_rate=0,
    ))
    clinvar = write_clinvar(sim / "truth_genotypes.vcf.bgz", root / "clinvar.vcf")
    cfg = yaml.safe_load((sim / "config.yaml").read_text())
    cfg.update(results=str(root / "results"), combiner={"import_interval_size": 250_000},
               spark={"driver_memory": "2g"},
               release_options={"target_variants_per_shard": 400, "smaller_callsets": [], "exports": []})
    cfg["variant_qc"]["clinvar_vcf"] = str(root / "clinvar.vcf")
    cfg["browser"] = {"chunk_size": 50}
    (root / "config.yaml").write_text(yaml.safe_dump(cfg))
    run_snakemake(root, root / "config.yaml", timeout=2400)
    results = root / "results"
    with open(results / "private" / "research_ids.tsv") as f:
        ids = {x for r in csv.DictReader(f, delimiter="\t") for x in (r["sample_id"], r["research_id"])}
    release = results / "releases" / "v1"
    return results, release, results / "browser" / "v1", ids, clinvar


@pytest.mark.slow
def test_snakemake_builds_the_site_and_it_shows_only_the_summary(run, chromium, tmp_path: Path):
    results, release, site, ids, clinvar = run
    assert (site / "index.html").is_file() and (results / "logs" / "browser" / "v1.log").is_file()
    assert not (release / "browser").exists()  # outside the immutable release
    summary = read_summary(release / "public" / "variant_summary.tsv.bgz")
    vat = read_vat(release / "vat" / "vat.tsv.bgz")
    groups = {g for v in summary.values() for g in v}
    assert {"all", "AFR", "EUR", "EAS"} <= groups
    assert scan_site_files(site, summary, ids) == len(summary) == json.loads(
        (release / "manifest.json").read_text())["n_variants"]

    from callset.browser.serve import start_in_thread

    server, url = start_in_thread(site)
    try:
        page = open_page(chromium, url)
        by_gene: dict[str, list] = {}
        for key, rows in vat.items():
            for g in {r["gene_symbol"] for r in rows if r["gene_symbol"]}:
                by_gene.setdefault(g, []).append(key)
        gene = max(by_gene, key=lambda g: len(by_gene[g]))
        search(page, gene)
        assert n_rows(page) == len(by_gene[gene]) > 0
        rows = download_csv(page, tmp_path, "gene.csv")
        assert {(r["chrom"], int(r["pos"]), r["ref"], r["alt"]) for r in rows} == set(by_gene[gene])
        for r in rows:
            want = summary[(r["chrom"], int(r["pos"]), r["ref"], r["alt"])]["all"]
            assert [r[c] for c in ("AC", "AN", "AF", "homozygote_count")] == [
                want[c] for c in ("AC", "AN", "AF", "homozygote_count")]
        assert_dom_private(page, ids)
        page.screenshot(path=str(tmp_path / "gene.png"), full_page=True)
        # a ClinVar variant's page: classification from the VAT, numbers from the summary
        in_release = [k for k in summary if (k[1], k[2], k[3]) in clinvar]
        assert in_release
        key = in_release[0]
        goto(page, f"{url}#/variant/{key[0]}-{key[1]}-{key[2]}-{key[3]}")
        assert clinvar[(key[1], key[2], key[3])].replace("_", " ") in page.inner_text("#v-clinvar")
        rows = page.eval_on_selector_all(
            "#v-overall tbody tr, #v-groups tbody tr",
            "rs => rs.map(r => [r.dataset.group, ...[...r.querySelectorAll('td')].map(t => t.textContent)])")
        assert {r[0]: r[1:] for r in rows} == {
            g: [display(summary[key][g][c]) for c in ("AC", "AN", "AF", "homozygote_count", "carrier_count")]
            for g in summary[key]}
        assert_dom_private(page, ids)
        page.screenshot(path=str(tmp_path / "clinvar-variant.png"), full_page=True)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_release_has_the_all_of_us_aux_layout_and_vat_names(run):
    results, release, site, ids, clinvar = run
    manifest = json.loads((release / "manifest.json").read_text())
    for p in ("ancestry/ancestry_preds.tsv", "relatedness/relatedness.tsv",
              "relatedness/relatedness_flagged_samples.tsv", "qc/flagged_samples.tsv", "qc/genomic_metrics.tsv"):
        assert f"aux/{p}" in manifest["sample_qc"]["aux"] and (release / "aux" / p).is_file()
    with open(release / "aux" / "ancestry" / "ancestry_preds.tsv") as f:
        preds = list(csv.DictReader(f, delimiter="\t"))
    released = set((release / "samples.tsv").read_text().split()[1:])
    assert {r["research_id"] for r in preds} == released
    assert {r["ancestry_pred"] for r in preds} >= {"AFR", "EUR", "EAS"}
    assert all(len(json.loads(r["pca_features"])) >= 2 and json.loads(r["probabilities"]) for r in preds)
    with gzip.open(release / "vat" / "vat.tsv.bgz", "rt") as f:
        header = f.readline().rstrip("\n").split("\t")
    assert {"vid", "dbsnp_rsid", "gene_symbol", "dna_change_in_transcript", "gvs_all_sc"} <= set(header)
    assert "dna_change" not in header
