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
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callset.intake.checks.gvcf_vec import LUT_BASE, U64, W_END, W_NONREF, W_STAR, parse_uint64, u64view

log = logging.getLogger(__name__)

#: bumped whenever the output of the same input and settings changes
REBLOCK_VERSION = 1
GQ0_POLICIES = ("no_call", "drop")
DEFAULT_GQ_BANDS = (0, 20, 30, 40)
_PAD = b"\0" * 64  # words are read past a line's end (at most 5 fields of 9 bytes): never past the buffer
_CARRY_LIMIT = 64 << 20  # a trailing run of blocks longer than this is copied, not carried to the next chunk
_ONES = U64(0x0101010101010101)
_HIGHS = U64(0x8080808080808080)
_BLOCK_FORMAT = b"GT:DP:GQ:MIN_DP"


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
            "block_fields": _BLOCK_FORMAT.decode(),
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


# ---------------------------------------------------------------------------------------------------
# vectorised helpers over the decoded text
# ---------------------------------------------------------------------------------------------------


_DEBRUIJN = 0x03F79D71B4CB0A89
_BYTE_OF_BIT = np.full(64, 8, np.int64)  # de Bruijn index of a lowest set bit -> its byte (8: no bit set)
for _bit in range(7, 64, 8):
    _BYTE_OF_BIT[(((1 << _bit) * _DEBRUIJN) & 0xFFFFFFFFFFFFFFFF) >> 58] = _bit // 8
_LOW7 = U64(0x7F7F7F7F7F7F7F7F)
_C30 = U64(0x3030303030303030)
_W_HOMREF, _W_HOMREF_PHASED, _W_NOCALL, _W_NOCALL_PHASED = (U64(int.from_bytes(g, "little"))
                                                           for g in (b"0/0", b"0|0", b"./.", b".|."))


def _lowest_byte(z: np.ndarray) -> np.ndarray:
    """Index (0-7) of the lowest byte whose high bit is set in ``z`` (only high bits set); 8 when none."""
    low = z & (~z + U64(1))
    return _BYTE_OF_BIT[(low * U64(_DEBRUIJN)) >> U64(58)]


def _digit_run(w: np.ndarray) -> np.ndarray:
    """Number of leading ASCII digits (0-8) of each little-endian word (exact, any byte values)."""
    y = w ^ _C30  # digits -> 0..9
    return _lowest_byte((((y & _LOW7) + U64(0x7676767676767676)) | y) & _HIGHS)


