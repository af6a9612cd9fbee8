"""Collection properties: Milvus's known keys, checked and then honoured, refused, or stored.

`create_collection(properties=...)`, `alter_collection_properties` and `drop_collection_properties`
take the keys Milvus knows. Each one is either honoured, or refused with `UnsupportedError` saying why,
never accepted and ignored (docs/engine.md, "Collection properties"):

| key | here |
|---|---|
| `collection.ttl.seconds` | honoured: rows expire `ttl` seconds after their insert (`engine.ttl`); ≤ 0 means none |
| `mmap.enabled` | honoured for the segment files: memory-mapped (`true`, the default) or read into memory (`false`); indexes are always loaded into memory |
| `collection.autocompaction.enabled` | honoured: `false` stops the background merges and index builds after a seal |
| `partitionkey.isolation` | honoured: needs a partition key; searches must then pin one key with `==` |
| `dynamicfield.enabled` | `true` enables the dynamic field (a schema change); `false` refused |
| `collection.description`, `consistency_level` | change the collection's description / consistency level |
| `allow_insert_auto_id` | `false` honoured (the default); `true` refused |
| `collection.replica.number` | stored; loading with a number other than 1 is refused (one process, one copy) |
| `timezone` | honoured: TIMESTAMPTZ text without an offset is read, and values are written out, in this IANA zone (checked by `engine.client.time_args`) |
| rate limits, resource groups, disk quota, lazy load, warm-up, `ttl_field`, `cipher.*` | refused |
| `engine.*` | the engine's storage settings (docs/storage.md) |
| anything else | stored and reported, as Milvus stores keys it does not know |

Values are kept as text, as pymilvus sends them (`str(value)`), except the `engine.*` settings.
"""

from __future__ import annotations

from typing import Any

from engine.errors import ParamError, UnsupportedError, brief
from engine.namespaces import parse_bool, parse_int, property_text

TTL = "collection.ttl.seconds"
MMAP = "mmap.enabled"
AUTOCOMPACTION = "collection.autocompaction.enabled"
ISOLATION = "partitionkey.isolation"
DYNAMIC = "dynamicfield.enabled"
DESCRIPTION = "collection.description"
CONSISTENCY = "consistency_level"
ALLOW_AUTO_ID = "allow_insert_auto_id"
REPLICAS = "collection.replica.number"
MAX_TTL_SECONDS = 3_155_760_000  # Milvus's common.MaxTTLSeconds (100 years)

# keys that change the collection itself rather than being stored as properties
SCHEMA_KEYS = (DYNAMIC, DESCRIPTION, CONSISTENCY)

_REFUSED_PREFIXES = {
    "collection.insertRate.": "the engine does not rate-limit",
    "collection.upsertRate.": "the engine does not rate-limit",
    "collection.deleteRate.": "the engine does not rate-limit",
    "collection.bulkLoadRate.": "the engine does not rate-limit",
    "collection.queryRate.": "the engine does not rate-limit",
    "collection.searchRate.": "the engine does not rate-limit",
    "collection.diskProtection.": "the engine does not enforce disk quotas",
    "warmup": "the engine maps segments on first use and has no warm-up policies",
    "cipher.": "the engine does not encrypt data",
}
_REFUSED = {
    "collection.resource_groups": "resource groups are a Milvus cluster feature; the engine is one process",
    "lazyload.enabled": "the engine has no lazy-load mode (load_collection maps every segment at once)",
    "ttl_field": "entity-level TTL (expiry read from a TIMESTAMPTZ field) is not implemented",
}


def _refusal(key: str) -> str | None:
    if key in _REFUSED:
        return _REFUSED[key]
    return next((why for prefix, why in _REFUSED_PREFIXES.items() if key.startswith(prefix)), None)


def ttl_seconds(props: dict[str, Any]) -> int:
    """The collection's TTL in seconds (0: none) from its stored properties."""
    text = props.get(TTL)
    if text is None:
        return 0
    try:
        return max(0, int(str(text).strip()))
    except ValueError:
        return 0


def check_milvus_properties(props: dict[str, Any], *, partition_key: bool, auto_id: bool) -> dict[str, Any]:
    """Validate the Milvus keys of `props` (other than `engine.*`); return them with values as stored text.

    `partition_key` / `auto_id` say whether the collection has a partition key / an auto-id primary key."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if not isinstance(key, str) or not key:
            raise ParamError(f"property keys must be non-empty strings, got {brief(key, 80)}")
        if key.startswith("engine."):
            out[key] = value
            continue
        why = _refusal(key)
        if why is not None:
            raise UnsupportedError(f"collection property {key!r} is not supported: {why}")
        text = property_text(key, value)
        if key == TTL:
            try:
                parse_int(key, text, -1, MAX_TTL_SECONDS)
            except ParamError:
                raise ParamError(f"collection TTL {text!r} is not valid: {TTL} must be an integer in "
                                 f"[-1, {MAX_TTL_SECONDS}] (seconds; 0 or -1 means no TTL)") from None
        elif key in (MMAP, AUTOCOMPACTION, DYNAMIC):
            parse_bool(key, text)
        elif key == ISOLATION:
            if parse_bool(key, text) and not partition_key:
                raise ParamError("partition key isolation mode is enabled but no partition key field is set. "
                                 "Please set the partition key first")
        elif key == ALLOW_AUTO_ID:
            if parse_bool(key, text):
                if not auto_id:
                    raise ParamError(f"the value for {ALLOW_AUTO_ID} must be false when autoID is false")
                raise UnsupportedError(f"{ALLOW_AUTO_ID}=true is not supported: an auto_id collection always "
                                       "generates its primary keys here")
        elif key == REPLICAS:
            parse_int(key, text, 1, 1 << 31)  # applied when the collection is loaded (namespaces.check_replicas)
        out[key] = text
    return out


def check_dropped_keys(keys: Any) -> list[str]:
    """The keys of `drop_collection_properties`; Milvus refuses dropping `dynamicfield.enabled`."""
    if isinstance(keys, str) or not isinstance(keys, (list, tuple)) or not keys \
            or not all(isinstance(k, str) and k for k in keys):
        raise ParamError(f"property_keys must be a non-empty list of strings, got {brief(keys)}")
    if DYNAMIC in keys:
        raise ParamError(f"cannot delete key {DYNAMIC}, dynamic field schema could support set to true/false")
    return list(keys)
