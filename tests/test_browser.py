"""The public variant browser in a real browser (Debian chromium + Playwright) on a synthetic release whose
public summary is written with the release's own suppression (callset.browser.synth): search by gene,
region, variant ID and rsID; sort; filter; CSV = summary rows; variant page = summary; no count 1..20 and
no ID in any file of the site or in the DOM; served and opened from disk. Screenshots go to each test's
tmp dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
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
from conftest import VENV_BIN

from callset.browser import BrowserError
from callset.browser.build import build_site
from callset.browser.synth import write_synthetic_release

CHUNK = 100  # small chunks: a gene or region spans several


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("browser")
    syn = write_synthetic_release(root / "release", n_variants=4000, contigs=2, span=400_000, genes_per_contig=6,
                                  seed=3)
    site = root / "site"
    build_site(syn.path, site, chunk_size=CHUNK)
    summary = read_summary(syn.path / "public" / "variant_summary.tsv.bgz")
    vat = read_vat(syn.path / "vat" / "vat.tsv.bgz")
    ids = set((syn.path / "samples.tsv").read_text().split()[1:])
    return syn, site, summary, vat, ids


@pytest.fixture(scope="module")
def url(release):
    from callset.browser.serve import start_in_thread

    server, base = start_in_thread(release[1])
    yield base
    server.shutdown()
    server.server_close()


def vid(key) -> str:
    return f"{key[0]}-{key[1]}-{key[2]}-{key[3]}"


def genes_of(rows) -> set[str]:
    return {r["gene_symbol"] for r in rows if r["gene_symbol"]}


def check_csv_equals_summary(rows, summary, expected_keys) -> None:
    """The CSV holds exactly the expected variants, each with the summary's 'all' values verbatim."""
    got = {(r["chrom"], int(r["pos"]), r["ref"], r["alt"]): r for r in rows}
    assert len(got) == len(rows) == len(expected_keys)
    assert set(got) == set(expected_keys)
    for key, r in got.items():
        want = summary[key]["all"]
        assert r["variant_id"] == vid(key)
        assert {f: r[f] for f in ("AC", "AN", "AF", "homozygote_count", "carrier_count")} == {
            f: want[f] for f in ("AC", "AN", "AF", "homozygote_count", "carrier_count")}, key


def test_site_files_hold_exactly_the_summary_and_no_id(release):
    syn, site, summary, vat, ids = release
    assert scan_site_files(site, summary, ids) == len(summary) == syn.n_variants
    # the VAT's exact counts of hidden values are nowhere: e.g. a hidden AC's exact value is not in its row
    hidden = [k for k, g in summary.items() if g["all"]["AC"] == "<=20" and k in vat]
    assert hidden and all(vat[k][0]["gvs_all_ac"] not in ("", "0") for k in hidden[:50])


def test_search_by_gene_and_csv_equals_summary(chromium, release, url, tmp_path: Path):
    syn, site, summary, vat, ids = release
    gene = "SYN2G3"
    expected = [k for k, rows in vat.items() if gene in genes_of(rows)]
    assert len(expected) > CHUNK  # spans several chunks
    page = open_page(chromium, url)
    status = search(page, gene.lower())  # symbols are matched case-insensitively
    assert status.startswith(f"{len(expected)} variants"), status
    assert n_rows(page) == len(expected)
    assert page.locator("#results tbody tr").count() == 100  # first page
    page.screenshot(path=str(tmp_path / "gene.png"), full_page=True)
    rows = download_csv(page, tmp_path, "gene.csv")
    check_csv_equals_summary(rows, summary, expected)
    assert {r["gene"] for r in rows} == {gene}
    # the next page continues in position order
    first = page.eval_on_selector_all("td.vid", "e => e.map(x => x.textContent)")
    page.click("#next")
    second = page.eval_on_selector_all("td.vid", "e => e.map(x => x.textContent)")
    assert [c.split("-", 2)[1] for c in first + second] == [str(k[1]) for k in sorted(expected)[:200]]
    assert_dom_private(page, ids)
    assert "No variant annotated to a gene named NOPE1" in search(page, "NOPE1")


def test_search_by_region_with_and_without_chr(chromium, release, url, tmp_path: Path):
    syn, site, summary, vat, ids = release
    start, end = 1_100_000, 1_200_000
    expected = [k for k in summary if k[0] == "chr2" and start <= k[1] <= end]
    page = open_page(chromium, url)
    search(page, f"chr2:{start}-{end}")
    assert n_rows(page) == len(expected) > CHUNK
    check_csv_equals_summary(download_csv(page, tmp_path, "region.csv"), summary, expected)
    page.screenshot(path=str(tmp_path / "region.png"))
    search(page, "2:1,100,000-1,200,000")
    assert n_rows(page) == len(expected)
    assert "No contig chr9" in search(page, "chr9:1-100")


