# ruff: noqa: E501
"""gVCF flavors: GATK HaplotypeCaller, DRAGEN and DeepVariant gVCFs, made joint-callable in one layout.

The Hail combiner reads every gVCF of a batch with one header and keeps, per sample, what that header
declares; cohort parts are unioned later, which needs identical schemas. A DRAGEN or DeepVariant gVCF taken
as it is therefore breaks joint calling later on (DeepVariant's ``<*>`` is kept as a real allele, reference
blocks without ``DP``, DRAGEN's extra FORMAT fields: "All input tables to multi_way_zip_join must have the same
row type" when variant QC reads the cohort). Intake now:

- **detects** the caller from the header (:func:`detect_flavor`: ``##GATKCommandLine=<ID=HaplotypeCaller``,
  ``##DRAGENCommandLine``/``##DRAGENVersion``/``##source=DRAGEN``, ``##DeepVariant_version``; without those
  lines, from DRAGEN's ``SPL``/``ICNT``/``FractionInformativeReads`` or DeepVariant's ``MED_DP``/``VAF``/``RefCall``);
- **rejects** a gVCF that lacks what joint calling needs, naming the flavor and the field
  (:func:`check_flavor`: ``GT``, ``GQ`` for reference confidence, ``AD``, a depth (``DP``/``MIN_DP``/``MED_DP``),
  ``PL``), or a flavor the config does not accept (``intake.gvcf_flavors``);
- **normalises** DRAGEN and DeepVariant gVCFs (and any gVCF with two variant records at one position) to the
  GATK layout the cohort uses (:func:`normalise_gvcf`, written next to the intake report and joint-called
  instead of the submitted file): ``<*>`` becomes ``<NON_REF>``; reference blocks become
  ``GT:DP:GQ:MIN_DP:PL`` (DeepVariant's ``MED_DP`` as DP); a reference block that is not a confident 0/0 (GT
  ``./.``, or a FILTER such as DRAGEN's ``LowGQ``/``LowDepth``) gets GQ 0, i.e. no reference confidence (the
  release turns GQ-0 blocks into no-calls); variant records keep GT, AD, DP, GQ, PL (and SB) and get the
  annotations GATK's ``ReblockGVCF`` adds for joint calling, computed the same way: ``QUALapprox`` = PL[0],
  ``AS_QUALapprox`` per ALT = PL[0] - min PL of genotypes holding it, ``AS_VarDP``/``VarDP`` from AD,
  ``RAW_MQandDP`` from INFO MQ and DP when the caller gives MQ (DRAGEN), ``AS_SB_TABLE`` from SB for
  biallelic records. Per-sample FILTER values (DRAGEN ``DRAGENHardQUAL``, DeepVariant ``RefCall``) are not
  carried into the joint callset (a ``RefCall`` record is a 0/0 or no-call and stays so); variant QC filters
  sites itself. What has no counterpart (DeepVariant has no mapping-quality or strand annotations) is left
  missing, and variant QC's allele-specific MQ/FS/SOR then come from the other carriers only (its log and the
  release notes say so).
- **Two variant records at one position** (HaplotypeCaller can emit overlapping records; the combiner keeps
  one and drops the other silently): merged into one multi-allelic record when the two genotypes fit the
  ploidy (e.g. ``0/1`` SNV + ``0/1`` deletion -> ``1/2``; REF = the longer REF, the other record's alleles
  padded), with AD/AS_* joined per allele, DP the larger, GQ the smaller and PL left missing (likelihoods of
  two records cannot be combined); otherwise (e.g. ``1/1`` + ``0/1``) the sample is rejected naming the position.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from callset.core.bgzf import BgzfWriter
from callset.core.gatk_header import GATK_GVCF_FORMAT_META, GATK_GVCF_INFO_META

log = logging.getLogger(__name__)

FLAVORS = ("gatk", "dragen", "deepvariant")
LABEL = {"gatk": "GATK HaplotypeCaller", "dragen": "DRAGEN", "deepvariant": "DeepVariant"}

#: the layout every normalised gVCF is written in: the FORMAT/INFO set of a (reblocked) GATK HaplotypeCaller
#: gVCF with allele-specific annotations, as the simulator and All of Us gVCFs declare it (so a normalised
#: batch gets the same Hail schema as a GATK batch, and cohort parts union)
CANONICAL_META = [*GATK_GVCF_FORMAT_META, *GATK_GVCF_INFO_META]
CANONICAL_FORMAT = frozenset(re.findall(r"##FORMAT=<ID=([^,]+)", "\n".join(CANONICAL_META)))
CANONICAL_INFO = frozenset(re.findall(r"##INFO=<ID=([^,]+)", "\n".join(CANONICAL_META)))
#: caller provenance lines kept from the submitted header
_KEEP_META = ("##fileformat", "##contig", "##reference", "##DRAGEN", "##DeepVariant", "##GATKCommandLine", "##source")


@dataclass(frozen=True)
class FlavorInfo:
    """Which caller wrote a gVCF, as its header says."""

    flavor: str  # gatk | dragen | deepvariant
    identified_by: str  # the header evidence
    version: str | None = None  # caller version (DRAGEN: the software version's last triplet, e.g. 3.7.8)
    raw_version: str | None = None
    format_ids: frozenset[str] = frozenset()
    info_ids: frozenset[str] = frozenset()
    filter_ids: frozenset[str] = frozenset()
    alt_ids: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        return LABEL[self.flavor] + (f" {self.version}" if self.version else "")


_ID = re.compile(r"^##(FORMAT|INFO|FILTER|ALT)=<ID=([^,>]+)")
_DRAGEN_SW = re.compile(r"SW: ?([0-9.]+)")


def detect_flavor(header_lines: Sequence[str]) -> FlavorInfo:
    """The caller of a gVCF from its ``##`` header lines (module docstring)."""
    ids: dict[str, set[str]] = {"FORMAT": set(), "INFO": set(), "FILTER": set(), "ALT": set()}
    dragen = dv = gatk = gatk_version = None
    raw_version = None
    for line in header_lines:
        if line.startswith("##contig="):  # most of a GRCh38 header (~3,400 lines): nothing about the caller
            continue
        m = _ID.match(line)
        if m:
            ids[m.group(1)].add(m.group(2))
            continue
        low = line.lower()
        if low.startswith(("##dragencommandline=<id=dragen,", "##dragenversion=")) or low.startswith("##source=dragen"):
            dragen = dragen or _cut(line)
            sw = _DRAGEN_SW.search(line)
            if sw and (raw_version is None or low.startswith("##dragenversion")):
                raw_version = sw.group(1)
        elif low.startswith(("##deepvariant_version=", "##source=deepvariant")):
            dv = _cut(line)
            raw_version = raw_version or line.split("=", 1)[1].strip()
        elif low.startswith(("##gatkcommandline=<id=haplotypecaller", "##gatkcommandline.haplotypecaller",
                             "##source=haplotypecaller", "##gatkcommandline=<id=reblockgvcf")):
            if gatk is None or "haplotypecaller" in low and "haplotypecaller" not in gatk.lower():
                gatk = _cut(line)
                v = re.search(r'Version="?([0-9][0-9.]*)', line)
                gatk_version = v.group(1) if v else None
    def info(flavor: str, why: str, version: str | None = None, raw: str | None = None) -> FlavorInfo:
        return FlavorInfo(flavor, why, version, raw, format_ids=frozenset(ids["FORMAT"]),
                          info_ids=frozenset(ids["INFO"]), filter_ids=frozenset(ids["FILTER"]),
                          alt_ids=frozenset(ids["ALT"]))

    if dragen:
        version = ".".join(raw_version.split(".")[-3:]) if raw_version else None
        return info("dragen", f"header line {dragen}", version, raw_version)
    if dv:
        return info("deepvariant", f"header line {dv}", raw_version, raw_version)
    if gatk:
        return info("gatk", f"header line {gatk}", gatk_version, gatk_version)
    if {"SPL", "ICNT"} & ids["FORMAT"] or "FractionInformativeReads" in ids["INFO"]:
        return info("dragen", "DRAGEN fields (SPL/ICNT/FractionInformativeReads) in the header")
    if {"MED_DP", "VAF"} & ids["FORMAT"] or "RefCall" in ids["FILTER"]:
        return info("deepvariant", "DeepVariant fields (MED_DP/VAF/RefCall) in the header")
    return info("gatk", "no caller named in the header: read as GATK HaplotypeCaller layout")


