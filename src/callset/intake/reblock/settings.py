"""What a reblocking run is told (:class:`ReblockSettings`) and what it reports (:class:`ReblockResult`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: bumped whenever the output of the same input and settings changes
REBLOCK_VERSION = 1
GQ0_POLICIES = ("no_call", "drop")
DEFAULT_GQ_BANDS = (0, 20, 30, 40)
#: FORMAT of every reference block the reblocker writes
BLOCK_FORMAT = b"GT:DP:GQ:MIN_DP"


@dataclass(frozen=True)
class ReblockSettings:
    """How reference blocks are rebuilt (``intake.reblock`` plus the release's block length cap).

    :param gq_bands: ascending GQ floors of the bands (0 is added when missing).
    :param gq0: ``no_call`` (keep GQ-0 blocks; the release makes them no-calls) or ``drop``.
    :param max_block_length: longest reference block written (bases).
    """

    gq_bands: tuple[int, ...] = DEFAULT_GQ_BANDS
    gq0: str = "no_call"
    max_block_length: int = 1000

    def __post_init__(self) -> None:
        bands = tuple(sorted({0, *(int(b) for b in self.gq_bands)}))
        if any(b < 0 or b > 99 for b in bands):
            raise ValueError(f"intake.reblock.gq_bands: floors must be within 0-99, got {list(self.gq_bands)}")
        object.__setattr__(self, "gq_bands", bands)
        if self.gq0 not in GQ0_POLICIES:
            raise ValueError(f"intake.reblock.gq0 must be one of {GQ0_POLICIES}, got {self.gq0!r}")
        if self.max_block_length < 1:
            raise ValueError(f"reference block length cap must be positive, got {self.max_block_length}")

    @classmethod
    def from_config(cls, reblock: Mapping[str, Any] | None, *, max_block_length: int) -> ReblockSettings:
        """From the ``intake.reblock`` section (schema defaults for missing keys) and the release's cap."""
        from callset.config import section

        o = section("intake.reblock", reblock)
        return cls(gq_bands=tuple(o["gq_bands"]), gq0=str(o["gq0"]), max_block_length=int(max_block_length))

    def record(self) -> dict[str, Any]:
        """What the cohort metadata and the release manifest say about how reference data was made."""
        from callset import __version__

        return {
            "gq_bands": list(self.gq_bands),
            "gq_band_value": "floor",
            "gq0": self.gq0,
            "max_block_length": self.max_block_length,
            "block_fields": BLOCK_FORMAT.decode(),
            "block_dp": "length-weighted mean",
            "variant_records": "unchanged",
            "tool": f"callset {__version__} reblock/{REBLOCK_VERSION}",
        }


@dataclass
class ReblockResult:
    """One reblocked gVCF: where, its md5, and what happened to the records."""

    path: Path
    index: Path
    md5: str
    size: int
    settings: dict[str, Any]
    n_records_in: int = 0
    n_blocks_in: int = 0  # reference blocks merged (plain blocks)
    n_blocks_out: int = 0
    n_copied: int = 0  # records copied unchanged (variant records and blocks left as they were)
    n_gq0_dropped: int = 0  # GQ-0 blocks left out (gq0="drop")
    bases_gq0_dropped: int = 0
    max_block: int = 0  # longest reference block written (merged ones are at most max_block_length; a copied
    # block may be longer)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"reblocked: {self.n_records_in} records -> {self.n_blocks_out + self.n_copied} "
            f"({self.n_blocks_in} reference blocks -> {self.n_blocks_out}, {self.n_copied} records copied"
            + (f", {self.n_gq0_dropped} GQ-0 blocks dropped" if self.n_gq0_dropped else "")
            + ")"
        )
