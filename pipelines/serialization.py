"""JSON round-trip for the pipeline's dataclasses.

Every value that flows between stages is a dataclass whose fields are plain types, numpy
arrays, other such dataclasses, or lists/dicts/optionals of them. `to_jsonable` turns one into
JSON-ready data; `from_jsonable` rebuilds it from the type hints, so a saved Project re-opens
into exactly the values it was saved from (float64 survives JSON exactly; arrays keep dtype).
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

import numpy as np

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata.get("serialize", True)}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def _build(tp: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        candidates = [a for a in get_args(tp) if a is not type(None)]
        return _build(candidates[0], data) if len(candidates) == 1 else data
    if tp is np.ndarray or (isinstance(data, dict) and "__ndarray__" in data):
        return np.asarray(data["__ndarray__"], dtype=data["dtype"]).reshape(data["shape"])
    if dataclasses.is_dataclass(tp):
        return from_jsonable(tp, data)
    if origin in (list, typing.List):
        (item,) = get_args(tp) or (Any,)
        return [_build(item, v) for v in data]
    if origin in (tuple, typing.Tuple):
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], v) for v in data)
        return tuple(_build(a, v) for a, v in zip(args, data)) if args else tuple(data)
    if origin in (dict, typing.Dict):
        _, val = get_args(tp) or (Any, Any)
        return {k: _build(val, v) for k, v in data.items()}
    if tp is Path:
        return Path(data)
    if tp is float and isinstance(data, int):
        return float(data)
    return data


def from_jsonable(cls: type[T], data: dict) -> T:
    hints = get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data and f.init:
            kwargs[f.name] = _build(hints[f.name], data[f.name])
    return cls(**kwargs)


def dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=1)


def loads(cls: type[T], text: str) -> T:
    return from_jsonable(cls, json.loads(text))
