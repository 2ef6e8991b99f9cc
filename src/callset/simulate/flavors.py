# ruff: noqa: E501
"""``--flavor dragen|deepvariant``: the simulated gVCFs rewritten in the layout of another caller.

The genotypes, depths and likelihoods are the simulated HaplotypeCaller-style ones; only the record layout
changes, as each caller writes it (taken from the callers' own test data: GATK's ``ReblockGVCF/dragen.g.vcf`` and
``GnarlyGenotyper/chrY_haploid_dragen.g.vcf``, DeepVariant's ``golden.postprocess_gvcf_output*.g.vcf``):

- **dragen** (DRAGEN 3.7.8 germline ``--vc-emit-ref-confidence GVCF``): ``##DRAGENCommandLine``/``##DRAGENVersion``
  header lines; reference blocks ``GT:AD:DP:GQ:MIN_DP:PL:SPL:ICNT``, ``./.`` with FILTER ``LowGQ`` when GQ is 0
  (``LowDepth`` when DP <= 1), ``0/0`` PASS otherwise; variant records with DRAGEN's INFO (``DP``, ``MQ``,
  ``FractionInformativeReads``; no QUALapprox or AS_ annotations) and FORMAT
  ``GT:AD:AF:DP:F1R2:F2R1:GQ:PL:GP:PRI:SB:MB``, FILTER ``DRAGENHardQUAL`` below QUAL 5; haploid calls stay haploid.
- **deepvariant** (DeepVariant 1.6 ``--output_gvcf``): ``<*>`` instead of ``<NON_REF>``; reference blocks
  ``GT:GQ:MIN_DP:MED_DP:PL`` (no DP; ``./.`` when GQ is 0); variant records with INFO ``.``, FORMAT
  ``GT:GQ:DP:AD:VAF:PL`` (AD and VAF include the ``<*>`` allele); no GATK annotations.
"""

from __future__ import annotations

from pathlib import Path

import pysam

from callset.core.bgzf import BgzfWriter

FLAVORS = ("gatk", "dragen", "deepvariant")
DRAGEN_VERSION = "SW: 07.021.604.3.7.8, HW: 07.021.604"

_DRAGEN_HEADER = [
    '##FILTER=<ID=DRAGENHardQUAL,Description="Set if true:QUAL<5.0">',
    '##FILTER=<ID=LowDepth,Description="Set if true:DP<=1">',
    '##FILTER=<ID=LowGQ,Description="Set if true:GQ=0">',
    '##FILTER=<ID=PloidyConflict,Description="Genotype call from variant caller not consistent with chromosome ploidy">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths (counting only informative reads out of the total reads) for the ref and alt alleles in the order listed">',
    '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fractions for alt alleles in the order listed">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth (reads with MQ=255 or with bad mates are filtered)">',
    '##FORMAT=<ID=F1R2,Number=R,Type=Integer,Description="Count of reads in F1R2 pair orientation supporting each allele">',
    '##FORMAT=<ID=F2R1,Number=R,Type=Integer,Description="Count of reads in F2R1 pair orientation supporting each allele">',
    '##FORMAT=<ID=GP,Number=G,Type=Float,Description="Phred-scaled posterior probabilities for genotypes as defined in the VCF specification">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype Quality">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=ICNT,Number=2,Type=Integer,Description="Counts of INDEL informative reads based on the reference confidence model">',
    '##FORMAT=<ID=MB,Number=4,Type=Integer,Description="Per-sample component statistics to detect mate bias">',
    '##FORMAT=<ID=MIN_DP,Number=1,Type=Integer,Description="Minimum DP observed within the GVCF block">',
    '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Normalized, Phred-scaled likelihoods for genotypes as defined in the VCF specification">',
    '##FORMAT=<ID=PRI,Number=G,Type=Float,Description="Phred-scaled prior probabilities for genotypes">',
    '##FORMAT=<ID=SB,Number=4,Type=Integer,Description="Per-sample component statistics which comprise the Fisher\'s Exact Test to detect strand bias">',
    '##FORMAT=<ID=SPL,Number=.,Type=Integer,Description="Normalized, Phred-scaled likelihoods for SNPs based on the reference confidence model">',
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth; some reads may have been filtered">',
    '##INFO=<ID=END,Number=1,Type=Integer,Description="Stop position of the interval">',
    '##INFO=<ID=FractionInformativeReads,Number=1,Type=Float,Description="The fraction of informative reads out of the total reads">',
    '##INFO=<ID=MQ,Number=1,Type=Float,Description="RMS Mapping Quality">',
]

_DV_HEADER = [
    '##FILTER=<ID=PASS,Description="All filters passed">',
    '##FILTER=<ID=RefCall,Description="Genotyping model thinks this site is reference.">',
    '##FILTER=<ID=LowQual,Description="Confidence in this variant being real is below calling threshold.">',
    '##INFO=<ID=END,Number=1,Type=Integer,Description="End position (for use with symbolic alleles)">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Conditional genotype quality">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    '##FORMAT=<ID=MIN_DP,Number=1,Type=Integer,Description="Minimum DP observed within the GVCF block.">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Read depth for each allele">',
    '##FORMAT=<ID=VAF,Number=A,Type=Float,Description="Variant allele fractions.">',
    '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred-scaled genotype likelihoods rounded to the closest integer">',
    '##FORMAT=<ID=MED_DP,Number=1,Type=Integer,Description="Median DP observed within the GVCF block rounded to the nearest integer.">',
    "##DeepVariant_version=1.6.1",
]


