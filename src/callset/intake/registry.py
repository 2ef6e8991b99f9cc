"""The intake registry: batches, samples, files, decisions, research IDs and history, in SQLite.

SQLite by default (one file, transactions, safe for parallel Snakemake jobs through ``BEGIN IMMEDIATE``
and a busy timeout). All SQL lives in this module behind :class:`Registry`, so a server database could
replace it without touching callers.

Research IDs are random (``CS`` + 9 digits), generated with :mod:`secrets`, unique, and stored only
here; they reveal nothing about the center's sample ID.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callset.core.private_files import create_private_file, private_dir, write_private_text
from callset.intake.identity import Fingerprint, IdentitySettings, find_matches

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    manifest_md5 TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    n_accepted INTEGER NOT NULL,
    n_rejected INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS participants (
    sample_id TEXT PRIMARY KEY,
    research_id TEXT NOT NULL UNIQUE,
    first_batch_id TEXT NOT NULL,
    current_batch_id TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    withdrawn_at TEXT
);
CREATE TABLE IF NOT EXISTS submissions (
    batch_id TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
    reasons TEXT NOT NULL,
    resubmission INTEGER NOT NULL DEFAULT 0,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (batch_id, sample_id)
);
CREATE TABLE IF NOT EXISTS files (
    batch_id TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    md5 TEXT,
    size INTEGER,
    PRIMARY KEY (batch_id, sample_id, kind)
);
CREATE INDEX IF NOT EXISTS files_md5 ON files (md5);
-- registration order of batches (never changes once assigned) and a digest of the decisions last recorded
CREATE TABLE IF NOT EXISTS batch_state (
    batch_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    decisions_md5 TEXT NOT NULL
);
-- v3: identity fingerprints of every row that had one (planes: Fingerprint.planes() bytes), and the
-- same-person matches found (private: they link center IDs across batches)
CREATE TABLE IF NOT EXISTS fingerprints (
    batch_id TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    panel TEXT NOT NULL,
    n_sites INTEGER NOT NULL,
    n_called INTEGER NOT NULL,
    planes BLOB NOT NULL,
    PRIMARY KEY (batch_id, sample_id)
);
CREATE TABLE IF NOT EXISTS identity_matches (
    batch_id TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    match_batch_id TEXT NOT NULL,
    match_sample_id TEXT NOT NULL,
    match_research_id TEXT,
    concordance REAL NOT NULL,
    n_sites INTEGER NOT NULL,
    action TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (batch_id, sample_id, match_batch_id, match_sample_id)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    batch_id TEXT,
    sample_id TEXT,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
"""


def now() -> str:
    """UTC timestamp, ISO 8601, seconds precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def new_research_id() -> str:
    """A random research ID: ``CS`` + 9 random digits."""
    return f"CS{secrets.randbelow(10**9):09d}"


@dataclass(frozen=True)
class Decision:
    """What intake decided for one manifest row."""

    sample_id: str
    status: str  # accepted | rejected
    reasons: tuple[str, ...] = ()
    resubmission: bool = False
    files: tuple[tuple[str, str, str | None, int | None], ...] = ()  # (kind, path, md5, size)
    notes: tuple[str, ...] = ()
    #: where the "line N" of cross-batch reasons points (manifest path + line), for messages only
    where: str = ""
    #: identity fingerprint of the gVCF (compared with every earlier participant's when identity is on)
    fingerprint: Fingerprint | None = field(default=None, compare=False, hash=False)
    #: files intake itself wrote for the row (its reblocked gVCF), as ``files``: listed only if the registry
    #: accepts the row, since intake deletes them otherwise (the row may pass its own checks and still be
    #: rejected here: a sample_id or a person accepted before)
    outputs: tuple[tuple[str, str, str | None, int | None], ...] = ()

    def gvcf_md5(self) -> str | None:
        return next((md5 for kind, _p, md5, _s in self.files if kind == "gvcf"), None)

    def recorded_files(self) -> tuple[tuple[str, str, str | None, int | None], ...]:
        """The rows of the ``files`` table: the submitted files, and intake's own when the row is accepted."""
        return self.files + self.outputs if self.status == "accepted" else self.files


@dataclass(frozen=True)
class IdentityMatch:
    """A row whose genotypes match an earlier participant (or an earlier row of its batch)."""

    sample_id: str
    match_batch_id: str
    match_sample_id: str
    match_research_id: str | None
    concordance: float
    n_sites: int
    action: str  # rejected | review | withdrawn | within_batch


