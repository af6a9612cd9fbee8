"""On-disk storage: the SQLite catalog, the write-ahead log and sealed segment files."""
