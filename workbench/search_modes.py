"""Search modes shared by the CLI and the app: hybrid, grouping and range search.

- **Hybrid search**: several queries (a text and an image) and/or several vector fields, each searched
  as one `AnnSearchRequest`, their hit lists fused by RRF (score Σ 1/(k + rank)) or by weights (score
  Σ wᵢ · normalised similarityᵢ). Requests are ordered query by query, field by field; `--weights` give
  one weight per request in that order.
- **Grouping search**: the best `limit` groups of a scalar field's values (a folder, a document id), up
  to `size` hits each; `strict` leaves out groups with fewer hits.
- **Range search**: score thresholds. For similarity metrics (COSINE, IP) a larger score is closer and
  a hit is kept when `min < score ≤ max` (Milvus's `radius` = min, `range_filter` = max); for L2 a
  smaller distance is closer and a hit is kept when `min ≤ distance < max` (`range_filter` = min,
  `radius` = max). The bound farther from the query is the exclusive one, as in Milvus.

Combinations Milvus refuses are refused here with a message that says why: grouping with a score range
(pymilvus bans range search in a grouping search), grouping or range search on an EmbeddingList
(MAX_SIM) field, and what a backend cannot do (`Capabilities`: "multi_vector", "group_by",
"range_search", "hybrid_grouping").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.backends import AnnRequest, Backend, CapabilityError, Grouping, Hit, Ranker
from workbench.settings import InputError

__all__ = ["Fusion", "Grouping", "QueryPart", "ScoreRange", "SearchModes", "check_modes", "describe_range",
           "field_metric", "group_fields", "larger_is_closer", "parse_weights", "range_kept", "range_params",
           "request_scores", "run_parts", "score_label"]

GROUPABLE_TYPES = frozenset({"BOOL", "INT8", "INT16", "INT32", "INT64", "VARCHAR"})
MAX_GROUP_SIZE = 10  # Milvus's maxGroupSize
RRF_K_MAX = 16384
MAX_TOPK = 16384
FLOAT32_MAX = 3.4e38


@dataclass(frozen=True)
class ScoreRange:
    """Score thresholds in the metric's own units (None: no bound on that side)."""

    min_score: float | None = None
    max_score: float | None = None

    @property
    def active(self) -> bool:
        return self.min_score is not None or self.max_score is not None


@dataclass(frozen=True)
class Fusion:
    """How a hybrid search fuses its requests: "rrf" (with `k`) or "weighted" (one weight per request)."""

    ranker: str = "rrf"
    k: int = 60
    weights: tuple[float, ...] = ()

    def describe(self) -> str:
        if self.ranker == "weighted":
            return "weighted (" + ", ".join(f"{w:g}" for w in self.weights) + ")"
        return f"RRF (k={self.k})"


@dataclass(frozen=True)
class SearchModes:
    """The modes of one search: grouping, a score range, and the fusion of a hybrid search."""

    group: Grouping | None = None
    score_range: ScoreRange | None = None
    fusion: Fusion = field(default_factory=Fusion)

    @property
    def ranged(self) -> bool:
        return self.score_range is not None and self.score_range.active


@dataclass
class QueryPart:
    """One request: a query vector searched on one field. `label` says what it is ("text 'cat'")."""

    label: str
    vector: np.ndarray
    field: str
    metric: str

    @property
    def maxsim(self) -> bool:
        return "[" in self.field


def larger_is_closer(metric: str) -> bool:
    """True for similarity metrics (COSINE, IP and their MAX_SIM forms); False for distances (L2, ...)."""
    return metric.upper().replace("MAX_SIM_", "") in ("COSINE", "IP")


def range_params(metric: str, score_range: ScoreRange | None) -> dict[str, float]:
    """Milvus's `radius` and `range_filter` for thresholds in the metric's units ({} for no range).

    COSINE/IP: keeps min < score ≤ max (radius = min, range_filter = max). L2: keeps min ≤ distance < max
    (range_filter = min, radius = max). A missing bound becomes the metric's widest (Milvus needs a radius).
    """
    if score_range is None or not score_range.active:
        return {}
    lo, hi = score_range.min_score, score_range.max_score
    if lo is not None and hi is not None and lo >= hi:
        raise InputError(f"the minimum score ({lo:g}) must be less than the maximum score ({hi:g})")
    out: dict[str, float] = {}
    if larger_is_closer(metric):
        widest = -1.0 if metric.upper() == "COSINE" else -FLOAT32_MAX
        out["radius"] = float(lo) if lo is not None else widest
        if hi is not None:
            out["range_filter"] = float(hi)
    else:
        if lo is not None and lo < 0:
            raise InputError(f"{metric} distances are never negative; the minimum ({lo:g}) must be ≥ 0")
        out["radius"] = float(hi) if hi is not None else FLOAT32_MAX
        if lo is not None:
            out["range_filter"] = float(lo)
    return out