def flavor_header(gatk_header: str, flavor: str, *, dragen_version: str = DRAGEN_VERSION) -> str:
    """The ``##`` lines of a simulated gVCF in ``flavor``'s layout (contigs kept from the GATK header)."""
    if flavor == "gatk":
        return gatk_header
    contigs = [ln for ln in gatk_header.splitlines() if ln.startswith("##contig=")]
    if flavor == "dragen":
        lines = [
            "##fileformat=VCFv4.2",
            '##ALT=<ID=NON_REF,Description="Represents any possible alternative allele at this location">',
            *_DRAGEN_HEADER,
            "##GVCFBlock=minGQ=0(inclusive),maxGQ=100(exclusive)",
            f'##DRAGENVersion=<ID=dragen,Version="{dragen_version}">',
            f'##DRAGENCommandLine=<ID=dragen,Version="{dragen_version}",Date="simulated",'
            'CommandLineOptions="--enable-variant-caller true --vc-emit-ref-confidence GVCF (simulated by callset.simulate)">',
            "##source=DRAGEN_SNV",
            *contigs,
        ]
    elif flavor == "deepvariant":
        lines = ["##fileformat=VCFv4.2", *_DV_HEADER, *contigs]
    else:
        raise ValueError(f"unknown flavor {flavor!r}; known: {', '.join(FLAVORS)}")
    return "\n".join(lines) + "\n"


def _fields(keys: str, values: str) -> dict[str, str]:
    return dict(zip(keys.split(":"), values.split(":"), strict=False))


def convert_record(line: str, flavor: str) -> str:
    """One simulated GATK-layout record line in ``flavor``'s layout."""
    f = line.split("\t")
    s = _fields(f[8], f[9])
    gt = s["GT"]
    haploid = "/" not in gt and "|" not in gt
    if f[7].startswith("END="):  # reference block
        gq, dp = int(s["GQ"]), int(s["DP"])
        nocall = "." if haploid else "./."
        if flavor == "dragen":
            filt = "LowDepth" if dp <= 1 else "LowGQ" if gq == 0 else "PASS"
            g = nocall if gq == 0 else gt
            spl = ",".join(str(min(255, int(x))) for x in s["PL"].split(","))
            f[6], f[8] = filt, "GT:AD:DP:GQ:MIN_DP:PL:SPL:ICNT"
            f[9] = f"{g}:{dp},0:{dp}:{gq}:{s['MIN_DP']}:{s['PL']}:{spl}:{dp},0"
        else:
            f[4], f[5] = "<*>", "0"
            f[8] = "GT:GQ:MIN_DP:MED_DP:PL"
            f[9] = f"{nocall if gq == 0 else gt}:{gq}:{s['MIN_DP']}:{dp}:{s['PL']}"
        return "\t".join(f)
    alts = f[4].split(",")
    ad = [int(x) for x in s["AD"].split(",")]
    dp = int(s["DP"])
    tot = max(1, sum(ad))
    if flavor == "dragen":
        qual = float(f[5])
        f[6] = "DRAGENHardQUAL" if qual < 5 else "PASS"
        f[7] = f"DP={dp};MQ=60.00;FractionInformativeReads={min(1.0, sum(ad) / max(1, dp)):.3f}"
        af = ",".join(f"{x / tot:.3f}" for x in ad[1:])
        f1 = [x // 2 for x in ad]
        f2 = [x - y for x, y in zip(ad, f1, strict=True)]
        pl = s["PL"].split(",")
        gp = ",".join(f"{int(x):.4e}" for x in pl)
        pri = ",".join("0.00" for _ in pl)
        f[8] = "GT:AD:AF:DP:F1R2:F2R1:GQ:PL:GP:PRI:SB:MB"
        f[9] = (f"{gt}:{s['AD']}:{af}:{dp}:{','.join(map(str, f1))}:{','.join(map(str, f2))}:{s['GQ']}:{s['PL']}:"
                f"{gp}:{pri}:{s['SB']}:{s['SB']}")
    else:
        f[4] = ",".join("<*>" if a == "<NON_REF>" else a for a in alts)
        f[6], f[7] = "PASS", "."
        vaf = ",".join(f"{x / tot:.6g}" for x in ad[1:])
        f[8] = "GT:GQ:DP:AD:VAF:PL"
        f[9] = f"{gt}:{s['GQ']}:{dp}:{s['AD']}:{vaf}:{s['PL']}"
    return "\t".join(f)


def convert_gvcf(path: Path, flavor: str, *, dragen_version: str = DRAGEN_VERSION) -> Path:
    """Rewrite the simulated gVCF at ``path`` (bgzipped GATK layout) in ``flavor``'s layout, bgzipped and
    re-indexed in place."""
    if flavor == "gatk":
        return path
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{flavor}")
    header: list[str] = []
    with pysam.BGZFile(str(path), "rb", index=None) as src, BgzfWriter(tmp, level=2) as dst:
        text = src.read().decode()
        lines = text.splitlines()
        body_at = 0
        for body_at, ln in enumerate(lines):  # noqa: B007 - the index is used after the loop
            if not ln.startswith("##"):
                break
            header.append(ln)
        out = [flavor_header("\n".join(header) + "\n", flavor, dragen_version=dragen_version).rstrip("\n"),
               lines[body_at]]
        out += [convert_record(ln, flavor) for ln in lines[body_at + 1 :] if ln]
        dst.write(("\n".join(out) + "\n").encode())
    tmp.replace(path)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path
