"""The engine's client API (pymilvus-compatible)."""

from engine.client.embedding_list import EmbeddingList
from engine.client.milvus_client import AnnSearchRequest, LoadState, MilvusClient, QueryIterator

__all__ = ["AnnSearchRequest", "EmbeddingList", "LoadState", "MilvusClient", "QueryIterator"]