def range_kept(metric: str, score_range: ScoreRange | None) -> str:
    """The hits a range keeps, "0.2 < score ≤ 0.9" (COSINE, IP) or "0.1 ≤ distance < 0.5" (L2); "" for none."""
    lo = score_range.min_score if score_range is not None else None
    hi = score_range.max_score if score_range is not None else None
    if lo is None and hi is None:
        return ""
    closer = larger_is_closer(metric)
    what = "score" if closer else "distance"
    low_op, high_op = ("<", "≤") if closer else ("≤", "<")
    return (f"{lo:g} {low_op} " if lo is not None else "") + what + (f" {high_op} {hi:g}" if hi is not None else "")


def describe_range(metric: str, score_range: ScoreRange | None = None) -> str:
    """What a range means for `metric`, in words: which way is closer, and which hits are kept."""
    if larger_is_closer(metric):
        rule = f"{metric} similarity: larger is closer; keeps min < score ≤ max (radius = min, range_filter = max)"
    else:
        rule = f"{metric} distance: smaller is closer; keeps min ≤ distance < max (range_filter = min, radius = max)"
    kept = range_kept(metric, score_range)
    return f"{rule}: {kept}" if kept else rule


def documents_refusal(collection: str) -> str:
    """Why a Documents collection offers no hybrid, grouping or range search (the search panel's rows say
    it too): its documents are ranked by their best chunk, and a document stored in parts is shown once."""
    return (f"{collection!r} is a Documents collection: hybrid, grouping and range search are not offered there "
            "yet (documents are ranked by their best chunk; for words and meaning fused, use the documents "
            "search mode 'both')")


def products_refusal(collection: str) -> str:
    """Why a products collection offers no hybrid, grouping or range search (the CLI and the search panel
    say the same): its products are ranked by their best image (MAX_SIM over `images`)."""
    return (f"{collection!r} is a products collection: hybrid, grouping and range search are not offered there "
            "yet (products are ranked by their best image)")


def group_fields(fields: dict[str, Any]) -> list[str]:
    """Fields a search can be grouped by (BOOL, integer or VARCHAR, not the primary key), by name."""
    return sorted(n for n, f in fields.items() if f.dtype in GROUPABLE_TYPES and not f.is_primary
                  and not f.is_struct_array)


def parse_weights(text: str) -> tuple[float, ...]:
    """"0.7,0.3" as (0.7, 0.3)."""
    try:
        return tuple(float(w) for w in text.replace(" ", "").split(",") if w)
    except ValueError:
        raise InputError(f"weights must be numbers separated by commas, e.g. 0.7,0.3; got {text!r}") from None


def field_metric(backend: Backend, collection: str, path: str) -> str:
    """The metric of `path`'s index (COSINE, or MAX_SIM_COSINE for a struct sub-field, when it has none)."""
    for ix in backend.list_indexes(collection):
        if ix.field_name == path and ix.metric_type:
            return str(ix.metric_type)
    return "MAX_SIM_COSINE" if "[" in path else "COSINE"


def score_label(parts: Sequence[QueryPart], modes: SearchModes) -> str:
    """What the hits' scores are: the metric of a single search, or the fusion of a hybrid one."""
    if len(parts) > 1:
        return f"fused score, {modes.fusion.describe()}"
    metric = parts[0].metric if parts else "COSINE"
    return f"{metric} {'similarity' if larger_is_closer(metric) else 'distance'}"


def check_modes(backend: Backend, parts: Sequence[QueryPart], modes: SearchModes, fields: dict[str, Any],
                collection: str = "") -> None:
    """Refuse, with the reason, what Milvus or this backend refuses; nothing is searched before this passes."""
    if not parts:
        raise InputError("nothing to search with")
    hybrid = len(parts) > 1
    maxsim = next((p.field for p in parts if p.maxsim), None)
    caps = backend.capabilities
    where = f" of {collection!r}" if collection else ""
    if hybrid:
        _require(caps, "multi_vector", f"cannot run a hybrid search{where} on {backend.label}")
        if maxsim:
            raise InputError(f"{maxsim} is searched with an EmbeddingList (MAX_SIM): Milvus has no hybrid search "
                             "with EmbeddingList requests; fuse top-level vector fields (e.g. embedding)")
        fusion = modes.fusion
        if fusion.ranker == "rrf":
            if not 0 < fusion.k < RRF_K_MAX:
                raise InputError(f"the RRF k must be between 0 and {RRF_K_MAX} (exclusive), got {fusion.k}")
        elif fusion.ranker == "weighted":
            if len(fusion.weights) != len(parts):
                order = "; ".join(f"{i + 1}. {p.label} on {p.field}" for i, p in enumerate(parts))
                raise InputError(f"the weighted ranker needs one weight per request, {len(parts)} in all "
                                 f"({order}); got {len(fusion.weights)}")
            bad = [w for w in fusion.weights if not 0 <= w <= 1]
            if bad:
                raise InputError(f"weights must be between 0 and 1 (Milvus's rule), got {bad[0]:g}")
        else:
            raise InputError(f"unknown ranker {fusion.ranker!r}; use rrf or weighted")
    group = modes.group
    if group is not None:
        f = fields.get(group.field)
        if f is None or f.is_struct_array:
            raise InputError(f"cannot group by {group.field!r}: collection{where} has no such field; group by one "
                             f"of {', '.join(group_fields(fields)) or '(none: it has no scalar field)'}")
        if f.dtype not in GROUPABLE_TYPES:
            raise InputError(f"cannot group by {group.field} ({f.dtype}): Milvus groups by BOOL, integer or "
                             "VARCHAR fields only")
        if not 1 <= group.size <= MAX_GROUP_SIZE:
            raise InputError(f"the group size must be 1 to {MAX_GROUP_SIZE} (Milvus's limit), got {group.size}")
        if modes.ranged:
            raise InputError("a grouping search cannot have a score range: Milvus refuses range search in a "
                             "grouping search (drop the score range or the grouping)")
        if maxsim:
            raise InputError(f"{maxsim} is searched with an EmbeddingList (MAX_SIM): Milvus does not group "
                             "EmbeddingList searches; search a top-level vector field to group")
        _require(caps, "hybrid_grouping" if hybrid else "group_by", f"cannot group the search{where} on {backend.label}")
    if modes.ranged:
        if maxsim:
            raise InputError(f"{maxsim} is searched with an EmbeddingList (MAX_SIM): Milvus has no range search "
                             "on EmbeddingList searches; search a top-level vector field for a score range")
        _require(caps, "range_search", f"cannot run a range search{where} on {backend.label}")
        for p in parts:
            range_params(p.metric, modes.score_range)  # refuses min ≥ max, a negative distance


