"""Public variant summary (what a Data Browser may show): counts 1..k never shown nor derivable.

``public/variant_summary.tsv.bgz`` (tabix-indexed, one row per variant x group, groups ``all`` and each
genetic ancestry group) with columns ``chrom pos ref alt group AN AC AF homozygote_count carrier_count``
(see ``variant_summary.schema.json`` written beside it).

Disclosure control, per variant. A group's genotype counts are ``r, h, v`` (hom-ref, het, hom-var
calls), ``n = r + h + v``; everything shown is a linear function of them. Each group gets a *level*:

- 0: nothing exact (``n`` in 1..k);
- 1: ``AN`` exact (then ``n`` is derivable);
- 2: also ``AC`` and ``AF`` exact (then ``AN - AC`` is derivable): needs ``AC`` and ``AN - AC`` outside 1..k;
- 3: also ``homozygote_count`` and ``carrier_count`` exact (then ``r, h, v`` and every sum of them are
  derivable): needs each of ``r, h, v`` outside 1..k.

Groups sum to ``all`` (plus samples with no group), so for each level ``l`` shown in ``all`` the groups
below ``l`` (and the unassigned samples) form a *residual* pseudo-group whose level-``l`` quantities are
derivable by subtraction; it must pass the same test, else the smallest group at ``>= l`` is lowered into
it (and finally ``all`` itself), until nothing in 1..k can be derived. Hidden counts are shown as
``<=k`` (true value <= k) or ``>k``; a hidden AF is a bound implied by the hidden AC (``<=x``/``>=x``) or
``NA``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hail as hl

from callset.release.callsets import ALL_GROUP

log = logging.getLogger(__name__)

SUMMARY_NAME = "variant_summary.tsv.bgz"
SCHEMA_NAME = "variant_summary.schema.json"
COLUMNS = ("chrom", "pos", "ref", "alt", "group", "AN", "AC", "AF", "homozygote_count", "carrier_count")


@dataclass(frozen=True)
class Counts:
    """Genotype counts of one group at one allele (split rows)."""

    r: int
    h: int
    v: int
    ac: int
    an: int

    @property
    def n(self) -> int:
        return self.r + self.h + self.v

    def __add__(self, o: Counts) -> Counts:
        return Counts(self.r + o.r, self.h + o.h, self.v + o.v, self.ac + o.ac, self.an + o.an)

    def __sub__(self, o: Counts) -> Counts:
        return Counts(self.r - o.r, self.h - o.h, self.v - o.v, self.ac - o.ac, self.an - o.an)


ZERO = Counts(0, 0, 0, 0, 0)


def _small(x: int, k: int) -> bool:
    return 1 <= x <= k


def safe_level(c: Counts, k: int) -> int:
    """Highest level (0..3) at which ``c`` can be shown without exposing a count in 1..k."""
    if _small(c.n, k) or _small(c.an, k):
        return 0
    if _small(c.ac, k) or _small(c.an - c.ac, k):
        return 1
    if any(_small(x, k) for x in (c.r, c.h, c.v, c.h + c.v)):
        return 2
    return 3


def assign_levels(groups: Mapping[str, Counts], total: Counts, *, k: int = 20) -> tuple[int, dict[str, int]]:
    """Levels of ``all`` and of each group so that neither a group nor any residual exposes 1..k."""
    levels = {g: safe_level(c, k) for g, c in groups.items()}
    total_level = safe_level(total, k)
    unassigned = total - sum(groups.values(), ZERO)
    changed = True
    while changed:
        changed = False
        for lvl in (1, 2, 3):
            if total_level < lvl:
                break
            residual = unassigned + sum((c for g, c in groups.items() if levels[g] < lvl), ZERO)
            if safe_level(residual, k) >= lvl:
                continue
            shown = [g for g in groups if levels[g] >= lvl]
            if shown:
                g = min(shown, key=lambda g: (groups[g].n, g))
                levels[g] = lvl - 1
            else:
                total_level = lvl - 1
            changed = True
            break
    return total_level, levels


def _fmt_af(x: float) -> str:
    return f"{x:.6g}"


def _bound(x: float, up: bool) -> str:
    """``x`` rounded outward to 2 significant digits."""
    if x <= 0:
        return "0"
    e = 10 ** (math.floor(math.log10(x)) - 1)
    return _fmt_af((math.ceil(x / e) if up else math.floor(x / e)) * e)


def display(c: Counts, level: int, *, k: int = 20) -> dict[str, str]:
    """The shown values of one group at ``level`` (see the module docstring)."""
    def hide(x: int) -> str:
        return f"<={k}" if x <= k else f">{k}"

    out = {"AN": str(c.an) if level >= 1 else hide(c.an)}
    if level >= 2:
        out["AC"] = str(c.ac)
        out["AF"] = _fmt_af(c.ac / c.an) if c.an else "NA"
    else:
        out["AC"] = hide(c.ac)
        if level == 1 and c.an and c.ac <= k:
            out["AF"] = "<=" + _bound(k / c.an, up=True)
        elif level == 1 and c.an and c.an - c.ac <= k:
            out["AF"] = ">=" + _bound(1 - k / c.an, up=False)
        else:
            out["AF"] = "NA"
    out["homozygote_count"] = str(c.v) if level >= 3 else hide(c.v)
    out["carrier_count"] = str(c.h + c.v) if level >= 3 else hide(c.h + c.v)
    return out


def suppress_row(groups: Mapping[str, Counts], total: Counts, *, k: int = 20) -> dict[str, dict[str, str]]:
    """Shown values for ``all`` and each group of one variant."""
    total_level, levels = assign_levels(groups, total, k=k)
    out = {ALL_GROUP: display(total, total_level, k=k)}
    for g in sorted(groups):
        out[g] = display(groups[g], levels[g], k=k)
    return out


# --- Hail side ----------------------------------------------------------------------------------


def _counts_agg(gt: hl.expr.CallExpression) -> hl.expr.StructExpression:
    return hl.struct(
        r=hl.agg.count_where(gt.is_hom_ref()),
        h=hl.agg.count_where(gt.is_het()),
        v=hl.agg.count_where(gt.is_hom_var()),
        ac=hl.agg.sum(gt.n_alt_alleles()),
        an=hl.agg.sum(gt.ploidy),
    )


def compute_genotype_counts(mt: hl.MatrixTable, ancestry: Mapping[str, str] | None) -> hl.Table:
    """Rows ``locus, alleles, total: struct{r,h,v,ac,an}, groups: dict<str, struct>`` of a split MT.

    ``ancestry``: column key ``s`` -> group; every group appears in every row (zeros when it has no calls).
    """
    groups = sorted(set(ancestry.values())) if ancestry else []
    if ancestry and groups:
        mt = mt.annotate_cols(_grp=hl.literal(dict(ancestry)).get(mt.s))
        by_group = hl.dict([(g, hl.agg.filter(mt._grp == g, _counts_agg(mt.GT))) for g in groups])
    else:
        by_group = hl.empty_dict(hl.tstr, hl.dtype("struct{r: int64, h: int64, v: int64, ac: int64, an: int64}"))
    return mt.select_rows(total=_counts_agg(mt.GT), groups=by_group).rows()


def _counts(s: Any) -> Counts:
    return Counts(int(s.r), int(s.h), int(s.v), int(s.ac), int(s.an))


def summary_lines(ht: hl.Table, *, k: int = 20) -> Iterable[str]:
    """TSV lines (no header) of the suppressed summary of one counts table (collected: one shard at a time)."""
    for row in ht.collect():
        groups = {g: _counts(c) for g, c in row.groups.items()}
        shown = suppress_row(groups, _counts(row.total), k=k)
        key = (row.locus.contig, str(row.locus.position), row.alleles[0], row.alleles[1])
        for g, vals in shown.items():
            yield "\t".join((*key, g, *(vals[c] for c in COLUMNS[5:])))


def summary_schema(k: int) -> dict[str, Any]:
    return {
        "file": SUMMARY_NAME,
        "format": "tab-separated, bgzipped, tabix-indexed (header line 1; seq col 1, pos col 2)",
        "suppression": (
            f"counts from 1 to {k} are shown as '<={k}'; counts hidden because a count in 1..{k} could be "
            f"derived from them (AN-AC, carriers-homozygotes, groups summing to 'all') are shown as '>{k}'; "
            "a hidden AF is a bound ('<=x', '>=x') or 'NA'"
        ),
        "columns": {
            "chrom": "contig", "pos": "1-based position", "ref": "reference allele", "alt": "alternate allele",
            "group": "'all' or a genetic ancestry group",
            "AN": "called alleles in the group", "AC": "alternate allele count",
            "AF": "AC/AN (or a bound when AC is hidden)",
            "homozygote_count": "samples homozygous for the alternate allele",
            "carrier_count": "samples carrying the alternate allele (het + hom-alt)",
        },
    }


def write_public_summary(
    mts: Iterable[hl.MatrixTable], out_dir: Path, *, ancestry: Mapping[str, str] | None, k: int = 20
) -> list[str]:
    """Write ``variant_summary.tsv.bgz`` (+ ``.tbi``) and its schema under ``out_dir``; return file names."""
    import pysam

    out_dir.mkdir(parents=True, exist_ok=True)
    plain = out_dir / "variant_summary.tsv"
    n = 0
    with plain.open("w") as f:
        f.write("\t".join(COLUMNS) + "\n")
        for mt in mts:
            for line in summary_lines(compute_genotype_counts(mt, ancestry), k=k):
                f.write(line + "\n")
                n += 1
    bgz = out_dir / SUMMARY_NAME
    pysam.tabix_compress(str(plain), str(bgz), force=True)
    plain.unlink()
    pysam.tabix_index(str(bgz), seq_col=0, start_col=1, end_col=1, line_skip=1, force=True, zerobased=False)
    (out_dir / SCHEMA_NAME).write_text(json.dumps(summary_schema(k), indent=1) + "\n")
    log.info("public summary: %d rows (variant x group), counts 1..%d suppressed", n, k)
    return [SUMMARY_NAME, SUMMARY_NAME + ".tbi", SCHEMA_NAME]
