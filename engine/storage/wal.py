"""The write-ahead log of a collection's growing rows.

File layout (format 2)::

    0      header slot A   (64 bytes)      the slot with the valid CRC and the higher
    512    header slot B   (64 bytes)      sequence number is the current header
    4096   records ...

A header slot holds ``magic b"WALH", format, seq, start_lsn, end, count, last_lsn,
crc32``: the log has ``count`` acknowledged records occupying bytes
``[4096, end)``, the last one numbered ``last_lsn``. A record is framed as::

    magic b"WAL1" | length u32 | crc32 u32 of (lsn, kind, payload) | lsn u64 | kind u8 | payload

INSERT/UPSERT payloads are ``partition name (u16 length + utf-8)`` followed by one
Arrow IPC stream holding the batch; DELETE payloads are the JSON list of primary keys.

`append` writes the record after ``end``, then the *other* header slot with the new
``end``/``count``, then fsyncs once; the write is acknowledged only after that. A
crash during an append therefore leaves either the old header (the new bytes after
``end`` were never acknowledged: they are ignored, and truncated by the next writer)
or the new header with a torn final record (also never acknowledged: dropped). A
torn header write leaves the other slot intact; then every record that slot counts was
acknowledged (a later append had begun), so only bytes after its end are dropped.

Anything else — a damaged or missing record before the final one, a file shorter
than the header says, a header that cannot be read, a missing file — means
acknowledged writes are gone. `read_log` then raises `WalDamage` naming the file,
the byte offset and how many acknowledged records are affected; the collection
opens read-only (see `engine.collection`).

Readers (other processes) call `read_log` with the offset they reached and never
modify the file; only the writer, holding the write lock, truncates.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from engine.errors import CorruptionError
from engine.storage import faults

MAGIC = b"WAL1"
HEADER = struct.Struct("<4sIIQB")  # record: magic, length, crc, lsn, kind
SLOT = struct.Struct("<4sIQQQQQ")  # header slot: magic, format, seq, start_lsn, end, count, last_lsn
SLOT_MAGIC = b"WALH"
FORMAT = 2
SLOT_OFFSETS = (0, 512)
DATA_START = 4096
INSERT, UPSERT, DELETE = 1, 2, 3
KINDS = (INSERT, UPSERT, DELETE)


def wal_name(start_lsn: int) -> str:
    """File name of the log whose first record is `start_lsn` (format-1 logs were named ``wal_*.log``)."""
    return f"log_{start_lsn:016d}.wal"


class WalDamage(CorruptionError):
    """Acknowledged records of a write-ahead log are damaged or missing."""

    def __init__(self, message: str, path: str, affected: int) -> None:
        self.affected = affected
        super().__init__(message, path)


@dataclass
class WalRecord:
    lsn: int
    kind: int
    partition: str = ""
    batch: pa.RecordBatch | None = None
    pks: list[Any] | None = None


@dataclass(frozen=True)
class WalHeader:
    seq: int
    start_lsn: int
    end: int
    count: int
    last_lsn: int


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


def _pack_slot(h: WalHeader) -> bytes:
    body = SLOT.pack(SLOT_MAGIC, FORMAT, h.seq, h.start_lsn, h.end, h.count, h.last_lsn)
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


def _unpack_slot(raw: bytes) -> WalHeader | None:
    if len(raw) < SLOT.size + 4:
        return None
    body = raw[: SLOT.size]
    (crc,) = struct.unpack_from("<I", raw, SLOT.size)
    if zlib.crc32(body) & 0xFFFFFFFF != crc:
        return None
    magic, fmt, seq, start, end, count, last = SLOT.unpack(body)
    if magic != SLOT_MAGIC or fmt != FORMAT or end < DATA_START:
        return None
    return WalHeader(seq, start, end, count, last)


def read_header(fd: int, path: Path) -> WalHeader:
    """The current header of an open log; WalDamage when neither slot is readable."""
    return _read_slots(fd, path)[0]


def _read_slots(fd: int, path: Path) -> tuple[WalHeader, bool]:
    """(current header, whether its final record may be a torn append).

    Only when both slots are intact: a torn write of the next header leaves the other slot
    intact, but then the current header's records were all acknowledged (a later append began)."""
    raw = os.pread(fd, SLOT_OFFSETS[1] + SLOT.size + 4, 0)  # both slots in one read
    slots = [_unpack_slot(raw[off : off + SLOT.size + 4]) for off in SLOT_OFFSETS]
    valid = [s for s in slots if s is not None]
    if not valid:
        size = os.fstat(fd).st_size
        raise WalDamage(f"write-ahead log {path} has no readable header ({size} bytes): its acknowledged "
                        "records cannot be trusted", str(path), -1)
    current = max(valid, key=lambda s: s.seq)
    return current, len(valid) == 2


