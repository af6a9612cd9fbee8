"""Exact vector maths: distances, top-k, MAX_SIM scoring and hybrid-search rankers."""

from engine.vectors.metrics import maxsim_scores, normalize_rows, score_matrix, top_k, worst_value
from engine.vectors.rankers import RRFRanker, WeightedRanker, fuse, normalize_scores

__all__ = [
    "RRFRanker",
    "WeightedRanker",
    "fuse",
    "maxsim_scores",
    "normalize_rows",
    "normalize_scores",
    "score_matrix",
    "top_k",
    "worst_value",
]
