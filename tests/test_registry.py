"""Registry (SQLite) unit tests: transactions, idempotency, research IDs, history. No Spark."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from callset.intake.registry import Decision, Registry, export_research_ids


def dec(sid: str, status: str = "accepted", md5: str | None = None, **kw) -> Decision:
    files = (("gvcf", f"/x/{sid}.g.vcf.gz", md5 or sid.ljust(32, "0"), 10),)
    return Decision(
        sample_id=sid, status=status, reasons=() if status == "accepted" else ("bad",), files=files, **kw
    )


def test_record_batch_idempotent_and_history(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.sqlite")
    rids = reg.record_batch("b1", "m1", [dec("A"), dec("B", "rejected")])
    assert list(rids) == ["A"]
    n_events = len(reg.events())
    assert reg.record_batch("b1", "m1", [dec("A"), dec("B", "rejected")]) == rids
    assert len(reg.events()) == n_events
    # new manifest with different decisions: replaced, history kept
    rids2 = reg.record_batch("b1", "m2", [dec("A"), dec("B")])
    assert rids2["A"] == rids["A"] and "B" in rids2
    assert [e[3] for e in reg.events("B")] == ["rejected", "accepted"]
    assert any(e[3] == "batch_reregistered" for e in reg.events())
    assert reg.submissions("b1") == [("A", "accepted", ""), ("B", "accepted", "")]


def test_cross_batch_rules_only_look_at_earlier_batches(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.sqlite")
    reg.register_batch("b1", "m1", [dec("A", md5="1" * 32)])
    out = reg.register_batch("b2", "m2", [dec("A", md5="2" * 32), dec("C", md5="1" * 32)])
    assert [d.status for d in out.decisions] == ["rejected", "rejected"]
    assert "already accepted in batch b1" in out.decisions[0].reasons[0]
    assert "duplicate file" in out.decisions[1].reasons[0]
    again = reg.register_batch("b1", "m1", [dec("A", md5="1" * 32)])
    assert again.decisions[0].status == "accepted" and not again.changed
    res = reg.register_batch("b3", "m3", [dec("A", md5="3" * 32, resubmission=True)])
    assert res.replaces == {"A": "b1"} and res.decisions[0].status == "accepted"


def test_withdrawals_and_export(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.sqlite")
    reg.record_batch("b1", "m1", [dec("A"), dec("B")])
    assert reg.record_withdrawals(["B"]) == ["B"]
    assert [p.sample_id for p in reg.participants(include_withdrawn=False)] == ["A"]
    assert reg.events("B")[-1][3] == "withdrawn"
    out = tmp_path / "private" / "research_ids.tsv"
    assert export_research_ids(tmp_path / "r.sqlite", out) == 2  # the private map keeps withdrawn ones
    lines = out.read_text().splitlines()
    assert lines[0] == "sample_id\tresearch_id\tbatch_id" and len(lines) == 3


def test_failed_transaction_rolls_back(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.sqlite")
    try:
        with reg.transaction() as con:
            con.execute("INSERT INTO batches VALUES ('x', 'm', 't', 0, 0)")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert sqlite3.connect(tmp_path / "r.sqlite").execute("SELECT COUNT(*) FROM batches").fetchone() == (0,)


def _open_registry(path: str) -> str:
    return Registry(path).path.name


def test_parallel_jobs_creating_the_registry_together(tmp_path: Path) -> None:
    """Two intake jobs starting at once both create the registry; switching it to WAL used to fail one
    of them with "database is locked" (SQLite does not wait on its busy timeout for a journal-mode change)."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(4) as pool:
        for i in range(15):
            path = str(tmp_path / f"r{i}.sqlite")
            assert pool.map(_open_registry, [path] * 4) == [f"r{i}.sqlite"] * 4
            con = sqlite3.connect(path)
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            con.close()