def _cut(line: str, n: int = 60) -> str:
    return line if len(line) <= n else line[:n] + "..."


def check_flavor(info: FlavorInfo, path: Path, *, accepted: Sequence[str] = FLAVORS) -> tuple[list[str], list[str]]:
    """``(problems, notes)``: a flavor the config does not take, or a gVCF lacking what joint calling needs."""
    problems: list[str] = []
    notes: list[str] = []
    what = f"{info.label} gVCF"
    if info.flavor not in accepted:
        problems.append(f"{path}: {what} ({info.identified_by}); intake.gvcf_flavors accepts only "
                        f"{', '.join(LABEL[f] for f in accepted)}")
    fmt = info.format_ids
    need = [("GT", "genotypes"), ("GQ", "reference blocks give no reference confidence without GQ"),
            ("AD", "allele depths of the calls"), ("PL", "genotype likelihoods (QUALapprox, reference confidence)")]
    missing = [f"FORMAT/{k} ({why})" for k, why in need if k not in fmt]
    if not ({"DP", "MIN_DP", "MED_DP"} & fmt):
        missing.append("depth field (FORMAT/DP, MIN_DP or MED_DP)")
    if "END" not in info.info_ids:
        missing.append("INFO/END (reference blocks)")
    if missing:
        problems.append(f"{path}: {what} cannot be joint-called: the header declares no {'; no '.join(missing)}")
    if info.flavor != "gatk" and not problems:
        notes.append(f"{what} ({info.identified_by}): normalised to the GATK layout for joint calling "
                     "(callset.intake.flavors)")
    return problems, notes


