"""Variant QC and annotation: genotype and site filters, a learned filter, consequences, ClinVar,
population and cohort frequencies, and the variant annotation table (VAT).

- :mod:`callset.variant_qc.pipeline` — the cohort VDS → ``<results>/variant_qc/sites.ht`` (stage rule);
- :mod:`callset.variant_qc.shard_annotations` — pure functions the release applies to each dense split shard;
- :mod:`callset.variant_qc.vat` — the VAT export (bgzipped, tabix-indexed TSV + schema/README).
"""

from callset.errors import CallsetError


class VariantQCError(CallsetError):
    """Variant QC cannot run on this input (bad resource file, unusable configuration)."""


__all__ = ["VariantQCError"]