def _digits_value(w: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Value of the ``n`` (1-8) leading ASCII digits of each word (garbage where ``n`` is 0)."""
    n = np.clip(n, 1, 8).astype(np.uint64)
    x = w << ((U64(8) - n) * U64(8))
    x |= np.where(n >= U64(8), U64(0), _C30 >> (np.minimum(n, U64(7)) * U64(8)))
    d = x - _C30
    d = d * U64(10) + (d >> U64(8))
    d = (((d & U64(0x000000FF000000FF)) * U64(100 + (1000000 << 32)))
         + (((d >> U64(16)) & U64(0x000000FF000000FF)) * U64(1 + (10000 << 32)))) >> U64(32)
    return d.astype(np.int64)


_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], np.uint64)  # low k bytes


@dataclass
class _Lines:
    """Per-line fields of one chunk (arrays of length n; block fields only meaningful where ``m``)."""

    n: int
    starts: np.ndarray
    nl: np.ndarray
    cid: np.ndarray  # contig number of each line (index into ``names``)
    names: list[bytes]
    chrom_change: np.ndarray
    end_tab: np.ndarray  # number of tabs before each line's newline
    pos: np.ndarray  # every record's POS (0 when unreadable)
    m: np.ndarray  # a plain reference block the reblocker can merge
    end: np.ndarray
    band: np.ndarray
    ploidy: np.ndarray
    dp: np.ndarray
    dp_known: np.ndarray
    min_dp: np.ndarray
    min_known: np.ndarray
    ref: np.ndarray  # first REF byte
    star: np.ndarray  # ALT is <*> (else <NON_REF>)
    block: np.ndarray  # a reference block (symbolic ALT and END), mergeable or not


@dataclass
class _Carry:
    """Lines held back for the next chunk (a run of blocks that may continue there)."""

    data: bytes = b""
    nl: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tabs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    end_tab: np.ndarray | None = None
    pos: np.ndarray | None = None
    end: np.ndarray | None = None
    block: np.ndarray | None = None


# ---------------------------------------------------------------------------------------------------
# the reblocker
# ---------------------------------------------------------------------------------------------------


class Reblocker:
    """Streaming reblocker: :meth:`header` once, :meth:`records` with chunks of complete lines, then
    :meth:`finish` (bgzip + tabix index, md5) or :meth:`abort` (nothing is left behind).

    The output is written to ``<dst>.partial`` and renamed when finished.
    """

    def __init__(
        self,
        dst: str | Path,
        settings: ReblockSettings | None = None,
        *,
        contig_recoding: Mapping[str, str] | None = None,
        fasta: str | None = None,
        threaded: bool = True,
    ) -> None:
        import pysam.libcbgzf

        self.dst = Path(dst)
        self.settings = settings or ReblockSettings()
        self.recode = {k.encode(): v.encode() for k, v in (contig_recoding or {}).items()}
        self.floors = np.array(self.settings.gq_bands, np.int64)
        self.tmp = self.dst.with_name(self.dst.name + ".partial")
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        self._fasta_path = fasta
        self._fasta: Any = None
        # compression level 1 ("wb1" goes to htslib's bgzf_open; pysam's stub lists only the plain modes)
        self._out = pysam.libcbgzf.BGZFile(str(self.tmp), "wb1")  # type: ignore[call-arg]
        self._carry = _Carry()
        self._last_chrom: bytes | None = None  # contig of the last line written
        self.result = ReblockResult(path=self.dst, index=Path(f"{self.dst}.tbi"), md5="", size=0,
                                    settings=self.settings.record())
        self._closed = False
        # the work runs in a second thread, overlapping the caller's decoding and checking of the next chunk
        # (numpy, zlib and htslib release the GIL); chunks are handed over in order through a short queue
        self._queue: queue.Queue[tuple[Any, ...] | None] | None = None
        self._error: BaseException | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=2)
            self._worker = threading.Thread(target=self._work, name=f"reblock {self.dst.name}", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain: the caller learns of the error in finish()
            try:
                item[0](*item[1:])
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread by finish()
                self._error = e

    def _submit(self, fn: Any, *args: Any) -> None:
        if self._queue is None:
            fn(*args)
        else:
            self._queue.put((fn, *args))

    def _join(self) -> None:
        if self._queue is not None:
            self._queue.put(None)
            self._worker.join()
            self._queue = None
        if self._error is not None:
            raise self._error

    # -- input --------------------------------------------------------------------------------------
    def header(self, lines: Sequence[str]) -> None:
        """The input header lines (``##...`` and ``#CHROM`` last), as read."""
        s = self.settings
        floors = list(s.gq_bands)
        uppers = [*floors[1:], 100]
        # one pass of C-level string methods per line (a GRCh38 header has ~3,400 contig lines)
        out = [ln.rstrip("\r\n") for ln in lines if not ln.startswith(("##GVCFBlock", "#CHROM"))]
        have_format = {ln[13:].split(",", 1)[0] for ln in out if ln.startswith("##FORMAT=<ID=")}
        if self.recode:
            for i, line in enumerate(out):
                if line.startswith("##contig=<ID="):
                    cid = line[13:].split(",", 1)[0].rstrip(">")
                    new = self.recode.get(cid.encode())
                    if new is not None:
                        out[i] = "##contig=<ID=" + new.decode() + line[13 + len(cid):]
        extra = {
            "GT": '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            "DP": '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">',
            "GQ": '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype Quality">',
            "MIN_DP": '##FORMAT=<ID=MIN_DP,Number=1,Type=Integer,Description="Minimum DP observed within the '
                      'GVCF block">',
        }
        out += [v for k, v in extra.items() if k not in have_format]
        out += [f"##GVCFBlock{lo}-{hi}=minGQ={lo}(inclusive),maxGQ={hi}(exclusive)"
                for lo, hi in zip(floors, uppers, strict=True)]
        rec = self.settings.record()
        out.append(
            "##callset_reblock=<GQBands=\"" + ",".join(map(str, floors)) + f"\",FloorBlocks=true,GQ0={s.gq0},"
            f"MaxBlockLength={s.max_block_length},BlockDP=length_weighted_mean,Version=\"{rec['tool']}\">"
        )
        chrom = next((ln.rstrip("\r\n") for ln in lines if ln.startswith("#CHROM")), None)
        if chrom is not None:
            out.append(chrom)
        self._submit(self._out.write, ("\n".join(out) + "\n").encode())

    def records(
        self,
        buf: bytes,
        nl: np.ndarray | None = None,
        tabs: np.ndarray | None = None,
        *,
        end_tab: np.ndarray | None = None,
        pos: np.ndarray | None = None,
        end: np.ndarray | None = None,
        block: np.ndarray | None = None,
    ) -> None:
        """Complete record lines (``buf`` ends with a newline).

        The intake scan passes what it has already computed for every line: ``nl``/``tabs`` (offsets of the
        newlines and tabs in ``buf``), ``end_tab`` (tabs before each newline), ``pos``, ``end`` (INFO END, else
        POS + len(REF) - 1) and ``block`` (a reference block: symbolic ALT only and END); without them they
        are read here.
        """
        if buf:
            self._submit(self._records, buf, nl, tabs, end_tab,
                         None if pos is None or end is None or block is None else (pos, end, block))

    def _records(
        self, buf: bytes, nl: np.ndarray | None, tabs: np.ndarray | None, end_tab: np.ndarray | None,
        given: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    ) -> None:
        a = np.frombuffer(buf, np.uint8)
        if nl is None:
            nl = np.flatnonzero(a == 10)
        if tabs is None:
            tabs = np.flatnonzero(a == 9)
        self.result.n_records_in += len(nl)
        c = self._carry
        if c.data:
            k = len(c.data)
            data = c.data + buf + _PAD
            nl = np.concatenate([c.nl, nl + k])
            if end_tab is not None and c.end_tab is not None:
                end_tab = np.concatenate([c.end_tab, end_tab + len(c.tabs)])
            else:
                end_tab = None
            tabs = np.concatenate([c.tabs, tabs + k])
            if given is not None and c.pos is not None and c.end is not None and c.block is not None:
                given = (np.concatenate([c.pos, given[0]]), np.concatenate([c.end, given[1]]),
                         np.concatenate([c.block, given[2]]))
            else:
                given = None
        else:
            data = buf + _PAD
        self._carry = _Carry()
        self._process(data, nl, tabs, end_tab, given, final=False)

    def finish(self) -> ReblockResult:
        """Write what is pending, close, index (tabix) and move the file into place."""
        import pysam

        from callset.intake.checks.files import md5sum

        self._join()
        c = self._carry
        if c.data:
            self._carry = _Carry()
            given = None if c.pos is None or c.end is None or c.block is None else (c.pos, c.end, c.block)
            self._process(c.data + _PAD, c.nl, c.tabs, c.end_tab, given, final=True)
        self._out.close()
        self._closed = True
        pysam.tabix_index(str(self.tmp), preset="vcf", force=True)
        Path(f"{self.tmp}.tbi").replace(self.result.index)
        self.tmp.replace(self.dst)
        self.result.md5 = md5sum(self.dst)
        self.result.size = self.dst.stat().st_size
        return self.result

    def abort(self) -> None:
        """Stop and remove the partial output (a rejected file)."""
        try:
            self._join()
        except BaseException:  # noqa: BLE001 - the file is being thrown away: its error does not matter
            pass
        if not self._closed:
            self._out.close()
            self._closed = True
        for p in (self.tmp, Path(f"{self.tmp}.tbi")):
            p.unlink(missing_ok=True)

    # -- reading the lines ------------------------------------------------------------------------
    def _parse(
        self, data: bytes, nl: np.ndarray, tabs: np.ndarray, end_tab: np.ndarray | None,
        given: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    ) -> _Lines:
        a = np.frombuffer(data, np.uint8)
        v64 = u64view(a)
        n = len(nl)
        starts = np.empty(n, np.int64)
        starts[0] = 0
        starts[1:] = nl[:-1] + 1
        if end_tab is None:
            end_tab = np.searchsorted(tabs, nl)
        ntabs = np.diff(end_tab, prepend=0)
        first_tab = tabs[np.clip(end_tab - ntabs, 0, max(len(tabs) - 1, 0))] if len(tabs) else nl
        first_tab = np.where(ntabs > 0, first_tab, nl)
        # contigs: names compared as two words and a length; a name longer than 16 bytes starts a new contig
        # run at every line (its blocks are then re-banded but not merged)
        clen = first_tab - starts
        change = np.ones(n, bool)
        if n > 1:
            c0 = v64[starts] & _MASKS[np.clip(clen, 0, 8)]
            change[1:] = (clen[1:] != clen[:-1]) | (c0[1:] != c0[:-1])
            if int(clen.max()) > 8:
                c1 = v64[starts + 8] & _MASKS[np.clip(clen - 8, 0, 8)]
                change[1:] |= (c1[1:] != c1[:-1]) | (clen[1:] > 16)
        first = np.flatnonzero(change)
        names = [data[int(starts[i]): int(first_tab[i])] for i in first.tolist()]
        cid = np.cumsum(change) - 1
        change[0] = names[0] != self._last_chrom
        good = ntabs == 9
        pos, end, block = given if given is not None else self._fields(a, v64, tabs, end_tab, good)
        L = _Lines(
            n=n, starts=starts, nl=nl, cid=cid, names=names, chrom_change=change, end_tab=end_tab, pos=pos,
            m=np.zeros(n, bool), end=end, band=np.zeros(n, np.int64), ploidy=np.zeros(n, np.int64),
            dp=np.zeros(n, np.int64), dp_known=np.zeros(n, bool), min_dp=np.zeros(n, np.int64),
            min_known=np.zeros(n, bool), ref=np.zeros(n, np.uint8), star=np.zeros(n, bool), block=block,
        )
        g = np.flatnonzero(block & good & (pos >= 1) & (end >= pos))
        if not len(g):
            return L
        base = end_tab[g] - 9
        t2, t3, t4, t7, t8 = (tabs[base + k] for k in (2, 3, 4, 7, 8))
        alen = t4 - t3 - 1
        star = alen == 3
        ref = a[t2 + 1]
        cand = ((alen == 9) | star) & LUT_BASE[ref] & (t3 - t2 > 1)
        ok = np.zeros(len(g), bool)
        band = np.zeros(len(g), np.int64)
        ploidy = np.zeros(len(g), np.int64)
        vals = {k: (np.zeros(len(g), np.int64), np.zeros(len(g), bool)) for k in ("DP", "MIN_DP")}
        # FORMAT: group the few distinct strings (compared as 4 words and a length)
        fstart = t7 + 1
        flen = t8 - t7 - 1
        todo = np.flatnonzero(cand & (flen >= 2) & (flen <= 32))
        while len(todo):
            i0 = todo[0]
            f0 = int(flen[i0])
            same_m = flen[todo] == f0
            for k in range(0, f0, 8):  # compare with the first line's FORMAT, 8 bytes at a time
                mask = _MASKS[min(f0 - k, 8)]
                same_m &= (v64[fstart[todo] + k] & mask) == (v64[fstart[i0] + k] & mask)
            same = todo[same_m]
            todo = todo[~same_m]
            keys = data[int(fstart[i0]): int(fstart[i0] + flen[i0])].split(b":")
            if keys[0] != b"GT":
                continue
            r_ok, r_band, r_ploidy, r_vals = self._samples(v64, t8[same] + 1, keys)
            ok[same] = r_ok
            band[same] = r_band
            ploidy[same] = r_ploidy
            for name in vals:
                vals[name][0][same] = r_vals[name][0]
                vals[name][1][same] = r_vals[name][1]
        L.m[g] = ok
        L.band[g] = band
        L.ploidy[g] = ploidy
        L.dp[g], L.dp_known[g] = vals["DP"]
        L.min_dp[g], L.min_known[g] = vals["MIN_DP"]
        L.ref[g] = ref
        L.star[g] = star
        return L

    @staticmethod
    def _fields(
        a: np.ndarray, v64: np.ndarray, tabs: np.ndarray, end_tab: np.ndarray, good: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """POS, END and "is a reference block" of every line (what the intake scan passes in)."""
        n = len(end_tab)
        pos = np.zeros(n, np.int64)
        end = np.zeros(n, np.int64)
        block = np.zeros(n, bool)
        gi = np.flatnonzero(good)
        if not len(gi):
            return pos, end, block
        t = tabs[end_tab[gi][:, None] - 9 + np.arange(9)]
        p, p_ok = parse_uint64(v64, t[:, 0] + 1, t[:, 1] - t[:, 0] - 1)
        alen = t[:, 4] - t[:, 3] - 1
        aw = v64[t[:, 3] + 1]
        sym = ((alen == 9) & (aw == W_NONREF) & (a[t[:, 3] + 9] == 62)) | (
            (alen == 3) & ((aw & U64(0xFFFFFF)) == W_STAR))
        ilen = t[:, 7] - t[:, 6] - 1
        has_end = (ilen > 4) & ((v64[t[:, 6] + 1] & U64(0xFFFFFFFF)) == W_END)
        e, e_ok = parse_uint64(v64, t[:, 6] + 5, ilen - 4)
        pos[gi] = np.where(p_ok, p, 0)
        end[gi] = np.where(has_end & e_ok, e, pos[gi] + (t[:, 3] - t[:, 2] - 1) - 1)
        block[gi] = sym & has_end & e_ok  # other INFO keys after END= make e_ok false: copied unchanged
        return pos, end, block

    def _samples(
        self, v64: np.ndarray, s: np.ndarray, keys: list[bytes]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Read GT, GQ, DP, MIN_DP (and PL[0] of no-calls) from sample columns starting at ``s``, whose FORMAT
        keys are ``keys`` (GT first): ``(readable, band, ploidy, {"DP"|"MIN_DP": (value, known)})``.

        Fields are walked with word-at-a-time (SWAR) arithmetic: each is a run of digits (or ``.``) ending in
        ``:`` (more fields follow) or the line's end.
        """
        n = len(s)
        gw = v64[s]
        w3 = gw & U64(0xFFFFFF)
        b1 = (gw >> U64(8)) & U64(0xFF)
        b3 = (gw >> U64(24)) & U64(0xFF)
        dip = (b1 == 47) | (b1 == 124)
        dip_ref = ((w3 == _W_HOMREF) | (w3 == _W_HOMREF_PHASED)) & ((b3 == 58) | (b3 == 10))
        dip_nc = ((w3 == _W_NOCALL) | (w3 == _W_NOCALL_PHASED)) & ((b3 == 58) | (b3 == 10))
        b0 = gw & U64(0xFF)
        hap_end = (b1 == 58) | (b1 == 10)
        hap_ref = (b0 == 48) & hap_end
        hap_nc = (b0 == 46) & hap_end
        readable = dip_ref | dip_nc | hap_ref | hap_nc
        ploidy = np.where(dip, 2, 1)
        more = np.where(dip, b3, b1) == 58
        start = s + np.where(dip, 4, 2)
        want = {k: keys.index(k) if k in keys else -1 for k in (b"GQ", b"DP", b"MIN_DP", b"PL")}
        values: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        last = max(want[b"GQ"], want[b"DP"], want[b"MIN_DP"])
        nocall = dip_nc | hap_nc
        pl0_zero = np.zeros(n, bool)
        check_pl = bool(nocall.any()) and want[b"PL"] > 0
        if check_pl:
            last = max(last, want[b"PL"])
        for k in range(1, last + 1):
            w = v64[start]
            ln = _digit_run(w)
            flen = ln + ((w & U64(0xFF)) == 46)  # "." is a field of one
            term = (w >> (flen.astype(np.uint64) << U64(3))) & U64(0xFF)  # garbage when flen is 8: unused
            here = more & (flen < 8) & ((term == 58) | (term == 10))
            for key in (b"GQ", b"DP", b"MIN_DP"):
                if want[key] == k:
                    values[key] = (_digits_value(w, ln), here & (ln >= 1))
            if check_pl and k == want[b"PL"]:
                nxt = (w >> U64(8)) & U64(0xFF)
                pl0_zero = more & ((w & U64(0xFF)) == 48) & ((nxt == 44) | (nxt == 58) | (nxt == 10))
            more = here & (term == 58)
            start = start + flen + 1
        zero = (np.zeros(n, np.int64), np.zeros(n, bool))
        gq, gq_known = values.get(b"GQ", zero)
        if check_pl:
            gq_known = gq_known & (~nocall | pl0_zero)
        elif nocall.any():
            gq_known = gq_known & ~nocall
        band = np.searchsorted(self.floors, np.where(gq_known, np.minimum(gq, 99), 0), side="right") - 1
        return readable, band, ploidy, {"DP": values.get(b"DP", zero), "MIN_DP": values.get(b"MIN_DP", zero)}

    # -- runs and output --------------------------------------------------------------------------
    def _process(
        self, data: bytes, nl: np.ndarray, tabs: np.ndarray, end_tab: np.ndarray | None,
        given: tuple[np.ndarray, np.ndarray, np.ndarray] | None, *, final: bool,
    ) -> None:
        if not len(nl):
            return
        L = self._parse(data, nl, tabs, end_tab, given)
        n = L.n
        m = L.m
        prev = np.r_[0, np.arange(n - 1)]
        brk = ~m | L.chrom_change | np.r_[True, ~m[:-1]]
        brk |= (L.band != L.band[prev]) | (L.ploidy != L.ploidy[prev]) | (L.pos != L.end[prev] + 1)
        brk[0] = True
        run_start = m & brk
        # a run reaching the end of the chunk may continue in the next one: carry its lines
        stop = n
        if not final and m[-1]:
            r0 = int(np.flatnonzero(run_start)[-1])
            if int(L.nl[-1] + 1 - L.starts[r0]) <= _CARRY_LIMIT:
                stop = r0
            else:  # an enormous run: copy it unchanged rather than risk an unsorted cut at the chunk edge
                m[r0:] = False
                run_start[r0:] = False
        if stop < n:
            s0 = int(L.starts[stop])
            t0, t1 = np.searchsorted(tabs, [s0, int(L.nl[-1])])
            self._carry = _Carry(
                data=data[s0: int(L.nl[-1]) + 1], nl=L.nl[stop:] - s0, tabs=tabs[t0:t1] - s0,
                end_tab=L.end_tab[stop:] - t0,
                pos=given[0][stop:] if given else None, end=given[1][stop:] if given else None,
                block=given[2][stop:] if given else None,
            )
        if stop == 0:
            return
        self._emit(data, L, m[:stop].copy(), run_start[:stop].copy(), stop)
        self._last_chrom = L.names[int(L.cid[stop - 1])]

    def _emit(self, data: bytes, L: _Lines, m: np.ndarray, run_start: np.ndarray, stop: int) -> None:
        """Write lines ``[0, stop)``: runs of mergeable blocks as re-banded blocks, everything else as is."""
        runs = np.flatnonzero(run_start)
        # the last line of each run (a run is a stretch of mergeable lines)
        run_end = np.r_[runs[1:], stop]
        nonm = np.r_[np.flatnonzero(~m), stop]
        last = np.minimum(run_end, nonm[np.searchsorted(nonm, runs)]) - 1
        # a run that the next record overlaps is copied unchanged (a cut could land after that record)
        nxt = np.minimum(last + 1, L.n - 1)
        overlap = (last + 1 < L.n) & ~L.chrom_change[nxt] & (L.pos[nxt] <= L.end[last])
        if overlap.any():
            for r in np.flatnonzero(overlap).tolist():
                m[runs[r]: last[r] + 1] = False
            runs, last = runs[~overlap], last[~overlap]
        n_m = int(m.sum())
        copied_blocks = np.flatnonzero(~m & L.block[:stop])
        if len(copied_blocks):
            longest = int((L.end[copied_blocks] - L.pos[copied_blocks]).max()) + 1
            self.result.max_block = max(self.result.max_block, longest)
        self.result.n_blocks_in += n_m
        self.result.n_copied += stop - n_m
        lines, run_lo, run_hi = self._pieces(L, m, runs, last)
        # output in line order: copied stretches, and the blocks of each run
        copy_start = np.flatnonzero(~m & np.r_[True, m[:-1]])
        copy_end = np.flatnonzero(~m & np.r_[m[1:], True])
        segs = [data[a0: a1 + 1] for a0, a1 in zip(L.starts[copy_start].tolist(), L.nl[copy_end].tolist(),
                                                   strict=True)]
        if self.recode:
            segs = [self._recode_lines(seg) for seg in segs]
        # items: the copied stretches, then every block line; put them in line order
        n_copy = len(copy_start)
        n_run_lines = np.asarray(run_hi, np.int64) - np.asarray(run_lo, np.int64)
        ev = np.argsort(np.r_[copy_start, runs], kind="stable")
        size = np.where(ev < n_copy, 1, n_run_lines[np.maximum(ev - n_copy, 0)])
        first = np.where(ev < n_copy, ev, n_copy + np.asarray(run_lo, np.int64)[np.maximum(ev - n_copy, 0)])
        order = np.repeat(first - np.cumsum(size) + size, size) + np.arange(int(size.sum()))
        items = segs + lines
        self._out.write(b"".join([items[i] for i in order.tolist()]))

    def _recode_lines(self, seg: bytes) -> bytes:
        lines = seg.split(b"\n")
        out = []
        for ln in lines[:-1]:
            tab = ln.find(b"\t")
            new = self.recode.get(ln[:tab]) if tab > 0 else None
            out.append(new + ln[tab:] if new is not None else ln)
        return b"\n".join(out) + b"\n"

    def _pieces(
        self, L: _Lines, m: np.ndarray, runs: np.ndarray, last: np.ndarray
    ) -> tuple[list[bytes], list[int], list[int]]:
        """Cut each run into blocks of at most ``max_block_length`` bases: their lines, and each run's range
        in that list."""
        if not len(runs):
            return [], [], []
        lim = self.settings.max_block_length
        idx = np.flatnonzero(m)
        S = L.pos[runs]
        E = L.end[last]
        # cuts at the same positions in every sample (k * lim + 1): fewer distinct block starts in the cohort
        g0 = (S - 1) // lim
        nk = (E - 1) // lim - g0 + 1
        prun = np.repeat(np.arange(len(runs)), nk)
        first_piece = np.cumsum(nk) - nk
        k = np.arange(int(nk.sum())) - np.repeat(first_piece, nk)
        ps = np.where(k == 0, S[prun], (g0[prun] + k) * lim + 1)
        pe = np.minimum((g0[prun] + k + 1) * lim, E[prun])
        # the block holding a position: mergeable lines keyed by (run, POS), increasing
        rid = np.searchsorted(runs, idx, side="right") - 1
        key = rid.astype(np.int64) * (1 << 33) + L.pos[idx]
        ea = np.searchsorted(key, prun * (1 << 33) + ps, side="right") - 1
        eb = np.searchsorted(key, prun * (1 << 33) + pe, side="right") - 1
        bpos = L.pos[idx]
        blen = L.end[idx] - bpos + 1
        dpk = L.dp_known[idx]
        rate = np.where(dpk, L.dp[idx], 0).astype(np.float64)
        known = dpk.astype(np.float64)
        c_dp = np.r_[0.0, np.cumsum(rate * blen)]
        c_n = np.r_[0.0, np.cumsum(known * blen)]
        sum_dp = (c_dp[eb] + rate[eb] * (pe - bpos[eb] + 1)) - (c_dp[ea] + rate[ea] * (ps - bpos[ea]))
        n_dp = (c_n[eb] + known[eb] * (pe - bpos[eb] + 1)) - (c_n[ea] + known[ea] * (ps - bpos[ea]))
        dp_miss = n_dp <= 0
        dp_out = np.where(dp_miss, 0, np.floor(sum_dp / np.where(dp_miss, 1, n_dp) + 0.5)).astype(np.int64)
        big = np.int64(1) << 40
        mins = np.where(L.min_known[idx], L.min_dp[idx], np.where(dpk, L.dp[idx], big))
        inter = np.empty(2 * len(ea), np.int64)
        inter[0::2] = ea
        inter[1::2] = eb + 1
        min_out = np.minimum.reduceat(np.r_[mins, big], inter)[0::2]
        min_miss = min_out >= big
        first_line = idx[ea]
        band = L.band[first_line]
        keep = np.ones(len(ps), bool)
        if self.settings.gq0 == "drop":
            keep = band > 0
            self.result.n_gq0_dropped += int((~keep).sum())
            self.result.bases_gq0_dropped += int((pe - ps + 1)[~keep].sum())
        # REF: the input block's base where a block starts, else the FASTA's (or N)
        at_start = bpos[ea] == ps
        ref = np.where(at_start, L.ref[first_line], ord("N")).astype(np.int64)
        if self._fasta_path and not at_start.all():
            ref = self._fasta_bases(L, first_line, ps, ref, at_start)
        if keep.any():
            self.result.max_block = max(self.result.max_block, int((pe - ps)[keep].max()) + 1)
        lines = self._format(L, keep, first_line, ps, pe, ref, dp_out, dp_miss, self.floors[band],
                             np.where(min_miss, 0, min_out), min_miss)
        self.result.n_blocks_out += len(lines)
        kept_before = np.r_[0, np.cumsum(keep)]
        return lines, kept_before[first_piece].tolist(), kept_before[first_piece + nk].tolist()

    def _format(
        self, L: _Lines, keep: np.ndarray, line: np.ndarray, ps: np.ndarray, pe: np.ndarray, ref: np.ndarray,
        dp: np.ndarray, dp_miss: np.ndarray, gq: np.ndarray, mn: np.ndarray, mn_miss: np.ndarray,
    ) -> list[bytes]:
        """The text of the kept blocks (one ``bytes`` per line), formatted per contig."""
        sel = np.flatnonzero(keep)
        cid = L.cid[line[sel]]
        out: list[bytes] = []
        bounds = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1], True])
        alts = np.array([b"<NON_REF>", b"<*>"], dtype=object)
        gts = np.array([b"0/0", b"0"], dtype=object)
        for b0, b1 in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            s = sel[b0:b1]
            chrom = L.names[int(cid[b0])]
            chrom = self.recode.get(chrom, chrom)
            fmt = chrom + b"\t%d\t.\t%c\t%s\t.\t.\tEND=%d\t" + _BLOCK_FORMAT + b"\t%s:%d:%d:%d\n"
            cols = (ps[s].tolist(), ref[s].tolist(), alts[L.star[line[s]].astype(int)].tolist(), pe[s].tolist(),
                    gts[(L.ploidy[line[s]] == 1).astype(int)].tolist(), dp[s].tolist(), gq[s].tolist(),
                    mn[s].tolist())
            out += [fmt % r for r in zip(*cols, strict=True)]
        miss = np.flatnonzero((dp_miss | mn_miss)[sel])
        for j in miss.tolist():  # rare: a block without DP or MIN_DP
            i = sel[j]
            parts = out[j].rsplit(b"\t", 1)
            gt = parts[1].split(b":")[0]
            out[j] = parts[0] + b"\t" + b":".join(
                [gt, b"." if dp_miss[i] else b"%d" % dp[i], b"%d" % gq[i], b"." if mn_miss[i] else b"%d" % mn[i]]
            ) + b"\n"
        return out

    def _fasta_bases(
        self, L: _Lines, line: np.ndarray, ps: np.ndarray, ref: np.ndarray, at_start: np.ndarray
    ) -> np.ndarray:
        import pysam

        if self._fasta is None:
            self._fasta = pysam.FastaFile(str(self._fasta_path))
        out = ref.copy()
        for j in np.flatnonzero(~at_start).tolist():
            chrom = L.names[int(L.cid[line[j]])]
            chrom = self.recode.get(chrom, chrom)
            try:
                base = self._fasta.fetch(chrom.decode(), int(ps[j]) - 1, int(ps[j])).upper()
            except (KeyError, ValueError):
                base = ""
            if base and base in "ACGTN":
                out[j] = ord(base)
        return out


# ---------------------------------------------------------------------------------------------------
# one file on its own
# ---------------------------------------------------------------------------------------------------


def reblock_gvcf(
    src: str | Path,
    dst: str | Path,
    *,
    bands: Sequence[int] = DEFAULT_GQ_BANDS,
    max_block: int = 1000,
    gq0: str = "no_call",
    contig_recoding: Mapping[str, str] | None = None,
    fasta: str | None = None,
) -> ReblockResult:
    """Reblock one bgzipped gVCF ``src`` into ``dst`` (+ ``dst.tbi``); see the module docstring.

    Streams ``src`` once. Raises :class:`~callset.errors.CallsetError` naming the file when it does not decode;
    content problems are intake's business (:func:`callset.intake.checks.scan_gvcf` reblocks in its own pass).
    """
    from callset.errors import CallsetError
    from callset.intake.checks.files import Decoded, decode_member

    rb = Reblocker(dst, ReblockSettings(gq_bands=tuple(bands), gq0=gq0, max_block_length=max_block),
                   contig_recoding=contig_recoding, fasta=fasta)
    st = Decoded()
    header: list[str] = []
    carry = b""
    in_header = True
    try:
        for piece in decode_member(Path(src), st):
            text = carry + piece
            if in_header:
                pos = 0
                while pos < len(text) and text[pos: pos + 1] == b"#":
                    nl = text.find(b"\n", pos)
                    if nl < 0:
                        break
                    header.append(text[pos:nl].decode("utf-8", "replace"))
                    pos = nl + 1
                if pos < len(text) and text[pos: pos + 1] != b"#":
                    in_header = False
                    rb.header(header)
                text = text[pos:]
                if in_header:
                    carry = text
                    continue
            cut = text.rfind(b"\n")
            carry = text[cut + 1:]
            rb.records(text[: cut + 1])
        if in_header:
            rb.header(header)
        if carry:
            rb.records(carry + b"\n")
    except BaseException:
        rb.abort()
        raise
    if st.problems:
        rb.abort()
        raise CallsetError(f"{src}: cannot reblock: {st.problems[0]}")
    res = rb.finish()
    log.info("%s: %s", dst, res.summary())
    return res

