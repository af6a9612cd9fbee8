"""`get_server_version` and `get_partition_stats`: pymilvus's calls, answered by the embedded engine."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import TYPE_CHECKING, Any

from engine.client.validation import check_lookup_name
from engine.errors import ParamError, PartitionNotFoundError, brief

if TYPE_CHECKING:
    from engine.collection import Collection

# The Milvus release whose client API the engine follows (Array of Structs: "Compatible with Milvus 2.6.4+").
MILVUS_API_VERSION = "2.6.4"


def engine_version() -> str:
    """The installed package's version ("0.1.0"), or "unknown" when run from a source tree without metadata."""
    try:
        return metadata.version("vector-workbench")
    except metadata.PackageNotFoundError:
        return "unknown"


class InfoMixin:
    """Mixed into MilvusClient; relies on its `_coll`."""

    def _coll(self, name: str) -> Collection:  # provided by MilvusClient
        raise NotImplementedError

    def get_server_version(self, timeout: float | None = None, detail: bool = False,
                           **kwargs: Any) -> str | dict[str, Any]:
        """"2.6.4-engine-<version>": the Milvus API the engine follows, then the engine's own version.

        Code that parses a Milvus version (`re.search(r"(\\d+)\\.(\\d+)\\.(\\d+)")`, `packaging.version`'s
        first three numbers) reads 2.6.4; `detail=True` gives pymilvus's keys (`version`, `build_time`,
        `git_commit`, `go_version`, `deploy_mode`) with what applies to an embedded engine.
        """
        if not isinstance(detail, bool):
            raise ParamError(f"detail must be True or False, got {brief(detail)}")
        version = f"{MILVUS_API_VERSION}-engine-{engine_version()}"
        if not detail:
            return version
        return {"version": version, "build_time": "", "git_commit": "", "go_version": "",
                "deploy_mode": "EMBEDDED", "engine_version": engine_version(),
                "python_version": platform.python_version()}

    def get_partition_stats(self, collection_name: str, partition_name: str, timeout: float | None = None,
                            **kwargs: Any) -> dict[str, int]:
        """`{"row_count": n}`: the partition's live rows (Milvus Lite counts live rows too; a Milvus server
        counts deleted rows until compaction, as for get_collection_stats)."""
        if not isinstance(partition_name, str):
            raise ParamError(f"partition_name must be a str, got {type(partition_name).__name__}")
        coll = self._coll(collection_name)
        check_lookup_name(partition_name, "partition_name")
        if partition_name not in coll.partitions():
            raise PartitionNotFoundError(f"partition {partition_name!r} does not exist in collection {coll.name!r}")
        return {"row_count": sum(s.live_rows for s in coll.snapshot.select([partition_name]))}
