"""Sample QC's thresholds (:class:`SampleQCSettings`), built once from the ``sample_qc.<part>`` config sections.

The config schema is the one place the defaults are written (:func:`callset.config.section`): a run of the
workflow gives every key (Snakemake fills the defaults when it validates the config); a caller outside
Snakemake (tests, benchmarks, a site's own script) may give part of a section, or none, and gets the schema's
defaults for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callset.config import section

#: the ``sample_qc`` config sections that hold the checks' thresholds
PARTS = ("hard_filters", "qc_sites", "sex", "contamination", "relatedness", "ancestry", "outliers")


@dataclass(frozen=True)
class SampleQCSettings:
    """Every threshold of sample QC: one dict per ``sample_qc.<part>`` section, every key present (in the
    schema's order). Build with :meth:`from_config`."""

    hard_filters: Mapping[str, Any]
    qc_sites: Mapping[str, Any]
    sex: Mapping[str, Any]
    contamination: Mapping[str, Any]
    relatedness: Mapping[str, Any]
    ancestry: Mapping[str, Any]
    outliers: Mapping[str, Any]

    @classmethod
    def from_config(cls, **parts: Mapping[str, Any] | None) -> SampleQCSettings:
        """From (parts of) the ``sample_qc.<part>`` sections, keyword per part (:data:`PARTS`); a part not
        given, or a key not given, takes the schema's default. Renamed keys are read under their new name
        (with a warning, :func:`callset.config.section`)."""
        unknown = sorted(set(parts) - set(PARTS))
        if unknown:
            raise TypeError(f"sample QC settings: unknown section(s) {unknown}; expected some of {list(PARTS)}")
        return cls(**{p: section(f"sample_qc.{p}", parts.get(p)) for p in PARTS})

    @property
    def sex_cutoffs(self) -> dict[str, Any]:
        """``sample_qc.sex`` as :func:`callset.sample_qc.sex.compute_karyotype` takes it (ranges as tuples)."""
        return {k: tuple(v) if isinstance(v, list) else v for k, v in self.sex.items()}

    def record(self) -> dict[str, Any]:
        """The thresholds as sample QC's parameters record them (``SampleQCResult.params``)."""
        return {
            "hard_filters": dict(self.hard_filters),
            "qc_sites": dict(self.qc_sites),
            "sex_cutoffs": self.sex_cutoffs,
            "contamination": dict(self.contamination),
            "relatedness": dict(self.relatedness),
            "ancestry": dict(self.ancestry),
            "outliers": dict(self.outliers),
        }