def test_search_by_variant_id_both_forms_and_rsid(chromium, release, url, tmp_path: Path):
    syn, site, summary, vat, ids = release
    keys = sorted(summary)
    key = keys[len(keys) // 2]
    page = open_page(chromium, url)
    for q in (vid(key), f"{key[0][3:]}-{key[1]}-{key[2]}-{key[3]}"):
        search(page, q)
        assert n_rows(page) == 1
        assert page.inner_text("td.vid") == vid(key)
    with_rs = next(k for k in keys if k in vat and vat[k][0]["dbsnp_rsid"])
    search(page, vat[with_rs][0]["dbsnp_rsid"])
    assert n_rows(page) == 1 and page.inner_text("td.vid") == vid(with_rs)
    page.screenshot(path=str(tmp_path / "variant-search.png"))
    assert "not in this release" in search(page, f"{key[0]}-{key[1]}-{key[2]}-{'T' if key[3] != 'T' else 'G'}A")


def test_sort_by_counts_and_frequency(chromium, release, url, tmp_path: Path):
    syn, site, summary, vat, ids = release

    def key_count(v: str) -> float:
        return 19.5 if v == "<=20" else 20.5 if v == ">20" else float(v)

    page = open_page(chromium, url)
    search(page, "chr1:1000000-1100000")
    expected = [k for k in summary if k[0] == "chr1" and 1_000_000 <= k[1] <= 1_100_000]
    want_ac = sorted(key_count(summary[k]["all"]["AC"]) for k in expected)
    page.click("th[data-key=AC]")
    shown = page.eval_on_selector_all("td.count[data-col=AC]", "e => e.map(x => x.textContent)")
    to_raw = {"\u2264 20": "<=20", "> 20": ">20"}
    assert [key_count(to_raw.get(s, s)) for s in shown] == want_ac[:100]
    page.screenshot(path=str(tmp_path / "sorted-ac.png"))
    page.click("th[data-key=AC]")  # again: descending
    shown = page.eval_on_selector_all("td.count[data-col=AC]", "e => e.map(x => x.textContent)")
    assert [key_count(to_raw.get(s, s)) for s in shown] == sorted(want_ac, reverse=True)[:100]
    # the CSV follows the order on screen
    rows = download_csv(page, tmp_path, "sorted.csv")
    assert [key_count(r["AC"]) for r in rows] == sorted(want_ac, reverse=True)
    page.click("th[data-key=gene]")
    genes = page.eval_on_selector_all("td.gene", "e => e.map(x => x.textContent)")
    assert genes == sorted(genes, key=str.lower)


def test_filter_by_consequence_filter_and_type(chromium, release, url, tmp_path: Path):
    syn, site, summary, vat, ids = release
    page = open_page(chromium, url)
    search(page, "chr1:1000000-1400000")
    region = [k for k in summary if k[0] == "chr1" and 1_000_000 <= k[1] <= 1_400_000]
    page.select_option("#f-consequence", "missense")
    missense = [k for k in region if k in vat and vat[k][0]["worst_consequence"] == "missense"]
    assert n_rows(page) == len(missense) > 0
    assert set(page.eval_on_selector_all("td.consequence", "e => e.map(x => x.textContent)")) == {"missense"}
    check_csv_equals_summary(download_csv(page, tmp_path, "missense.csv"), summary, missense)
    page.screenshot(path=str(tmp_path / "filtered.png"))
    page.select_option("#f-consequence", "")
    page.select_option("#f-filter", "high_CALIBRATION_SENSITIVITY_SNP")
    flagged = [k for k in region if k in vat and vat[k][0]["filter_status"] == "high_CALIBRATION_SENSITIVITY_SNP"]
    assert n_rows(page) == len(flagged) > 0
    page.select_option("#f-filter", "hard_filtered")  # in the summary, left out of the VAT
    assert n_rows(page) == len([k for k in region if k not in vat]) > 0
    page.select_option("#f-filter", "")
    page.select_option("#f-type", "deletion")
    dels = [k for k in region if len(k[2]) > len(k[3])]
    assert n_rows(page) == len(dels) > 0
    check_csv_equals_summary(download_csv(page, tmp_path, "deletions.csv"), summary, dels)


def read_count_table(page, table: str) -> dict[str, list[str]]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr",
        "rows => Object.fromEntries(rows.map(r => [r.dataset.group,"
        " [...r.querySelectorAll('td')].map(t => t.textContent)]))")


