"""One-pass gVCF content scan (numpy-vectorised, with a line-by-line fallback that names each problem)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from callset.core.reference import Reference
from callset.intake.checks.files import VALID_BASES, Decoded, decode_member
from callset.intake.checks.gvcf_header import GvcfHeader, htslib_header_check, parse_header
from callset.intake.checks.gvcf_vec import check_fields, gather
from callset.intake.checks.refcheck import RefChecker
from callset.intake.identity import Fingerprint, FingerprintCollector
from callset.intake.panel import Panel

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------
# gVCF scan
# ---------------------------------------------------------------------------------------------------


@dataclass
class GvcfScan:
    """What one streaming pass over a gVCF found."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extents: dict[str, tuple[int, int]] = field(
        default_factory=dict
    )  # recoded contig -> (first POS, last END)
    n_records: int = 0
    n_variant_records: int = 0
    needs_recoding: bool = False
    md5: str = ""
    compression: str = ""
    complete: bool = False  # whole file decoded
    contig_counts: dict[str, int] = field(default_factory=dict)  # contig as in the file -> records
    contig_last_pos: dict[str, int] = field(default_factory=dict)  # contig as in the file -> last POS
    #: genotypes at the identity panel's sites (when a panel was given)
    fingerprint: Fingerprint | None = None
    #: variant records sharing a POS with the previous variant record: (line, contig, POS), first few
    same_pos_variants: list[tuple[int, str, int]] = field(default_factory=list)
    n_same_pos_variants: int = 0
    header_lines: list[str] = field(default_factory=list)


class RecordSink(Protocol):
    """Takes the text the scan reads, in the same pass (e.g. :class:`callset.intake.reblock.Reblocker`)."""

    def header(self, lines: list[str]) -> None: ...

    def records(
        self, buf: bytes, nl: np.ndarray, tabs: np.ndarray, *, end_tab: np.ndarray, pos: np.ndarray,
        end: np.ndarray, block: np.ndarray,
    ) -> None: ...


#: a newline followed by a line that is not a header line (``#...``): where the records start
_RECORD_START = re.compile(rb"\n[^#]")


@dataclass
class _Lines:
    """Where the lines of one buffer of complete records, and their tabs, are."""

    a: np.ndarray  # the buffer's bytes
    nl: np.ndarray  # offset of each line's newline
    starts: np.ndarray  # offset of each line's first byte
    tabs: np.ndarray  # offset of every tab
    end_tab: np.ndarray  # per line: index in ``tabs`` of the first tab after the line
    ntabs: np.ndarray  # per line: number of tabs
    chrom_len: np.ndarray  # per line: length of CHROM (up to the first tab, or the whole line)

    @classmethod
    def of(cls, buf: bytes) -> _Lines | None:
        """The lines of ``buf`` (ends with a newline); None when it holds none."""
        a = np.frombuffer(buf, np.uint8)
        nl = np.flatnonzero(a == 10)
        n = len(nl)
        if n == 0:
            return None
        starts = np.empty(n, np.int64)
        starts[0] = 0
        starts[1:] = nl[:-1] + 1
        tabs = np.flatnonzero(a == 9)
        end_tab = np.searchsorted(tabs, nl)
        ntabs = np.diff(end_tab, prepend=0)
        # CHROM of every line: up to the first tab (or the whole line)
        first_tab_i = end_tab - ntabs
        first_tab = np.where(
            ntabs > 0, tabs[np.clip(first_tab_i, 0, max(len(tabs) - 1, 0))] if len(tabs) else nl, nl
        )
        return cls(a, nl, starts, tabs, end_tab, ntabs, first_tab - starts)


