"""Per-sample intake results to JSON and back, driven by the dataclasses' type annotations.

A per-sample (or per-chunk) intake job writes its :class:`~callset.intake.run.SampleResult` list as JSON and
the batch's gather job reads it back. Any dataclass whose fields are annotated with JSON-friendly types
round-trips without code of its own: ``str``, ``int``, ``float``, ``bool``, ``None``, :class:`~pathlib.Path`,
``list[T]``, ``tuple[T, ...]``/``tuple[A, B]``, ``dict[str, T]``, ``T | None``, ``Any`` (kept as parsed),
:class:`numpy.ndarray` (dtype and shape kept, e.g. an identity fingerprint's genotypes) and nested dataclasses.
A field added to a result (e.g. by a new per-sample check) is carried automatically if its type is one of these;
floats round-trip exactly (``repr``), NaN and infinities included.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def to_json_obj(obj: Any) -> Any:
    """``obj`` as plain JSON values (dataclasses become dicts of their fields, paths strings, tuples lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json_obj(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.ndarray):
        return {"dtype": obj.dtype.str, "shape": list(obj.shape), "data": obj.ravel().tolist()}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {str(k): to_json_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_json_obj(v) for v in obj]
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON: {obj!r}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_json_obj(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` from :func:`to_json_obj`'s output."""
    if tp is Any or data is None and _is_optional(tp):
        return data
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return from_json_obj(inner[0], data)
        return data  # a union of several types: kept as parsed
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = _hints(tp)
        kwargs: dict[str, Any] = {}
        late: dict[str, Any] = {}
        for f in dataclasses.fields(tp):
            if f.name not in data:
                continue
            value = from_json_obj(hints[f.name], data[f.name])
            (kwargs if f.init else late)[f.name] = value
        obj = tp(**kwargs)
        for k, v in late.items():
            object.__setattr__(obj, k, v)
        return obj
    if tp is Path:
        return Path(data)
    if tp is np.ndarray:
        return np.asarray(data["data"], dtype=np.dtype(data["dtype"])).reshape(data["shape"])
    if origin in (list, set, frozenset):
        return origin(from_json_obj(args[0] if args else Any, v) for v in data)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json_obj(args[0], v) for v in data)
        if args:
            return tuple(from_json_obj(a, v) for a, v in zip(args, data, strict=True))
        return tuple(data)
    if origin is dict or tp is dict:
        vt = args[1] if len(args) == 2 else Any
        return {k: from_json_obj(vt, v) for k, v in data.items()}
    if tp is float and isinstance(data, int):
        return float(data)
    return data


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)
