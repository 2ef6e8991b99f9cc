"""Shared pieces of the browser tests: Debian's chromium driven by Playwright, an independent reader of the
public summary and the VAT, and the checks every site must pass (privacy scan of files and DOM)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
COUNT_FIELDS = ("AN", "AC", "homozygote_count", "carrier_count")
RESEARCH_ID = re.compile(r"CS\d{9}")


def chromium_path() -> str:
    path = os.environ.get("CALLSET_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        raise AssertionError(f"no chromium at {path}: `make browser-deps` installs Debian's chromium")
    return path


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory):
    """A Playwright browser context on Debian's chromium with a fresh profile (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=chromium_path(), headless=True,
            args=CHROMIUM_ARGS, accept_downloads=True, viewport={"width": 1280, "height": 900},
        )
        yield ctx
        ctx.close()


def open_page(ctx: Any, url: str) -> Any:
    """A new page at ``url`` that fails the test on any JavaScript error."""
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(url)
    page.wait_for_function("window.CS !== undefined")
    return page


def search(page: Any, query: str) -> str:
    """Type ``query`` in the search box, press Enter, wait for the answer; return the status line."""
    page.evaluate("document.getElementById('status').dataset.state = 'idle'")
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_function("['done', 'error'].includes(document.getElementById('status').dataset.state)")
    assert not page.errors, page.errors
    return page.inner_text("#status")


def goto(page: Any, url: str) -> None:
    """Navigate (e.g. to ``#/variant/ID``) and wait until the page has answered."""
    page.evaluate("document.getElementById('status').dataset.state = 'idle'")
    page.goto(url)
    page.wait_for_function("['done', 'error'].includes(document.getElementById('status').dataset.state)")
    assert not page.errors, page.errors


def n_rows(page: Any) -> int:
    return int(page.get_attribute("#n-rows", "data-n"))


def download_csv(page: Any, tmp: Path, name: str) -> list[dict[str, str]]:
    with page.expect_download() as d:
        page.click("#csv")
    path = tmp / name
    d.value.save_as(str(path))
    return list(csv.DictReader(io.StringIO(path.read_text())))


def read_summary(path: Path) -> dict[tuple[str, int, str, str], dict[str, dict[str, str]]]:
    """The public summary as written: variant -> group -> column -> value (independent of callset.browser)."""
    out: dict[tuple[str, int, str, str], dict[str, dict[str, str]]] = defaultdict(dict)
    with gzip.open(path, "rt") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            out[(r["chrom"], int(r["pos"]), r["ref"], r["alt"])][r["group"]] = r
    return dict(out)


def read_vat(path: Path) -> dict[tuple[str, int, str, str], list[dict[str, str]]]:
    out: dict[tuple[str, int, str, str], list[dict[str, str]]] = defaultdict(list)
    with gzip.open(path, "rt") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            out[(r["contig"], int(r["position"]), r["ref_allele"], r["alt_allele"])].append(r)
    return dict(out)


def display(v: str) -> str:
    """How the page shows a summary value (the summary's own hiding, typeset)."""
    if v.startswith("<="):
        return "\u2264 " + v[2:]
    if v.startswith(">="):
        return "\u2265 " + v[2:]
    if v.startswith(">"):
        return "> " + v[1:]
    return v


def tokens(text: str) -> set[str]:
    """Every run of ID characters in ``text`` (IDs are ``[A-Za-z0-9][A-Za-z0-9_.-]*``)."""
    return set(re.findall(r"[A-Za-z0-9][A-Za-z0-9_.-]*", text)) | set(re.findall(r"[A-Za-z0-9]+", text))


def small_count(text: str, k: int = 20) -> bool:
    t = text.strip().replace(",", "")
    return t.isdigit() and 1 <= int(t) <= k


def scan_site_files(site: Path, summary: dict, private_ids: set[str], k: int = 20) -> int:
    """Every file of the site: no research/center ID; every count in the data equals the summary's string and
    none is a number 1..k. Returns the number of variants checked (each exactly once)."""
    seen = 0
    for p in sorted(site.rglob("*")):
        if not p.is_file():
            continue
        text = p.read_text()
        assert not RESEARCH_ID.search(text), f"{p}: research ID {RESEARCH_ID.search(text).group()}"
        leaked = private_ids & tokens(text)
        assert not leaked, f"{p}: IDs {sorted(leaked)[:5]}"
    meta = json.loads(_call_args(site / "data" / "meta.js", "CS.meta")[0])
    groups = meta["groups"]
    for c in meta["contigs"]:
        for i in range(len(c["chunks"])):
            _, _, rows = json.loads("[" + _call_args(site / "data" / c["id"] / f"{i}.js", "CS.chunk")[0] + "]")
            _, _, details = json.loads("[" + _call_args(site / "data" / c["id"] / f"{i}.d.js", "CS.detail")[0] + "]")
            assert len(rows) == len(details)
            for row, det in zip(rows, details, strict=True):
                key = (c["name"], row[0], row[1], row[2])
                want = summary[key]
                ac, an, af, hom, car = row[8:13]
                assert {"AC": ac, "AN": an, "AF": af, "homozygote_count": hom, "carrier_count": car} == {
                    f: want["all"][f] for f in ("AC", "AN", "AF", "homozygote_count", "carrier_count")}, key
                for g, vals in zip(groups, det[0], strict=True):
                    assert vals == [want[g][f] for f in ("AN", "AC", "AF", "homozygote_count", "carrier_count")]
                    assert not any(small_count(vals[j], k) for j in (0, 1, 3, 4)), (key, g, vals)
                assert not any(small_count(x, k) for x in (ac, an, hom, car)), (key, row)
                seen += 1
    return seen


def _call_args(path: Path, call: str) -> list[str]:
    text = path.read_text().strip()
    assert text.startswith(call + "(") and text.endswith(");"), path
    return [text[len(call) + 1:-2]]


def dom_count_cells(page: Any) -> list[str]:
    return page.eval_on_selector_all("td.count", "els => els.map(e => e.textContent)")


def assert_dom_private(page: Any, private_ids: set[str], k: int = 20) -> int:
    """No count cell of the rendered page shows a number 1..k; no research/center ID in its text."""
    cells = dom_count_cells(page)
    bad = [c for c in cells if small_count(c, k)]
    assert not bad, f"count cells showing 1..{k}: {bad[:10]}"
    text = page.inner_text("body")
    assert not RESEARCH_ID.search(text)
    assert not private_ids & tokens(text)
    return len(cells)
