"""Rerank functions: pymilvus's `Function` / `FunctionType` / `FunctionScore`, read and scored as Milvus does.

A rerank function is `Function(name, FunctionType.RERANK, input_field_names, params={"reranker": ...})`,
passed as `search(ranker=...)` or `hybrid_search(ranker=...)`. pymilvus's own objects are read the
same way, by their attributes (`type`, `params`, `input_field_names`; a `FunctionScore`'s
`functions` and `params`), so the engine does not import pymilvus.

Rerankers (https://milvus.io/docs/decay-ranker-overview.md, gaussian-decay.md, exponential-decay.md,
linear-decay.md, boost-ranker.md, rrf-ranker.md, weighted-ranker.md):

* ``decay`` (one numeric input field; ``function`` gauss / exp / linear, ``origin``, ``scale`` > 0,
  ``offset`` >= 0 (0), ``decay`` in (0, 1) (0.5)): with ``adj = max(0, |value - origin| - offset)``,
  gauss ``exp(adj² ln(decay) / scale²)``, exp ``exp(adj ln(decay) / scale)``, linear
  ``max(0, 1 - adj (1 - decay) / scale)``. The final score is the hit's similarity made "larger is
  better" (IP and COSINE as they are, distances as ``1 - 2 atan(d) / π``; in a hybrid search the
  largest over its requests) times the decay score. Not with grouping (the docs' rule).
* ``boost`` (no input fields; ``weight`` required; ``filter`` and ``random_score`` {seed, field}
  optional): the score of each hit the filter matches is multiplied by ``weight`` (times a random
  number in [0, 1) with ``random_score``). Several boosts go in a `FunctionScore` whose params
  ``function_mode`` (Multiply or Sum) combines the factors of the boosts that apply and
  ``boost_mode`` (Multiply or Sum) applies them to the score. Not as a hybrid search's ranker.
* ``rrf`` (``k``, 60) and ``weighted`` (``weights``, ``norm_score`` False): `RRFRanker` and
  `WeightedRanker` in the Function form (engine/vectors/rankers.py scores them).
* ``model`` (remote reranking services): not supported, refused.

Every parameter is checked; an unknown one is refused (Milvus Lite ignores it).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from engine.errors import ParamError, UnsupportedError, brief
from engine.types import larger_is_closer
from engine.vectors.rankers import RRF_K_MAX, BaseRanker, RRFRanker, WeightedRanker

__all__ = ["Boost", "BoostSet", "Decay", "Function", "FunctionScore", "FunctionType", "read_ranker",
           "to_greater"]


class FunctionType(IntEnum):
    """pymilvus's function types (the same numbers)."""

    UNKNOWN = 0
    BM25 = 1
    TEXTEMBEDDING = 2
    RERANK = 3
    MINHASH = 4


class Function:
    """A function: pymilvus's constructor and checks. The engine runs RERANK functions (see the module)."""

    def __init__(self, name: str, function_type: Any, input_field_names: str | list[str],
                 output_field_names: str | list[str] | None = None, description: str = "",
                 params: dict[str, Any] | None = None) -> None:
        if not isinstance(name, str):
            raise ParamError(f"the name of the function must be a string, got {brief(name)}")
        if not isinstance(description, str):
            raise ParamError(f"function {name!r}: description must be a string, got {brief(description)}")
        inputs = [input_field_names] if isinstance(input_field_names, str) else input_field_names
        outputs = [] if output_field_names is None else output_field_names
        outputs = [outputs] if isinstance(outputs, str) else outputs
        for what, names in (("input_field_names", inputs), ("output_field_names", outputs)):
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ParamError(f"function {name!r}: {what} must be a string or a list of strings, got {brief(names)}")
            if len(set(names)) != len(names):
                raise ParamError(f"function {name!r}: {what} {names} has duplicates")
        if set(inputs) & set(outputs):
            raise ParamError(f"function {name!r}: a field cannot be both input and output")
        try:
            self._type = FunctionType(int(function_type))
        except (TypeError, ValueError):
            raise ParamError(f"function {name!r}: unknown function type {brief(function_type)}") from None
        if params is not None and not isinstance(params, dict):
            raise ParamError(f"function {name!r}: params must be a dict, got {brief(params)}")
        self._name, self._description = name, description
        self._inputs, self._outputs = list(inputs), list(outputs)
        self._params = dict(params or {})

    name = property(lambda self: self._name)
    description = property(lambda self: self._description)
    type = property(lambda self: self._type)
    input_field_names = property(lambda self: list(self._inputs))
    output_field_names = property(lambda self: list(self._outputs))
    params = property(lambda self: dict(self._params))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self._name, "description": self._description, "type": self._type,
                "input_field_names": list(self._inputs), "output_field_names": list(self._outputs),
                "params": dict(self._params)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Function:
        """A Function from `to_dict()`'s form (ours, pymilvus's, or a stored schema's)."""
        return cls(d["name"], d["type"], d.get("input_field_names") or [], d.get("output_field_names") or [],
                   d.get("description") or "", d.get("params"))

    def __repr__(self) -> str:
        return str(self.to_dict())