@dataclass
class BatchOutcome:
    """What :meth:`Registry.register_batch` decided and recorded."""

    decisions: list[Decision]
    research_ids: dict[str, str] = field(default_factory=dict)
    replaces: dict[str, str] = field(default_factory=dict)  # sample_id -> batch whose sample it replaces
    changed: bool = True
    identity_matches: list[IdentityMatch] = field(default_factory=list)


@dataclass(frozen=True)
class Participant:
    sample_id: str
    research_id: str
    batch_id: str
    withdrawn_at: str | None


class Registry:
    """Access to the registry database at ``path`` (created on first use)."""

    def __init__(self, path: str | Path, *, timeout: float = 120.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # owner-only before SQLite opens it: its -wal/-shm files take the database file's mode
        create_private_file(self.path)
        con = self._connect()
        try:
            if self._schema_version(con) != SCHEMA_VERSION:
                self._create(con)
        finally:
            con.close()

    @staticmethod
    def _schema_version(con: sqlite3.Connection) -> int | None:
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            return None
        return int(row[0]) if row else None

    def _use_wal(self, con: sqlite3.Connection) -> None:
        """Switch the database to WAL (readers never block the writer; one WAL fsync per commit).

        Changing the journal mode needs a moment with no other connection, and SQLite answers "database is
        locked" at once instead of waiting on its busy timeout, so parallel jobs creating the registry
        together retry here until the mode sticks (WAL is persistent: the first job to succeed sets it).
        """
        import time

        deadline = time.monotonic() + self.timeout
        delay = 0.02
        while True:
            try:
                if con.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                    return
                if con.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                    return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError(f"{self.path}: could not switch the registry to WAL mode (locked)")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _create(self, con: sqlite3.Connection) -> None:
        """Create or upgrade the schema in one transaction (one fsync, not one per statement)."""
        self._use_wal(con)
        con.execute("BEGIN IMMEDIATE")
        try:
            if self._schema_version(con) != SCHEMA_VERSION:  # another job may have won the race
                for stmt in _DDL.split(";"):
                    if stmt.strip():
                        con.execute(stmt)
                # v1 -> v2: batches registered before batch_state existed keep their registration order
                con.execute(
                    "INSERT INTO batch_state (batch_id, seq, decisions_md5) "
                    "SELECT batch_id, ROW_NUMBER() OVER (ORDER BY registered_at, batch_id), '' FROM batches "
                    "WHERE NOT EXISTS (SELECT 1 FROM batch_state)"
                )
                con.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        con.execute("PRAGMA foreign_keys = ON")
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the database lock up front (``BEGIN IMMEDIATE``)."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    # -- reads -----------------------------------------------------------------------------------
    def submissions(self, batch_id: str) -> list[tuple[str, str, str]]:
        """``(sample_id, status, reasons)`` rows recorded for ``batch_id``."""
        con = self._connect()
        try:
            return con.execute(
                "SELECT sample_id, status, reasons FROM submissions WHERE batch_id = ? ORDER BY rowid",
                (batch_id,),
            ).fetchall()
        finally:
            con.close()

    def participants(self, *, include_withdrawn: bool = True) -> list[Participant]:
        con = self._connect()
        try:
            rows = con.execute(
                "SELECT sample_id, research_id, current_batch_id, withdrawn_at "
                "FROM participants ORDER BY rowid"
            ).fetchall()
        finally:
            con.close()
        out = [Participant(*r) for r in rows]
        return out if include_withdrawn else [p for p in out if p.withdrawn_at is None]

    def events(self, sample_id: str | None = None) -> list[tuple[str, str | None, str | None, str, str]]:
        con = self._connect()
        try:
            if sample_id is None:
                return con.execute(
                    "SELECT at, batch_id, sample_id, event, detail FROM events ORDER BY id"
                ).fetchall()
            return con.execute(
                "SELECT at, batch_id, sample_id, event, detail FROM events WHERE sample_id = ? ORDER BY id",
                (sample_id,),
            ).fetchall()
        finally:
            con.close()

    # -- writes ----------------------------------------------------------------------------------
    def record_batch(self, batch_id: str, manifest_md5: str, decisions: Sequence[Decision]) -> dict[str, str]:
        """Record a batch's decisions (with the cross-batch checks); return ``sample_id -> research_id``
        for the accepted ones. See :meth:`register_batch`."""
        return self.register_batch(batch_id, manifest_md5, decisions).research_ids

    def register_batch(
        self, batch_id: str, manifest_md5: str, decisions: Sequence[Decision],
        *, identity: IdentitySettings | None = None,
    ) -> BatchOutcome:
        """Apply the cross-batch checks and record a batch's decisions, all in one write transaction.

        Cross-batch checks run under the database lock, so two batches registered by parallel jobs can
        never both accept the same ``sample_id`` or the same gVCF. They only look at batches registered
        *before* this one (registration order is kept in ``batch_state``), so re-running intake on an
        older batch gives the same decisions as the first time:

        - ``sample_id`` accepted in an earlier batch: rejected unless ``resubmission`` is set; a
          resubmission replaces the earlier sample (same research ID) unless the participant withdrew;
        - gVCF md5 equal to an accepted gVCF of another ``sample_id``: rejected as a duplicate file;
        - with ``identity`` settings, a genotype fingerprint matching an earlier participant's (another
          ``sample_id``; its own earlier sample is what a resubmission is expected to match) or an earlier
          accepted row of the batch: rejected, or held for review (``duplicate_action``), and the match is
          recorded privately (``identity_matches``); a match with a withdrawn participant always rejects.

        Idempotent: recording the same batch with the same manifest and the same decisions changes
        nothing (no rows, no events). Different decisions (files changed on disk, new manifest) replace
        the batch's rows; the history (events) keeps both.
        """
        ts = now()
        with self.transaction() as con:
            seq_row = con.execute("SELECT seq FROM batch_state WHERE batch_id = ?", (batch_id,)).fetchone()
            my_seq = seq_row[0] if seq_row else None
            final, replaces = self._cross_batch(con, batch_id, my_seq, decisions)
            matches: list[IdentityMatch] = []
            if identity is not None:
                final, matches = _identity_checks(con, batch_id, my_seq, final, identity)
            digest = _digest(manifest_md5, final)
            accepted = [d.sample_id for d in final if d.status == "accepted"]
            state = con.execute("SELECT decisions_md5 FROM batch_state WHERE batch_id = ?", (batch_id,)).fetchone()
            changed = not (state and state[0] == digest)
            if not changed:
                log.info("batch %s already registered with these decisions; nothing changes", batch_id)
            else:
                my_seq = _record_batch(con, batch_id, my_seq, manifest_md5, digest, final, ts)
                for d in final:
                    _record_decision(con, batch_id, d, replaces, ts)
                    if d.status == "accepted":
                        _record_participant(con, batch_id, my_seq, d.sample_id, ts)
                _record_matches(con, batch_id, matches, ts)
            return BatchOutcome(final, self._research_ids(con, accepted), replaces, changed=changed,
                                identity_matches=matches)

    @staticmethod
    def _cross_batch(
        con: sqlite3.Connection, batch_id: str, my_seq: int | None, decisions: Sequence[Decision]
    ) -> tuple[list[Decision], dict[str, str]]:
        earlier = "b.seq < ?" if my_seq is not None else "1 = 1"
        args: tuple = (my_seq,) if my_seq is not None else ()
        out: list[Decision] = []
        replaces: dict[str, str] = {}
        for d in decisions:
            reasons = list(d.reasons)
            notes = list(d.notes)
            where = f"{d.where}: " if d.where else ""
            prior = con.execute(
                "SELECT s.batch_id FROM submissions s JOIN batch_state b ON b.batch_id = s.batch_id "
                f"WHERE s.sample_id = ? AND s.status = 'accepted' AND s.batch_id != ? AND {earlier} "
                "ORDER BY b.seq DESC LIMIT 1",
                (d.sample_id, batch_id, *args),
            ).fetchone()
            if prior:
                withdrawn = con.execute(
                    "SELECT withdrawn_at FROM participants WHERE sample_id = ?", (d.sample_id,)
                ).fetchone()
                if withdrawn and withdrawn[0]:
                    reasons.append(
                        f"{where}sample_id {d.sample_id!r} belongs to a participant "
                        f"who withdrew on {withdrawn[0]}"
                    )
                elif not d.resubmission:
                    reasons.append(
                        f"{where}duplicate sample_id {d.sample_id!r}: already accepted in batch {prior[0]} "
                        "(set resubmission=yes to replace it deliberately)"
                    )
                elif not reasons:
                    replaces[d.sample_id] = prior[0]
                    notes.append(f"resubmission: replaces {d.sample_id} accepted in batch {prior[0]}")
            elif d.resubmission:
                notes.append(
                    f"{where}resubmission=yes but {d.sample_id!r} was not accepted before: taken as new"
                )
            md5 = d.gvcf_md5()
            if md5:
                dup = con.execute(
                    "SELECT f.batch_id, f.sample_id FROM files f JOIN submissions s "
                    "ON s.batch_id = f.batch_id AND s.sample_id = f.sample_id "
                    "JOIN batch_state b ON b.batch_id = f.batch_id "
                    f"WHERE f.md5 = ? AND f.kind = 'gvcf' AND s.status = 'accepted' AND f.sample_id != ? "
                    f"AND f.batch_id != ? AND {earlier} LIMIT 1",
                    (md5, d.sample_id, batch_id, *args),
                ).fetchone()
                if dup:
                    reasons.append(
                        f"duplicate file: gVCF md5 {md5} equals the gVCF accepted as {dup[1]} "
                        f"in batch {dup[0]}"
                    )
            status = "accepted" if not reasons else "rejected"
            if (
                d.status == "rejected" and not reasons
            ):  # rejected without a reason cannot happen; keep it rejected
                status = "rejected"
            out.append(replace(d, status=status, reasons=tuple(reasons), notes=tuple(notes)))
        return out, replaces

    @staticmethod
    def _research_ids(con: sqlite3.Connection, sample_ids: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for sid in sample_ids:
            row = con.execute("SELECT research_id FROM participants WHERE sample_id = ?", (sid,)).fetchone()
            if row:
                out[sid] = row[0]
        return out

    def record_withdrawals(self, sample_ids: Iterable[str]) -> list[str]:
        """Mark participants withdrawn (first time only); return the IDs newly withdrawn."""
        ts = now()
        newly: list[str] = []
        with self.transaction() as con:
            for sid in sample_ids:
                cur = con.execute(
                    "UPDATE participants SET withdrawn_at = ? WHERE sample_id = ? AND withdrawn_at IS NULL",
                    (ts, sid),
                )
                if cur.rowcount:
                    newly.append(sid)
                    con.execute(
                        "INSERT INTO events (at, sample_id, event, detail) VALUES (?, ?, 'withdrawn', '')",
                        (ts, sid),
                    )
        return newly


def _record_batch(
    con: sqlite3.Connection, batch_id: str, seq: int | None, manifest_md5: str, digest: str,
    decisions: Sequence[Decision], ts: str,
) -> int:
    """The batch's registration order (assigned once) and decisions digest; an earlier registration's rows
    replaced (its history kept, with a ``batch_reregistered`` event); the batch's row. Returns its order."""
    if seq is None:
        seq = int(con.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM batch_state").fetchone()[0])
        con.execute("INSERT INTO batch_state VALUES (?, ?, ?)", (batch_id, seq, digest))
    else:
        con.execute("UPDATE batch_state SET decisions_md5 = ? WHERE batch_id = ?", (digest, batch_id))
    row = con.execute("SELECT manifest_md5 FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
    if row:
        con.execute("DELETE FROM submissions WHERE batch_id = ?", (batch_id,))
        con.execute("DELETE FROM files WHERE batch_id = ?", (batch_id,))
        con.execute("DELETE FROM fingerprints WHERE batch_id = ?", (batch_id,))
        con.execute("DELETE FROM identity_matches WHERE batch_id = ?", (batch_id,))
        con.execute(
            "INSERT INTO events (at, batch_id, event, detail) VALUES (?, ?, 'batch_reregistered', ?)",
            (ts, batch_id, f"manifest md5 {row[0]} -> {manifest_md5}; decisions changed"),
        )
    n_acc = sum(d.status == "accepted" for d in decisions)
    con.execute(
        "INSERT OR REPLACE INTO batches VALUES (?, ?, ?, ?, ?)",
        (batch_id, manifest_md5, ts, n_acc, len(decisions) - n_acc),
    )
    return seq


def _record_decision(
    con: sqlite3.Connection, batch_id: str, d: Decision, replaces: dict[str, str], ts: str
) -> None:
    """One row's submission, files, fingerprint and event."""
    con.execute(
        "INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?, ?)",
        (batch_id, d.sample_id, d.status, "; ".join(d.reasons), int(d.sample_id in replaces), ts),
    )
    for kind, path, md5, size in d.recorded_files():
        con.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
            (batch_id, d.sample_id, kind, path, md5, size),
        )
    if d.fingerprint is not None:
        fp = d.fingerprint
        con.execute(
            "INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?, ?, ?, ?)",
            (batch_id, d.sample_id, fp.panel, len(fp.genotypes), fp.n_called, fp.to_bytes()),
        )
    detail = "; ".join(d.reasons)
    if d.sample_id in replaces:
        detail = f"resubmission replacing batch {replaces[d.sample_id]}"
    con.execute(
        "INSERT INTO events (at, batch_id, sample_id, event, detail) VALUES (?, ?, ?, ?, ?)",
        (ts, batch_id, d.sample_id, d.status, detail),
    )


def _record_participant(con: sqlite3.Connection, batch_id: str, seq: int, sample_id: str, ts: str) -> None:
    """An accepted row's participant: a new one gets a research ID; a known one moves to this batch when the
    batch is not older than the one it is in (a re-run of an older batch leaves it where it is)."""
    existing = con.execute(
        "SELECT p.current_batch_id, COALESCE(b.seq, 0) FROM participants p "
        "LEFT JOIN batch_state b ON b.batch_id = p.current_batch_id WHERE p.sample_id = ?",
        (sample_id,),
    ).fetchone()
    if existing:
        if existing[1] <= seq:
            con.execute("UPDATE participants SET current_batch_id = ? WHERE sample_id = ?", (batch_id, sample_id))
        return
    while True:
        rid = new_research_id()
        if not con.execute("SELECT 1 FROM participants WHERE research_id = ?", (rid,)).fetchone():
            break
    con.execute("INSERT INTO participants VALUES (?, ?, ?, ?, ?, NULL)", (sample_id, rid, batch_id, batch_id, ts))


def _record_matches(con: sqlite3.Connection, batch_id: str, matches: Sequence[IdentityMatch], ts: str) -> None:
    """The identity matches found (private: they link center IDs across batches)."""
    for m in matches:
        con.execute(
            "INSERT OR REPLACE INTO identity_matches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (batch_id, m.sample_id, m.match_batch_id, m.match_sample_id, m.match_research_id,
             m.concordance, m.n_sites, m.action, ts),
        )


def _digest(manifest_md5: str, decisions: Sequence[Decision]) -> str:
    blob = json.dumps(
        [
            manifest_md5,
            [(d.sample_id, d.status, list(d.reasons), [list(f) for f in d.recorded_files()],
              *([hashlib.md5(d.fingerprint.to_bytes()).hexdigest(), d.fingerprint.panel] if d.fingerprint else []))
             for d in decisions],
        ],
        sort_keys=True,
    )
    return hashlib.md5(blob.encode()).hexdigest()


def export_research_ids(registry_path: str | Path, out_tsv: str | Path) -> int:
    """Write ``sample_id  research_id  batch_id`` for every accepted participant (withdrawn ones too: the
    map is the data center's own record) to ``out_tsv`` atomically; return the row count."""
    reg = Registry(registry_path)
    out = Path(out_tsv)
    private_dir(out.parent)
    parts = reg.participants()
    text = "sample_id\tresearch_id\tbatch_id\n" + "".join(
        f"{p.sample_id}\t{p.research_id}\t{p.batch_id}\n" for p in parts
    )
    write_private_text(out, text)
    log.info("wrote %d research IDs to %s", len(parts), out)
    return len(parts)


def _identity_checks(
    con: sqlite3.Connection, batch_id: str, my_seq: int | None, decisions: list[Decision],
    settings: IdentitySettings,
) -> tuple[list[Decision], list[IdentityMatch]]:
    """The same person under two IDs: each row's fingerprint against every earlier participant's (accepted in a
    batch registered before this one, withdrawn ones included) and against the earlier accepted rows of this
    batch, in one vectorised comparison (:func:`callset.intake.identity.find_matches`). Returns the decisions
    with the reasons added, and every match found (recorded privately by the caller)."""
    import numpy as np

    queries = [i for i, d in enumerate(decisions)
               if d.fingerprint is not None and d.fingerprint.n_called >= settings.min_sites]
    if not queries:
        return decisions, []
    panel = decisions[queries[0]].fingerprint.panel  # type: ignore[union-attr]
    queries = [i for i in queries if decisions[i].fingerprint.panel == panel]  # type: ignore[union-attr]
    rows = _earlier_fingerprints(con, batch_id, my_seq, panel, settings.min_sites)
    other = _earlier_on_other_panels(con, batch_id, my_seq, panel, settings.min_sites)
    if other:
        log.warning("identity: %d earlier participant(s) were fingerprinted on another panel and are not compared "
                    "with batch %s (fingerprints are comparable on one panel only; intake of their gVCFs on the "
                    "current panel would include them)", other, batch_id)
    q_planes = np.stack([decisions[i].fingerprint.planes() for i in queries])  # type: ignore[union-attr]
    allowed = settings.allowed()  # pairs confirmed to be different people (e.g. identical twins)
    found: dict[int, list[IdentityMatch]] = {}
    _match_earlier_batches(found, q_planes, rows, decisions, queries, settings, allowed)
    _match_within_batch(found, q_planes, batch_id, decisions, queries, settings, allowed)
    return _reject_matched(decisions, found)


def _earlier_accepted(batch_id: str, my_seq: int | None, min_sites: int) -> tuple[str, tuple[Any, ...]]:
    """FROM/WHERE (and its arguments) of the usable fingerprints (``n_called >= min_sites``) of samples accepted
    in a batch registered before this one (any other batch when ``my_seq`` is None)."""
    earlier = "b.seq < ?" if my_seq is not None else "1 = 1"
    sql = ("FROM fingerprints f "
           "JOIN submissions s ON s.batch_id = f.batch_id AND s.sample_id = f.sample_id AND s.status = 'accepted' "
           "JOIN batch_state b ON b.batch_id = f.batch_id LEFT JOIN participants p ON p.sample_id = f.sample_id "
           f"WHERE f.n_called >= ? AND f.batch_id != ? AND {earlier}")
    return sql, (min_sites, batch_id, *((my_seq,) if my_seq is not None else ()))


def _earlier_fingerprints(
    con: sqlite3.Connection, batch_id: str, my_seq: int | None, panel: str, min_sites: int
) -> list[tuple[Any, ...]]:
    """(batch_id, sample_id, planes, research_id, withdrawn_at) of every fingerprint on ``panel`` of a sample
    accepted in a batch registered before this one (any other batch when ``my_seq`` is None)."""
    sql, args = _earlier_accepted(batch_id, my_seq, min_sites)
    return con.execute(
        f"SELECT f.batch_id, f.sample_id, f.planes, p.research_id, p.withdrawn_at {sql} AND f.panel = ?",
        (*args, panel),
    ).fetchall()


def _earlier_on_other_panels(
    con: sqlite3.Connection, batch_id: str, my_seq: int | None, panel: str, min_sites: int
) -> int:
    """How many samples accepted in earlier batches have a usable fingerprint on a panel other than ``panel`` only."""
    sql, args = _earlier_accepted(batch_id, my_seq, min_sites)
    return int(con.execute(
        f"SELECT COUNT(DISTINCT f.sample_id) {sql} AND f.panel != ? "
        "AND f.sample_id NOT IN (SELECT sample_id FROM fingerprints WHERE panel = ?)",
        (*args, panel, panel),
    ).fetchone()[0])


def _match_earlier_batches(
    found: dict[int, list[IdentityMatch]], q_planes: Any, rows: Sequence[tuple[Any, ...]],
    decisions: Sequence[Decision], queries: Sequence[int], settings: IdentitySettings,
    allowed: frozenset[frozenset[str]],
) -> None:
    """Add to ``found`` (row -> matches) each query row matching a participant of an earlier batch under another
    sample_id (action withdrawn, review or rejected; pairs in ``allowed`` are different people)."""
    import numpy as np

    if not rows:
        return
    stored = np.stack([np.frombuffer(r[2], dtype="<u8").reshape(3, -1) for r in rows])
    for m in find_matches(q_planes, stored, min_concordance=settings.duplicate_concordance,
                          min_sites=settings.min_sites):
        d = decisions[queries[m.query]]
        b, sid, _planes, rid, withdrawn = rows[m.stored]
        if sid == d.sample_id or frozenset((sid, d.sample_id)) in allowed:
            continue  # its own earlier sample: a resubmission (or a duplicate sample_id, reported already)
        action = "withdrawn" if withdrawn else ("review" if settings.duplicate_action == "review" else "rejected")
        found.setdefault(queries[m.query], []).append(
            IdentityMatch(d.sample_id, b, sid, rid, m.concordance, m.n_sites, action))


def _match_within_batch(
    found: dict[int, list[IdentityMatch]], q_planes: Any, batch_id: str, decisions: Sequence[Decision],
    queries: Sequence[int], settings: IdentitySettings, allowed: frozenset[frozenset[str]],
) -> None:
    """Add to ``found`` each query row matching an earlier row of this batch under another sample_id."""
    for m in find_matches(q_planes, q_planes, min_concordance=settings.duplicate_concordance,
                          min_sites=settings.min_sites):
        i, j = queries[m.query], queries[m.stored]
        if j >= i or decisions[i].sample_id == decisions[j].sample_id or (
                frozenset((decisions[i].sample_id, decisions[j].sample_id)) in allowed):
            continue
        found.setdefault(i, []).append(
            IdentityMatch(decisions[i].sample_id, batch_id, decisions[j].sample_id, None, m.concordance,
                          m.n_sites, "within_batch"))


def _reject_matched(
    decisions: Sequence[Decision], found: Mapping[int, list[IdentityMatch]]
) -> tuple[list[Decision], list[IdentityMatch]]:
    """Reject each row with a match, in manifest order (a row rejected here no longer counts as an accepted
    earlier row of the batch); return the decisions and the matches that counted."""
    out = list(decisions)
    row_of = {d.sample_id: k for k, d in enumerate(out)}
    all_matches: list[IdentityMatch] = []
    for i in sorted(found):
        d = out[i]
        ms = [m for m in found[i]
              if m.action != "within_batch" or out[row_of[m.match_sample_id]].status == "accepted"]
        if not ms:
            continue
        all_matches.extend(ms)
        best = max(ms, key=lambda m: (m.action == "withdrawn", m.concordance))
        out[i] = replace(d, status="rejected", reasons=(*d.reasons, _identity_reason(d, best)))
    return out, all_matches


def _identity_reason(d: Decision, best: IdentityMatch) -> str:
    """The reason line of a row rejected (or held) for its best match ``best``."""
    how = f"genotype concordance {best.concordance:.3f} at {best.n_sites} fingerprint sites"
    where = f"{d.where}: " if d.where else ""
    if best.action == "withdrawn":
        return (f"{where}same person as a participant who withdrew ({how}): a withdrawn participant "
                "cannot enter again under another sample_id")
    if best.action == "within_batch":
        return f"{where}same person as {best.match_sample_id} in this batch ({how}) under another sample_id"
    if best.action == "review":
        return (f"{where}held for review: same person as a participant accepted in batch "
                f"{best.match_batch_id} ({how}) under another sample_id; the match and its research ID "
                "are recorded privately (private/identity_matches.tsv)")
    return (f"{where}same person as a participant accepted in batch {best.match_batch_id} ({how}) "
            "under another sample_id (the match is recorded privately; a deliberate replacement "
            "keeps the same sample_id with resubmission=yes)")


def export_identity_matches(registry_path: str | Path, out_tsv: str | Path) -> int:
    """Write every same-person match the registry holds (private: it links center IDs and research IDs) to
    ``out_tsv`` (mode 0600); return the row count."""
    reg = Registry(registry_path)
    con = reg._connect()
    try:
        rows = con.execute(
            "SELECT batch_id, sample_id, match_batch_id, match_sample_id, COALESCE(match_research_id, ''), "
            "concordance, n_sites, action, recorded_at FROM identity_matches ORDER BY recorded_at, batch_id, sample_id"
        ).fetchall()
    finally:
        con.close()
    out = Path(out_tsv)
    private_dir(out.parent)
    cols = ["batch_id", "sample_id", "match_batch_id", "match_sample_id", "match_research_id", "concordance",
            "n_sites", "action", "recorded_at"]
    text = "\t".join(cols) + "\n" + "".join(
        "\t".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r) + "\n" for r in rows
    )
    write_private_text(out, text)
    return len(rows)