def dragen_version_problems(
    versions: dict[str, str | None], *, expected: str | None = None
) -> dict[str, str]:
    """All of Us' check that a batch's DRAGEN gVCFs share one DRAGEN version: ``sample -> problem`` for the DRAGEN
    gVCFs (``versions``: sample -> version triplet, None when the header names none) off the expected version
    (``expected``, or else the batch's most common one; a tie names no majority and rejects them all)."""
    if not versions:
        return {}
    out: dict[str, str] = {}
    counts: dict[str, int] = {}
    for v in versions.values():
        if v:
            counts[v] = counts.get(v, 0) + 1
    for s, v in versions.items():
        if v is None:
            out[s] = "DRAGEN gVCF without a DRAGEN version in its header (##DRAGENCommandLine/##DRAGENVersion): " \
                     "the batch's DRAGEN versions cannot be checked"
    want = expected
    if want is None and counts:
        top = max(counts.values())
        leaders = sorted(v for v, n in counts.items() if n == top)
        if len(leaders) > 1:
            for s, v in versions.items():
                if v:
                    out[s] = (f"DRAGEN version {v}: this batch's DRAGEN gVCFs disagree ("
                              + ", ".join(f"{x}: {counts[x]}" for x in sorted(counts)) + ") with no majority; "
                              "set intake.expected_dragen_version")
            return out
        want = leaders[0]
    for s, v in versions.items():
        if v and v != want:
            src = "intake.expected_dragen_version" if expected else "the batch's other DRAGEN gVCFs"
            out[s] = f"DRAGEN version {v} differs from {want} ({src}): a batch must be called with one DRAGEN version"
    return out


# ---------------------------------------------------------------------------------------------------
# normalising
# ---------------------------------------------------------------------------------------------------