class FunctionScore:
    """Several rerank functions with their combination (`boost_mode`, `function_mode`), as pymilvus's."""

    def __init__(self, functions: Any, params: dict[str, Any] | None = None) -> None:
        self._functions = [functions] if not isinstance(functions, (list, tuple)) else list(functions)
        self._params = params

    functions = property(lambda self: list(self._functions))
    params = property(lambda self: self._params)


@dataclass(frozen=True)
class Decay:
    field: str
    function: str
    origin: float
    scale: float
    offset: float = 0.0
    decay: float = 0.5

    def scores(self, values: np.ndarray) -> np.ndarray:
        """The decay score of each value (float64; NaN, a null value, scores 0)."""
        adj = np.maximum(0.0, np.abs(values.astype(np.float64) - self.origin) - self.offset)
        with np.errstate(invalid="ignore"):
            if self.function == "gauss":
                out = np.exp(adj * adj * math.log(self.decay) / (self.scale * self.scale))
            elif self.function == "exp":
                out = np.exp(adj * math.log(self.decay) / self.scale)
            else:
                out = np.maximum(0.0, 1.0 - adj * (1.0 - self.decay) / self.scale)
        return np.nan_to_num(out, nan=0.0)


@dataclass(frozen=True)
class Boost:
    weight: float
    filter: str | None = None
    seed: int | None = None
    random_field: str | None = None

    @property
    def random(self) -> bool:
        return self.seed is not None or self.random_field is not None


@dataclass(frozen=True)
class BoostSet:
    boosts: tuple[Boost, ...]
    boost_mode: str = "multiply"
    function_mode: str = "multiply"

    def apply(self, score: float, factors: Sequence[float | None]) -> float:
        """`score` with the factors of the boosts that apply (None: that boost's filter did not match)."""
        given = [f for f in factors if f is not None]
        if not given:
            return score
        combined = math.fsum(given) if self.function_mode == "sum" else math.prod(given)
        return score + combined if self.boost_mode == "sum" else score * combined


Reranker = Decay | BoostSet | BaseRanker


def to_greater(distances: np.ndarray, metric: str) -> np.ndarray:
    """Milvus's score for rerankers: similarities as they are, distances as 1 - 2 atan(d) / π (float32)."""
    d = np.asarray(distances, dtype=np.float32)
    if larger_is_closer(metric) or metric.upper() == "BM25":
        return d
    return (np.float32(1.0) - np.float32(2.0) * np.arctan(d.astype(np.float64)).astype(np.float32)
            / np.float32(math.pi)).astype(np.float32)


def random_scores(seed: int, values: Sequence[Any]) -> np.ndarray:
    """A number in [0, 1) per value, fixed by (seed, value): splitmix64 over the value's 64-bit hash."""
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        x = (_hash64(v) ^ (seed * 0x9E3779B97F4A7C15)) & 0xFFFFFFFFFFFFFFFF
        x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        out[i] = ((x ^ (x >> 31)) >> 11) / float(1 << 53)
    return out


