"""The workflow configuration's defaults, in one place: the JSON Schema (``callset/schemas/config.schema.yaml``).

Snakemake fills the defaults of a run's config when ``rules/common.smk`` validates it; library code called
outside Snakemake (tests, sites' own scripts) gets the same values from :func:`defaults` / :func:`section`,
so no threshold is written twice. Settings objects (e.g. :class:`callset.release.write.ReleaseSettings`) are
built once from such a section.

Renamed keys (:data:`RENAMED_KEYS`) are still accepted: :func:`migrate_renamed_keys` moves an old key to its new
name before the config is validated (``rules/common.smk``) and says so in one line per key; :func:`section` does
the same for the overrides it is given.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, MutableMapping
from functools import cache
from typing import Any

import yaml

from callset.core.reference import schema_path
from callset.errors import ConfigError

log = logging.getLogger(__name__)

CONFIG_SCHEMA = "config.schema.yaml"

#: config keys that were renamed (old dotted key -> new dotted key, same section); the old names are accepted
RENAMED_KEYS: dict[str, str] = {
    # issue 15: one name for one thing across stages
    "sample_qc.qc_sites.min_callrate": "sample_qc.qc_sites.min_call_rate",
    "sample_qc.hard_filters.min_coverage_20x": "sample_qc.hard_filters.min_genome_coverage_20x",
}


@cache
def schema() -> dict[str, Any]:
    """The config JSON Schema."""
    with schema_path(CONFIG_SCHEMA).open() as f:
        return dict(yaml.safe_load(f))


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = root
    for part in ref.lstrip("#/").split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def fill_defaults(instance: dict[str, Any], node: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Set every missing property that has a ``default`` (recursively, as Snakemake's ``validate`` does)."""
    node = _resolve(node, root)
    for name, sub in (node.get("properties") or {}).items():
        sub = _resolve(sub, root)
        if name not in instance and "default" in sub:
            instance[name] = copy.deepcopy(sub["default"])
        if isinstance(instance.get(name), dict) and "properties" in sub:
            fill_defaults(instance[name], sub, root)
    return instance


@cache
def _defaults() -> dict[str, Any]:
    return fill_defaults({}, schema(), schema())


def defaults() -> dict[str, Any]:
    """Every key of the config with its default (``inbox``, which has none, is absent)."""
    return copy.deepcopy(_defaults())


def section(path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The defaults of a config section (dotted ``path``, e.g. ``"release_options"``), updated by ``overrides``
    (nested dicts are merged key by key; renamed keys are taken under their new name, with a warning)."""
    node: Any = defaults()
    for part in path.split("."):
        node = node[part]
    if overrides:
        overrides = copy.deepcopy(dict(overrides))
        for line in migrate_renamed_keys(overrides, at=path):
            log.warning("%s", line)
    return _merge(dict(node), overrides or {})


def migrated_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with its renamed keys under their new names, silently (e.g. the effective config a
    release recorded before a rename, compared with today's)."""
    out = copy.deepcopy(dict(config))
    migrate_renamed_keys(out)
    return out


def migrate_renamed_keys(config: MutableMapping[str, Any], *, at: str = "") -> list[str]:
    """Move every old key of :data:`RENAMED_KEYS` in ``config`` to its new name, in place, before validation.

    :param at: the dotted path of ``config`` in the whole configuration ("" for the whole of it).
    :return: one warning line per key moved, naming the old and the new key.
    :raises ConfigError: when a key is given under both names with different values.
    """
    prefix = f"{at}." if at else ""
    lines = []
    for old, new in RENAMED_KEYS.items():
        if not old.startswith(prefix):
            continue
        *parents, old_leaf = old[len(prefix):].split(".")
        new_leaf = new.rsplit(".", 1)[1]
        node: Any = config
        for part in parents:
            node = node.get(part) if isinstance(node, Mapping) else None
        if not isinstance(node, MutableMapping) or old_leaf not in node:
            continue
        value = node.pop(old_leaf)
        if new_leaf in node and node[new_leaf] != value:
            raise ConfigError(
                f"config: {old} (old name) = {value!r} and {new} = {node[new_leaf]!r} disagree: keep only {new}"
            )
        node[new_leaf] = value
        lines.append(f"config: {old} is now called {new}: the old name is read as the new one (rename it)")
    return lines


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            base[k] = _merge(dict(base[k]), v)
        else:
            base[k] = v
    return base
