"""Checkpoints of a storage replica's MVCC store (plain Python, no Ray).

A storage replica applies its zone's journal into an :class:`MvccStore`. Every so often
it writes the whole store to a checkpoint file, so that after a restart it loads the
newest checkpoint and replays only the journal records after the positions the
checkpoint covers. All versions of all keys are written (not only the newest), so a
snapshot read older than the checkpoint still sees what it saw before the restart.

Directory layout
----------------
::

    checkpoint-00000000000000000007.arrow           # newest `keep` checkpoints
    checkpoint-00000000000000000008.arrow
    checkpoint-00000000000000000009.arrow.tmp       # being written (or a crash's leftover)
    checkpoint-00000000000000000005.arrow.corrupt   # failed verification at load

The number in the name is a counter: one more than the highest number present in the
directory (under any of the three suffixes), so the newest checkpoint always has the
highest number, even if the journal positions ever went back.

File format
-----------
An Arrow IPC *file* (``pyarrow.ipc.new_file``), buffers compressed with lz4 (frame), one
record per version, in key order and, within a key, in timestamp order::

    key  binary  not null   the encoded key
    ts   int64   not null   the commit timestamp of this version
    row  binary  nullable   pickle.dumps(row, protocol=5); null = a deletion tombstone

Records are written in batches of at most ``BATCH_ROWS`` rows and about
``BATCH_BYTES_MAX`` bytes, built with vectorised ``pa.array`` calls, so memory stays
bounded whatever the store's size. The schema metadata key ``dsql_ray.checkpoint`` holds
JSON: ``format`` (``FORMAT_VERSION``), the :class:`CheckpointMeta` fields (``positions``
with string keys, ``low``/``high`` as hex, ``high`` null for an unbounded range), and
the totals ``keys`` and ``versions``. Each batch carries custom metadata ``batch`` (its
index) and ``crc32``: a CRC-32 over the batch's row count, null counts and the used
bytes of every buffer (validity bitmaps, offsets, data), so bit rot inside a batch is
caught, not only truncation.

Durability
----------
The file is written as ``<name>.tmp``, fsynced, renamed to ``<name>`` and the directory
fsynced; only then are older checkpoints beyond the newest ``keep`` removed (and the
directory fsynced again). A crash at any point leaves the previous checkpoints intact;
stale ``.tmp`` files are removed by the next write or load.

Loading
-------
:func:`load_latest_checkpoint` tries checkpoints newest first. A file that fails
verification (not an Arrow file, truncated, wrong schema, bad metadata, CRC mismatch,
version or key count different from the metadata, versions out of order) is logged,
renamed to ``<name>.corrupt`` and the next older one is tried; ``.corrupt`` files are
deleted by a later write once ``keep`` newer checkpoints exist. A file that cannot be
opened, or cannot be used by this code (a newer format version, a row that fails to
unpickle), is logged and skipped but left in place. ``None`` when no checkpoint loads.

Concurrency: :func:`snapshot_store` takes, on the thread that applies to the store,
what a checkpoint needs: the keys in order, each key's version lists and how many
versions each holds now (C-level copies, milliseconds per 100,000 keys). Applying a
commit only appends to those lists, so :func:`write_snapshot` may then encode, compress,
write and fsync that snapshot in another thread while commits go on being applied; it
writes exactly the versions counted, never the later ones. Nothing may *remove* versions
(``MvccStore.gc``) until it returns (``storage/shard.py`` runs both from one task).
:func:`write_checkpoint` does both at once, for a store nothing changes meanwhile.
A directory belongs to one replica; nothing here guards against two writers.
"""
from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import pickle
import struct
import time
import zlib
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa

from .mvcc import MvccStore

__all__ = ["CheckpointMeta", "StoreSnapshot", "snapshot_store", "write_snapshot",
           "write_checkpoint", "load_latest_checkpoint", "read_checkpoint",
           "list_checkpoints", "CorruptCheckpointError", "FORMAT_VERSION", "SCHEMA",
           "BATCH_ROWS", "BATCH_BYTES_MAX"]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
