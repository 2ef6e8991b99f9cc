"""The workflow configuration's defaults, in one place: the JSON Schema (``callset/schemas/config.schema.yaml``).

Snakemake fills the defaults of a run's config when ``rules/common.smk`` validates it; library code called
outside Snakemake (tests, sites' own scripts) gets the same values from :func:`defaults` / :func:`section`,
so no threshold is written twice. Settings objects (e.g. :class:`callset.release.write.ReleaseSettings`) are
built once from such a section.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from typing import Any

import yaml

from callset.core.reference import schema_path

CONFIG_SCHEMA = "config.schema.yaml"


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
    (nested dicts are merged key by key)."""
    node: Any = defaults()
    for part in path.split("."):
        node = node[part]
    return _merge(dict(node), overrides or {})


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            base[k] = _merge(dict(base[k]), v)
        else:
            base[k] = v
    return base
