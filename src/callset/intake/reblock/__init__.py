"""Reblocking of gVCF reference blocks at intake, as GATK ``ReblockGVCF`` does for All of Us.

All of Us reblocks every gVCF before joint calling with ``ReblockGVCF -GQB 20 -GQB 30 -GQB 40 --floor-blocks
-do-qual-approx`` (WARP's production arguments, ``WARP_PROD_REBLOCKING_ARGS`` in GATK's
``ReblockGVCFIntegrationTest``). What callset does, and where it differs:

- **Reference blocks** (ALT only ``<NON_REF>`` or ``<*>``, INFO ``END=``) are banded by GQ with the floors
  ``gq_bands`` (default 0, 20, 30, 40; GQ above 99 counts as 99) and each output block carries its band's
  floor as GQ (``--floor-blocks``). A no-call block (DRAGEN writes ``./.``) counts as hom-ref with its GQ
  when its PL[0] is 0, otherwise as GQ 0 (GATK's rule); a block without GQ counts as GQ 0.
- **Merging**: consecutive blocks of one contig, band and ploidy with no other record between them and no gap
  (POS = previous END + 1) are merged; merged blocks are cut where they cross a multiple of
  ``max_block_length`` (the release's ``ref_block_max_length``, GVS's 1000): no block is longer, and the cuts
  fall on the same positions in every sample, so the cohort's reference data gains few distinct block starts.
- **Block FORMAT** ``GT:DP:GQ:MIN_DP``: GT hom-ref of the block's ploidy; DP the length-weighted mean of the
  merged blocks' DP (ReblockGVCF takes the median of the merged records' DP; sample QC's coverage and sex
  inference are length-weighted means, which the mean keeps); GQ the band floor; MIN_DP the minimum.
  ``--floor-blocks`` drops MIN_DP and PL; callset keeps MIN_DP because the VDS combiner keeps DP, GQ and
  MIN_DP of reference blocks, so the cohort's reference schema stays what it was (PL is dropped: the combiner
  drops it from reference data anyway). A block cut inside an input block takes its REF base from
  ``fasta`` when given, else ``N`` (the VDS stores no reference base for reference data).
- **GQ 0** (the lowest band, GQ below the second floor): ``gq0="no_call"`` (default, as All of Us: WARP runs
  ReblockGVCF without ``--drop-low-quals``, so these blocks stay in the gVCF with GQ 0, and GVS renders GQ-0
  reference data as no-calls when it extracts a callset) keeps them with GQ 0, and the release turns them into
  no-calls (``release_options.drop_gq0_reference_blocks``); ``gq0="drop"`` leaves them out of the gVCF
  (``ReblockGVCF --drop-low-quals``: smaller, but the cohort keeps no trace that those bases were covered).
- **Variant records** (everything that is not a reference block) are copied byte for byte: GT, AD, DP, GQ, the
  full PL, every INFO annotation (AS_*, QUALapprox when present). ReblockGVCF instead drops uncalled alleles
  (subsetting PL and the AS_ annotations), removes MLEAC/MLEAF/ExcessHet/InbreedingCoeff, adds
  QUALapprox/VarDP/RAW_GT_COUNT and turns hom-ref or low-quality variant records into GQ-0 reference blocks;
  callset keeps every record so each call of the submitted file reaches joint calling unchanged (variant QC
  uses PL[0] where QUALapprox is absent). Reference blocks the reblocker does not read as plain blocks (other
  INFO keys, an unusual GT or FORMAT) are copied unchanged too, as is a run of blocks a later record overlaps.

The work is vectorised with numpy over the decoded text (the same way the intake scan checks it), so intake
can reblock in its existing pass: :func:`scan_gvcf` feeds a :class:`Reblocker` the chunks it checks. Per-record
iteration with htslib's Python bindings costs more than the whole decode (cyvcf2 iteration alone ~1.7x a
``bcftools view`` decode, :mod:`callset.intake.checks`), and no htslib tool reblocks (bcftools' ``+gvcfz``
plugin regroups blocks by filter expressions but neither floors GQ nor caps lengths). The output is bgzipped
(level 1) and tabix-indexed with htslib (pysam). :func:`reblock_gvcf` is the same for one file on its own.

Layout: :mod:`.settings` (settings and result), :mod:`.fields` (numeric fields of a chunk's lines, GQ bands),
:mod:`.bands` (runs of mergeable blocks, cut and merged), :mod:`.writer` (header and record text),
:mod:`.reblocker` (the streaming :class:`Reblocker`), :mod:`.one_file` (:func:`reblock_gvcf`).
"""

from callset.intake.reblock.one_file import reblock_gvcf
from callset.intake.reblock.reblocker import Reblocker
from callset.intake.reblock.settings import (
    BLOCK_FORMAT,
    DEFAULT_GQ_BANDS,
    GQ0_POLICIES,
    REBLOCK_VERSION,
    ReblockResult,
    ReblockSettings,
)

__all__ = [
    "BLOCK_FORMAT",
    "DEFAULT_GQ_BANDS",
    "GQ0_POLICIES",
    "REBLOCK_VERSION",
    "ReblockResult",
    "ReblockSettings",
    "Reblocker",
    "reblock_gvcf",
]
