"""The batch's reports as the genome center and joint calling read them: ``report.tsv`` and ``details.tsv``
(the center's view: its files named as in its manifest, never server paths) and ``accepted.tsv``."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callset.intake.run import IntakeResult

REPORT_COLUMNS = ["sample_id", "status", "reasons"]
ACCEPTED_COLUMNS = [
    "sample_id",
    "research_id",
    "batch_id",
    "gvcf",
    "gvcf_md5",
    "cram",
    "reported_sex",
    "mean_coverage",
    "genome_coverage_20x",
    "contamination",
    "aligned_q30_bases",
    "array_concordance",
    "resubmission",
    "replaces_batch",
    "n_records",
    "extents",
    "notes",
    "reblocked_gvcf",
    "reblocked_md5",
    "reblocked_max_block",
    "reblock",
    "gvcf_flavor",
]
DETAILS_COLUMNS = ["sample_id", "manifest_line", "status", "kind", "message"]


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _clean(s: str) -> str:
    return s.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def center_view(text: str, batch_dir: Path | None, out_dir: Path) -> str:
    """A reason or note as the genome center reads it: its files named as in its manifest (relative to the
    batch folder), and files the data center made (e.g. a built index) relative to the results folder,
    never the server's absolute paths. The operator's log keeps the full paths."""
    prefixes: dict[str, str] = {}
    results = out_dir.parent.parent  # <results>/intake/<batch>
    for root, repl in ((results, ""), (batch_dir, "")):
        if root is None:
            continue
        for form in (root, root.absolute(), root.resolve()):
            prefixes[f"{form}/"] = repl
    for prefix in sorted(prefixes, key=len, reverse=True):  # the batch folder is inside no results folder
        if prefix != "./":
            text = text.replace(prefix, prefixes[prefix])
    return text


def write_reports(result: IntakeResult, out_dir: Path, staged: Mapping[str, Path]) -> None:
    """Write ``report.tsv``, ``accepted.tsv`` and ``details.tsv`` atomically (temp file, then rename).

    ``report.tsv`` is the contract (``sample_id status reasons``); ``details.tsv`` has one line per reason
    or note (e.g. "metrics not provided", "index built") so nothing is lost from the report's one cell.
    """
    out_dir.mkdir(parents=True, exist_ok=True)

    def center(msg: str) -> str:
        return _clean(center_view(msg, result.batch_dir, out_dir))

    rows = [
        {
            "sample_id": s.row.sample_id,
            "status": "accepted" if s.accepted else "rejected",
            "reasons": "; ".join(center(r) for r in s.reasons),
        }
        for s in result.samples
    ]
    details = [
        {
            "sample_id": s.row.sample_id,
            "manifest_line": str(s.row.line),
            "status": "accepted" if s.accepted else "rejected",
            "kind": kind,
            "message": center(m),
        }
        for s in result.samples
        for kind, msgs in (("reason", s.reasons), ("note", s.notes))
        for m in msgs
    ]
    acc = []
    for s in result.samples:
        if not s.accepted:
            continue
        v = s.row.values
        acc.append(
            {
                **{c: _fmt(v.get(c)) for c in ACCEPTED_COLUMNS if c in v},
                "sample_id": s.row.sample_id,
                "research_id": result.research_ids[s.row.sample_id],
                "batch_id": result.batch_id,
                "gvcf": str(staged[s.row.sample_id].absolute()),
                "gvcf_md5": s.gvcf_md5 or "",
                "cram": str(s.cram.absolute()) if s.cram else "",
                "resubmission": "yes" if s.replaces else "",
                "replaces_batch": s.replaces or "",
                "n_records": str(s.scan.n_records if s.scan else ""),
                "extents": json.dumps(s.scan.extents if s.scan else {}, separators=(",", ":")),
                "notes": "; ".join(_clean(n) for n in s.notes),
                "reblocked_gvcf": str(s.reblocked.path.absolute()) if s.reblocked else "",
                "reblocked_md5": s.reblocked.md5 if s.reblocked else "",
                "reblocked_max_block": str(s.reblocked.max_block) if s.reblocked else "",
                "reblock": json.dumps(s.reblocked.settings, separators=(",", ":")) if s.reblocked else "",
                "gvcf_flavor": s.flavor.flavor if s.flavor else "",
            }
        )
    _write_tsv(out_dir / "details.tsv", DETAILS_COLUMNS, details)
    _write_tsv(out_dir / "accepted.tsv", ACCEPTED_COLUMNS, acc)
    _write_tsv(out_dir / "report.tsv", REPORT_COLUMNS, rows)


def _write_tsv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Plain TSV (no quoting: values never hold tabs or newlines)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as f:
        f.write("\t".join(columns) + "\n")
        for r in rows:
            f.write("\t".join(_clean(r.get(c, "")) for c in columns) + "\n")
    tmp.replace(path)


def read_accepted(path: str | Path) -> list[dict[str, str]]:
    """Rows of an ``accepted.tsv`` (as strings)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