def _require(caps: Any, feature: str, what: str) -> None:
    reason = caps.why_not(feature)
    if reason:
        raise CapabilityError(f"{what}: {reason}")


def run_parts(backend: Backend, collection: str, parts: Sequence[QueryPart], *, limit: int, filter: str = "",
              output_fields: Sequence[str] = (), params: dict[str, Any] | None = None,
              partitions: Sequence[str] | None = None, modes: SearchModes | None = None,
              fields: dict[str, Any] | None = None) -> list[Hit]:
    """Search with `parts` (one: a plain, grouping or range search; several: a hybrid search) and `modes`.

    `params` are the index's search parameters (`ef`, `nprobe`). The group field is added to the outputs.
    Hits are `{"id", "distance", "entity"}`, best first; `distance` is the fused score of a hybrid search.
    """
    from workbench.templates import existing_fields

    modes = modes or SearchModes()
    fields = fields if fields is not None else existing_fields(backend.describe_collection(collection))
    check_modes(backend, parts, modes, fields, collection)
    outputs = list(dict.fromkeys([*output_fields, *([modes.group.field] if modes.group else [])]))
    base = dict(params or {})
    if len(parts) == 1:
        p = parts[0]
        sp: dict[str, Any] = {"metric_type": p.metric}
        search = {**base, **range_params(p.metric, modes.score_range)}
        if search:
            sp["params"] = search
        res = backend.search(collection, [p.vector], anns_field=p.field, limit=limit, filter=filter,
                             output_fields=outputs, search_params=sp, partitions=partitions, group=modes.group)
        return list(res[0]) if res else []
    fetch = min(MAX_TOPK, max(2 * limit, 20))  # each list deeper than the limit, so fusion has ranks to work with
    if "ef" in base:
        base["ef"] = max(int(base["ef"]), fetch)
    requests = [AnnRequest(data=[p.vector], anns_field=p.field, limit=fetch, metric_type=p.metric,
                           params={**base, **range_params(p.metric, modes.score_range)}, filter=filter)
                for p in parts]
    f = modes.fusion
    ranker = Ranker(kind=f.ranker, k=f.k, weights=tuple(f.weights))
    res = backend.hybrid_search(collection, requests, ranker, limit=limit, output_fields=outputs,
                                partitions=partitions, group=modes.group)
    return list(res[0]) if res else []


def request_scores(backend: Backend, collection: str, parts: Sequence[QueryPart],
                   ids: Sequence[Any]) -> dict[Any, dict[str, float]]:
    """Each hit's own score for each request of a hybrid search (top-level fields; MAX_SIM ones are left
    out), computed from the stored vectors: what the fused score was made of."""
    plain = [p for p in parts if not p.maxsim]
    if not ids or not plain:
        return {}
    rows = backend.get(collection, list(ids), output_fields=list(dict.fromkeys(p.field for p in plain)))
    from workbench.backends import primary_field

    pk = primary_field(backend.schema(collection))["name"]
    out: dict[Any, dict[str, float]] = {}
    for row in rows:
        scores = {}
        for p in plain:
            v = row.get(p.field)
            if v is not None:
                scores[p.label if len({q.field for q in plain}) == 1 else f"{p.label} on {p.field}"] = \
                    _score(np.asarray(v, dtype=np.float32), np.asarray(p.vector, dtype=np.float32), p.metric)
        out[row[pk]] = scores
    return out


def _score(v: np.ndarray, q: np.ndarray, metric: str) -> float:
    m = metric.upper()
    if m == "COSINE":
        n = float(np.linalg.norm(v) * np.linalg.norm(q))
        return float(np.dot(v, q) / n) if n > 0 else 0.0
    if m == "IP":
        return float(np.dot(v, q))
    return float(np.sum((v - q) ** 2))  # L2: squared, as Milvus reports it
