"""The intake registry: batches, samples, files, decisions, research IDs and history, in SQLite.

SQLite by default (one file, transactions, safe for parallel Snakemake jobs through ``BEGIN IMMEDIATE``
and a busy timeout). All SQL lives in this module behind :class:`Registry`, so a server database could
replace it without touching callers.

Research IDs are random (``CS`` + 9 digits), generated with :mod:`secrets`, unique, and stored only
here; they reveal nothing about the center's sample ID.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

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
        with self._connect() as con:
            con.executescript(_DDL)
            con.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

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
    def batch_manifest_md5(self, batch_id: str) -> str | None:
        con = self._connect()
        try:
            row = con.execute("SELECT manifest_md5 FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        finally:
            con.close()
        return row[0] if row else None

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
                "SELECT sample_id, research_id, current_batch_id, withdrawn_at FROM participants ORDER BY rowid"
            ).fetchall()
        finally:
            con.close()
        out = [Participant(*r) for r in rows]
        return out if include_withdrawn else [p for p in out if p.withdrawn_at is None]

    def participant(self, sample_id: str) -> Participant | None:
        con = self._connect()
        try:
            row = con.execute(
                "SELECT sample_id, research_id, current_batch_id, withdrawn_at FROM participants "
                "WHERE sample_id = ?",
                (sample_id,),
            ).fetchone()
        finally:
            con.close()
        return Participant(*row) if row else None

    def accepted_file_with_md5(self, md5: str, kind: str = "gvcf") -> tuple[str, str] | None:
        """``(batch_id, sample_id)`` of an accepted submission whose ``kind`` file has this md5."""
        con = self._connect()
        try:
            row = con.execute(
                "SELECT f.batch_id, f.sample_id FROM files f JOIN submissions s "
                "ON s.batch_id = f.batch_id AND s.sample_id = f.sample_id "
                "WHERE f.md5 = ? AND f.kind = ? AND s.status = 'accepted' LIMIT 1",
                (md5, kind),
            ).fetchone()
        finally:
            con.close()
        return (row[0], row[1]) if row else None

    def events(self, sample_id: str | None = None) -> list[tuple[str, str | None, str | None, str, str]]:
        con = self._connect()
        try:
            if sample_id is None:
                return con.execute("SELECT at, batch_id, sample_id, event, detail FROM events ORDER BY id").fetchall()
            return con.execute(
                "SELECT at, batch_id, sample_id, event, detail FROM events WHERE sample_id = ? ORDER BY id",
                (sample_id,),
            ).fetchall()
        finally:
            con.close()

    # -- writes ----------------------------------------------------------------------------------
    def record_batch(self, batch_id: str, manifest_md5: str, decisions: Sequence[Decision]) -> dict[str, str]:
        """Record a batch's decisions in one transaction and return ``sample_id -> research_id`` for
        the accepted ones.

        Idempotent: recording the same batch with the same manifest again changes nothing and returns
        the same research IDs. Recording a batch again with a *different* manifest replaces its
        decisions (history keeps both).
        """
        ts = now()
        with self.transaction() as con:
            row = con.execute("SELECT manifest_md5 FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
            if row and row[0] == manifest_md5:
                log.info("batch %s already registered with this manifest; nothing changes", batch_id)
                return self._research_ids(con, [d.sample_id for d in decisions if d.status == "accepted"])
            if row:
                con.execute("DELETE FROM submissions WHERE batch_id = ?", (batch_id,))
                con.execute("DELETE FROM files WHERE batch_id = ?", (batch_id,))
                con.execute(
                    "INSERT INTO events (at, batch_id, event, detail) VALUES (?, ?, 'batch_reregistered', ?)",
                    (ts, batch_id, f"manifest md5 {row[0]} -> {manifest_md5}"),
                )
            n_acc = sum(d.status == "accepted" for d in decisions)
            con.execute(
                "INSERT OR REPLACE INTO batches VALUES (?, ?, ?, ?, ?)",
                (batch_id, manifest_md5, ts, n_acc, len(decisions) - n_acc),
            )
            for d in decisions:
                con.execute(
                    "INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?, ?)",
                    (batch_id, d.sample_id, d.status, "; ".join(d.reasons), int(d.resubmission), ts),
                )
                for kind, path, md5, size in d.files:
                    con.execute(
                        "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                        (batch_id, d.sample_id, kind, path, md5, size),
                    )
                con.execute(
                    "INSERT INTO events (at, batch_id, sample_id, event, detail) VALUES (?, ?, ?, ?, ?)",
                    (ts, batch_id, d.sample_id, d.status, "; ".join(d.reasons)),
                )
                if d.status != "accepted":
                    continue
                existing = con.execute(
                    "SELECT research_id FROM participants WHERE sample_id = ?", (d.sample_id,)
                ).fetchone()
                if existing:
                    con.execute(
                        "UPDATE participants SET current_batch_id = ? WHERE sample_id = ?", (batch_id, d.sample_id)
                    )
                    continue
                while True:
                    rid = new_research_id()
                    if not con.execute("SELECT 1 FROM participants WHERE research_id = ?", (rid,)).fetchone():
                        break
                con.execute(
                    "INSERT INTO participants VALUES (?, ?, ?, ?, ?, NULL)", (d.sample_id, rid, batch_id, batch_id, ts)
                )
            return self._research_ids(con, [d.sample_id for d in decisions if d.status == "accepted"])

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
                        "INSERT INTO events (at, sample_id, event, detail) VALUES (?, ?, 'withdrawn', '')", (ts, sid)
                    )
        return newly


def export_research_ids(registry_path: str | Path, out_tsv: str | Path) -> int:
    """Write ``sample_id  research_id  batch_id`` for every accepted participant (withdrawn ones too: the
    map is the data center's own record) to ``out_tsv`` atomically; return the row count."""
    reg = Registry(registry_path)
    out = Path(out_tsv)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    parts = reg.participants()
    with tmp.open("w") as f:
        f.write("sample_id\tresearch_id\tbatch_id\n")
        for p in parts:
            f.write(f"{p.sample_id}\t{p.research_id}\t{p.batch_id}\n")
    tmp.replace(out)
    log.info("wrote %d research IDs to %s", len(parts), out)
    return len(parts)
