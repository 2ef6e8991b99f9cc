"""A finished release is never rewritten: what changed since it was written, checked at workflow start-up.

Snakemake deletes a ``directory()`` output before it reruns the job that makes it, so a guard inside the
release job comes too late. The release rule's input function ``get_release_guard`` (``rules/common.smk``) is
evaluated whenever the release is part of the job graph (dry runs included), with the run's options known; it
asks whether the release named in the config is finished (``manifest.json`` present) and whether this run
would write it again:

- its inputs changed since it was written (:func:`release_input_changes`): a batch was added to (or
  removed from) the inbox, the withdrawals list changed, a setting that shapes the release changed, or the
  workflow's code changed;
- the run forces it (:func:`forced_release_reasons`): ``--forceall``, ``--forcerun``/``-R`` of the release or
  of any stage upstream of it, ``--force`` with the release as target.

Either stops the run with one message naming the release and what changed (a clean exit: Snakemake releases
its lock). A last check runs in ``onstart``, with the job graph built: if Snakemake still plans the release
job for a finished release (e.g. a QC output touched by hand under ``rerun-triggers: mtime``), the run stops
there, still before any job.

What is compared is recorded when the release is written: ``manifest.json`` holds ``input_batches``, the
effective ``config`` and ``software.callset_code`` (digest of the package and workflow files); the list of
withdrawn center IDs is private, so its digest goes to ``<results>/private/releases/<release>.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from callset.core.private_files import private_dir, write_private_text

#: config sections whose values shape a release (QC thresholds, release options, the reference). Paths and
#: Spark settings (``inbox``, ``results``, ``spark``, ...) do not, nor do intake/combiner settings (they act on
#: batches not yet joint-called, which show up as new batches anyway).
RELEASE_CONFIG_KEYS = ("reference_genome", "sample_qc", "variant_qc", "release_options")

#: workflow files (relative to the workflow folder) whose content is part of the code digest
WORKFLOW_GLOBS = ("Snakefile", "rules/*.smk", "scripts/*.py")


def code_digest(workflow_dir: str | os.PathLike[str]) -> str:
    """``sha256:`` over the package's ``.py`` files and schemas and the workflow's Snakefile, rules and scripts.

    Any edit to the code that makes releases changes it; compiled caches and tests do not count.
    """
    import callset

    pkg = Path(callset.__file__).resolve().parent
    files = sorted((f"callset/{p.relative_to(pkg).as_posix()}", p)
                   for p in [*pkg.rglob("*.py"), *pkg.glob("schemas/*.yaml")])
    root = Path(workflow_dir)
    for pattern in WORKFLOW_GLOBS:
        files += sorted((f"workflow/{p.relative_to(root).as_posix()}", p) for p in root.glob(pattern))
    h = hashlib.sha256()
    for name, p in files:
        h.update(name.encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return "sha256:" + h.hexdigest()


def read_withdrawals(path: str | os.PathLike[str] | None) -> set[str]:
    """Sample IDs listed in a withdrawals file (one per line, ``#`` comments, blank lines ignored)."""
    if not path:
        return set()
    out = set()
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.add(line.split("\t")[0])
    return out


def withdrawn_digest(sample_ids: Iterable[str]) -> str:
    """Digest of a set of withdrawn center sample IDs (private: kept out of the release)."""
    return "sha256:" + hashlib.sha256("\n".join(sorted(set(sample_ids))).encode()).hexdigest()


def provenance_path(results: str | os.PathLike[str], release: str) -> Path:
    return Path(results) / "private" / "releases" / f"{release}.json"


def write_private_provenance(path: str | os.PathLike[str], release: str, withdrawn: Iterable[str]) -> Path:
    """Record what of a release's inputs must stay private (the withdrawn IDs, as a digest) at ``path``
    (:func:`provenance_path`); mode 0600 in 0700 folders."""
    ids = set(withdrawn)
    p = Path(path)
    private_dir(p.parent.parent)
    private_dir(p.parent)
    info = {"release": release, "n_withdrawn_listed": len(ids), "withdrawn_sha256": withdrawn_digest(ids)}
    return write_private_text(p, json.dumps(info, indent=1) + "\n")


def release_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an (effective) config that shapes a release."""
    return {k: config[k] for k in RELEASE_CONFIG_KEYS if k in config}


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, Mapping) and d:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``key: old -> new`` for every release-shaping setting that differs (dotted keys, sorted; a key renamed
    since ``old`` was recorded is compared under its new name)."""
    from callset.config import migrated_config

    a, b = _flatten(release_config(migrated_config(old))), _flatten(release_config(new))
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k, "<unset>") != b.get(k, "<unset>"):
            out.append(f"{k}: {json.dumps(a.get(k, '<unset>'))} -> {json.dumps(b.get(k, '<unset>'))}")
    return out


