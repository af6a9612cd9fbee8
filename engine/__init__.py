"""Vector Workbench's embedded vector database, with pymilvus's `MilvusClient` API.

    from engine import MilvusClient, DataType
    client = MilvusClient("my.db")   # a directory the engine owns

This package imports neither Qt nor torch (an import-linter contract checks it).
"""

from engine.client import AnnSearchRequest, EmbeddingList, LoadState, MilvusClient
from engine.errors import MilvusException
from engine.index_params import IndexParams
from engine.partial_update import FieldOp
from engine.schema import CollectionSchema, FieldSchema, StructFieldSchema
from engine.types import DataType
from engine.vectors.function_rankers import Function, FunctionScore, FunctionType
from engine.vectors.rankers import RRFRanker, WeightedRanker

__all__ = [
    "AnnSearchRequest",
    "CollectionSchema",
    "DataType",
    "EmbeddingList",
    "FieldOp",
    "FieldSchema",
    "Function",
    "FunctionScore",
    "FunctionType",
    "IndexParams",
    "LoadState",
    "MilvusClient",
    "MilvusException",
    "RRFRanker",
    "StructFieldSchema",
    "WeightedRanker",
]
