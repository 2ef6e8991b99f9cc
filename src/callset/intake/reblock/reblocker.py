"""The streaming reblocker: chunks of record lines in, a bgzipped, tabix-indexed reblocked gVCF out.

It reads each chunk's fields (:mod:`.fields`), finds and cuts the runs of mergeable blocks (:mod:`.bands`) and
writes the blocks and the copied lines in order (:mod:`.writer`); a run that reaches the end of a chunk is held
back until the next one, since it may continue there.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callset.core.bgzf import BgzfWriter
from callset.intake.reblock.bands import cut_runs, mergeable_runs, run_starts
from callset.intake.reblock.fields import PAD, Lines, parse_lines
from callset.intake.reblock.settings import ReblockResult, ReblockSettings
from callset.intake.reblock.writer import FastaBases, format_blocks, header_text, in_line_order

_CARRY_LIMIT = 64 << 20  # a trailing run of blocks longer than this is copied, not carried to the next chunk


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
        self.dst = Path(dst)
        self.settings = settings or ReblockSettings()
        self.recode = {k.encode(): v.encode() for k, v in (contig_recoding or {}).items()}
        self.floors = np.array(self.settings.gq_bands, np.int64)
        self.tmp = self.dst.with_name(self.dst.name + ".partial")
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        self._fasta = FastaBases(fasta) if fasta else None
        # BGZF at compression level 1, deflated with ISA-L (3-4x zlib's speed; htslib indexes it in finish())
        self._out = BgzfWriter(self.tmp, level=1)
        self._carry = _Carry()
        self._last_chrom: bytes | None = None  # contig of the last line written
        self.result = ReblockResult(path=self.dst, index=Path(f"{self.dst}.tbi"), md5="", size=0,
                                    settings=self.settings.record())
        self._closed = False
        # the work runs in a second thread, overlapping the caller's decoding and checking of the next chunk
        # (numpy and htslib's tabix run outside the GIL); chunks are handed over in order through a short queue
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
        self._submit(self._out.write, header_text(lines, self.settings, self.recode))

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
            data = c.data + buf + PAD
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
            data = buf + PAD
        self._carry = _Carry()
        self._process(data, nl, tabs, end_tab, given, final=False)

    def finish(self) -> ReblockResult:
        """Write what is pending, close, index (tabix) and move the file into place."""
        self._join()
        self._finalize()
        return self.result

    def finish_in_background(self) -> None:
        """:meth:`finish` left to the reblocking thread (intake scans the next file meanwhile); :meth:`wait`
        returns the result."""
        if self._queue is None:
            try:
                self._finalize()
            except BaseException as e:  # noqa: BLE001 - re-raised by wait(), as from the thread
                self._error = e
        else:
            self._submit(self._finalize)

    def wait(self) -> ReblockResult:
        """The result of a :meth:`finish` in the background, once the file is in place (its error re-raised)."""
        self._join()
        return self.result

    def _finalize(self) -> None:
        import pysam

        from callset.intake.checks.files import md5sum

        c = self._carry
        if c.data:
            self._carry = _Carry()
            given = None if c.pos is None or c.end is None or c.block is None else (c.pos, c.end, c.block)
            self._process(c.data + PAD, c.nl, c.tabs, c.end_tab, given, final=True)
        self._out.close()
        self._closed = True
        if self._fasta is not None:
            self._fasta.close()
        pysam.tabix_index(str(self.tmp), preset="vcf", force=True)
        Path(f"{self.tmp}.tbi").replace(self.result.index)
        self.tmp.replace(self.dst)
        self.result.md5 = md5sum(self.dst)
        self.result.size = self.dst.stat().st_size

    def abort(self) -> None:
        """Stop and remove the partial output (a rejected file)."""
        try:
            self._join()
        except BaseException:  # noqa: BLE001 - the file is being thrown away: its error does not matter
            pass
        if not self._closed:
            self._out.close()
            self._closed = True
        if self._fasta is not None:
            self._fasta.close()
        for p in (self.tmp, Path(f"{self.tmp}.tbi")):
            p.unlink(missing_ok=True)


    # -- runs and output --------------------------------------------------------------------------
    def _process(
        self, data: bytes, nl: np.ndarray, tabs: np.ndarray, end_tab: np.ndarray | None,
        given: tuple[np.ndarray, np.ndarray, np.ndarray] | None, *, final: bool,
    ) -> None:
        if not len(nl):
            return
        L = parse_lines(data, nl, tabs, end_tab, given, floors=self.floors, last_chrom=self._last_chrom)
        n = L.n
        m = L.m
        run_start = run_starts(L)
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

    def _emit(self, data: bytes, L: Lines, m: np.ndarray, run_start: np.ndarray, stop: int) -> None:
        """Write lines ``[0, stop)``: runs of mergeable blocks as re-banded blocks, everything else as is."""
        res = self.result
        runs, last = mergeable_runs(L, m, run_start, stop)
        n_m = int(m.sum())
        copied_blocks = np.flatnonzero(~m & L.block[:stop])
        if len(copied_blocks):
            longest = int((L.end[copied_blocks] - L.pos[copied_blocks]).max()) + 1
            res.max_block = max(res.max_block, longest)
        res.n_blocks_in += n_m
        res.n_copied += stop - n_m
        p = cut_runs(L, m, runs, last, max_block_length=self.settings.max_block_length,
                     drop_gq0=self.settings.gq0 == "drop")
        lines: list[bytes] = []
        run_lo: list[int] = []
        run_hi: list[int] = []
        if p is not None:
            res.n_gq0_dropped += int((~p.keep).sum())
            res.bases_gq0_dropped += int((p.pe - p.ps + 1)[~p.keep].sum())
            if self._fasta is not None and not p.at_start.all():
                p.ref = self._fasta.fill(L, p, self.recode)
            if p.keep.any():
                res.max_block = max(res.max_block, int((p.pe - p.ps)[p.keep].max()) + 1)
            lines = format_blocks(L, p, self.floors[p.band], self.recode)
            res.n_blocks_out += len(lines)
            run_lo, run_hi = p.kept_ranges()
        self._out.write(in_line_order(data, L, m, runs, lines, run_lo, run_hi, self.recode))
