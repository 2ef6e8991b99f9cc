"""Build the static browser site of one release.

Layout of ``SITE/`` (everything static; ``index.html`` works served or opened from disk):

- ``index.html``, ``assets/app.js``, ``assets/style.css`` — the page;
- ``data/meta.js`` — release, date, groups, per contig the chunk table ``[first_pos, last_pos, n]``,
  the vocabularies of consequence / variant type / ClinVar / filter;
- ``data/<cid>/<i>.js`` — search chunk ``i`` of contig ``cid`` (``chunk_size`` consecutive variants):
  one row per variant ``[pos, ref, alt, genes, consequence, type, clinvar, filter, AC, AN, AF,
  homozygote_count, carrier_count, rsid]`` (vocabulary indexes for the four categorical columns; counts
  as the public summary writes them);
- ``data/<cid>/<i>.d.js`` — the same variants' details (per-group counts, transcript consequences,
  ClinVar, learned-filter score), loaded only by a variant page;
- ``data/genes/<X>.js`` — gene symbol (upper case) -> ``[[cid, first_pos, last_pos], ...]`` of the
  variants annotated to it, one file per first character;
- ``data/rsid/<b>.js`` — rsID -> variant IDs, 256 buckets by number.

A search reads only the chunks it needs: a region or a variant ID goes straight to the chunks overlapping
it (binary search over the chunk table in ``meta.js``), a gene through its shard of the gene index
(benchmarks/browser_search.py measures the design on a 1 M-variant release).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from callset.browser import BrowserError
from callset.config import section

log = logging.getLogger(__name__)

SUMMARY = "public/variant_summary.tsv.bgz"
VAT = "vat/vat.tsv.bgz"
SUMMARY_COLUMNS = ("chrom", "pos", "ref", "alt", "group", "AN", "AC", "AF", "homozygote_count", "carrier_count")
SHOWN = SUMMARY_COLUMNS[5:]
ALL = "all"
#: variants per search chunk unless told (config ``browser.chunk_size``'s default)
DEFAULT_CHUNK = int(section("browser")["chunk_size"])
RSID_BUCKETS = 256
#: VAT column -> the older name it had before the AoU names (read both)
VAT_ALIASES = {"dna_change_in_transcript": "dna_change"}
ASSETS = ("index.html", "app.js", "style.css")


def variant_type(ref: str, alt: str) -> str:
    """SNV, MNV, insertion or deletion (the VAT's rule)."""
    if len(ref) == 1 and len(alt) == 1:
        return "SNV"
    if len(ref) == len(alt):
        return "MNV"
    return "insertion" if len(ref) < len(alt) else "deletion"


@dataclass
class Annotation:
    """Variant-level annotation gathered from the VAT's transcript rows."""

    genes: list[str] = field(default_factory=list)
    consequence: str = ""
    variant_type: str = ""
    clinvar: tuple[str, str, str] = ("", "", "")
    filter: str = ""
    score: str = ""
    rsid: str = ""
    transcripts: list[list[str]] = field(default_factory=list)


class Vocab:
    """Strings of a categorical column -> small integers (written once in meta.js)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, value: str) -> int:
        i = self._index.get(value)
        if i is None:
            i = self._index[value] = len(self.values)
            self.values.append(value)
        return i


def _js(call: str, *args: Any) -> str:
    return f"{call}({','.join(json.dumps(a, separators=(',', ':'), ensure_ascii=False) for a in args)});\n"


def _open_text(path: Path) -> Any:
    return gzip.open(path, "rt") if path.suffix in {".bgz", ".gz"} else path.open()


def read_summary(path: Path) -> Iterator[tuple[str, int, str, str, dict[str, list[str]]]]:
    """Variants of the public summary in file order: ``(chrom, pos, ref, alt, {group: [AN, AC, AF, hom, car]})``.

    Values are the summary's own strings (hidden ones stay ``<=k``/``>k``/bounds). A variant's rows must be
    consecutive and contigs must not come back (the release writes them sorted).
    """
    seen_contigs: set[str] = set()
    cur_key: tuple[str, int, str, str] | None = None
    groups: dict[str, list[str]] = {}
    last_pos = 0
    with _open_text(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        if tuple(header) != SUMMARY_COLUMNS:
            raise BrowserError(f"{path}: line 1: header {header} is not the public summary's {list(SUMMARY_COLUMNS)}")
        for n, line in enumerate(f, 2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != len(SUMMARY_COLUMNS):
                raise BrowserError(f"{path}: line {n}: {len(parts)} fields, expected {len(SUMMARY_COLUMNS)}")
            chrom, pos_s, ref, alt, group = parts[:5]
            if not pos_s.isdigit():
                raise BrowserError(f"{path}: line {n}: position {pos_s!r} is not a number")
            key = (chrom, int(pos_s), ref, alt)
            if key != cur_key:
                if cur_key is not None:
                    yield (*cur_key, groups)
                if chrom != (cur_key[0] if cur_key else None):
                    if chrom in seen_contigs:
                        raise BrowserError(f"{path}: line {n}: contig {chrom} appears again after other contigs")
                    seen_contigs.add(chrom)
                    last_pos = 0
                if key[1] < last_pos:
                    raise BrowserError(f"{path}: line {n}: {chrom}:{pos_s} comes after position {last_pos} (unsorted)")
                last_pos = key[1]
                cur_key, groups = key, {}
            if group in groups:
                raise BrowserError(f"{path}: line {n}: group {group!r} twice for {chrom}-{pos_s}-{ref}-{alt}")
            groups[group] = parts[5:]
        if cur_key is not None:
            yield (*cur_key, groups)


class VatReader:
    """Variant-level annotations of one contig at a time from the VAT (tabix), keyed by (pos, ref, alt)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with _open_text(path) as f:
            self.header = f.readline().rstrip("\n").split("\t")
        col = {c: i for i, c in enumerate(self.header)}
        for new, old in VAT_ALIASES.items():
            if new not in col and old in col:
                col[new] = col[old]
        need = ("contig", "position", "ref_allele", "alt_allele")
        if missing := [c for c in need if c not in col]:
            raise BrowserError(f"{path}: line 1: VAT header lacks {missing}")
        self.col = col
        self.tabix = Path(f"{path}.tbi").is_file()

    def _lines(self, contig: str) -> Iterator[str]:
        if self.tabix:
            import pysam

            tb = pysam.TabixFile(str(self.path))
            try:
                if contig in tb.contigs:
                    yield from tb.fetch(contig)
            finally:
                tb.close()
        else:
            with _open_text(self.path) as f:
                f.readline()
                ci = self.col["contig"]
                for line in f:
                    if line.split("\t", ci + 1)[ci] == contig:
                        yield line.rstrip("\n")

    def contig(self, contig: str) -> dict[tuple[int, str, str], Annotation]:
        c = self.col
        out: dict[tuple[int, str, str], Annotation] = {}

        def get(parts: list[str], name: str) -> str:
            i = c.get(name)
            return parts[i] if i is not None and i < len(parts) else ""

        for line in self._lines(contig):
            p = line.split("\t")
            key = (int(p[c["position"]]), p[c["ref_allele"]], p[c["alt_allele"]])
            a = out.get(key)
            if a is None:
                a = out[key] = Annotation(
                    consequence=get(p, "worst_consequence") or get(p, "consequence"),
                    variant_type=get(p, "variant_type"),
                    clinvar=(get(p, "clinvar_classification"), get(p, "clinvar_phenotype"),
                             get(p, "clinvar_review_status")),
                    filter=get(p, "filter_status"),
                    score=get(p, "learned_filter_score"),
                    rsid=get(p, "dbsnp_rsid"),
                )
            gene = get(p, "gene_symbol")
            if gene and gene not in a.genes:
                a.genes.append(gene)
            tx = get(p, "transcript")
            if tx:
                a.transcripts.append([gene, tx, get(p, "consequence"), get(p, "aa_change"),
                                      get(p, "dna_change_in_transcript")])
        return out


def _missing_from_vat_filter(alt: str, dropped: dict[str, int]) -> str:
    """Filter shown for a summary variant the VAT left out (the VAT keeps every other site)."""
    if alt == "*":
        return "spanning_deletion"
    reasons = sorted(r for r, n in dropped.items() if n and r != "spanning_deletion")
    return reasons[0] if len(reasons) == 1 else "not_in_VAT"


def _copy_assets(out: Path) -> None:
    (out / "assets").mkdir(parents=True, exist_ok=True)
    src = resources.files("callset.browser") / "assets"
    for name in ASSETS:
        data = (src / name).read_bytes()
        (out / ("index.html" if name == "index.html" else f"assets/{name}")).write_bytes(data)


def _gene_shard(symbol: str) -> str:
    c = symbol[:1].upper()
    return c if re.fullmatch(r"[A-Z0-9]", c) else "_"


def _rsid_bucket(rsid: str) -> int:
    digits = re.sub(r"\D", "", rsid)
    return int(digits) % RSID_BUCKETS if digits else 0


def build_site(release_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
               chunk_size: int = DEFAULT_CHUNK) -> dict[str, Any]:
    """Write the site of ``release_dir`` into ``out_dir`` (replaced when it exists); return ``meta``.

    :param chunk_size: variants per search chunk (see benchmarks/browser_search.py for the choice).
    :raises BrowserError: no public summary, or a malformed summary / VAT (file, line and reason).
    """
    rel = Path(release_dir)
    out = Path(out_dir)
    if chunk_size < 1:
        raise BrowserError(f"chunk_size must be >= 1, got {chunk_size}")
    mpath = rel / "manifest.json"
    if not mpath.is_file():
        raise BrowserError(f"{rel}: no manifest.json (not a finished release)")
    manifest = json.loads(mpath.read_text())
    summary = rel / SUMMARY
    if not summary.is_file():
        raise BrowserError(f"{summary}: no public summary in this release (release_options.public_summary is off)")
    vat_path = rel / VAT
    vat = VatReader(vat_path) if vat_path.is_file() else None
    dropped = ((manifest.get("vat") or {}).get("summary") or {}).get("dropped") or {}
    # what the release applied; a release that did not record it applied the default
    k = int((manifest.get("public") or {}).get("suppress_below", section("release_options")["suppress_below"]))

    tmp = out.parent / f".{out.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "data").mkdir(parents=True)
    try:
        meta = _write_site(tmp, rel, manifest, summary, vat, dropped, k, chunk_size)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    log.info("browser site of release %s: %d variants, %d chunks -> %s", meta["release"], meta["n_variants"],
             sum(len(c["chunks"]) for c in meta["contigs"]), out)
    return meta


def _write_site(tmp: Path, rel: Path, manifest: dict[str, Any], summary: Path, vat: VatReader | None,
                dropped: dict[str, int], k: int, chunk_size: int) -> dict[str, Any]:
    index = _SiteIndex()
    chunks = _Chunks(tmp, chunk_size)
    groups, n_total = _write_chunks(summary, vat, dropped, chunks, index)
    if n_total == 0:
        log.warning("%s: the public summary has no variant: the site has nothing to search", summary)
    gene_shards = _write_lookups(tmp, index)
    meta = {
        "release": manifest.get("release", rel.name),
        "created": manifest.get("created"),
        "reference_genome": manifest.get("reference_genome"),
        "suppress_below": k,
        "groups": groups or [],
        "n_variants": n_total,
        "annotated": vat is not None,
        "contigs": chunks.contigs,
        "vocab": {n: v.values for n, v in index.vocab.items()},
        "gene_shards": gene_shards,
        "rsid_buckets": sorted(index.rsids),
        "rsid_n_buckets": RSID_BUCKETS,
        "site_built": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    (tmp / "data" / "meta.js").write_text(_js("CS.meta", meta))
    _copy_assets(tmp)
    log.info("%d genes, %d rsIDs indexed", len(index.genes), sum(len(b) for b in index.rsids.values()))
    return meta


@dataclass
class _SiteIndex:
    """What the site looks up besides the chunks: vocabularies, gene extents per contig, rsID -> variant IDs."""

    vocab: dict[str, Vocab] = field(
        default_factory=lambda: {n: Vocab() for n in ("consequence", "variant_type", "clinvar", "filter")})
    genes: dict[str, dict[str, Any]] = field(default_factory=dict)
    rsids: dict[int, dict[str, list[str]]] = field(default_factory=dict)

    def add(self, cid: str, pos: int, vid: str, a: Annotation) -> None:
        """Index variant ``vid`` (at ``pos`` of contig ``cid``) under its genes and rsIDs."""
        for g in a.genes:
            ext = self.genes.setdefault(g.upper(), {"symbol": g, "ranges": {}})
            r = ext["ranges"].setdefault(cid, [pos, pos])
            r[0], r[1] = min(r[0], pos), max(r[1], pos)
        for rs in filter(None, re.split(r"[,;\s]+", a.rsid)):
            self.rsids.setdefault(_rsid_bucket(rs), {}).setdefault(rs.lower(), []).append(vid)


class _Chunks:
    """The search chunks (``data/<cid>/<i>.js``) and details (``<i>.d.js``), one contig at a time."""

    def __init__(self, tmp: Path, chunk_size: int) -> None:
        self.tmp, self.chunk_size = tmp, chunk_size
        self.contigs: list[dict[str, Any]] = []  # meta.js "contigs": name, id and chunk table
        self.cid = ""
        self.table: list[list[Any]] = []
        self.rows: list[list[Any]] = []
        self.details: list[list[Any]] = []

    def start_contig(self, name: str) -> None:
        self.cid = f"c{len(self.contigs)}"
        self.table, self.rows, self.details = [], [], []
        self.contigs.append({"name": name, "id": self.cid, "chunks": self.table})

    def add(self, row: list[Any], detail: list[Any]) -> None:
        self.rows.append(row)
        self.details.append(detail)
        if len(self.rows) >= self.chunk_size:
            self.flush()

    def flush(self) -> None:
        rows, details = self.rows, self.details
        if not rows:
            return
        i = len(self.table)
        d = self.tmp / "data" / self.cid
        d.mkdir(exist_ok=True)
        (d / f"{i}.js").write_text(_js("CS.chunk", self.cid, i, rows))
        (d / f"{i}.d.js").write_text(_js("CS.detail", self.cid, i, details))
        self.table.append([rows[0][0], rows[-1][0], len(rows)])
        self.rows, self.details = [], []


def _write_chunks(summary: Path, vat: VatReader | None, dropped: dict[str, int], chunks: _Chunks,
                  index: _SiteIndex) -> tuple[list[str] | None, int]:
    """Write every variant of the public summary (with its VAT annotation) to ``chunks`` and ``index``; return
    the groups (besides ``all``) and the number of variants.

    :raises BrowserError: a variant without an ``all`` row, or with other groups than the first.
    """
    groups: list[str] | None = None
    n_total = 0
    ann: dict[tuple[int, str, str], Annotation] = {}
    vocab = index.vocab
    for chrom, pos, ref, alt, shown in read_summary(summary):
        if not chunks.contigs or chunks.contigs[-1]["name"] != chrom:
            if chunks.contigs:
                chunks.flush()
            chunks.start_contig(chrom)
            ann = vat.contig(chrom) if vat else {}
        if groups is None:
            groups = [g for g in shown if g != ALL]
        if ALL not in shown:
            raise BrowserError(f"{summary}: {chrom}-{pos}-{ref}-{alt} has no '{ALL}' row")
        if [g for g in shown if g != ALL] != groups:
            raise BrowserError(f"{summary}: {chrom}-{pos}-{ref}-{alt} has groups {sorted(shown)}, others {groups}")
        a = ann.get((pos, ref, alt))
        if a is None:
            a = Annotation(variant_type=variant_type(ref, alt),
                           filter=_missing_from_vat_filter(alt, dropped) if vat else "")
        row = [pos, ref, alt, ",".join(a.genes), vocab["consequence"](a.consequence),
               vocab["variant_type"](a.variant_type or variant_type(ref, alt)), vocab["clinvar"](a.clinvar[0]),
               vocab["filter"](a.filter), *(shown[ALL][SHOWN.index(c)] for c in ("AC", "AN", "AF")),
               shown[ALL][3], shown[ALL][4], a.rsid]
        chunks.add(row, [[shown[g] for g in groups], a.transcripts, list(a.clinvar), a.score])
        index.add(chunks.cid, pos, f"{chrom}-{pos}-{ref}-{alt}", a)
        n_total += 1
    if chunks.contigs:
        chunks.flush()
    return groups, n_total


def _write_lookups(tmp: Path, index: _SiteIndex) -> list[str]:
    """Write the gene shards (``data/genes/<X>.js``) and rsID buckets (``data/rsid/<b>.js``); return the shards."""
    shards: dict[str, dict[str, Any]] = {}
    for key, g in index.genes.items():
        shards.setdefault(_gene_shard(key), {})[key] = {
            "symbol": g["symbol"], "ranges": [[cid, a, b] for cid, (a, b) in g["ranges"].items()]}
    (tmp / "data" / "genes").mkdir()
    for shard, entries in shards.items():
        (tmp / "data" / "genes" / f"{shard}.js").write_text(_js("CS.genes", shard, entries))
    (tmp / "data" / "rsid").mkdir()
    for b, entries in index.rsids.items():
        (tmp / "data" / "rsid" / f"{b}.js").write_text(_js("CS.rsids", b, entries))
    return sorted(shards)
