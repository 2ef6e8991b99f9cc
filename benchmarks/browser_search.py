"""Browser search speed on a simulated 1 M-variant release (issue 19: <= 100 ms for a gene or a 100 kb region).

Writes a synthetic release (public summary with the release's own suppression + a VAT with genes;
callset.browser.synth) of ``--variants`` variants over ``--contigs`` contigs of ``--span`` bp (default 1 M
variants, 10 x 3 Mb: one variant per 30 bp, ~3,300 per 100 kb, ~1,000 per 30 kb gene), builds the site
with several chunk sizes, and times searches in Debian's chromium driven by Playwright: each search in a
freshly loaded page with the HTTP cache disabled (nothing loaded before it), ``performance.now()`` around
``CS.search`` (parse, load the index shard and chunks, filter, sort, render the first page). The largest
chunk size (one chunk per contig) is the baseline: one data file per contig, scanned whole.

    PYTHONPATH=src .venv/bin/python benchmarks/browser_search.py [--variants 1000000] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def dir_size(p: Path) -> tuple[int, int]:
    files = [f for f in p.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files), len(files)


def time_searches(ctx, url: str, queries: list[str]) -> list[float]:  # noqa: ANN001 - playwright context
    out = []
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    for q in queries:
        page.goto(url)
        page.wait_for_function("window.CS && document.getElementById('status').dataset.state === 'idle'")
        ms = page.evaluate("q => CS.search(q)", q)
        state = page.get_attribute("#status", "data-state")
        if state != "done":
            raise SystemExit(f"search {q!r} failed: {page.inner_text('#status')}")
        out.append(float(ms))
    page.close()
    return out


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return f"median {statistics.median(xs):6.1f}  p90 {p90:6.1f}  max {xs[-1]:6.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", type=int, default=1_000_000)
    ap.add_argument("--contigs", type=int, default=10)
    ap.add_argument("--span", type=int, default=3_000_000)
    ap.add_argument("--genes-per-contig", type=int, default=60)
    ap.add_argument("--chunk-sizes", default="250,1000,4000,0", help="0 = one chunk per contig (baseline)")
    ap.add_argument("--searches", type=int, default=15, help="searches of each kind per configuration")
    ap.add_argument("--work", help="keep the release and sites here (default: a temporary folder)")
    ap.add_argument("--chromium", default=os.environ.get("CALLSET_CHROMIUM", "/usr/bin/chromium"))
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    from callset.browser.build import build_site
    from callset.browser.serve import start_in_thread
    from callset.browser.synth import write_synthetic_release

    work = Path(args.work or tempfile.mkdtemp(prefix="browser-bench-"))
    rel = work / "release"
    t = time.time()
    if (rel / "manifest.json").is_file():
        import json

        from callset.browser.synth import SyntheticRelease

        n = json.loads((rel / "manifest.json").read_text())["n_variants"]
        syn = SyntheticRelease(rel, n)
        step = args.span // args.genes_per_contig
        for ci in range(args.contigs):
            for j in range(args.genes_per_contig):
                s = 1_000_001 + j * step + step // 10
                syn.genes[f"SYN{ci + 1}G{j + 1}"] = (f"chr{ci + 1}", s, s + 29_999)
        print(f"release: reusing {rel} ({n} variants)")
    else:
        syn = write_synthetic_release(rel, n_variants=args.variants, contigs=args.contigs, span=args.span,
                                      genes_per_contig=args.genes_per_contig, seed=19)
        print(f"release: {args.variants} variants written in {time.time() - t:.0f} s")
    rng = np.random.default_rng(7)
    genes = list(syn.genes)
    gene_q = [genes[i] for i in rng.choice(len(genes), args.searches, replace=False)]
    region_q = []
    for _ in range(args.searches):
        c = int(rng.integers(args.contigs))
        s = int(rng.integers(1_000_001, 1_000_001 + args.span - 100_000))
        region_q.append(f"chr{c + 1}:{s}-{s + 99_999}")
    import gzip

    var_q = []
    with gzip.open(rel / "public" / "variant_summary.tsv.bgz", "rt") as f:
        f.readline()
        picks = set(rng.choice(args.variants * 5 // 2, args.searches, replace=False).tolist())
        for i, line in enumerate(f):
            if i in picks:
                c, p, r, a = line.split("\t")[:4]
                var_q.append(f"{c}-{p}-{r}-{a}")
            if len(var_q) == args.searches:
                break

    rows = []
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="chromium-"), executable_path=args.chromium, headless=True, args=ARGS)
        for cs in [int(x) for x in args.chunk_sizes.split(",")]:
            size = cs or -(-args.variants // args.contigs)
            site = work / f"site_{cs or 'contig'}"
            t = time.time()
            build_site(rel, site, chunk_size=size)
            build_s = time.time() - t
            nbytes, nfiles = dir_size(site)
            server, url = start_in_thread(site)
            try:
                res = {"gene": time_searches(ctx, url, gene_q), "region 100 kb": time_searches(ctx, url, region_q),
                       "variant ID": time_searches(ctx, url, var_q)}
                if cs == 1000:
                    res["gene, file://"] = time_searches(ctx, (site / "index.html").as_uri(), gene_q)
                    res["region, file://"] = time_searches(ctx, (site / "index.html").as_uri(), region_q)
            finally:
                server.shutdown()
                server.server_close()
            rows.append((cs, size, build_s, nbytes, nfiles, res))
            print(f"chunk {size:>7} variants: built in {build_s:5.1f} s, {nbytes / 1e6:7.1f} MB in {nfiles} files",
                  flush=True)
            for k, xs in res.items():
                print(f"    {k:<18} {stats(xs)} ms", flush=True)
        ctx.close()

    print(f"\nbrowser search, {args.variants:,} variants ({args.contigs} contigs x {args.span / 1e6:g} Mb), "
          f"{args.searches} cold searches each (ms, served on 127.0.0.1 unless file://)")
    print(f"{'chunk':>8} {'gene med':>9} {'gene max':>9} {'100kb med':>10} {'100kb max':>10} {'vid med':>8} "
          f"{'site MB':>8} {'files':>6}")
    base = rows[-1][5]
    for _cs, size, _b, nbytes, nfiles, res in rows:
        print(f"{size:>8} {statistics.median(res['gene']):>9.1f} {max(res['gene']):>9.1f} "
              f"{statistics.median(res['region 100 kb']):>10.1f} {max(res['region 100 kb']):>10.1f} "
              f"{statistics.median(res['variant ID']):>8.1f} {nbytes / 1e6:>8.1f} {nfiles:>6}")
    if rows[-1][0] == 0:
        for _cs, size, *_rest, res in rows[:-1]:
            ratio = statistics.median(base["region 100 kb"]) / statistics.median(res["region 100 kb"])
            print(f"chunk {size}: 100 kb region {ratio:.1f}x faster than one file per contig (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
