"""Per-segment vector indexes behind one small protocol (`VectorIndex`).

Ids are local row offsets within the segment; distances follow Milvus's convention.
"""

from engine.index.base import VectorIndex
from engine.index.factory import AUTOINDEX_PARAMS, SUPPORTED_INDEX_TYPES, create_index, load_index
from engine.index.flat import BruteForceIndex, exact_search
from engine.index.hnsw import HNSWIndex
from engine.index.ivf import IVFFlatIndex
from engine.index.maxsim import MaxSimIndex
from engine.index.recall import RecallPoint, RecallProgress, RecallReport, recall_check, run_recall_check

__all__ = [
    "AUTOINDEX_PARAMS",
    "SUPPORTED_INDEX_TYPES",
    "BruteForceIndex",
    "HNSWIndex",
    "IVFFlatIndex",
    "MaxSimIndex",
    "RecallPoint",
    "RecallProgress",
    "RecallReport",
    "VectorIndex",
    "create_index",
    "exact_search",
    "load_index",
    "recall_check",
    "run_recall_check",
]