def test_variant_page_numbers_equal_the_summary(chromium, release, url, tmp_path: Path):
    syn, site, summary, vat, ids = release
    keys = sorted(summary)
    picks = {
        "hidden": next(k for k in keys if summary[k]["all"]["AC"] == "<=20" and k in vat and vat[k][0]["transcript"]),
        "shown": next(k for k in keys if summary[k]["all"]["homozygote_count"].isdigit()
                      and int(summary[k]["all"]["homozygote_count"]) > 20),
        "clinvar": next(k for k in keys if k in vat and vat[k][0]["clinvar_classification"]),
        "not_in_vat": next(k for k in keys if k not in vat),
    }
    page = open_page(chromium, url)
    cols = ("AC", "AN", "AF", "homozygote_count", "carrier_count")
    for name, key in picks.items():
        goto(page, f"{url}#/variant/{vid(key)}")
        assert page.get_attribute("#variant-view", "data-vid") == vid(key)
        tables = {**read_count_table(page, "v-overall"), **read_count_table(page, "v-groups")}
        assert set(tables) == set(summary[key])
        for g, cells in tables.items():
            assert cells == [display(summary[key][g][c]) for c in cols], (name, g)
        assert page.locator("#af-chart .bar-row").count() == len(summary[key])
        assert "v1, 2026-12-01" in page.inner_text("#v-release")
        if key in vat:
            txs = [r for r in vat[key] if r["transcript"]]
            assert page.locator("#v-transcripts tbody tr").count() == len(txs)
            assert page.inner_text("#v-filter").startswith(vat[key][0]["filter_status"].replace("_", " "))
            clin = vat[key][0]["clinvar_classification"]
            assert (clin.replace("_", " ") if clin else "not in ClinVar") in page.inner_text("#v-clinvar")
        else:
            assert page.inner_text("#v-filter") == "hard filtered"
        assert_dom_private(page, ids)
        page.screenshot(path=str(tmp_path / f"variant-{name}.png"), full_page=True)
    goto(page, f"{url}#/variant/chr1-5-A-C")
    assert "not in this release" in page.inner_text("#status")


def test_no_small_count_in_any_count_cell_of_the_dom(chromium, release, url, tmp_path: Path):
    syn, site, summary, vat, ids = release
    page = open_page(chromium, url)
    search(page, "chr2:1000000-1400000")
    cells = 0
    for _ in range(8):  # several pages of a large result
        cells += assert_dom_private(page, ids)
        if page.is_disabled("#next"):
            break
        page.click("#next")
    assert cells >= 8 * 100 * 3
    page.screenshot(path=str(tmp_path / "dom-scan.png"))


def test_site_opened_from_disk_works(chromium, release, tmp_path: Path):
    syn, site, summary, vat, ids = release
    page = open_page(chromium, (site / "index.html").as_uri())
    search(page, "SYN1G2")
    expected = [k for k, rows in vat.items() if "SYN1G2" in genes_of(rows)]
    assert n_rows(page) == len(expected)
    page.click("#results tbody tr:first-child a")
    page.wait_for_selector("#variant-view")
    page.screenshot(path=str(tmp_path / "file-url.png"), full_page=True)


def test_build_errors_name_the_file_and_line(tmp_path: Path, release):
    syn = release[0]
    with pytest.raises(BrowserError, match="manifest.json"):
        build_site(tmp_path / "nothing", tmp_path / "out")
    import gzip
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(syn.path, bad)
    (bad / "public" / "variant_summary.tsv.bgz").unlink()
    with pytest.raises(BrowserError, match="no public summary"):
        build_site(bad, tmp_path / "out")
    with gzip.open(bad / "public" / "variant_summary.tsv.bgz", "wt") as f:
        f.write("chrom\tpos\tref\talt\tgroup\tAN\tAC\tAF\thomozygote_count\tcarrier_count\n")
        f.write("chr1\t10\tA\tC\tall\t100\t30\t0.3\t>20\t>20\n")
        f.write("chr1\tx\tA\tC\tall\t100\t30\t0.3\t>20\t>20\n")
    proc = subprocess.run([str(VENV_BIN / "callset"), "browser", "build", "--release", str(bad), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 2  # an input error (README: callset exit codes)
    assert proc.stderr.strip().splitlines()[-1] == (
        f"callset: error: {bad}/public/variant_summary.tsv.bgz: line 3: position 'x' is not a number")
    assert not (tmp_path / "out").exists()


def test_serve_command_serves_the_site_on_loopback(release, tmp_path: Path):
    import urllib.request

    site = release[1]
    proc = subprocess.Popen([sys.executable, "-m", "callset.cli", "browser", "serve", str(site), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, line
        base = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(base + "data/meta.js", timeout=10) as r:
            assert r.status == 200 and r.read().startswith(b"CS.meta(")
        with urllib.request.urlopen(base, timeout=10) as r:
            assert b"callset variant browser" in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
