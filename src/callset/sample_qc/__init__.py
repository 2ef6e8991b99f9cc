"""Sample QC on the cohort VDS, as All of Us / gnomAD do it.

Modules, one check each (all take Hail objects and return Hail Tables or small pandas frames; none writes):

- :mod:`.metrics` — Hail's per-sample metrics (``hl.vds.sample_qc``) on autosomes, depth per contig class,
  and the dense QC MatrixTable of high-quality common biallelic autosomal SNPs the other checks share;
- :mod:`.coverage` — mean depth and fraction >= 20x from a submitted CRAM (pysam);
- :mod:`.sex` — chrX/chrY ploidy from reference-block depth, chrX inbreeding F -> karyotype;
- :mod:`.contamination` — CHARR-style contamination from reference reads in hom-alt calls;
- :mod:`.relatedness` — PC-Relate kinship, degrees, maximal independent set;
- :mod:`.ancestry` — PCA of a labelled panel, projection of the cohort, random forest;
- :mod:`.outliers` — metrics regressed on PCs, MAD outliers within ancestry groups; hard filters;
- :mod:`.report` — the self-contained HTML report (inline SVG);
- :mod:`.settings` — every threshold, from the ``sample_qc.<part>`` config sections (schema defaults);
- :mod:`.pipeline` — runs everything and writes ``<results>/qc/``;
- :mod:`.accuracy` — scores a run against the simulator's truth.

A check the data cannot support (no chrX/chrY, too few *independent* markers after LD pruning, no panel,
an estimator too noisy for its thresholds) is reported as "not assessable" with its reason and the markers
it had (:class:`NotAssessable`), and excludes and flags nobody. Every check records the markers it used
(:class:`CheckStatus`), so ``checks.tsv`` and the report say what each call rests on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckStatus:
    """Outcome of one check for the whole cohort: ``assessable`` False means every sample's value is empty.

    ``markers`` says in words what the check rested on (e.g. ``"1,204 LD-pruned common autosomal SNPs"``);
    ``n_markers`` is that number (None when the check uses no genetic markers).
    """

    check: str
    assessable: bool
    reason: str = ""
    markers: str = ""
    n_markers: int | None = None


class NotAssessable(Exception):  # noqa: N818 - a status, not an error
    """Raised by a compute function when the data cannot support the check (message = the reason).

    ``markers``/``n_markers``: what the check had to work with, for :class:`CheckStatus`.
    """

    def __init__(self, reason: str, *, markers: str = "", n_markers: int | None = None) -> None:
        super().__init__(reason)
        self.markers = markers
        self.n_markers = n_markers