@dataclass
class NormaliseResult:
    """What :func:`normalise_gvcf` wrote and found."""

    path: Path
    n_records: int = 0
    n_blocks_no_confidence: int = 0  # reference blocks given GQ 0 (./. or filtered)
    n_filtered_calls: int = 0  # variant records whose per-sample FILTER was dropped
    merged: list[str] = field(default_factory=list)  # "contig:pos" of merged same-position records
    problems: list[str] = field(default_factory=list)

    def notes(self, label: str) -> list[str]:
        out = []
        if self.n_blocks_no_confidence:
            out.append(f"{label}: {self.n_blocks_no_confidence} reference blocks that are not a confident 0/0 "
                       "(no-call GT or a FILTER) joint-called with GQ 0 (no reference confidence)")
        if self.n_filtered_calls:
            out.append(f"{label}: {self.n_filtered_calls} variant records carried a per-sample FILTER that the "
                       "joint callset does not keep (variant QC filters sites itself)")
        if self.merged:
            out.append(f"{label}: {len(self.merged)} positions with two variant records merged into one "
                       f"multi-allelic record, e.g. {', '.join(self.merged[:3])}")
        return out


def _gt_alleles(gt: str) -> list[str]:
    return gt.replace("|", "/").split("/")


def _pl_genotypes(n_alleles: int, ploidy: int) -> list[tuple[int, ...]]:
    if ploidy == 1:
        return [(j,) for j in range(n_alleles)]
    return [(a, b) for b in range(n_alleles) for a in range(b + 1)]


@dataclass
class _Var:
    """A variant record broken into what normalising and merging need."""

    chrom: str
    pos: int
    rid: str
    ref: str
    alts: list[str]  # without the non-ref symbolic allele
    non_ref: bool
    qual: str
    filt: str
    info: dict[str, str]
    gt: str
    ad: list[int] | None
    dp: int | None
    gq: str
    pl: list[int] | None
    sb: str | None
    line_no: int

    @property
    def ploidy(self) -> int:
        return len(_gt_alleles(self.gt))


def _int_list(s: str | None) -> list[int] | None:
    if not s or s == ".":
        return None
    try:
        return [int(x) for x in s.split(",")]
    except ValueError:
        return None


def _parse_var(f: list[str], line_no: int) -> _Var:
    alts = f[4].split(",") if f[4] != "." else []
    non_ref = bool(alts) and alts[-1] in ("<NON_REF>", "<*>")
    if non_ref:
        alts = alts[:-1]
    info: dict[str, str] = {}
    for kv in f[7].split(";"):
        if kv and kv != ".":
            k, _, x = kv.partition("=")
            info[k] = x
    keys = f[8].split(":") if len(f) > 8 else []
    vals = f[9].split(":") if len(f) > 9 else []
    s = dict(zip(keys, vals, strict=False))
    dp_s = s.get("DP")
    return _Var(f[0], int(f[1]), f[2], f[3], alts, non_ref, f[5], f[6], info, s.get("GT", "./."),
                _int_list(s.get("AD")), int(dp_s) if dp_s and dp_s.isdigit() else None, s.get("GQ", "."),
                _int_list(s.get("PL")), s.get("SB"), line_no)


def _as_qual(v: _Var) -> list[int] | None:
    """Per listed ALT: PL[0] - min PL over genotypes holding it (ReblockGVCF's AS_QUALapprox), or None."""
    if v.pl is None:
        return None
    n = len(v.alts) + 1 + int(v.non_ref)
    gts = _pl_genotypes(n, v.ploidy)
    if len(gts) != len(v.pl):
        return None
    return [max(0, v.pl[0] - min(p for p, g in zip(v.pl, gts, strict=True) if a in g)) for a in range(1, len(v.alts) + 1)]