def release_input_changes(
    release_dir: str | os.PathLike[str],
    *,
    batches: Sequence[str],
    config: Mapping[str, Any],
    withdrawn: Iterable[str],
    code: str | None,
    results: str | os.PathLike[str],
) -> list[str]:
    """What differs between a finished release and the inputs this run would write it from (empty: nothing).

    Items recorded only by newer versions (effective config, code digest, withdrawals digest) are compared
    when the release has them.
    """
    root = Path(release_dir)
    manifest = json.loads((root / "manifest.json").read_text())
    changes: list[str] = []
    had = list(manifest.get("input_batches", []))
    new = [b for b in batches if b not in had]
    gone = [b for b in had if b not in set(batches)]
    if new:
        changes.append(f"new batch(es) in the inbox: {', '.join(new)}")
    if gone:
        changes.append(f"batch(es) of the release no longer in the inbox: {', '.join(gone)}")
    prov = provenance_path(results, root.name)
    if prov.is_file():
        recorded = json.loads(prov.read_text())
        if recorded.get("withdrawn_sha256") != withdrawn_digest(withdrawn):
            n_old, n_new = recorded.get("n_withdrawn_listed"), len(set(withdrawn))
            changes.append(f"the withdrawals list changed ({n_old} -> {n_new} sample IDs listed)")
    if "config" in manifest:
        diff = config_changes(manifest["config"], config)
        if diff:
            shown = "; ".join(diff[:5]) + (f"; and {len(diff) - 5} more" if len(diff) > 5 else "")
            changes.append(f"settings changed: {shown}")
    old_code = (manifest.get("software") or {}).get("callset_code")
    if code and old_code and old_code != code:
        changes.append(
            f"the callset code changed (release made with callset {manifest['software'].get('callset', '?')}, "
            f"code {old_code[:19]}..., now {code[:19]}...)"
        )
    return changes


def forced_release_reasons(
    *,
    forceall: bool,
    forcerun: Iterable[str],
    forcetargets: bool,
    upstream_rules: Iterable[str],
    targets: Iterable[str],
    release_dir: str | os.PathLike[str],
    workdir: str | os.PathLike[str],
) -> list[str]:
    """Command-line options of this run that would rewrite the release (its job or one upstream forced).

    :param upstream_rules: the release rule and every rule whose rerun makes it rerun.
    """
    upstream = set(upstream_rules)
    root = Path(workdir, release_dir).resolve()

    def is_release_path(t: str) -> bool:
        p = Path(workdir, t).resolve()
        return p == root or root in p.parents

    out = []
    if forceall:
        out.append("--forceall")
    forced = sorted(t for t in forcerun if t in upstream or is_release_path(t))
    if forced:
        out.append(f"--forcerun {' '.join(forced)}")
    if forcetargets and any(t == "release" or is_release_path(t) for t in targets):
        out.append("--force")
    return out


def immutable_release_message(release: str, release_dir: str | os.PathLike[str], reasons: Sequence[str]) -> str:
    """The one message a run gets when it would rewrite a finished release."""
    return (
        f"callset: release {release!r} ({release_dir}) is finished and releases are immutable, but this run "
        f"would write it again: {'; '.join(reasons)}. Nothing was run and {release} is unchanged. Set a new "
        f"`release:` name in the config (e.g. release: {suggest_next(release)}) to write a new release."
    )


def suggest_next(release: str) -> str:
    """``v1`` -> ``v2``; ``2024.1`` -> ``2024.2``; otherwise ``<name>-2``."""
    import re

    m = re.match(r"^(.*?)(\d+)$", release)
    return f"{m.group(1)}{int(m.group(2)) + 1}" if m else f"{release}-2"
