"""pymilvus `MilvusClient` calls the engine does not implement: a clear `UnsupportedError`, not an AttributeError.

Code that changed only its import may call any of pymilvus 3.0.2's `MilvusClient` methods. Those the
engine lacks (users and roles, resource groups, snapshots, replication...) raise `UnsupportedCallError`
(an `UnsupportedError`, so a `MilvusException`; also an AttributeError, so `hasattr` is False) naming
the call, when they are looked up. A method
the engine defines is never affected: this is consulted only for names the class does not have.
"""

from __future__ import annotations

from engine.errors import UnsupportedCallError

# pymilvus 3.0.2's MilvusClient methods (milvus_client/milvus_client.py), less those the engine has.
PYMILVUS_CALLS = frozenset({
    "add_collection_field", "add_collection_function", "add_collection_struct_field", "add_file_resource",
    "add_function_field", "add_privileges_to_group", "alter_alias", "alter_collection_field",
    "alter_collection_function", "alter_database_properties", "alter_index_properties", "alter_role",
    "create_alias", "create_database", "create_privilege_group", "create_resource_group", "create_role",
    "create_snapshot", "create_user", "describe_alias", "describe_database", "describe_replica",
    "describe_resource_group", "describe_role", "describe_snapshot", "describe_user", "drop_alias",
    "drop_collection_field", "drop_collection_function", "drop_database", "drop_database_properties",
    "drop_function_field", "drop_index_properties", "drop_privilege_group", "drop_resource_group", "drop_role",
    "drop_snapshot", "drop_user", "dump_messages", "flush_all", "get_compaction_plans", "get_flush_all_state",
    "get_refresh_external_collection_progress", "get_replicate_configuration", "get_replicate_info",
    "get_restore_snapshot_state", "grant_privilege", "grant_privilege_v2", "grant_role", "list_aliases",
    "list_compaction_tasks", "list_databases", "list_file_resources", "list_loaded_segments",
    "list_privilege_groups", "list_refresh_external_collection_jobs", "list_resource_groups",
    "list_restore_snapshot_jobs", "list_roles", "list_segments", "list_snapshots", "list_users", "optimize",
    "pin_snapshot_data", "refresh_external_collection", "refresh_load", "remove_file_resource",
    "remove_privileges_from_group", "restore_snapshot", "revoke_privilege", "revoke_privilege_v2", "revoke_role",
    "run_analyzer", "session", "transfer_replica", "truncate_collection", "unpin_snapshot_data",
    "update_password", "update_replicate_configuration", "update_resource_groups", "update_user",
    "use_database", "using_database",
})


def unsupported_call(self: object, name: str) -> object:
    """`__getattr__` of MilvusClient: pymilvus calls the engine lacks raise UnsupportedError naming them."""
    if name in PYMILVUS_CALLS:
        raise UnsupportedCallError(f"MilvusClient.{name}() is a pymilvus call the embedded engine does not implement "
                               "(docs/engine.md lists the calls it has)")
    raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