def decode_record(kind: int, lsn: int, payload: bytes) -> WalRecord:
    if kind == DELETE:
        return WalRecord(lsn, kind, pks=json.loads(payload))
    partition, batch = decode_batch(payload)
    return WalRecord(lsn, kind, partition=partition, batch=batch)


@dataclass
class LogRead:
    """What `read_log` found: new records, where it stopped, and whether the final record was torn."""

    header: WalHeader
    records: list[WalRecord]
    offset: int  # byte offset after the last record returned
    torn_final: bool  # the header's final record is damaged (never acknowledged): dropped
    damage: WalDamage | None = None  # acknowledged records are damaged or missing from `offset` on


def read_log(fd: int, path: Path, offset: int = DATA_START, seen: int = 0) -> LogRead:
    """Records from byte `offset` (after `seen` records) up to the header's end.

    When acknowledged records are damaged or missing, the intact ones before the damage
    are returned with `damage` set; an unreadable header raises WalDamage."""
    h, may_be_torn = _read_slots(fd, path)
    if offset >= h.end and (may_be_torn or h.seq < 2):
        return LogRead(h, [], offset, False)  # the common case of a poll: nothing new, one read
    size = os.fstat(fd).st_size
    if offset >= h.end:
        if _intact_record_at(fd, h.end, size):
            return LogRead(h, [], offset, False, WalDamage(
                f"write-ahead log {path} has a damaged header slot, and an intact record follows its other "
                f"slot's end at byte {h.end}: at least one acknowledged record is not counted", str(path), 1))
        return LogRead(h, [], offset, False)
    data = os.pread(fd, max(0, min(h.end, size) - offset), offset)
    records: list[WalRecord] = []
    pos = 0
    index = seen
    while offset + pos < h.end:
        start = offset + pos
        problem = None
        if pos + HEADER.size > len(data):
            problem = "is cut short"
        else:
            magic, length, crc, lsn, kind = HEADER.unpack_from(data, pos)
            end = pos + HEADER.size + length
            if magic != MAGIC or kind not in KINDS:
                problem = "has a damaged record header"
            elif offset + end > h.end:
                problem = "has a record that runs past the acknowledged end"
            elif end > len(data):
                problem = "is cut short"
            else:
                payload = data[pos + HEADER.size : end]
                if _crc(lsn, kind, payload) != crc:
                    problem = "has a record whose checksum does not match"
        if problem is None:
            try:
                records.append(decode_record(kind, lsn, payload))
            except Exception:
                problem = "has a record that cannot be decoded"
        if problem is not None:
            if index == h.count - 1 and may_be_torn:  # the header's final record: an append torn by a crash
                return LogRead(h, records, start, True)
            affected = h.count - index
            return LogRead(h, records, start, False, WalDamage(
                f"write-ahead log {path} {problem} at byte {start} (record {index + 1} of {h.count}): "
                f"{affected} acknowledged record(s) from there on are lost or unreadable", str(path), affected))
        pos = end
        index += 1
    if index != h.count:
        return LogRead(h, records, offset + pos, False, WalDamage(
            f"write-ahead log {path} holds {index} records, its header says {h.count}", str(path),
            abs(h.count - index)))
    if not may_be_torn and h.seq >= 2 and _intact_record_at(fd, h.end, size):
        return LogRead(h, records, offset + pos, False, WalDamage(
            f"write-ahead log {path} has a damaged header slot, and an intact record follows its other slot's "
            f"end at byte {h.end}: at least one acknowledged record is not counted", str(path), 1))
    return LogRead(h, records, offset + pos, False)


def _intact_record_at(fd: int, pos: int, size: int) -> bool:
    if pos + HEADER.size > size:
        return False
    magic, length, crc, lsn, kind = HEADER.unpack(os.pread(fd, HEADER.size, pos))
    if magic != MAGIC or kind not in KINDS or pos + HEADER.size + length > size:
        return False
    return _crc(lsn, kind, os.pread(fd, length, pos + HEADER.size)) == crc


