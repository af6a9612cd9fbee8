"""The write-ahead log of a collection's growing data.

Each record is framed as::

    magic  b"WAL1"   4 bytes
    length uint32    payload length
    crc32  uint32    of (lsn, kind, payload)
    lsn    uint64    log sequence number, strictly increasing
    kind   uint8     INSERT, UPSERT or DELETE
    payload

INSERT/UPSERT payloads are `partition name (uint16 length + utf-8)` followed by
one Arrow IPC stream holding the batch. DELETE payloads are the JSON list of
primary keys. `append` returns only after fsync, so an acknowledged record is
durable. On replay, reading stops at the first torn or corrupt record; when no
intact record follows it, it is a torn tail (a write that was never
acknowledged) and the file is truncated there. An intact record after it means
the damage hit acknowledged writes: replay raises `CorruptionError` naming the
file and leaves it untouched, rather than silently dropping them.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from engine.errors import CorruptionError

MAGIC = b"WAL1"
HEADER = struct.Struct("<4sIIQB")  # magic, length, crc, lsn, kind
INSERT, UPSERT, DELETE = 1, 2, 3


@dataclass
class WalRecord:
    lsn: int
    kind: int
    partition: str = ""
    batch: pa.RecordBatch | None = None
    pks: list[Any] | None = None


def encode_batch(partition: str, batch: pa.RecordBatch) -> bytes:
    sink = io.BytesIO()
    name = partition.encode()
    sink.write(struct.pack("<H", len(name)))
    sink.write(name)
    with ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def decode_batch(payload: bytes) -> tuple[str, pa.RecordBatch]:
    (n,) = struct.unpack_from("<H", payload, 0)
    partition = payload[2 : 2 + n].decode()
    reader = ipc.open_stream(pa.py_buffer(payload[2 + n :]))
    batches = list(reader)
    if len(batches) != 1:
        raise ValueError("a WAL insert record must hold exactly one batch")
    return partition, batches[0]


def _crc(lsn: int, kind: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<QB", lsn, kind))) & 0xFFFFFFFF


class WriteAheadLog:
    """Append-only log file; one per collection generation (rotated at each seal)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "ab")

    def append(self, lsn: int, kind: int, payload: bytes) -> None:
        """Write one record and fsync it; returns once it is durable."""
        header = HEADER.pack(MAGIC, len(payload), _crc(lsn, kind, payload), lsn, kind)
        self._fh.write(header + payload)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def append_batch(self, lsn: int, kind: int, partition: str, batch: pa.RecordBatch) -> None:
        self.append(lsn, kind, encode_batch(partition, batch))

    def append_delete(self, lsn: int, pks: list[Any]) -> None:
        self.append(lsn, DELETE, json.dumps(pks).encode())

    def close(self) -> None:
        self._fh.close()

    @staticmethod
    def replay(path: Path) -> Iterator[WalRecord]:
        """Yield the intact records of `path`; truncate a torn tail in place.

        Raises CorruptionError when a damaged record is followed by an intact one."""
        data = path.read_bytes()
        pos = 0
        good_end = 0
        while pos + HEADER.size <= len(data):
            magic, length, crc, lsn, kind = HEADER.unpack_from(data, pos)
            start, end = pos + HEADER.size, pos + HEADER.size + length
            if magic != MAGIC or end > len(data):
                break
            payload = data[start:end]
            if _crc(lsn, kind, payload) != crc:
                break
            if kind in (INSERT, UPSERT):
                partition, batch = decode_batch(payload)
                yield WalRecord(lsn, kind, partition=partition, batch=batch)
            elif kind == DELETE:
                yield WalRecord(lsn, kind, pks=json.loads(payload))
            else:
                break
            pos = good_end = end
        if good_end < len(data):
            later = _next_intact_record(data, good_end + 1)
            if later is not None:
                raise CorruptionError(
                    f"write-ahead log {path} is damaged at byte {good_end}, but an intact record follows at byte "
                    f"{later}: acknowledged writes were lost or overwritten (not a torn tail)",
                    str(path),
                )
            with open(path, "r+b") as fh:
                fh.truncate(good_end)
                fh.flush()
                os.fsync(fh.fileno())


def _next_intact_record(data: bytes, start: int) -> int | None:
    """Offset of the first record at or after `start` whose header and CRC are valid, or None."""
    i = data.find(MAGIC, start)
    while i != -1 and i + HEADER.size <= len(data):
        _, length, crc, lsn, kind = HEADER.unpack_from(data, i)
        end = i + HEADER.size + length
        if kind in (INSERT, UPSERT, DELETE) and end <= len(data) and _crc(lsn, kind, data[i + HEADER.size : end]) == crc:
            return i
        i = data.find(MAGIC, i + 1)
    return None