class _Scanner:
    """Checks decoded gVCF text fed in pieces; results go into ``out``."""

    def __init__(
        self,
        path: Path,
        sample_id: str,
        reference: Reference,
        recode: Mapping[str, str],
        out: GvcfScan,
        max_problems: int,
        sink: RecordSink | None = None,
        refcheck: RefChecker | None = None,
        fingerprint: FingerprintCollector | None = None,
    ) -> None:
        self.path = path
        self.sample_id = sample_id
        self.ref = reference
        self.recode = recode
        self.out = out
        self.max_problems = max_problems
        self.counts: dict[str, int] = {}
        self.header_lines: list[str] = []
        self.header: GvcfHeader | None = None
        self.carry = b""
        self.line_no = 0  # lines consumed so far (1-based numbering of the next is line_no + 1)
        self.rec_no = 0
        self.last_chrom: bytes | None = None
        self.last_pos = 0
        self.done_contigs: set[bytes] = set()
        self.contig_ok: dict[bytes, bool] = {}
        self.has_ref_block = False
        self.ncols = 10
        self.sink = sink
        self.refcheck = refcheck
        self.fp = fingerprint
        self.last_variant: tuple[bytes, int] | None = None  # (contig, POS) of the last variant record

    # -- problems ---------------------------------------------------------------------------------
    def problem(self, kind: str, msg: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= self.max_problems:
            self.out.problems.append(msg)

    def where(self, line_no: int, chrom: str | None = None, pos: int | None = None) -> str:
        loc = f" ({chrom}:{pos})" if chrom is not None and pos is not None else ""
        rec = line_no - (self.header.n_lines if self.header else 0)
        return f"{self.path}: line {line_no} (record {rec}){loc}"

    # -- feeding ----------------------------------------------------------------------------------
    def feed(self, text: bytes) -> None:
        if self.carry:
            text = self.carry + text
            self.carry = b""
        if self.header is None:
            text = self._header_part(text)
            if self.header is None or not text:
                return
        cut = text.rfind(b"\n")
        if cut < 0:
            self.carry = text
            return
        self.carry = text[cut + 1 :]
        self._records(text[: cut + 1])

    def finish(self) -> None:
        if self.header is None:
            rest = self.carry
            self.carry = b""
            if rest:
                self._header_part(rest + (b"" if rest.endswith(b"\n") else b"\n"))
            if self.header is None:
                self._set_header()
        if self.carry:
            self._records(self.carry + b"\n")
            self.carry = b""

    def _header_part(self, text: bytes) -> bytes:
        """Take the header lines at the start of ``text``; return what follows them (the first records), or b""
        when the header may continue in the next piece (an unfinished line is carried). One regex search and one
        split for the whole header (a GRCh38 header has ~3,400 lines)."""
        if not text or text[:1] != b"#":
            if text:
                self._set_header()
            return text
        m = _RECORD_START.search(text)
        if m is None:  # every complete line is a header line
            cut = text.rfind(b"\n")
            if cut < 0:
                self.carry = text
                return b""
            self.header_lines.extend(text[:cut].decode("utf-8", "replace").split("\n"))
            self.carry = text[cut + 1 :]
            return b""
        end = m.start()  # the newline ending the last header line
        self.header_lines.extend(text[:end].decode("utf-8", "replace").split("\n"))
        self._set_header()
        return text[end + 1 :]

    def _set_header(self) -> None:
        self.out.header_lines = self.header_lines
        h, problems = parse_header(self.header_lines, self.path)
        self.header = h
        self.line_no = h.n_lines
        self.out.problems.extend(problems)
        if self.sink is not None:
            self.sink.header(self.header_lines)
        self.ncols = len(h.columns) if h.columns else 10
        if len(h.samples) != 1:
            self.out.problems.append(
                f"{self.path}: header has {len(h.samples)} sample columns {h.samples[:5]}, expected exactly 1"
            )
        elif h.samples[0] != self.sample_id:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", h.samples[0]):
                self.out.problems.append(
                    f"{self.path}: line {h.n_lines}: header sample name {h.samples[0]!r} "
                    "is not a valid sample ID"
                )
            self.out.problems.append(
                f"{self.path}: header sample name {h.samples[0]!r} does not match manifest sample_id "
                f"{self.sample_id!r}"
            )
        wrong_len, unknown = [], []
        for name, ln in h.contigs.items():
            target = self.recode.get(name, name)
            ref_len = self.ref.lengths.get(target)
            if ref_len is None:
                unknown.append(name)
            elif ln is not None and ln != ref_len:
                wrong_len.append(f"{name} ({ln} vs {self.ref.name} {ref_len})")
        if wrong_len:
            self.out.problems.append(
                f"{self.path}: {len(wrong_len)} header contig lengths differ from {self.ref.name}, e.g. "
                f"{', '.join(wrong_len[:3])} (wrong reference build?)"
            )
        if unknown:
            msg = (
                f"{self.path}: {len(unknown)} of {len(h.contigs)} header contigs are not in {self.ref.name} "
                f"(after contig_recoding), e.g. {unknown[:3]}"
            )
            if len(unknown) * 2 > len(h.contigs):
                self.out.problems.append(msg + " (wrong reference build or contig naming?)")
            else:
                self.out.notes.append(msg)

    # -- records ----------------------------------------------------------------------------------
    def _records(self, buf: bytes) -> None:
        """Check complete lines in ``buf`` (ends with a newline)."""
        lines = _Lines.of(buf)
        if lines is None:
            return
        n = len(lines.nl)
        first_line = self.line_no + 1
        self.line_no += n
        self.rec_no += n
        pos, end, is_block = self._check_lines(buf, lines, first_line)
        self.out.n_variant_records += int(n - is_block.sum())
        self.has_ref_block = self.has_ref_block or bool(is_block.any())
        runs = self._order_and_contigs(lines, pos, end, first_line)
        self._per_contig(buf, lines, pos, end, is_block, runs, first_line)
        if self.sink is not None:
            self.sink.records(buf, lines.nl, lines.tabs, end_tab=lines.end_tab, pos=pos, end=end, block=is_block)

    def _check_lines(self, buf: bytes, lines: _Lines, first_line: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every line's ``(POS, END, is reference block)`` (0s when unusable): lines with the header's ten columns
        go through the vectorised check (:func:`check_fields`); the rest, and the lines it flags, through
        :meth:`_check_record`, which names each problem."""
        n = len(lines.nl)
        need = self.ncols - 1
        # per-line flags: True = needs the detailed Python check
        flag = lines.ntabs != need
        if need != 9:
            flag[:] = True
        good = np.flatnonzero(~flag)
        pos = np.zeros(n, np.int64)
        end = np.zeros(n, np.int64)
        is_block = np.zeros(n, bool)
        if len(good):
            fields = check_fields(lines.a, buf, lines.tabs, lines.end_tab, lines.nl, good)
            flag[good[fields.bad]] = True
            pos[good] = fields.pos
            end[good] = fields.end
            is_block[good] = fields.block
        for i in np.flatnonzero(flag).tolist():
            line = buf[int(lines.starts[i]) : int(lines.nl[i])]
            r = self._check_record(line, first_line + i)
            pos[i], end[i], is_block[i] = r
        return pos, end, is_block

    def _per_contig(
        self, buf: bytes, lines: _Lines, pos: np.ndarray, end: np.ndarray, is_block: np.ndarray,
        runs: list[tuple[bytes, int, int]], first_line: int,
    ) -> None:
        """Checks that need each record's contig: variant records at one POS, REF against the FASTA, and the
        identity fingerprint (records overlapping panel sites)."""
        a, tabs, first_tab, ntabs = lines.a, lines.tabs, lines.end_tab - lines.ntabs, lines.ntabs
        line_no = first_line + np.arange(len(pos))
        for name, rs, re_ in runs:
            chrom = name.decode("utf-8", "replace")
            sl = slice(rs, re_)
            self._same_pos(name, line_no[sl], pos[sl], is_block[sl])
            if self.refcheck is not None:
                nt = ntabs[sl]
                ft = np.clip(first_tab[sl], 0, max(len(tabs) - 4, 0))
                has = (nt >= 4) & (pos[sl] > 0)
                if len(tabs) >= 4 and has.any():
                    b = tabs[ft + 2] + 1
                    ln = tabs[ft + 3] - b
                    self.refcheck.check(chrom, a, line_no[sl][has], pos[sl][has], b[has], ln[has])
            if self.fp is not None:
                target = self.recode.get(chrom, chrom)
                lo_hi = self.fp.panel.by_contig.get(target)
                if lo_hi is None:
                    continue
                sites = self.fp.panel.pos[lo_hi[0] : lo_hi[1]]
                p, e = pos[sl], end[sl]
                hit = np.flatnonzero(
                    (p > 0) & (np.searchsorted(sites, e, "right") > np.searchsorted(sites, p, "left")))
                for i in (hit + rs).tolist():
                    self._fingerprint_record(chrom, buf[int(lines.starts[i]) : int(lines.nl[i])],
                                             bool(is_block[i]), int(end[i]))

    def _same_pos(self, name: bytes, line_no: np.ndarray, pos: np.ndarray, is_block: np.ndarray) -> None:
        var = np.flatnonzero(~is_block & (pos > 0))
        if not len(var):
            return
        vp = pos[var]
        prev = np.empty(len(var), np.int64)
        prev[1:] = vp[:-1]
        prev[0] = self.last_variant[1] if self.last_variant and self.last_variant[0] == name else -1
        same = np.flatnonzero(vp == prev)
        self.last_variant = (name, int(vp[-1]))
        if len(same):
            self.out.n_same_pos_variants += len(same)
            chrom = name.decode("utf-8", "replace")
            for j in same[: max(0, 20 - len(self.out.same_pos_variants))].tolist():
                self.out.same_pos_variants.append((int(line_no[var[j]]), chrom, int(vp[j])))

    def _fingerprint_record(self, chrom: str, raw: bytes, is_block: bool, end: int) -> None:
        assert self.fp is not None
        f = raw.decode("utf-8", "replace").rstrip("\r").split("\t")
        if len(f) < 10:
            return
        keys = f[8].split(":")
        vals = f[9].split(":")
        gq_s = vals[keys.index("GQ")] if "GQ" in keys and keys.index("GQ") < len(vals) else ""
        self.fp.add(chrom, int(f[1]), end if is_block else None, f[3], f[4].split(","), vals[0],
                    int(gq_s) if gq_s.isdigit() else None)

    def _order_and_contigs(
        self, lines: _Lines, pos: np.ndarray, end: np.ndarray, first_line: int
    ) -> list[tuple[bytes, int, int]]:
        """Sortedness, contigs and extents; returns the runs of one contig ``(name, first, last + 1)``."""
        ch, change, runs = self._contig_runs(lines)
        self._check_sorted(ch, lines.chrom_len, change, pos, first_line)
        for name, rs, re_ in runs:
            self._contig_run(name, rs, re_, pos, end, first_line)
        return runs

    def _contig_runs(self, lines: _Lines) -> tuple[np.ndarray, np.ndarray, list[tuple[bytes, int, int]]]:
        """Each line's CHROM bytes (zero-padded), where a new contig starts (not at the first line when it
        continues the previous buffer's contig), and the runs of one contig ``(name, first, last + 1)``."""
        clen = lines.chrom_len
        n = len(clen)
        w = int(max(int(clen.max()), 1))
        ch = gather(lines.a, lines.starts, w)
        ch[np.arange(w) >= clen[:, None]] = 0
        change = np.ones(n, bool)
        if n > 1:
            change[1:] = (clen[1:] != clen[:-1]) | (ch[1:] != ch[:-1]).any(1)
        run_starts = np.flatnonzero(change)
        names = [bytes(ch[i, : clen[i]]) for i in run_starts.tolist()]
        if names and names[0] == self.last_chrom:
            change[0] = False
        run_ends = np.r_[run_starts[1:], n]
        return ch, change, list(zip(names, run_starts.tolist(), run_ends.tolist(), strict=True))

    def _check_sorted(
        self, ch: np.ndarray, clen: np.ndarray, change: np.ndarray, pos: np.ndarray, first_line: int
    ) -> None:
        """POS never decreases within a contig (nor across the buffer boundary)."""
        n = len(pos)
        prev = np.empty(n, np.int64)
        prev[0] = self.last_pos if not change[0] else 0
        prev[1:] = pos[:-1]
        prev[change] = 0
        unsorted = np.flatnonzero((pos < prev) & (pos > 0))
        for i in unsorted[: self.max_problems + 1].tolist():
            chrom = bytes(ch[i, : clen[i]]).decode("utf-8", "replace")
            self.problem(
                "sort",
                f"{self.where(first_line + i, chrom, int(pos[i]))}: records not sorted "
                f"(POS {pos[i]} after {prev[i]})",
            )
        if len(unsorted) > self.max_problems + 1:
            self.counts["sort"] += len(unsorted) - self.max_problems - 1

    def _contig_run(self, name: bytes, rs: int, re_: int, pos: np.ndarray, end: np.ndarray, first_line: int) -> None:
        """Lines ``rs:re_``, all on contig ``name``: contigs not revisited, the contig known (checked once per
        contig), record counts, extents, END within the contig."""
        chrom = name.decode("utf-8", "replace")
        line = first_line + rs
        if name != self.last_chrom:
            if name in self.done_contigs:
                self.problem(
                    "sort",
                    f"{self.where(line, chrom, int(pos[rs]))}: records not sorted "
                    f"(contig {chrom} seen before)",
                )
            if self.last_chrom is not None:
                self.done_contigs.add(self.last_chrom)
            self.last_chrom = name
        ok = self.contig_ok.get(name)
        target = self.recode.get(chrom, chrom)
        if chrom in self.recode:
            self.out.needs_recoding = True
        if ok is None:
            ok = self._known_contig(name, chrom, target, self.where(line, chrom, int(pos[rs])))
        self.out.contig_counts[chrom] = self.out.contig_counts.get(chrom, 0) + (re_ - rs)
        p = pos[rs:re_]
        e = end[rs:re_]
        valid = p > 0
        if ok and valid.any():
            self._extent(chrom, target, line, p, e, valid)
        if re_ > rs and pos[re_ - 1] > 0:
            self.last_pos = int(pos[re_ - 1])
            self.out.contig_last_pos[chrom] = self.last_pos

    def _known_contig(self, name: bytes, chrom: str, target: str, where: str) -> bool:
        """Whether the contig (``target`` after recoding) is in the reference; also that the header declares it."""
        ok = target in self.ref.lengths
        self.contig_ok[name] = ok
        if not ok:
            self.problem(
                "contig",
                f"{where}: contig {chrom!r} is not in {self.ref.name}"
                + (" (after contig_recoding)" if self.recode else ""),
            )
        assert self.header is not None
        if self.header.contigs and chrom not in self.header.contigs:
            self.problem("contig", f"{where}: contig {chrom!r} is not declared in the header")
        return ok

    def _extent(self, chrom: str, target: str, line: int, p: np.ndarray, e: np.ndarray, valid: np.ndarray) -> None:
        """Widen ``target``'s extent by one run's records (first line ``line``); END within the contig."""
        first = int(p[valid].min())
        last = int(e[valid].max())
        f0, l0 = self.out.extents.get(target, (first, last))
        self.out.extents[target] = (min(f0, first), max(l0, last))
        ln = self.ref.lengths[target]
        beyond = np.flatnonzero(e > ln)
        for j in beyond[: self.max_problems].tolist():
            self.problem(
                "len",
                f"{self.where(line + j, chrom, int(p[j]))}: END {e[j]} beyond {target} length {ln}",
            )

    def _check_record(self, raw: bytes, line_no: int) -> tuple[int, int, bool]:
        """Detailed check of one line; returns ``(pos, end, is_reference_block)`` (0s when unusable)."""
        line = raw.decode("utf-8", "replace")
        if line.endswith("\r"):
            self.problem("format", f"{self.where(line_no)}: CRLF line ending")
            line = line[:-1]
        if not line.strip():
            self.problem("format", f"{self.where(line_no)}: empty line")
            return 0, 0, False
        f = line.split("\t")
        chrom = f[0]
        if len(f) < 8:
            self.problem(
                "format",
                f"{self.where(line_no)}: only {len(f)} tab-separated columns "
                "(8 fixed + FORMAT + sample expected)",
            )
            return 0, 0, False
        try:
            pos = int(f[1])
            if pos < 1:
                raise ValueError
        except ValueError:
            self.problem("pos", f"{self.where(line_no)}: POS {f[1]!r} is not a positive integer")
            return 0, 0, False
        where = self.where(line_no, chrom, pos)
        if len(f) != self.ncols:
            self.problem("format", f"{where}: {len(f)} columns, header has {self.ncols}")
        ref, alts = f[3], f[4].split(",") if f[4] not in (".", "") else []
        if not VALID_BASES.match(ref):
            self.problem("ref", f"{where}: invalid REF {ref!r} (only A,C,G,T,N allowed)")
        for alt in alts:
            if not (VALID_BASES.match(alt) or alt == "*" or re.fullmatch(r"<[^<>,\s]+>", alt)):
                self.problem("alt", f"{where}: invalid ALT allele {alt!r} (bases, '*' or a symbolic <ID>)")
        end, is_block = self._check_end(f, where, pos, ref, alts)
        self._check_genotype(f, where, 1 + len(alts))
        return pos, end, is_block

    def _check_end(self, f: list[str], where: str, pos: int, ref: str, alts: list[str]) -> tuple[int, bool]:
        """INFO END (an integer, not before POS; required on a reference block); returns ``(END, is reference
        block)``, END being the last base of REF when there is none."""
        info = f[7]
        end_s = None
        for kv in info.split(";"):
            if kv.startswith("END="):
                end_s = kv[4:]
        is_block = end_s is not None and bool(alts) and all(a in ("<NON_REF>", "<*>") for a in alts)
        if end_s is not None:
            try:
                end = int(end_s)
            except ValueError:
                self.problem("end", f"{where}: INFO END={end_s!r} is not an integer")
                end = pos + max(len(ref), 1) - 1
            else:
                if end < pos:
                    self.problem("end", f"{where}: END {end} is before POS {pos}")
        else:
            end = pos + max(len(ref), 1) - 1
            if alts and all(a in ("<NON_REF>", "<*>") for a in alts):
                self.problem("end", f"{where}: reference block (ALT {f[4]}) without INFO END")
        return end, is_block

    def _check_genotype(self, f: list[str], where: str, n_alleles: int) -> None:
        """FORMAT starts with GT; the sample's GT has ploidy 1 or 2 and allele indices below ``n_alleles``."""
        if len(f) >= 10:
            fmt = f[8].split(":")
            sample = f[9]
            if sample in ("", "."):
                self.problem("gt", f"{where}: no value for the sample column")
            elif fmt[0] != "GT":
                self.problem("gt", f"{where}: FORMAT {f[8]!r} does not start with GT")
            else:
                gt = sample.split(":", 1)[0]
                alleles = re.split(r"[/|]", gt)
                if len(alleles) not in (1, 2):
                    self.problem("gt", f"{where}: GT {gt!r} has ploidy {len(alleles)} (1 or 2 expected)")
                for al in alleles:
                    if al == ".":
                        continue
                    if not al.isdigit():
                        self.problem("gt", f"{where}: GT {gt!r} is not a valid genotype")
                        break
                    if int(al) >= n_alleles:
                        self.problem(
                            "gt", f"{where}: GT {gt!r} allele index {al} out of range ({n_alleles} alleles)"
                        )
                        break
        elif len(f) >= 8:
            self.problem("gt", f"{where}: no FORMAT/sample columns")

    def summarize(self) -> None:
        for kind, n in self.counts.items():
            if n > self.max_problems:
                self.out.problems.append(
                    f"{self.path}: ... {n - self.max_problems} more {kind} problems not shown"
                )


def scan_gvcf(
    path: Path,
    *,
    sample_id: str,
    reference: Reference,
    contig_recoding: Mapping[str, str] | None = None,
    max_problems: int = 5,
    sink: RecordSink | None = None,
    reference_fasta: str | None = None,
    fingerprint_panel: Panel | None = None,
    fingerprint_min_gq: int = 20,
) -> GvcfScan:
    """Stream the whole gVCF once: raw bytes (md5, BGZF blocks, CRCs, EOF), header and every record.

    Checks: bgzip integrity (every block decodes, EOF marker); exactly one sample named ``sample_id``;
    gVCF-ness (reference blocks with END and a ``<NON_REF>``/``<*>`` allele); records sorted; END >= POS;
    REF/ALT bases; GT ploidy and allele indices; contigs known to ``reference`` with matching lengths
    after ``contig_recoding``; END within the contig. Collects per-contig extents for import partitioning
    and per-contig record counts (compared with the index by :func:`check_index`). At most
    ``max_problems`` record-level problems of each kind are listed.

    With ``reference_fasta``, every record's REF is compared with the FASTA (:mod:`refcheck`); with
    ``fingerprint_panel``, ``out.fingerprint`` holds the genotypes at the panel's sites
    (:class:`callset.intake.identity.FingerprintCollector`), both from the same pass. Variant records that share a
    POS are listed in ``out.same_pos_variants`` (:mod:`callset.intake.flavors` decides what to do with them).
    ``sink`` (e.g. a reblocker) is handed the header and every chunk of records as they are checked, so it needs
    no pass of its own.
    """
    path = Path(path)
    recode = dict(contig_recoding or {})
    out = GvcfScan()
    st = Decoded()
    refcheck = RefChecker(reference_fasta, recode) if reference_fasta else None
    fp = (FingerprintCollector(fingerprint_panel, contig_recoding=recode, min_gq=fingerprint_min_gq)
          if fingerprint_panel is not None else None)
    sc = _Scanner(path, sample_id, reference, recode, out, max_problems, sink=sink, refcheck=refcheck,
                  fingerprint=fp)
    try:
        for piece in decode_member(path, st):
            sc.feed(piece)
        sc.finish()
    except OSError as e:
        out.problems.append(f"{path}: cannot read: {e}")
    out.problems[:0] = st.problems
    sc.summarize()
    out.md5, out.compression, out.complete = st.md5, st.compression, st.complete
    out.n_records = sc.rec_no
    if sc.rec_no == 0:
        out.problems.append(f"{path}: no records")
    elif not sc.has_ref_block:
        out.problems.append(f"{path}: no reference blocks (<NON_REF>/<*> with END): not a gVCF")
    if out.compression == "bgzf" and out.complete and sc.header is not None and sc.header.columns:
        out.problems.extend(htslib_header_check(path))
    if refcheck is not None:
        out.problems.extend(refcheck.problems(path))
        out.notes.extend(refcheck.notes(path))
        refcheck.close()
    if fp is not None:
        out.fingerprint = fp.result()
    return out