def _hash64(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value) & 0xFFFFFFFFFFFFFFFF
    if isinstance(value, (float, np.floating)):
        return int.from_bytes(struct.pack("<d", float(value)), "little")
    h = 0xCBF29CE484222325  # FNV-1a over the text
    for b in str(value).encode("utf-8", "surrogatepass"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


# --- reading a ranker -------------------------------------------------------------------------
def read_ranker(obj: Any, hybrid: bool) -> Reranker:
    """The ranker `obj` as the engine scores it; ParamError / UnsupportedError for anything else.

    Accepts the engine's and pymilvus's `RRFRanker` / `WeightedRanker` (hybrid search only, as
    pymilvus), `Function(FunctionType.RERANK, ...)` and, in `search`, `FunctionScore`.
    """
    if isinstance(obj, BaseRanker):
        if not hybrid:
            raise ParamError(f"search(ranker=) takes a Function or a FunctionScore, got {type(obj).__name__}; "
                             "RRFRanker and WeightedRanker rank a hybrid_search")
        return obj
    strategy = _strategy_of(obj)
    if strategy is not None:
        return read_ranker(strategy, hybrid)
    if hasattr(obj, "functions") and not hasattr(obj, "input_field_names"):
        if hybrid:
            raise ParamError("hybrid_search(ranker=) takes an RRFRanker, a WeightedRanker or a Function, "
                             "not a FunctionScore")
        return _read_function_score(obj)
    if not hasattr(obj, "params") or not hasattr(obj, "input_field_names"):
        kinds = "RRFRanker, WeightedRanker or Function" if hybrid else "Function or FunctionScore"
        raise ParamError(f"ranker must be a {kinds}, got {type(obj).__name__} {brief(obj)}")
    kind, params, inputs, name = _rerank_parts(obj)
    if kind == "decay":
        return _read_decay(name, params, inputs)
    if kind == "boost":
        if hybrid:
            raise ParamError(f"function {name!r}: a boost ranker cannot rank a hybrid_search (Milvus's rule); "
                             "use RRF, weighted or decay")
        return BoostSet((_read_boost(name, params, inputs),))
    if kind in ("rrf", "weighted"):
        if inputs:
            raise ParamError(f"function {name!r}: the {kind} ranker takes no input fields, got {inputs}")
        return _read_fusion(name, kind, params)
    if kind == "model":
        raise UnsupportedError(f"function {name!r}: model rerankers (remote reranking services) are not supported "
                               "by the embedded engine; use decay, boost, rrf or weighted")
    raise ParamError(f"function {name!r}: unknown reranker {brief(kind)}; use decay, boost, rrf, weighted or model")


def _strategy_of(obj: Any) -> BaseRanker | None:
    """pymilvus's RRFRanker / WeightedRanker, read through their `dict()` ({"strategy", "params"})."""
    as_dict = getattr(obj, "dict", None)
    if not callable(as_dict) or hasattr(obj, "input_field_names"):
        return None
    try:
        d = as_dict()
    except TypeError:
        return None
    if not isinstance(d, dict) or d.get("strategy") not in ("rrf", "weighted"):
        return None
    p = dict(d.get("params") or {})
    if d["strategy"] == "rrf":
        return RRFRanker(p.get("k", 60))
    return WeightedRanker(*p.get("weights", []), norm_score=p.get("norm_score", True))


def _rerank_parts(fn: Any) -> tuple[str, dict[str, Any], list[str], str]:
    name = getattr(fn, "name", "?")
    if int(getattr(fn, "type", 0)) != FunctionType.RERANK:
        raise ParamError(f"function {name!r} is not a RERANK function (function_type={brief(getattr(fn, 'type', None))})")
    params = getattr(fn, "params", None)
    if not isinstance(params, dict):
        raise ParamError(f"function {name!r}: params must be a dict, got {brief(params)}")
    if getattr(fn, "output_field_names", None):
        raise ParamError(f"function {name!r}: a rerank function has no output fields")
    params = {str(k).lower(): v for k, v in params.items()}
    kind = params.pop("reranker", None)
    if not isinstance(kind, str):
        raise ParamError(f"function {name!r}: params['reranker'] must name the reranker (decay, boost, rrf, "
                         f"weighted or model), got {brief(kind)}")
    return kind.lower(), params, list(getattr(fn, "input_field_names", None) or []), name


def _number(params: dict[str, Any], key: str, name: str, default: float | None = None) -> float:
    v = params.pop(key, default)
    if v is None:
        raise ParamError(f"function {name!r}: params['{key}'] is required")
    if isinstance(v, str):  # Milvus sends function params as text; a numeric string reads as its number
        try:
            v = float(v.strip())
        except ValueError:
            raise ParamError(f"function {name!r}: params['{key}'] {v!r} is not a number") from None
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(v)):
        raise ParamError(f"function {name!r}: params['{key}'] must be a finite number, got {brief(v)}")
    return float(v)


def _no_more(params: dict[str, Any], name: str, kind: str, known: str) -> None:
    if params:
        raise ParamError(f"function {name!r}: unknown {kind} parameter(s) {sorted(params)}; it takes {known}")