BATCH_ROWS = 65536                  # versions per record batch, at most
BATCH_BYTES_MAX = 64 * 2**20        # a batch is cut once its key + row bytes reach this
PICKLE_PROTOCOL = 5

SCHEMA = pa.schema([
    pa.field("key", pa.binary(), nullable=False),
    pa.field("ts", pa.int64(), nullable=False),
    pa.field("row", pa.binary(), nullable=True),
])
_META_KEY = b"dsql_ray.checkpoint"
_BATCH_INDEX_KEY = b"batch"
_BATCH_CRC_KEY = b"crc32"
_WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")

_PREFIX = "checkpoint-"
_SUFFIX = ".arrow"
_TMP_SUFFIX = ".tmp"
_CORRUPT_SUFFIX = ".corrupt"
_DIGITS = 20
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_I32 = struct.Struct("<i")
_COUNTS = struct.Struct("<qq")


class CorruptCheckpointError(Exception):
    """A checkpoint file failed verification; ``str()`` says why."""


class _Unusable(Exception):
    """Internal: a checkpoint that cannot be opened, or cannot be used by this code."""


@dataclass(frozen=True)
class CheckpointMeta:
    positions: dict[int, int]   # journal stream id → last applied seq covered
    complete_ts: int            # the replica's completeness timestamp at checkpoint time
    last_ts: int                # MvccStore.last_ts
    shard_id: int
    low: bytes
    high: bytes | None


# ------------------------------------------------------------------------ metadata

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_meta(meta: CheckpointMeta) -> None:
    if not isinstance(meta.positions, dict) or not all(
            _is_int(k) and _is_int(v) for k, v in meta.positions.items()):
        raise TypeError(f"CheckpointMeta.positions must map int to int: {meta.positions!r}")
    for name in ("complete_ts", "last_ts", "shard_id"):
        if not _is_int(getattr(meta, name)):
            raise TypeError(f"CheckpointMeta.{name} must be an int: {getattr(meta, name)!r}")
    if not isinstance(meta.low, (bytes, bytearray)):
        raise TypeError(f"CheckpointMeta.low must be bytes: {meta.low!r}")
    if meta.high is not None and not isinstance(meta.high, (bytes, bytearray)):
        raise TypeError(f"CheckpointMeta.high must be bytes or None: {meta.high!r}")