def _variant_line(v: _Var) -> str:
    """The normalised text of a variant record (GATK layout, ``<NON_REF>`` last): the caller's INFO fields that
    the GATK layout has, plus the ReblockGVCF annotations computed where missing."""
    info = {k: x for k, x in v.info.items() if k in CANONICAL_INFO}
    n_alt = len(v.alts)
    ad = v.ad
    if "DP" not in info and (v.dp is not None or "DP" in v.info):
        info["DP"] = v.info.get("DP") or str(v.dp)
    if "QUALapprox" not in info and v.pl:
        info["QUALapprox"] = str(v.pl[0])
    if "AS_QUALapprox" not in info:
        q = _as_qual(v)
        if q is not None:
            info["AS_QUALapprox"] = "|" + "|".join(map(str, q)) + "|0"
    if ad is not None and len(ad) >= n_alt + 1:
        if "AS_VarDP" not in info:
            info["AS_VarDP"] = "|".join(map(str, ad[: n_alt + 1])) + "|0"
        if "VarDP" not in info:
            info["VarDP"] = str(sum(ad[: n_alt + 1]))
    if "RAW_MQandDP" not in info and "MQ" in v.info and "DP" in info:
        try:
            mq, dp = float(v.info["MQ"]), int(info["DP"])
            info["RAW_MQandDP"] = f"{round(mq * mq * dp)},{dp}"
        except ValueError:
            pass
    sb = _int_list(v.sb) if v.sb else None
    if "AS_SB_TABLE" not in info and sb and len(sb) == 4 and n_alt == 1:
        info["AS_SB_TABLE"] = f"{sb[0]},{sb[1]}|{sb[2]},{sb[3]}|0,0"
    order = sorted(info, key=lambda k: (k != "END", k))
    info_s = ";".join(f"{k}={info[k]}" if info[k] != "" else k for k in order) or "."
    fmt = ["GT", "AD", "DP", "GQ", "PL"]
    vals = [v.gt, ",".join(map(str, ad)) if ad else ".", str(v.dp) if v.dp is not None else ".", v.gq or ".",
            ",".join(map(str, v.pl)) if v.pl else "."]
    if sb and len(sb) == 4:
        fmt.append("SB")
        vals.append(",".join(map(str, sb)))
    alts = ",".join([*v.alts, "<NON_REF>"] if v.non_ref else v.alts) or "."
    return "\t".join([v.chrom, str(v.pos), v.rid, v.ref, alts, v.qual, ".", info_s, ":".join(fmt), ":".join(vals)])


def merge_same_position(recs: Sequence[_Var]) -> tuple[_Var | None, str]:
    """One record for variant records starting at one position, or ``(None, why)`` when their genotypes
    cannot belong to one sample (more ALT copies than the ploidy)."""
    first = recs[0]
    ploidy = max(r.ploidy for r in recs)
    ref = max((r.ref for r in recs), key=len)
    if any(not ref.upper().startswith(r.ref.upper()) for r in recs):
        return None, "their REF alleles disagree (" + ", ".join(r.ref for r in recs) + ")"
    alts: list[str] = []
    carried: list[int] = []
    as_q: list[int] = []
    alt_ad: list[int] = []
    ref_ad: list[int] = []
    # allele-specific MQ and strand tables per new ALT (from the record that called it); REF's from the record
    # whose REF depth the merged AD keeps (the smallest), so AS_MQ/AS_FS/AS_SOR of merged alleles stay defined
    per_allele: dict[str, list[str | None]] = {k: [] for k in _AS_MERGED}
    ref_rec = min((r for r in recs if r.ad), key=lambda r: r.ad[0] if r.ad else 0, default=first)
    for r in recs:
        suffix = ref[len(r.ref):]
        called = [a for a in _gt_alleles(r.gt) if a not in (".", "0")]
        q = _as_qual(r)
        parts = {k: _as_parts(r, k) for k in _AS_MERGED}
        for j, a in enumerate(r.alts, start=1):
            allele = a if a == "*" else a + suffix
            if allele not in alts:
                alts.append(allele)
                as_q.append(q[j - 1] if q else 0)
                alt_ad.append(r.ad[j] if r.ad and len(r.ad) > j else 0)
                for field_name, v in parts.items():
                    per_allele[field_name].append(v[j] if v else None)
            k = alts.index(allele) + 1
            carried.extend([k] * called.count(str(j)))
        if r.ad:
            ref_ad.append(r.ad[0])
    if len(carried) > ploidy:
        desc = "; ".join(f"{r.ref}>{','.join(r.alts)} GT {r.gt}" for r in recs)
        return None, f"their genotypes hold {len(carried)} ALT copies for ploidy {ploidy} ({desc})"
    gt = "/".join(map(str, sorted([0] * (ploidy - len(carried)) + carried)))
    gqs = [int(r.gq) for r in recs if r.gq.isdigit()]
    dps = [r.dp for r in recs if r.dp is not None]
    info = {"AS_QUALapprox": "|" + "|".join(map(str, as_q)) + "|0",
            **({"QUALapprox": str(max(r.pl[0] for r in recs if r.pl))} if any(r.pl for r in recs) else {})}
    for field_name, empty in _AS_MERGED.items():
        ref_part = _as_parts(ref_rec, field_name)
        if ref_part and all(v is not None for v in per_allele[field_name]):
            info[field_name] = "|".join([ref_part[0], *(v or "" for v in per_allele[field_name]), empty])
    site = [r.info["RAW_MQandDP"] for r in recs if r.info.get("RAW_MQandDP")]
    if len(site) == len(recs):  # site-level (all reads at the position): the record that saw the most
        info["RAW_MQandDP"] = max(site, key=_raw_mq_dp)
    merged = _Var(
        first.chrom, first.pos, first.rid, ref, alts, True, max((r.qual for r in recs), key=_qual_key), ".",
        info,
        gt, [min(ref_ad) if ref_ad else 0, *alt_ad, 0], max(dps) if dps else None,
        str(min(gqs)) if gqs else ".", None, None, first.line_no,
    )
    return merged, ""


