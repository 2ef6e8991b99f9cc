/* callset variant browser: search, results table (sort, filter, CSV), variant page.
 * Data come as JavaScript files (data/...) that call CS.meta / CS.chunk / CS.detail / CS.genes / CS.rsids;
 * they are loaded by <script> tags, which works from a server and from file:// alike. */
"use strict";

const CS = (() => {
  const store = new Map();    // "s:cid:i" | "d:cid:i" | "g:X" | "r:b" -> data
  const loading = new Map();  // same keys -> Promise
  const PAGE = 100;           // rows rendered per page
  const MAX_CHUNKS = 200;     // a search reads at most this many chunks
  // row fields of a search chunk (see callset/browser/build.py)
  const F = {pos: 0, ref: 1, alt: 2, genes: 3, csq: 4, type: 5, clinvar: 6, filter: 7,
             AC: 8, AN: 9, AF: 10, hom: 11, car: 12, rsid: 13};
  const COLS = [
    ["vid", "Variant ID"], ["gene", "Gene"], ["consequence", "Consequence"], ["type", "Variant type"],
    ["clinvar", "ClinVar"], ["filter", "Filter"], ["AC", "AC"], ["AN", "AN"], ["AF", "AF"],
    ["hom", "Homozygotes"],
  ];
  const COUNT_COLS = new Set(["AC", "AN", "hom"]);
  let meta = null;
  const state = {query: "", rows: [], shown: [], sort: {key: "vid", dir: 1}, filters: {}, page: 0, note: ""};

  // ------------------------------------------------------------------ data loading
  function load(key, src) {
    if (store.has(key)) return Promise.resolve(store.get(key));
    if (loading.has(key)) return loading.get(key);
    const p = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.async = true;
      s.onload = () => (store.has(key) ? resolve(store.get(key)) : reject(new Error(`${src}: no data`)));
      s.onerror = () => reject(new Error(`cannot load ${src}`));
      document.head.appendChild(s);
    });
    loading.set(key, p);
    p.catch(() => loading.delete(key));
    return p;
  }
  const chunk = (c, i) => load(`s:${c.id}:${i}`, `data/${c.id}/${i}.js`);
  const detail = (c, i) => load(`d:${c.id}:${i}`, `data/${c.id}/${i}.d.js`);

  // ------------------------------------------------------------------ formatting
  const esc = (s) => String(s).replace(/[&<>"']/g, (ch) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[ch]));
  // the summary's hidden values: "<=20" -> "≤ 20", ">20" -> "> 20"; AF bounds "<=x"/">=x" likewise
  function shown(v) {
    if (v.startsWith("<=")) return "\u2264 " + v.slice(2);
    if (v.startsWith(">=")) return "\u2265 " + v.slice(2);
    if (v.startsWith(">")) return "> " + v.slice(1);
    return v;
  }
  const human = (s) => String(s || "").replace(/_/g, " ");
  // sort value of a shown count / AF: exact numbers as they are, bounds just inside or outside them
  function countKey(v) {
    if (v.startsWith("<=")) return Number(v.slice(2)) - 0.5;
    if (v.startsWith(">")) return Number(v.slice(1)) + 0.5;
    const n = Number(v);
    return Number.isFinite(n) ? n : -1;
  }
  function afKey(v) {
    if (v.startsWith("<=")) return Number(v.slice(2)) * 0.999;
    if (v.startsWith(">=")) return Number(v.slice(2));
    const n = Number(v);
    return Number.isFinite(n) ? n : -1;
  }

  // ------------------------------------------------------------------ query parsing
  function findContig(name) {
    const bare = name.replace(/^chr/i, "");
    return meta.contigs.find((c) => c.name === name || c.name === "chr" + bare || c.name === bare ||
                                    c.name.toLowerCase() === name.toLowerCase());
  }
  const num = (s) => Number(String(s).replace(/[,_]/g, ""));
  function parse(q) {
    q = q.trim();
    let m;
    if ((m = /^rs(\d+)$/i.exec(q))) return {kind: "rsid", rsid: "rs" + m[1]};
    if ((m = /^((?:chr)?[0-9A-Za-z_.]+)[-:_ ]([\d,]+)[-:_ ]([ACGTN*]+)[-:_ >/]([ACGTN*]+)$/i.exec(q))) {
      return {kind: "variant", contig: m[1], pos: num(m[2]), ref: m[3].toUpperCase(), alt: m[4].toUpperCase()};
    }
    if ((m = /^((?:chr)?[0-9A-Za-z_.]+)[: ]([\d,]+)(?:\s*[-\u2013 ]\s*([\d,]+))?$/i.exec(q))) {
      const start = num(m[2]);
      return {kind: "region", contig: m[1], start, end: m[3] ? num(m[3]) : start};
    }
    if (/^[A-Za-z0-9][A-Za-z0-9._@-]*$/.test(q)) return {kind: "gene", gene: q};
    return {kind: "invalid"};
  }

  // chunks of contig c overlapping [start, end] (binary search on the chunk table)
  function chunksIn(c, start, end) {
    const ch = c.chunks;
    let lo = 0, hi = ch.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ch[mid][1] < start) lo = mid + 1; else hi = mid;
    }
    const out = [];
    for (let i = lo; i < ch.length && ch[i][0] <= end; i++) out.push(i);
    return out;
  }

  async function rowsIn(ci, idx, keep) {
    const c = meta.contigs[ci];
    const chunks = await Promise.all(idx.map((i) => chunk(c, i)));
    const out = [];
    chunks.forEach((rows, k) => rows.forEach((r, j) => { if (keep(r)) out.push({c: ci, i: idx[k], j, r}); }));
    return out;
  }

  // the rows a query selects, or throws an Error with a message for the user
  async function select(q) {
    const p = parse(q);
    if (p.kind === "invalid") throw new Error(`Not a gene, region, variant ID or rsID: "${q}"`);
    if (p.kind === "rsid") {
      const b = Number(p.rsid.slice(2)) % meta.rsid_n_buckets;
      if (!meta.rsid_buckets.includes(b)) throw new Error(`${p.rsid} is not in this release`);
      const ids = (await load(`r:${b}`, `data/rsid/${b}.js`))[p.rsid.toLowerCase()];
      if (!ids) throw new Error(`${p.rsid} is not in this release`);
      const out = [];
      for (const id of ids) out.push(...(await select(id)));
      return out;
    }
    if (p.kind === "gene") {
      const key = p.gene.toUpperCase();
      const shard = /^[A-Z0-9]/.test(key) ? key[0] : "_";
      const entry = meta.gene_shards.includes(shard) ? (await load(`g:${shard}`, `data/genes/${shard}.js`))[key] : null;
      if (!entry) throw new Error(`No variant annotated to a gene named ${p.gene} in this release`);
      const parts = await Promise.all(entry.ranges.map(([cid, a, b]) => {
        const ci = meta.contigs.findIndex((c) => c.id === cid);
        const idx = chunksIn(meta.contigs[ci], a, b);
        if (idx.length > MAX_CHUNKS) state.note = `Only the first ${MAX_CHUNKS * meta.contigs[ci].chunks[0][2]} variants are read.`;
        return rowsIn(ci, idx.slice(0, MAX_CHUNKS), (r) => r[F.genes] && r[F.genes].split(",").some((g) => g.toUpperCase() === key));
      }));
      return parts.flat();
    }
    const c = findContig(p.contig);
    if (!c) throw new Error(`No contig ${p.contig} in this release`);
    const ci = meta.contigs.indexOf(c);
    if (p.kind === "variant") {
      const hits = await rowsIn(ci, chunksIn(c, p.pos, p.pos),
        (r) => r[F.pos] === p.pos && r[F.ref] === p.ref && r[F.alt] === p.alt);
      if (!hits.length) throw new Error(`${c.name}-${p.pos}-${p.ref}-${p.alt} is not in this release`);
      return hits;
    }
    if (p.end < p.start) throw new Error(`Region end ${p.end} is before its start ${p.start}`);
    let idx = chunksIn(c, p.start, p.end);
    if (idx.length > MAX_CHUNKS) {
      idx = idx.slice(0, MAX_CHUNKS);
      state.note = `Region too large: only its first ${MAX_CHUNKS} chunks are shown; narrow it.`;
    }
    return rowsIn(ci, idx, (r) => r[F.pos] >= p.start && r[F.pos] <= p.end);
  }

  // ------------------------------------------------------------------ results
  const V = (x) => meta.vocab;
  function val(x, key) {
    const r = x.r;
    switch (key) {
      case "vid": return `${meta.contigs[x.c].name}-${r[F.pos]}-${r[F.ref]}-${r[F.alt]}`;
      case "gene": return r[F.genes];
      case "consequence": return V().consequence[r[F.csq]];
      case "type": return V().variant_type[r[F.type]];
      case "clinvar": return V().clinvar[r[F.clinvar]];
      case "filter": return V().filter[r[F.filter]];
      case "rsid": return r[F.rsid];
      default: return r[F[key]];
    }
  }
  function sortKey(x, key) {
    if (key === "vid") return [x.c, x.r[F.pos], x.r[F.ref], x.r[F.alt]];
    if (COUNT_COLS.has(key)) return [countKey(x.r[F[key]])];
    if (key === "AF") return [afKey(x.r[F.AF])];
    return [(val(x, key) || "").toLowerCase()];
  }
  function cmp(a, b) {
    for (let i = 0; i < a.length; i++) { if (a[i] < b[i]) return -1; if (a[i] > b[i]) return 1; }
    return 0;
  }
  function applyView() {
    const f = state.filters;
    let rows = state.rows.filter((x) => (!f.consequence || val(x, "consequence") === f.consequence) &&
                                        (!f.filter || val(x, "filter") === f.filter) &&
                                        (!f.type || val(x, "type") === f.type));
    const {key, dir} = state.sort;
    if (key === "vid" && dir === 1) {  // rows are read in position order: nothing to sort
      state.shown = rows;
      return;
    }
    const keyed = rows.map((x) => [sortKey(x, key), sortKey(x, "vid"), x]);
    keyed.sort((a, b) => dir * cmp(a[0], b[0]) || cmp(a[1], b[1]));
    state.shown = keyed.map((k) => k[2]);
  }
  function options(key, label) {
    const vals = [...new Set(state.rows.map((x) => val(x, key)))].sort();
    const cur = state.filters[key] || "";
    return `<label>${label} <select id="f-${key}" data-filter="${key}"><option value="">all</option>` +
      vals.map((v) => `<option value="${esc(v)}"${v === cur ? " selected" : ""}>${esc(v === "" ? "(none)" : human(v))}</option>`).join("") +
      `</select></label>`;
  }
  function cell(x, key) {
    const v = val(x, key);
    if (key === "vid") return `<td class="vid"><a href="#/variant/${encodeURIComponent(v)}">${esc(v)}</a></td>`;
    if (COUNT_COLS.has(key)) return `<td class="count" data-col="${key}">${esc(shown(v))}</td>`;
    if (key === "AF") return `<td class="af">${esc(shown(v))}</td>`;
    return `<td class="${key}">${esc(human(v))}</td>`;
  }
  function renderResults() {
    const view = document.getElementById("view");
    const n = state.shown.length, pages = Math.max(1, Math.ceil(n / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const slice = state.shown.slice(state.page * PAGE, (state.page + 1) * PAGE);
    const arrow = (k) => (state.sort.key === k ? (state.sort.dir > 0 ? " \u25b2" : " \u25bc") : "");
    view.innerHTML =
      `<section id="results-view"><div class="controls">${options("consequence", "Consequence")}${options("filter", "Filter")}` +
      `${options("type", "Variant type")}<button type="button" id="csv">Download CSV</button>` +
      `<span id="n-rows" data-n="${n}">${n} of ${state.rows.length} variants</span></div>` +
      (state.note ? `<p class="note">${esc(state.note)}</p>` : "") +
      `<table id="results"><thead><tr>${COLS.map(([k, l]) => `<th data-key="${k}" class="sortable">${l}${arrow(k)}</th>`).join("")}</tr></thead>` +
      `<tbody>${slice.map((x) => `<tr>${COLS.map(([k]) => cell(x, k)).join("")}</tr>`).join("")}</tbody></table>` +
      `<div class="pager"><button type="button" id="prev"${state.page ? "" : " disabled"}>Previous</button>` +
      `<span id="page">page ${state.page + 1} of ${pages}</span>` +
      `<button type="button" id="next"${state.page + 1 < pages ? "" : " disabled"}>Next</button></div></section>`;
    view.querySelectorAll("th.sortable").forEach((th) => th.addEventListener("click", () => {
      const k = th.dataset.key;
      state.sort = {key: k, dir: state.sort.key === k ? -state.sort.dir : 1};
      state.page = 0; applyView(); renderResults();
    }));
    view.querySelectorAll("select[data-filter]").forEach((s) => s.addEventListener("change", () => {
      state.filters[s.dataset.filter] = s.value;
      state.page = 0; applyView(); renderResults();
    }));
    view.querySelector("#csv").addEventListener("click", downloadCsv);
    view.querySelector("#prev").addEventListener("click", () => { state.page--; renderResults(); });
    view.querySelector("#next").addEventListener("click", () => { state.page++; renderResults(); });
  }

  // the current rows (filtered, sorted, every page) with the summary's own values
  const CSV_COLS = ["variant_id", "chrom", "pos", "ref", "alt", "rsid", "gene", "consequence", "variant_type",
                    "clinvar", "filter", "AC", "AN", "AF", "homozygote_count", "carrier_count"];
  function csvText() {
    const q = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const lines = [CSV_COLS.join(",")];
    for (const x of state.shown) {
      const r = x.r;
      lines.push([val(x, "vid"), meta.contigs[x.c].name, r[F.pos], r[F.ref], r[F.alt], r[F.rsid], r[F.genes],
        val(x, "consequence"), val(x, "type"), val(x, "clinvar"), val(x, "filter"),
        r[F.AC], r[F.AN], r[F.AF], r[F.hom], r[F.car]].map((v) => q(String(v))).join(","));
    }
    return lines.join("\n") + "\n";
  }
  function downloadCsv() {
    const blob = new Blob([csvText()], {type: "text/csv"});
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `callset-${meta.release}-${state.query.replace(/[^A-Za-z0-9._-]+/g, "_")}.csv`;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function status(text, st) {
    const el = document.getElementById("status");
    el.textContent = text;
    el.dataset.state = st;
  }

  // search: select rows, sort, render the first page; returns the time it took (ms)
  async function search(q) {
    const t0 = performance.now();
    status(`Searching "${q}"\u2026`, "busy");
    document.getElementById("q").value = q;
    Object.assign(state, {query: q, rows: [], shown: [], filters: {}, page: 0, note: "", sort: {key: "vid", dir: 1}});
    try {
      state.rows = await select(q);
    } catch (e) {
      document.getElementById("view").innerHTML = `<p class="error">${esc(e.message)}</p>`;
      status(e.message, "error");
      return (CS.lastSearchMs = performance.now() - t0);
    }
    applyView();
    renderResults();
    const ms = performance.now() - t0;
    CS.lastSearchMs = ms;
    status(`${state.rows.length} variants for "${q}" (${ms.toFixed(1)} ms)`, "done");
    return ms;
  }

  // ------------------------------------------------------------------ variant page
  // AF bars: exact AFs as bars, hidden ones (a bound) hatched up to their bound, NA none
  function bars(groups, vals) {
    const x = vals.map((v) => (v[2] === "NA" ? 0 : Number(v[2].replace(/^[<>]=/, "")) || 0));
    const max = Math.max(1e-12, ...x);
    return `<div id="af-chart" class="chart">` + groups.map((g, i) => {
      const v = vals[i][2];
      const bound = /^[<>]=/.test(v);
      return `<div class="bar-row" data-group="${esc(g)}"><span class="bar-label">${esc(g === "all" ? "All" : g)}</span>` +
        `<span class="bar-track"><span class="bar${bound ? " bound" : ""}" style="width:${((100 * x[i]) / max).toFixed(2)}%"></span></span>` +
        `<span class="bar-value">${v === "NA" ? "hidden" : esc(shown(v))}</span></div>`;
    }).join("") + `</div>`;
  }
  async function showVariant(id) {
    const t0 = performance.now();
    status(`Loading ${id}\u2026`, "busy");
    const view = document.getElementById("view");
    let hits;
    try {
      const p = parse(id);
      if (p.kind !== "variant") throw new Error(`Not a variant ID: ${id}`);
      hits = await select(id);
      if (!hits.length) throw new Error(`${id} is not in this release`);
    } catch (e) {
      view.innerHTML = `<p class="error">${esc(e.message)}</p>`;
      status(e.message, "error");
      return;
    }
    const x = hits[0], c = meta.contigs[x.c], r = x.r;
    const d = (await detail(c, x.i))[x.j];
    const [groupVals, transcripts, clin, score] = d;
    const vid = val(x, "vid");
    const groups = ["all", ...meta.groups];
    const vals = [[r[F.AN], r[F.AC], r[F.AF], r[F.hom], r[F.car]], ...groupVals];
    const countRow = (g, v) => `<tr data-group="${esc(g)}"><th>${esc(g === "all" ? "All" : g)}</th>` +
      `<td class="count" data-col="AC">${esc(shown(v[1]))}</td><td class="count" data-col="AN">${esc(shown(v[0]))}</td>` +
      `<td class="af">${esc(shown(v[2]))}</td><td class="count" data-col="hom">${esc(shown(v[3]))}</td>` +
      `<td class="count" data-col="car">${esc(shown(v[4]))}</td></tr>`;
    const head = `<thead><tr><th>Group</th><th>AC</th><th>AN</th><th>AF</th><th>Homozygotes</th><th>Carriers</th></tr></thead>`;
    view.innerHTML =
      `<section id="variant-view" data-vid="${esc(vid)}"><h2>${esc(vid)}</h2>` +
      `<dl class="facts"><dt>Gene</dt><dd id="v-gene">${esc(r[F.genes] || "\u2014")}</dd>` +
      `<dt>Consequence</dt><dd id="v-consequence">${esc(human(val(x, "consequence")) || "\u2014")}</dd>` +
      `<dt>Variant type</dt><dd id="v-type">${esc(val(x, "type"))}</dd>` +
      `<dt>rsID</dt><dd id="v-rsid">${esc(r[F.rsid] || "\u2014")}</dd>` +
      `<dt>Filter</dt><dd id="v-filter">${esc(human(val(x, "filter")) || "not assessed")}` +
      (score ? ` <span class="score">(learned-filter score ${esc(score)})</span>` : "") + `</dd>` +
      `<dt>Release</dt><dd id="v-release">${esc(meta.release)}, ${esc((meta.created || "").slice(0, 10))}` +
      ` (${esc(meta.reference_genome || "")})</dd></dl>` +
      `<h3>Overall</h3><table id="v-overall">${head}<tbody>${countRow("all", vals[0])}</tbody></table>` +
      `<h3>By genetic ancestry group</h3>` +
      (meta.groups.length ? `<table id="v-groups">${head}<tbody>${meta.groups.map((g, i) => countRow(g, groupVals[i])).join("")}</tbody></table>`
                          : `<p>No ancestry groups in this release.</p>`) +
      `<h4>Allele frequency</h4>${bars(groups, vals)}` +
      `<h3>Transcript consequences</h3>` +
      (transcripts.length ? `<table id="v-transcripts"><thead><tr><th>Gene</th><th>Transcript</th><th>Consequence</th>` +
        `<th>Amino-acid change</th><th>DNA change</th></tr></thead><tbody>` +
        transcripts.map((t) => `<tr>${t.map((v, i) => `<td>${esc(i === 2 ? human(v) : v)}</td>`).join("")}</tr>`).join("") +
        `</tbody></table>` : `<p id="v-transcripts">None (intergenic or not annotated).</p>`) +
      `<h3>ClinVar</h3><dl id="v-clinvar" class="facts"><dt>Classification</dt><dd>${esc(human(clin[0]) || "not in ClinVar")}</dd>` +
      (clin[0] ? `<dt>Condition</dt><dd>${esc(human(clin[1]))}</dd><dt>Review status</dt><dd>${esc(human(clin[2]))}</dd>` : "") +
      `</dl></section>`;
    CS.lastSearchMs = performance.now() - t0;
    status(`${vid}`, "done");
  }

  // ------------------------------------------------------------------ routing
  function route() {
    const h = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
    if (h.startsWith("search/")) return search(h.slice(7));
    if (h.startsWith("variant/")) return showVariant(h.slice(8));
    status("", "idle");
  }
  function init() {
    document.querySelectorAll(".k").forEach((e) => { e.textContent = String(meta.suppress_below); });
    document.getElementById("release-info").textContent =
      `Release ${meta.release} \u00b7 ${(meta.created || "").slice(0, 10)} \u00b7 ${meta.reference_genome || ""} \u00b7 ` +
      `${meta.n_variants.toLocaleString("en")} variants`;
    document.getElementById("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = document.getElementById("q").value.trim();
      if (!q) return;
      const h = "#/search/" + encodeURIComponent(q);
      if (location.hash === h) search(q); else location.hash = h;
    });
    window.addEventListener("hashchange", route);
    route();
  }

  return {
    meta: (m) => { meta = m; },
    chunk: (cid, i, rows) => { store.set(`s:${cid}:${i}`, rows); },
    detail: (cid, i, rows) => { store.set(`d:${cid}:${i}`, rows); },
    genes: (shard, entries) => { store.set(`g:${shard}`, entries); },
    rsids: (b, entries) => { store.set(`r:${b}`, entries); },
    search, showVariant, csvText, init, parse,
    lastSearchMs: null,
  };
})();

window.CS = CS;
document.addEventListener("DOMContentLoaded", () => CS.init());
