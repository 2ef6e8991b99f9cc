"""Simulated genome-centre batches with known truth (``callset simulate``).

See ``README.md`` in this folder for the output layout and formats. Entry points:
:func:`callset.simulate.cohort.simulate_cohort` (library) and :mod:`callset.simulate.cli` (command line).
"""

from callset.simulate.cohort import SimulationOptions, SimulationResult, simulate_cohort

__all__ = ["SimulationOptions", "SimulationResult", "simulate_cohort"]
