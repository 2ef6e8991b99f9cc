"""Genotype likelihoods of the simulated caller: genotype order, read probabilities, phred-scaled PLs.

Shared by the per-sample gVCF writer (:mod:`callset.simulate.gvcf`) and the planted artefact calls
(:mod:`callset.simulate.artefacts`), so neither imports the other for them.
"""

from __future__ import annotations

from functools import cache

import numpy as np

MQ60_SQ = 3600  # squared mapping quality of one MQ60 read


@cache
def genotypes(n_alleles: int, ploidy: int) -> tuple[tuple[int, ...], ...]:
    """Genotypes over ``n_alleles`` alleles (the last one ``<NON_REF>``) in VCF ``Number=G`` order."""
    if ploidy == 1:
        return tuple((j,) for j in range(n_alleles))
    return tuple((a, b) for b in range(n_alleles) for a in range(b + 1))


def genotype_index(alleles: tuple[int, ...]) -> int:
    """Index of a genotype (allele indices, any order) in VCF ``Number=G`` order."""
    if len(alleles) == 1:
        return alleles[0]
    a, b = sorted(alleles)
    return b * (b + 1) // 2 + a


@cache
def log_read_probs(n_alleles: int, ploidy: int, e: float) -> np.ndarray:
    """log10 P(read shows allele x | genotype g), shape (genotypes, n_alleles - 1): a read shows its copy's
    allele with probability 1 - e and any other given allele with e/3; a <NON_REF> copy shows no listed
    allele (e/3 each); no read shows <NON_REF>."""
    m = n_alleles - 1
    p = np.full((n_alleles, m), e / 3)
    p[np.arange(m), np.arange(m)] = 1 - e
    q = np.array([[np.mean([p[j, x] for j in g]) for x in range(m)] for g in genotypes(n_alleles, ploidy)])
    return np.log10(q)


def allele_likelihoods(counts: np.ndarray, error_rate: float, *, ploidy: int = 2) -> np.ndarray:
    """Normalised phred-scaled likelihoods from read counts per allele (shape (n, A): REF, ALT1, ...);
    the genotypes also cover a <NON_REF> allele, so the result has one column per genotype over A + 1
    alleles in VCF order."""
    logq = log_read_probs(counts.shape[1] + 1, ploidy, error_rate)
    raw = -10.0 * (counts @ logq.T)
    return np.rint(raw - raw.min(axis=1, keepdims=True)).astype(np.int64)


def genotype_likelihoods(
    ref_reads: np.ndarray, alt_reads: np.ndarray, error_rate: float, *, ploidy: int = 2
) -> np.ndarray:
    """Normalised phred-scaled likelihoods, shape (n, 6) for diploid (0/0 0/1 1/1 0/2 1/2 2/2) or
    (n, 3) for haploid calls (0 1 2)."""
    return allele_likelihoods(np.stack([ref_reads, alt_reads], axis=1).astype(np.float64), error_rate,
                              ploidy=ploidy)
