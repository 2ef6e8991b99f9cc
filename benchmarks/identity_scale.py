"""Benchmark (not a test): the same-person check of one batch against 100,000 earlier participants.

Builds a registry holding N accepted participants with synthetic fingerprints (S panel sites, allele
frequencies uniform in 0.2-0.8, Hardy-Weinberg genotypes, 3 % of sites not called), then registers a batch of
Q new rows, P of them earlier participants under new IDs (1 % of their genotypes changed, as sequencing errors
would). Measures, in the same run:

- ``register``: :meth:`callset.intake.registry.Registry.register_batch` with identity on, end to end (SQLite read
  of every stored fingerprint, the comparison, the decisions and fingerprints written);
- ``compare``: :func:`callset.intake.identity.find_matches` alone on the loaded planes;
- baseline ``dense int8``: the straightforward vectorised comparison (per query, ``(G == q) & called`` over the
  N x S int8 genotype matrix), the same answer without bit planes and without the first pass.

    .venv/bin/python benchmarks/identity_scale.py [--participants 100000] [--sites 5000] [--queries 100]

Prints the times, the ratio compare / dense int8, and that exactly the planted duplicates were found.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from callset.intake.identity import NOT_CALLED, Fingerprint, IdentitySettings, find_matches, stack_planes
from callset.intake.registry import Decision, Registry

PANEL = "bench-panel"


def genotypes(n: int, af: np.ndarray, rng: np.random.Generator, missing: float = 0.03) -> np.ndarray:
    """Hardy-Weinberg genotypes (two allele draws), made 10,000 rows at a time in float32."""
    out = np.empty((n, len(af)), dtype=np.int8)
    f = af.astype(np.float32)
    for a in range(0, n, 10_000):
        b = min(n, a + 10_000)
        g = (rng.random((b - a, len(af)), dtype=np.float32) < f).astype(np.int8)
        g += rng.random((b - a, len(af)), dtype=np.float32) < f
        g[rng.random((b - a, len(af)), dtype=np.float32) < missing] = NOT_CALLED
        out[a:b] = g
    return out


def fill_registry(path: Path, stored: np.ndarray, batch_size: int) -> None:
    """N participants accepted in batches of ``batch_size``, written straight into the registry tables (what
    register_batch would have left behind; registering 100k rows one batch at a time would take longer than the
    comparison being measured)."""
    Registry(path)  # schema
    con = sqlite3.connect(path)
    ts = "2026-01-01T00:00:00+00:00"
    with con:
        for b0 in range(0, len(stored), batch_size):
            b = f"old{b0 // batch_size:05d}"
            con.execute("INSERT INTO batch_state VALUES (?, ?, '')", (b, b0 // batch_size + 1))
            con.execute("INSERT INTO batches VALUES (?, 'm', ?, ?, 0)", (b, ts, min(batch_size, len(stored) - b0)))
            rows = []
            for i in range(b0, min(b0 + batch_size, len(stored))):
                fp = Fingerprint(stored[i], PANEL)
                rows.append((b, f"P{i:07d}", fp, f"CS{i:09d}"))
            con.executemany("INSERT INTO submissions VALUES (?, ?, 'accepted', '', 0, ?)",
                            [(b, s, ts) for b, s, _, _ in rows])
            con.executemany("INSERT INTO participants VALUES (?, ?, ?, ?, ?, NULL)",
                            [(s, rid, b, b, ts) for b, s, _, rid in rows])
            con.executemany("INSERT INTO fingerprints VALUES (?, ?, ?, ?, ?, ?)",
                            [(b, s, PANEL, len(fp.genotypes), fp.n_called, fp.to_bytes()) for b, s, fp, _ in rows])
    con.close()


def dense_baseline(queries: np.ndarray, stored: np.ndarray, min_conc: float, min_sites: int) -> set[tuple[int, int]]:
    called = stored >= 0
    out = set()
    for qi, q in enumerate(queries):
        both = called & (q >= 0)
        n = both.sum(axis=1)
        eq = ((stored == q) & both).sum(axis=1)
        for j in np.flatnonzero((n >= min_sites) & (eq >= min_conc * n)).tolist():
            out.add((qi, j))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=100_000)
    ap.add_argument("--sites", type=int, default=5_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--planted", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    af = rng.uniform(0.2, 0.8, args.sites)
    t = time.perf_counter()
    stored = genotypes(args.participants, af, rng)
    queries = genotypes(args.queries, af, rng)
    # the first rows of the batch are the planted duplicates (row order plays no part in the comparison)
    planted = {q: int(s) for q, s in enumerate(rng.choice(args.participants, args.planted, replace=False))}
    for q, s in planted.items():
        g = stored[s].copy()
        err = (rng.random(args.sites) < 0.01) & (g >= 0)
        g[err] = (g[err] + 1) % 3
        queries[q] = g
    settings = IdentitySettings()
    print(f"{args.participants:,} participants x {args.sites:,} sites, batch of {args.queries} rows "
          f"({args.planted} planted duplicates); data made in {time.perf_counter() - t:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        reg_path = Path(tmp) / "registry.sqlite"
        t = time.perf_counter()
        fill_registry(reg_path, stored, 1000)
        size = reg_path.stat().st_size / 2**20
        print(f"registry filled in {time.perf_counter() - t:.1f} s ({size:.0f} MB)")
        reg = Registry(reg_path)
        decisions = [Decision(sample_id=f"NEW{i:04d}", status="accepted", fingerprint=Fingerprint(queries[i], PANEL))
                     for i in range(args.queries)]
        t = time.perf_counter()
        out = reg.register_batch("new", "m", decisions, identity=settings)
        t_register = time.perf_counter() - t
    rejected = {int(d.sample_id[3:]) for d in out.decisions if d.status == "rejected"}
    q_planes = stack_planes([Fingerprint(q, PANEL) for q in queries])
    s_planes = stack_planes([Fingerprint(s, PANEL) for s in stored])
    t = time.perf_counter()
    matches = find_matches(q_planes, s_planes, min_concordance=settings.duplicate_concordance,
                           min_sites=settings.min_sites)
    found = {(m.query, m.stored) for m in matches}
    t_compare = time.perf_counter() - t
    # the baseline on the first queries (it holds every planted one), scaled to the batch
    nb = min(args.queries, max(10, args.planted))
    t = time.perf_counter()
    base = dense_baseline(queries[:nb], stored, settings.duplicate_concordance, settings.min_sites)
    t_dense = (time.perf_counter() - t) * args.queries / nb
    want = set(planted.items())
    print(f"register_batch with identity (SQLite read + compare + write): {t_register:8.2f} s")
    print(f"find_matches on loaded planes:                              {t_compare:8.2f} s")
    print(f"baseline dense int8 comparison (measured on {nb} rows, scaled): {t_dense:8.2f} s")
    print(f"ratio compare / baseline:                                   {t_compare / t_dense:8.3f}")
    print(f"planted duplicates found: {len(found & want)}/{len(want)}; other matches: {len(found - want)}; "
          f"baseline agrees: {base == {m for m in found if m[0] < nb}}; "
          f"rows rejected by register_batch = planted: {sorted(rejected) == sorted(planted)}")
    ok = found == want and base == {m for m in found if m[0] < nb} and sorted(rejected) == sorted(planted)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