#: allele-specific INFO fields carried through a same-position merge, and their ``<NON_REF>`` entry
_AS_MERGED = {"AS_RAW_MQ": "0.00", "AS_SB_TABLE": "0,0"}


def _as_parts(r: _Var, key: str) -> list[str] | None:
    """``r``'s allele-specific INFO ``key`` split per allele (REF, each ALT, ``<NON_REF>`` when present), or None
    when absent or of the wrong length."""
    v = r.info.get(key)
    if not v:
        return None
    parts = v.split("|")
    return parts if len(parts) == len(r.alts) + 1 + int(r.non_ref) else None


def _raw_mq_dp(v: str) -> int:
    """The read count of a ``RAW_MQandDP`` value (``sum of squared MQ,reads``); -1 when unreadable."""
    try:
        return int(float(v.split(",")[1]))
    except (IndexError, ValueError):
        return -1


def _qual_key(q: str) -> float:
    try:
        return float(q)
    except ValueError:
        return -1.0


def canonical_header(header_lines: Sequence[str], info: FlavorInfo, columns: str) -> str:
    """The normalised header: the canonical FORMAT/INFO declarations, the submitted contigs and caller lines,
    and a line saying what was done."""
    keep = [ln for ln in header_lines if ln.startswith(_KEEP_META) and not ln.startswith("##fileformat")]
    lines = ["##fileformat=VCFv4.2", *CANONICAL_META, *keep]
    return "\n".join(lines) + "\n" + _provenance(info, "normalised to the GATK gVCF layout") + columns + "\n"


def _provenance(info: FlavorInfo, what: str) -> str:
    return (f'##callset_normalised=<Flavor={info.flavor},Caller="{info.label}",Description="{what} for joint '
            'calling by callset.intake.flavors">\n')


