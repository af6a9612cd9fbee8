"""Rules every read follows: the collection must be loaded, `ignore_growing`, Array of Structs search limits.

* Reads (`search`, `query`, `get`, `hybrid_search`, the iterators) refuse a released collection, as
  Milvus and Milvus Lite do ("call load_collection() first"). A collection created without an
  index starts loaded (as in Milvus Lite; a Milvus server cannot load it before it is indexed).
* `ignore_growing=True` leaves out the rows not yet sealed into a segment (Milvus's growing
  segments): a search or query then sees only sealed segments.
* An embedding-list (MAX_SIM) search over an Array of Structs sub-field is a plain `search()`:
  no range search, no grouping, no `search_iterator`, no `hybrid_search` (the Milvus docs' rule).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.collection_state import Snapshot
from engine.errors import CollectionNotLoadedError, MilvusException, ParamError, UnsupportedError, brief

if TYPE_CHECKING:
    from engine.collection import Collection
    from engine.schema import CollectionSchema

EMBEDDING_LIST_RULE = ("an EmbeddingList (MAX_SIM) search over an Array of Structs sub-field can be used only in "
                       "search() without range search or grouping, and not in search_iterator() or hybrid_search()")


def require_loaded(coll: Collection, call: str) -> None:
    """Refuse a read on a released collection, as Milvus does."""
    if not coll.row.get("loaded"):
        raise CollectionNotLoadedError(f"{call}: collection {coll.name!r} is released; call load_collection() first")


def check_flag(value: Any, name: str) -> bool:
    """A True/False argument (None: False); anything else is refused, naming it."""
    if value is None:
        return False
    if not isinstance(value, (bool, np.bool_)):
        raise ParamError(f"{name} must be True or False, got {type(value).__name__} {brief(value, 80)}")
    return bool(value)


def sealed_only(snap: Snapshot) -> Snapshot:
    """The snapshot without its growing rows (`ignore_growing=True`)."""
    return Snapshot(tuple(s for s in snap.segments if s.sealed), snap.lsn)


def is_embedding_list_search(schema: CollectionSchema, anns_field: Any) -> bool:
    """True when `anns_field` names an Array of Structs vector sub-field (`struct[sub]`)."""
    if not isinstance(anns_field, str) or "[" not in anns_field:
        return False
    try:
        return schema.resolve_vector_path(anns_field)[1] is not None
    except MilvusException:
        return False


def refuse_embedding_list(schema: CollectionSchema, anns_field: Any, what: str) -> None:
    if is_embedding_list_search(schema, anns_field):
        raise ParamError(f"{what} on {anns_field!r}: {EMBEDDING_LIST_RULE}")


def refuse_unsupported_search_args(**args: Any) -> None:
    """Refuse pymilvus search arguments the engine does not implement (only when given)."""
    reasons = {
        "function_chains": "function chains (FunctionChain) are not supported by the engine yet; "
                           "rerank with ranker=Function(...) instead",
        "highlighter": "highlighters (text highlighting) are not supported by the engine",
        "ids": "search by primary keys (ids=) is not supported by the engine yet; pass the vectors as data=",
        "search_aggregation": "search aggregations are not supported by the engine",
    }
    for name, value in args.items():
        if value is not None and not (isinstance(value, (list, tuple)) and not value and name == "function_chains"):
            raise UnsupportedError(f"{name}=: {reasons[name]}")