class WriteAheadLog:
    """The writer's handle on one log file (one per collection generation, rotated at each seal)."""

    def __init__(self, path: Path, fd: int, header: WalHeader) -> None:
        self.path = path
        self._fd = fd
        self.header = header

    @classmethod
    def create(cls, path: Path, start_lsn: int) -> WriteAheadLog:
        """A new, empty log (fails if the file exists); fsynced, with its directory."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        h = WalHeader(1, start_lsn, DATA_START, 0, start_lsn - 1)
        os.pwrite(fd, _pack_slot(h), SLOT_OFFSETS[1])
        os.pwrite(fd, b"\0" * (DATA_START - SLOT_OFFSETS[1] - SLOT.size - 4), SLOT_OFFSETS[1] + SLOT.size + 4)
        os.fsync(fd)
        return cls(path, fd, h)

    @classmethod
    def open(cls, path: Path) -> WriteAheadLog:
        """Open an existing log for appending (the caller has validated its records)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            raise WalDamage(f"write-ahead log {path} is missing: the catalog expects it", str(path), -1) from None
        return cls(path, fd, read_header(fd, path))

    def append(self, lsn: int, kind: int, payload: bytes) -> None:
        """Write one record and fsync; returns once it is durable (acknowledged)."""
        h = self.header
        rec = HEADER.pack(MAGIC, len(payload), _crc(lsn, kind, payload), lsn, kind) + payload
        new = WalHeader(h.seq + 1, h.start_lsn, h.end + len(rec), h.count + 1, lsn)
        if faults.active("wal.torn") or faults.active("wal.torn_header"):
            os.pwrite(self._fd, rec[: max(1, len(rec) // 2)], h.end)
            if faults._POINT == "wal.torn_header":
                os.pwrite(self._fd, _pack_slot(new), SLOT_OFFSETS[new.seq % 2])
            os.fsync(self._fd)
            faults.die()
        os.pwrite(self._fd, rec, h.end)
        os.pwrite(self._fd, _pack_slot(new), SLOT_OFFSETS[new.seq % 2])
        faults.point("wal.unsynced")
        os.fsync(self._fd)
        self.header = new

    def reload_header(self) -> WalHeader:
        """Re-read the header (another process may have appended since this handle last wrote)."""
        self.header = read_header(self._fd, self.path)
        return self.header

    def append_batch(self, lsn: int, kind: int, partition: str, batch: pa.RecordBatch) -> None:
        self.append(lsn, kind, encode_batch(partition, batch))

    def append_delete(self, lsn: int, pks: list[Any]) -> None:
        self.append(lsn, DELETE, json.dumps(pks).encode())

    def drop_torn_tail(self, valid_end: int, count: int, last_lsn: int) -> None:
        """Forget a torn final record and any unacknowledged bytes after `valid_end` (writer only)."""
        h = self.header
        if (valid_end, count) != (h.end, h.count):
            new = WalHeader(h.seq + 1, h.start_lsn, valid_end, count, last_lsn)
            os.pwrite(self._fd, _pack_slot(new), SLOT_OFFSETS[new.seq % 2])
            self.header = new
        if os.fstat(self._fd).st_size > valid_end:
            os.ftruncate(self._fd, valid_end)
        os.fsync(self._fd)

    @property
    def fd(self) -> int:
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_legacy_log(path: Path) -> list[WalRecord]:
    """Records of a format-1 log (no header; used once, to migrate a version-1 database).

    A torn tail is tolerated as before; damage followed by an intact record raises."""
    out, pos, damaged = scan_legacy_log(path)
    if damaged:
        raise CorruptionError(f"write-ahead log {path} (format 1) is damaged at byte {pos} and an intact-looking "
                              "record follows: acknowledged writes may be lost", str(path))
    return out


def scan_legacy_log(path: Path) -> tuple[list[WalRecord], int, bool]:
    """(intact records of a format-1 log, byte offset where they end, whether a record follows damage there)."""
    data = path.read_bytes()
    out: list[WalRecord] = []
    pos = 0
    while pos + HEADER.size <= len(data):
        magic, length, crc, lsn, kind = HEADER.unpack_from(data, pos)
        end = pos + HEADER.size + length
        if magic != MAGIC or end > len(data) or kind not in KINDS:
            break
        payload = data[pos + HEADER.size : end]
        if _crc(lsn, kind, payload) != crc:
            break
        out.append(decode_record(kind, lsn, payload))
        pos = end
    return out, pos, pos < len(data) and data.find(MAGIC, pos + 1) != -1