def normalise_gvcf(src: Path, dest: Path, info: FlavorInfo, *, label: str | None = None) -> NormaliseResult:
    """Write ``dest`` (bgzipped + tabix-indexed): ``src`` in the GATK layout, same-position variant records
    merged (module docstring). A GATK gVCF keeps its header and every other line as submitted (only the merged
    positions change). ``res.problems`` names each position whose records cannot be merged; the caller rejects
    the sample then (``dest`` is still written, for inspection)."""
    import gzip

    import pysam

    res = NormaliseResult(Path(dest))
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    norm = _Normaliser(info, res, label or str(src))
    with gzip.open(src, "rt", errors="replace") as fin, BgzfWriter(tmp, level=1) as fout:
        for line_no, raw in enumerate(fin, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            if line.startswith("##"):
                norm.header.append(line)
            elif line.startswith("#"):
                fout.write(norm.header_text(line).encode())
            elif line:
                norm.record(line, line_no)
                if len(norm.out) >= 10000:
                    fout.write(norm.take())
        norm.flush()
        if norm.out:
            fout.write(norm.take())
    tmp.replace(dest)
    pysam.tabix_index(str(dest), preset="vcf", force=True)
    return res


class _Normaliser:
    """One gVCF's lines in file order -> its normalised lines (``out``), counted and reported in ``res``.

    Variant records of one position wait in ``pending`` until the position ends, then go out as they are (one
    record; verbatim for a GATK gVCF, in the GATK layout otherwise) or merged (:func:`merge_same_position`).
    """

    def __init__(self, info: FlavorInfo, res: NormaliseResult, label: str) -> None:
        self.info, self.res, self.label = info, res, label
        self.verbatim = info.flavor == "gatk"  # only same-position records to merge
        self.header: list[str] = []
        self.pending: list[_Var] = []
        self.pending_text: list[str] = []
        self.out: list[str] = []

    def header_text(self, columns: str) -> str:
        """The header to write, given the ``#CHROM`` line (the ``##`` lines are in ``header``)."""
        if self.verbatim:
            return ("\n".join(self.header) + "\n" + _provenance(self.info, "same-position variant records merged")
                    + columns + "\n")
        return canonical_header(self.header, self.info, columns)

    def record(self, line: str, line_no: int) -> None:
        """Take one data line (a reference block goes out at once, a variant record waits for its position)."""
        f = line.split("\t")
        self.res.n_records += 1
        is_block = f[7].startswith("END=") or ";END=" in f[7]
        if is_block:
            self.flush()
            self.out.append(line if self.verbatim else _block_line(f, self.res))
            return
        v = _parse_var(f, line_no)
        if v.filt not in (".", "PASS") and not self.verbatim:
            self.res.n_filtered_calls += 1
        if self.pending and (self.pending[0].chrom != v.chrom or self.pending[0].pos != v.pos):
            self.flush()
        self.pending.append(v)
        self.pending_text.append(line)

    def flush(self) -> None:
        """Put out the pending position's variant records (merged when there are several)."""
        pending, pending_text, verbatim = self.pending, self.pending_text, self.verbatim
        if not pending:
            return
        if len(pending) == 1:
            self.out.append(pending_text[0] if verbatim else _variant_line(pending[0]))
        else:
            merged, why = merge_same_position(pending)
            where = f"{pending[0].chrom}:{pending[0].pos}"
            if merged is None:
                self.res.problems.append(
                    f"{self.label}: line {pending[1].line_no}: {len(pending)} variant records at {where} cannot be "
                    f"merged into one: {why} (the combiner would keep only one of them)")
                self.out.extend(pending_text if verbatim else (_variant_line(p) for p in pending))
            else:
                self.res.merged.append(where)
                self.out.append(_variant_line(merged))
        pending.clear()
        pending_text.clear()

    def take(self) -> bytes:
        """The lines put out so far, as bytes to write (and forgotten)."""
        data = ("\n".join(self.out) + "\n").encode()
        self.out.clear()
        return data


def _block_line(f: list[str], res: NormaliseResult) -> str:
    """A reference block in the GATK layout: ``<NON_REF>``, ``GT:DP:GQ:MIN_DP:PL``; GQ 0 unless a confident 0/0."""
    keys = f[8].split(":") if len(f) > 8 else []
    vals = f[9].split(":") if len(f) > 9 else []
    s = dict(zip(keys, vals, strict=False))
    gt = s.get("GT", "./.")
    dp = s.get("DP") or s.get("MED_DP") or s.get("MIN_DP") or "."
    min_dp = s.get("MIN_DP") or dp
    gq = s.get("GQ", "0")
    if any(a != "0" for a in _gt_alleles(gt)) or f[6] not in (".", "PASS"):
        if gq not in ("0", "."):
            res.n_blocks_no_confidence += 1
        gq = "0"
    end = next((kv for kv in f[7].split(";") if kv.startswith("END=")), "")
    return "\t".join([f[0], f[1], f[2], f[3], "<NON_REF>", ".", ".", end, "GT:DP:GQ:MIN_DP:PL",
                      f"{gt}:{dp}:{gq}:{min_dp}:{s.get('PL', '.')}"])


def needs_normalising(info: FlavorInfo, n_same_pos_variants: int) -> bool:
    """A DRAGEN or DeepVariant gVCF, or any gVCF with variant records sharing a position."""
    return info.flavor != "gatk" or n_same_pos_variants > 0
