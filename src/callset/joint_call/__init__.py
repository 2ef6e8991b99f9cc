"""Joint calling: each batch's accepted gVCFs become a new VDS part of the cohort (Hail VDS combiner).

- :mod:`~callset.joint_call.intervals` — import intervals covering only what the batch holds;
- :mod:`~callset.joint_call.compaction` — when the newest parts are merged (size-tiered, base ``cohort_fanout``);
- :mod:`~callset.joint_call.combine` — the combiner run and the cohort step (``cohort.json``).

The cohort is read back with :func:`callset.core.cohort.read_cohort_vds`.
"""
