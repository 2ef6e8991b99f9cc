"""Public summary: no count from 1 to 20 is shown or derivable (scanned by an independent checker)."""

from __future__ import annotations

import gzip
from collections import defaultdict
from pathlib import Path

import pytest

from callset.release.public import COLUMNS, Counts, assign_levels, suppress_row

K = 20


def _num(x: str) -> int | None:
    return int(x) if x.isdigit() else None


# every quantity someone can compute from the shown numbers of one group: name -> (fields needed, formula)
DERIVED = {
    "AN": (("AN",), lambda m: m["AN"]),
    "called_samples": (("AN",), lambda m: m["AN"] // 2),
    "AC": (("AC",), lambda m: m["AC"]),
    "ref_alleles": (("AN", "AC"), lambda m: m["AN"] - m["AC"]),
    "homozygotes": (("hom",), lambda m: m["hom"]),
    "carriers": (("car",), lambda m: m["car"]),
    "hom_ref": (("AN", "car"), lambda m: m["AN"] // 2 - m["car"]),
    "het": (("car", "hom"), lambda m: m["car"] - m["hom"]),
    "het_from_ac": (("AC", "hom"), lambda m: m["AC"] - 2 * m["hom"]),
    "hom_from_ac": (("AC", "car"), lambda m: m["AC"] - m["car"]),
    "het_from_ac_car": (("AC", "car"), lambda m: 2 * m["car"] - m["AC"]),
}


def shown_measures(row: dict[str, str]) -> dict[str, int | None]:
    m = {"AN": _num(row["AN"]), "AC": _num(row["AC"]), "hom": _num(row["homozygote_count"]),
         "car": _num(row["carrier_count"])}
    try:  # an exact AF with AN gives AC back
        af = float(row["AF"])
    except ValueError:
        af = None
    if m["AC"] is None and af is not None and m["AN"]:
        m["AC"] = round(af * m["AN"])
    return m


def find_leaks(rows: list[dict[str, str]], k: int = K) -> list[str]:
    """Every count in 1..k derivable from the file: per group, and for the groups missing from 'all'."""
    by_variant: dict[tuple, dict[str, dict[str, int | None]]] = defaultdict(dict)
    for r in rows:
        by_variant[(r["chrom"], r["pos"], r["ref"], r["alt"])][r["group"]] = shown_measures(r)
    leaks = []
    for key, groups in by_variant.items():
        total = groups["all"]
        others = {g: m for g, m in groups.items() if g != "all"}
        for name, (need, f) in DERIVED.items():
            for g, m in groups.items():
                if all(m[x] is not None for x in need) and 1 <= f(m) <= k:
                    leaks.append(f"{key} {g}: {name}={f(m)}")
            if all(total[x] is not None for x in need):
                shown = [m for m in others.values() if all(m[x] is not None for x in need)]
                res = f(total) - sum(f(m) for m in shown)
                if len(shown) >= 0 and 1 <= res <= k:
                    leaks.append(f"{key} residual of {len(others) - len(shown)} hidden groups/unassigned: {name}={res}")
    return leaks


def read_summary(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt") as f:
        header = f.readline().rstrip("\n").split("\t")
        assert tuple(header) == COLUMNS
        return [dict(zip(header, line.rstrip("\n").split("\t"), strict=True)) for line in f]


def _c(r: int, h: int, v: int) -> Counts:
    return Counts(r, h, v, h + 2 * v, 2 * (r + h + v))


class TestLevels:
    def test_common_variant_in_big_groups_is_shown_exactly(self):
        groups = {"afr": _c(200, 100, 40), "eur": _c(300, 60, 30)}
        total = groups["afr"] + groups["eur"]
        out = suppress_row(groups, total)
        assert out["all"] == {"AN": "1460", "AC": "300", "AF": "0.205479", "homozygote_count": "70",
                              "carrier_count": "230"}
        assert out["afr"]["homozygote_count"] == "40"

    def test_rare_variant_hides_ac_and_bounds_af(self):
        out = suppress_row({}, _c(95, 5, 0))
        assert out["all"]["AN"] == "200" and out["all"]["AC"] == "<=20" and out["all"]["AF"] == "<=0.1"
        assert out["all"]["carrier_count"] == "<=20" and out["all"]["homozygote_count"] == "<=20"

    def test_near_fixed_variant_hides_ac_through_its_complement(self):
        out = suppress_row({}, _c(3, 4, 93))  # AN - AC = 10
        assert out["all"]["AC"] == ">20" and out["all"]["AF"].startswith(">=")

    def test_one_small_group_forces_a_second_group_hidden(self):
        # amr alone would be derivable as all - afr - eur: the smallest other group is hidden with it
        groups = {"afr": _c(300, 60, 30), "eur": _c(250, 50, 25), "amr": _c(5, 3, 2)}
        total = sum(groups.values(), Counts(0, 0, 0, 0, 0))
        total_level, levels = assign_levels(groups, total, k=K)
        assert levels["amr"] == 0 and levels["eur"] < 3 and levels["afr"] == 3 and total_level == 3

    def test_unassigned_samples_are_protected_too(self):
        groups = {"afr": _c(300, 60, 30)}
        total = groups["afr"] + _c(5, 2, 0)  # 7 samples without a group
        total_level, levels = assign_levels(groups, total, k=K)
        rows = [{"chrom": "c", "pos": "1", "ref": "A", "alt": "T", "group": g, **v}
                for g, v in suppress_row(groups, total).items()]
        assert not find_leaks(rows)
        assert total_level < 3 or levels["afr"] < 3


@pytest.fixture(scope="module")
def simulated_summary(hail_session, tmp_path_factory):
    """Balding-Nichols genotypes: 3 groups of different sizes + unassigned samples, 600 variants."""
    from callset.release.public import write_public_summary

    hl = hail_session

    mt = hl.balding_nichols_model(3, 190, 600, pop_dist=[0.6, 0.3, 0.1], fst=[0.05, 0.1, 0.2],
                                  af_dist=hl.rand_beta(0.3, 2.0), reference_genome="GRCh38", n_partitions=2)
    mt = mt.key_cols_by(s=hl.str(mt.sample_idx))
    mt = mt.annotate_entries(GT=hl.or_missing(hl.rand_bool(0.97), mt.GT)).select_globals()
    out = tmp_path_factory.mktemp("public")
    mt = mt.checkpoint(str(out / "bn.mt"))
    pops = mt.aggregate_cols(hl.agg.collect(hl.struct(s=mt.s, pop=mt.pop)))
    names = ["afr", "eur", "eas"]
    ancestry = {p.s: names[p.pop] for p in pops if int(p.s) % 19 != 0}  # ~10 samples stay unassigned
    files = write_public_summary([mt], out, ancestry=ancestry, k=K)
    return out, files, mt


def test_no_derivable_count_between_1_and_20(simulated_summary):
    out, files, _ = simulated_summary
    assert files == ["variant_summary.tsv.bgz", "variant_summary.tsv.bgz.tbi", "variant_summary.schema.json"]
    rows = read_summary(out / files[0])
    assert len(rows) == 600 * 4
    leaks = find_leaks(rows)
    assert not leaks, leaks[:10]
    # the file is still useful: common variants are shown exactly, rare ones suppressed
    exact = sum(1 for r in rows if r["group"] == "all" and r["homozygote_count"].isdigit())
    hidden = sum(1 for r in rows if r["AC"] == "<=20")
    assert exact > 100 and hidden > 100


def test_checker_would_catch_unsuppressed_counts(simulated_summary, hail_session):
    """The scanner is not vacuous: the raw counts of the same data leak."""
    hl = hail_session
    _, _, mt = simulated_summary
    c = mt.annotate_rows(ac=hl.agg.sum(mt.GT.n_alt_alleles()), an=hl.agg.count_where(hl.is_defined(mt.GT)) * 2,
                         hom=hl.agg.count_where(mt.GT.is_hom_var()),
                         car=hl.agg.count_where(mt.GT.is_non_ref())).rows().collect()
    rows = [{"chrom": r.locus.contig, "pos": str(r.locus.position), "ref": r.alleles[0], "alt": r.alleles[1],
             "group": "all", "AN": str(r.an), "AC": str(r.ac), "AF": "NA", "homozygote_count": str(r.hom),
             "carrier_count": str(r.car)} for r in c]
    assert len(find_leaks(rows)) > 100


def test_summary_is_tabix_indexed(simulated_summary):
    import pysam

    out, files, _ = simulated_summary
    with pysam.TabixFile(str(out / files[0])) as tb:
        assert "chr1" in tb.contigs
        got = list(tb.fetch("chr1", 0, 10**9))
    assert got and all(line.split("\t")[0] == "chr1" for line in got)