def _read_decay(name: str, params: dict[str, Any], inputs: list[str]) -> Decay:
    if len(inputs) != 1:
        raise ParamError(f"function {name!r}: a decay ranker takes exactly one numeric input field, got {inputs}")
    fn = params.pop("function", None)
    if fn not in ("gauss", "exp", "linear"):
        raise ParamError(f"function {name!r}: params['function'] must be 'gauss', 'exp' or 'linear', got {brief(fn)}")
    origin, scale = _number(params, "origin", name), _number(params, "scale", name)
    offset, decay = _number(params, "offset", name, 0.0), _number(params, "decay", name, 0.5)
    _no_more(params, name, "decay", "function, origin, scale, offset and decay")
    if scale <= 0:
        raise ParamError(f"function {name!r}: scale must be > 0, got {scale}")
    if offset < 0:
        raise ParamError(f"function {name!r}: offset must be >= 0, got {offset}")
    if not 0 < decay < 1:
        raise ParamError(f"function {name!r}: decay must be between 0 and 1 (exclusive), got {decay}")
    return Decay(inputs[0], fn, origin, scale, offset, decay)


def _read_boost(name: str, params: dict[str, Any], inputs: list[str]) -> Boost:
    if inputs:
        raise ParamError(f"function {name!r}: a boost ranker takes no input fields (input_field_names=[]), got {inputs}")
    weight = _number(params, "weight", name)
    flt = params.pop("filter", None)
    if flt is not None and not isinstance(flt, str):
        raise ParamError(f"function {name!r}: params['filter'] must be a filter expression, got {brief(flt)}")
    rnd = params.pop("random_score", None)
    seed: int | None = None
    field: str | None = None
    if rnd is not None:
        if not isinstance(rnd, dict) or set(rnd) - {"seed", "field"}:
            raise ParamError(f"function {name!r}: params['random_score'] must be a dict of 'seed' and 'field', "
                             f"got {brief(rnd)}")
        seed = rnd.get("seed", 0)
        field = rnd.get("field")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ParamError(f"function {name!r}: random_score seed must be an integer, got {brief(seed)}")
        if field is not None and not isinstance(field, str):
            raise ParamError(f"function {name!r}: random_score field must be a field name, got {brief(field)}")
    _no_more(params, name, "boost", "weight, filter and random_score")
    return Boost(weight, flt if flt and flt.strip() else None, seed, field) if rnd is not None \
        else Boost(weight, flt if flt and flt.strip() else None)


_MODES = ("multiply", "sum")


def _read_function_score(obj: Any) -> Reranker:
    functions = list(getattr(obj, "functions", None) or [])
    params = getattr(obj, "params", None) or {}
    if not isinstance(params, dict):
        raise ParamError(f"FunctionScore params must be a dict, got {brief(params)}")
    if not functions:
        raise ParamError("FunctionScore needs at least one function")
    modes = {str(k).lower(): v for k, v in params.items()}
    boost_mode, function_mode = modes.pop("boost_mode", "multiply"), modes.pop("function_mode", "multiply")
    if modes:
        raise ParamError(f"FunctionScore: unknown parameter(s) {sorted(modes)}; it takes boost_mode and function_mode")
    for key, mode in (("boost_mode", boost_mode), ("function_mode", function_mode)):
        if not isinstance(mode, str) or mode.lower() not in _MODES:
            raise ParamError(f"FunctionScore {key} must be 'Multiply' or 'Sum', got {brief(mode)}")
    if len(functions) == 1 and not params:
        return read_ranker(functions[0], hybrid=False)
    boosts = []
    for fn in functions:
        kind, p, inputs, name = _rerank_parts(fn)
        if kind != "boost":
            raise UnsupportedError(f"FunctionScore: function {name!r} is a {kind} ranker; the engine combines "
                                   "boost rankers only (a decay, rrf or weighted ranker goes alone)")
        boosts.append(_read_boost(name, p, inputs))
    return BoostSet(tuple(boosts), boost_mode.lower(), function_mode.lower())


def _read_fusion(name: str, kind: str, params: dict[str, Any]) -> BaseRanker:
    if kind == "rrf":
        k = _number(params, "k", name, 60.0)
        _no_more(params, name, "rrf", "k")
        if not 0 < k < RRF_K_MAX:
            raise ParamError(f"function {name!r}: k must be in (0, {RRF_K_MAX}), got {k}")
        return RRFRanker(int(k) if k.is_integer() else k)  # type: ignore[arg-type]
    weights = params.pop("weights", None)
    norm = params.pop("norm_score", False)
    _no_more(params, name, "weighted", "weights and norm_score")
    if not isinstance(weights, (list, tuple)) or not weights:
        raise ParamError(f"function {name!r}: params['weights'] must be a list of numbers, got {brief(weights)}")
    if not isinstance(norm, bool):
        raise ParamError(f"function {name!r}: params['norm_score'] must be True or False, got {brief(norm)}")
    ranker = WeightedRanker(*weights, norm_score=norm)
    ranker.validate()
    return ranker