def _encode_meta(meta: CheckpointMeta, *, keys: int, versions: int) -> bytes:
    doc = {
        "format": FORMAT_VERSION,
        "positions": {str(stream): seq for stream, seq in sorted(meta.positions.items())},
        "complete_ts": meta.complete_ts,
        "last_ts": meta.last_ts,
        "shard_id": meta.shard_id,
        "low": bytes(meta.low).hex(),
        "high": None if meta.high is None else bytes(meta.high).hex(),
        "keys": keys,
        "versions": versions,
        "written_at": time.time(),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _decode_meta(raw: bytes | None) -> tuple[CheckpointMeta, int, int]:
    """(meta, keys, versions) from the schema metadata value; raises on anything off."""
    if raw is None:
        raise CorruptCheckpointError(f"schema metadata lacks {_META_KEY.decode()!r}")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptCheckpointError(f"metadata is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CorruptCheckpointError("metadata is not a JSON object")
    version = doc.get("format")
    if not _is_int(version):
        raise CorruptCheckpointError(f"metadata has no valid format version: {version!r}")
    if version > FORMAT_VERSION:
        raise _Unusable(f"format version {version}, this code reads {FORMAT_VERSION}")
    if version != FORMAT_VERSION:
        raise CorruptCheckpointError(f"unknown format version {version}")
    try:
        ints = {name: doc[name] for name in ("complete_ts", "last_ts", "shard_id", "keys",
                                             "versions")}
        if not all(_is_int(v) for v in ints.values()):
            raise ValueError(f"non-integer field in {ints}")
        if ints["keys"] < 0 or ints["versions"] < ints["keys"]:
            raise ValueError(f"implausible counts: {ints['keys']} keys, "
                             f"{ints['versions']} versions")
        positions_doc = doc["positions"]
        if not isinstance(positions_doc, dict):
            raise ValueError("positions is not an object")
        positions = {}
        for stream, seq in positions_doc.items():
            if not (stream.lstrip("-").isdigit() and _is_int(seq)):
                raise ValueError(f"bad position {stream!r}: {seq!r}")
            positions[int(stream)] = seq
        low = bytes.fromhex(doc["low"])
        high = None if doc["high"] is None else bytes.fromhex(doc["high"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptCheckpointError(f"bad metadata: {exc!r}") from None
    meta = CheckpointMeta(positions=positions, complete_ts=ints["complete_ts"],
                          last_ts=ints["last_ts"], shard_id=ints["shard_id"],
                          low=low, high=high)
    return meta, ints["keys"], ints["versions"]


# --------------------------------------------------------------------------- batches

def _batch_crc(batch: pa.RecordBatch) -> int:
    """CRC-32 over the used bytes of every buffer, so it is the same for a batch built in
    memory and the batch read back from the file (whose buffers may differ in padding)."""
    n = batch.num_rows
    crc = zlib.crc32(_COUNTS.pack(n, batch.num_columns))
    for column in batch.columns:
        if column.offset:
            raise CorruptCheckpointError("unexpected sliced column")
        crc = zlib.crc32(_COUNTS.pack(column.null_count, 0), crc)
        buffers = column.buffers()
        if column.null_count:
            crc = _crc_bitmap(buffers[0], n, crc)
        if pa.types.is_binary(column.type):
            offsets, data = buffers[1], buffers[2]
            if offsets is None or offsets.size < 4 * (n + 1):
                raise CorruptCheckpointError("binary column with a short offsets buffer")
            view = memoryview(offsets)
            crc = zlib.crc32(view[:4 * (n + 1)], crc)
            start, end = _I32.unpack_from(view, 0)[0], _I32.unpack_from(view, 4 * n)[0]
            size = 0 if data is None else data.size
            if not 0 <= start <= end <= size:
                raise CorruptCheckpointError(f"binary offsets {start}..{end} outside the "
                                             f"{size}-byte data buffer")
            if data is not None:
                crc = zlib.crc32(memoryview(data)[start:end], crc)
        else:                                                   # int64
            data = buffers[1]
            if data is None or data.size < 8 * n:
                raise CorruptCheckpointError("int64 column with a short data buffer")
            crc = zlib.crc32(memoryview(data)[:8 * n], crc)
    return crc


def _crc_bitmap(bitmap, n: int, crc: int) -> int:
    used = (n + 7) // 8
    if bitmap is None or bitmap.size < used:
        raise CorruptCheckpointError("column with nulls lacks a full validity bitmap")
    bits = bytearray(memoryview(bitmap)[:used])
    if n % 8:
        bits[-1] &= (1 << (n % 8)) - 1          # bits past the end are not data
    return zlib.crc32(bits, crc)


def _make_batch(keys: list, tss: list, rows: list) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(keys, pa.binary()), pa.array(tss, pa.int64()), pa.array(rows, pa.binary())],
        schema=SCHEMA)


@dataclass(frozen=True)
class StoreSnapshot:
    """A store as it was at one moment, without copying its versions (module docstring):
    its keys in key order, and in the store's own (insertion) order its keys, their
    live (timestamps, rows) lists and how many versions each held then."""
    keys: list[bytes]
    stored: list[bytes]
    entries: list[tuple[list[int], list[Any]]]
    counts: list[int]
    last_ts: int

    @property
    def versions(self) -> int:
        return sum(self.counts)

    def items(self) -> Iterator[tuple[bytes, list[int], list[Any]]]:
        """(key, timestamps, rows) as of the snapshot, in key order."""
        where = {key: i for i, key in enumerate(self.stored)}
        entries, counts = self.entries, self.counts
        for key in self.keys:
            i = where[key]
            (tss, rows), count = entries[i], counts[i]
            if len(tss) < count or len(rows) < count:
                raise RuntimeError(f"versions of {key!r} were removed while checkpointing")
            yield key, tss[:count], rows[:count]


def snapshot_store(store: MvccStore) -> StoreSnapshot:
    """What a checkpoint of ``store`` as it is now needs: O(keys), each step one C call
    (no lookup per key: the store's dict is read in its own order)."""
    versions = store._versions
    entries = list(versions.values())
    return StoreSnapshot(list(store._keys), list(versions), entries,
                         list(map(len, map(itemgetter(0), entries))), store.last_ts)


def _iter_batches(snapshot: StoreSnapshot, batch_rows: int,
                  batch_bytes: int) -> Iterator[pa.RecordBatch]:
    """The snapshot's versions in key then timestamp order, as bounded record batches."""
    dumps = pickle.dumps
    protocol = PICKLE_PROTOCOL
    keys: list[bytes] = []
    tss: list[int] = []
    rows: list[bytes | None] = []
    nbytes = 0
    for key, key_tss, key_rows in snapshot.items():
        for ts, row in zip(key_tss, key_rows):
            keys.append(key)
            tss.append(ts)
            if row is None:
                rows.append(None)
                nbytes += len(key)
            else:
                data = dumps(row, protocol)
                rows.append(data)
                nbytes += len(key) + len(data)
            if len(keys) >= batch_rows or nbytes >= batch_bytes:
                yield _make_batch(keys, tss, rows)
                keys, tss, rows, nbytes = [], [], [], 0
    if keys:
        yield _make_batch(keys, tss, rows)


# --------------------------------------------------------------------- directory

def _checkpoint_name(number: int) -> str:
    return f"{_PREFIX}{number:0{_DIGITS}d}{_SUFFIX}"


def _parse_name(name: str) -> tuple[int, str] | None:
    """(number, extra suffix: "", ".tmp" or ".corrupt") of a checkpoint-family file."""
    for extra in ("", _TMP_SUFFIX, _CORRUPT_SUFFIX):
        tail = _SUFFIX + extra
        if name.startswith(_PREFIX) and name.endswith(tail):
            digits = name[len(_PREFIX):len(name) - len(tail)]
            if len(digits) == _DIGITS and digits.isdigit():
                return int(digits), extra
    return None


def _scan_directory(directory: Path) -> list[tuple[int, str, str]]:
    """Sorted (number, extra suffix, name) of every checkpoint-family file."""
    found = []
    for name in os.listdir(directory):
        parsed = _parse_name(name)
        if parsed is not None:
            found.append((parsed[0], parsed[1], name))
    return sorted(found)


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first (not verified)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return [directory / name for _, extra, name in _scan_directory(directory) if not extra]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ensure_directory(directory: Path) -> None:
    if directory.is_dir():
        return
    os.makedirs(directory, exist_ok=True)
    _fsync_dir(directory.resolve().parent)


def _remove_temp_files(directory: Path) -> None:
    removed = False
    for _, extra, name in _scan_directory(directory):
        if extra == _TMP_SUFFIX:
            os.remove(directory / name)
            removed = True
            logger.info("checkpoints %s: removed stale %s", directory, name)
    if removed:
        _fsync_dir(directory)


def _prune(directory: Path, keep: int) -> None:
    """Remove checkpoints older than the newest ``keep``, and ``.corrupt`` files once
    ``keep`` newer checkpoints exist."""
    files = _scan_directory(directory)
    checkpoints = [(number, name) for number, extra, name in files if not extra]
    doomed = [name for _, name in checkpoints[:-keep]]
    if len(checkpoints) >= keep:
        oldest_kept = checkpoints[-keep][0]
        doomed += [name for number, extra, name in files
                   if extra == _CORRUPT_SUFFIX and number < oldest_kept]
    for name in doomed:
        os.remove(directory / name)
        logger.debug("checkpoints %s: removed %s", directory, name)
    if doomed:
        _fsync_dir(directory)


# ------------------------------------------------------------------------- write

def write_checkpoint(directory: str | os.PathLike, store: MvccStore, meta: CheckpointMeta,
                     *, keep: int = 2, batch_rows: int = BATCH_ROWS,
                     batch_bytes: int = BATCH_BYTES_MAX) -> Path:
    """Write ``store`` durably as the newest checkpoint in ``directory``; keep the newest
    ``keep`` checkpoints (this one included) and delete older ones. Returns its path.

    ``meta.last_ts`` must equal ``store.last_ts``. The store must not change meanwhile.
    """
    return write_snapshot(directory, snapshot_store(store), meta, keep=keep,
                          batch_rows=batch_rows, batch_bytes=batch_bytes)


def write_snapshot(directory: str | os.PathLike, snapshot: StoreSnapshot,
                   meta: CheckpointMeta, *, keep: int = 2, batch_rows: int = BATCH_ROWS,
                   batch_bytes: int = BATCH_BYTES_MAX) -> Path:
    """:func:`write_checkpoint` of a :func:`snapshot_store`: safe in another thread while
    commits are applied to the store, as long as no versions are removed."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    if batch_rows < 1 or batch_bytes < 1:
        raise ValueError("batch_rows and batch_bytes must be positive")
    _check_meta(meta)
    if meta.last_ts != snapshot.last_ts:
        raise ValueError(f"meta.last_ts {meta.last_ts} != store.last_ts {snapshot.last_ts}")
    directory = Path(directory)
    _ensure_directory(directory)
    _remove_temp_files(directory)
    files = _scan_directory(directory)
    number = files[-1][0] + 1 if files else 1
    path = directory / _checkpoint_name(number)
    tmp = path.with_name(path.name + _TMP_SUFFIX)

    started = time.perf_counter()
    nkeys, total = len(snapshot.keys), snapshot.versions
    schema = SCHEMA.with_metadata({_META_KEY: _encode_meta(meta, keys=nkeys, versions=total)})
    written = 0
    try:
        with open(tmp, "xb") as f:
            with pa.ipc.new_file(f, schema, options=_WRITE_OPTIONS) as writer:
                for index, batch in enumerate(_iter_batches(snapshot, batch_rows,
                                                            batch_bytes)):
                    writer.write_batch(batch, custom_metadata={
                        _BATCH_INDEX_KEY: str(index).encode(),
                        _BATCH_CRC_KEY: str(_batch_crc(batch)).encode()})
                    written += batch.num_rows
            if written != total:
                raise RuntimeError(f"wrote {written} versions, expected {total}")
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise
    os.replace(tmp, path)
    _fsync_dir(directory)
    _prune(directory, keep)
    logger.info("checkpoints %s: wrote %s (%d keys, %d versions, %d bytes) in %.3f s",
                directory, path.name, nkeys, total, path.stat().st_size,
                time.perf_counter() - started)
    return path


# -------------------------------------------------------------------------- load

def read_checkpoint(path: str | os.PathLike) -> tuple[MvccStore, CheckpointMeta]:
    """Read and verify one checkpoint file.

    Raises CorruptCheckpointError if it fails verification, ValueError if it cannot be
    opened or used (newer format, rows that fail to unpickle).
    """
    try:
        return _read(Path(path))
    except _Unusable as exc:
        raise ValueError(str(exc)) from None


def _read(path: Path) -> tuple[MvccStore, CheckpointMeta]:
    try:
        source = pa.OSFile(str(path), "rb")
    except OSError as exc:                  # vanished, no permission: not the file's fault
        raise _Unusable(f"cannot open: {exc}") from None
    with source, _gc_paused():
        try:
            return _read_from(source)
        except (CorruptCheckpointError, _Unusable):
            raise
        except (pa.ArrowException, OSError) as exc:
            # pyarrow reports a malformed IPC file as ArrowInvalid or as an OSError
            # (ArrowIOError), and a read error of the open file is as fatal to it
            raise CorruptCheckpointError(f"{type(exc).__name__}: {exc}") from None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while loading: the millions of tuples and lists built would
    otherwise trigger repeated collections over an ever larger heap (2-4x the time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_from(source) -> tuple[MvccStore, CheckpointMeta]:
    reader = pa.ipc.open_file(source)
    if not reader.schema.equals(SCHEMA, check_metadata=False):
        raise CorruptCheckpointError(f"unexpected schema {reader.schema}")
    meta, expected_keys, expected_versions = _decode_meta(
        (reader.schema.metadata or {}).get(_META_KEY))
    last_ts = meta.last_ts
    loads = pickle.loads
    versions: dict[bytes, tuple[list[int], list[Any]]] = {}
    current: bytes | None = None
    current_tss: list[int] = []
    current_rows: list[Any] = []
    total = 0
    for index in range(reader.num_record_batches):
        batch, custom = reader.get_batch_with_custom_metadata(index)
        custom = custom or {}
        if custom.get(_BATCH_INDEX_KEY) != str(index).encode():
            raise CorruptCheckpointError(f"batch {index}: bad index metadata "
                                         f"{custom.get(_BATCH_INDEX_KEY)!r}")
        crc = _batch_crc(batch)
        if custom.get(_BATCH_CRC_KEY) != str(crc).encode():
            raise CorruptCheckpointError(f"batch {index}: CRC mismatch")
        batch.validate(full=True)
        key_col, ts_col, row_col = batch.columns
        if key_col.null_count or ts_col.null_count:
            raise CorruptCheckpointError(f"batch {index}: null key or timestamp")
        keys, tss = key_col.to_pylist(), ts_col.to_pylist()
        try:
            rows = [None if data is None else loads(data) for data in row_col.to_pylist()]
        except Exception as exc:
            raise _Unusable(f"batch {index}: a row failed to unpickle: {exc!r}") from None
        for key, ts, row in zip(keys, tss, rows):
            if ts > last_ts:
                raise CorruptCheckpointError(f"version at {ts} after last_ts {last_ts}")
            if key == current:
                if ts < current_tss[-1]:      # equal: one commit wrote the key twice
                    raise CorruptCheckpointError(f"versions of {key!r} out of order")
                current_tss.append(ts)
                current_rows.append(row)
            else:
                if current is not None and key < current:
                    raise CorruptCheckpointError(f"keys out of order at {key!r}")
                current, current_tss, current_rows = key, [ts], [row]
                versions[key] = (current_tss, current_rows)
        total += len(keys)
    if total != expected_versions or len(versions) != expected_keys:
        raise CorruptCheckpointError(
            f"holds {len(versions)} keys and {total} versions, metadata says "
            f"{expected_keys} and {expected_versions}")
    return MvccStore.from_versions(versions, last_ts), meta


def load_latest_checkpoint(directory: str | os.PathLike
                           ) -> tuple[MvccStore, CheckpointMeta] | None:
    """The newest checkpoint in ``directory`` that verifies, or None.

    Removes stale ``.tmp`` files; renames checkpoints that fail verification to
    ``.corrupt`` (with a warning) and falls back to older ones.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None
    _remove_temp_files(directory)
    for path in reversed(list_checkpoints(directory)):
        started = time.perf_counter()
        try:
            store, meta = _read(path)
        except CorruptCheckpointError as exc:
            corrupt = path.with_name(path.name + _CORRUPT_SUFFIX)
            logger.warning("checkpoints %s: %s is corrupt (%s); renamed to %s, trying an "
                           "older one", directory, path.name, exc, corrupt.name)
            os.replace(path, corrupt)
            _fsync_dir(directory)
            continue
        except _Unusable as exc:
            logger.warning("checkpoints %s: cannot use %s (%s); trying an older one",
                           directory, path.name, exc)
            continue
        logger.info("checkpoints %s: loaded %s (%d keys, positions %s) in %.3f s",
                    directory, path.name, len(store), meta.positions,
                    time.perf_counter() - started)
        return store, meta
    return None
