"""On-disk segment log: the storage engine of ONE journal replica (plain Python, no Ray).

The journal is the durable, ordered log of committed transactions. Each replica keeps
its copy in a directory of *segment files*; this module writes, recovers, reads and
truncates that directory. Replication, quorum and catch-up live elsewhere.

Directory layout
----------------
::

    00000000000000000001.seg      # named by the first seq it holds, 20 digits
    00000000000000052311.seg      # rolled when the next frame would push it past
    LOCK                          #   segment_bytes_max; flock'ed by the open log

A segment file is a sequence of frames and nothing else. A frame is one group commit:
one :meth:`SegmentLog.append` call (split only if its body would exceed
``FRAME_RAW_TARGET``), written with one ``write`` and made durable with one fdatasync.

Frame format (all integers little-endian, header = 32 bytes)::

    off  size  field
    0    4     magic            b"DSJF"
    4    1     format version   1
    5    1     flags            0 (reserved)
    6    2     reserved         0
    8    8     first_seq        seq of the frame's first record
    16   4     count            number of records, >= 1
    20   4     raw_len          uncompressed body length
    24   4     comp_len         compressed body length
    28   4     crc              CRC-32 (zlib) of header bytes 0..27, then the compressed body
    32   comp_len               body: lz4 *block* (no size prefix) of the raw body

The raw body is ``count`` records, each ``u32 length`` followed by the payload. Record
seqs are implicit: ``first_seq, first_seq + 1, ...``. The CRC also covers the header so a
flipped bit in ``first_seq`` or a length is caught, not only one in the body.

Why lz4.block rather than lz4.frame: framing, lengths and the checksum are already ours,
so lz4.frame's own header, end mark and optional checksums would be redundant bytes on
every (often tiny) group commit; with the uncompressed size in our header, lz4.block
decompresses in a single call into an exactly sized buffer.

Invariants (asserted)
---------------------
* Seqs are contiguous: within a frame, across frames and across segments; a segment's
  name equals the first seq it holds (or the next seq to be written if it is empty).
* ``last_seq`` only grows, except through :meth:`SegmentLog.truncate_after`.
* ``append`` returns only after the data is fdatasync'ed; creating or removing a segment
  file is followed by an fsync of the directory.

Recovery
--------
Opening scans every segment and verifies each frame: magic, version, lengths against
the file size, CRC, lz4 decompression, record lengths against the body, and seq
contiguity with the previous frame. At the first bad or incomplete frame the tail is
cut: that file is truncated there, every later segment file is removed, a warning says
what was cut, and :attr:`SegmentLog.recovery_cut` describes it. A torn write (crash in
the middle of an append) therefore loses only the frame that was never acknowledged.
Damage to an *earlier* frame also cuts everything after it: those records are lost from
this replica and must be re-fetched from a peer. The scan builds an in-memory index,
per segment, of each frame's first seq and byte offset (two ``array('Q')``, 16 bytes a
frame), so :meth:`SegmentLog.read_from` can seek, and fills the tail cache.

Memory is bounded: the tail cache holds at most ``tail_cache_records`` recent payloads;
reads older than the cache go to disk, one bounded ``pread`` span at a time.

Concurrency: a SegmentLog is not thread-safe; its owner (the replica actor) serializes
calls. The ``LOCK`` file keeps a second SegmentLog (in any process) off the directory.
"""
from __future__ import annotations

import bisect
import contextlib
import fcntl
import logging
import os
import struct
import zlib
from array import array
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import lz4.block

__all__ = ["SegmentLog", "TailCut", "CorruptSegmentError", "MAGIC", "FORMAT_VERSION",
           "HEADER_SIZE", "FRAME_RAW_TARGET", "RECORD_BYTES_MAX"]

logger = logging.getLogger(__name__)

MAGIC = b"DSJF"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sBBHQIIII")      # the full 32-byte header
_CRC_COVERED = _HEADER.size - 4             # header bytes covered by the CRC (all but crc)
_CRC = struct.Struct("<I")
_LEN = struct.Struct("<I")                  # a record's length prefix in the raw body
HEADER_SIZE = _HEADER.size

FRAME_RAW_TARGET = 8 * 2**20                # an append larger than this is split in frames
_LZ4_INPUT_MAX = 0x7E000000                 # LZ4_MAX_INPUT_SIZE
RECORD_BYTES_MAX = _LZ4_INPUT_MAX - _LEN.size
_READ_SPAN = 2**20                          # bytes one pread fetches on the disk read path

_SEGMENT_SUFFIX = ".seg"
_SEQ_DIGITS = 20
_TMP_SUFFIX = ".tmp"
_LOCK_NAME = "LOCK"
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_fdatasync = getattr(os, "fdatasync", os.fsync)


class CorruptSegmentError(Exception):
    """A frame that passed recovery failed verification when read again (bit rot)."""


class _Corrupt(Exception):
    """Internal: a frame failed verification; ``str()`` is the reason."""


@dataclass(frozen=True)
class TailCut:
    """What recovery discarded at open (also logged as a warning)."""
    file: str                       # segment file holding the first bad frame
    offset: int                     # byte offset of that frame; the file now ends here
    reason: str                     # why the frame was rejected
    lost_bytes: int                 # bytes discarded, over all files
    removed_files: tuple[str, ...]  # whole segment files deleted (later than ``file``)
    last_seq: int                   # last seq kept


# --------------------------------------------------------------------------- frames

def _encode_frame(first_seq: int, payloads: Sequence[bytes]) -> bytes:
    """One frame (header + lz4 body) holding ``payloads`` as seqs first_seq, …"""
    parts = []
    for payload in payloads:
        parts.append(_LEN.pack(len(payload)))
        parts.append(payload)
    raw = b"".join(parts)
    body = lz4.block.compress(raw, store_size=False)
    header = bytearray(_HEADER.pack(MAGIC, FORMAT_VERSION, 0, 0, first_seq, len(payloads),
                                    len(raw), len(body), 0))
    crc = zlib.crc32(body, zlib.crc32(memoryview(header)[:_CRC_COVERED]))
    _CRC.pack_into(header, _CRC_COVERED, crc)
    return b"".join((header, body))


def _check_header(header, available: int) -> tuple[int, int, int, int]:
    """Validate a header's fixed fields; ``available`` = bytes present after it.

    Returns (first_seq, count, raw_len, comp_len). The CRC is checked by _decode_body.
    """
    magic, version, flags, reserved, first, count, raw_len, comp_len, _ = \
        _HEADER.unpack_from(header)
    if magic != MAGIC:
        raise _Corrupt(f"bad magic {bytes(magic)!r}")
    if version != FORMAT_VERSION:
        raise _Corrupt(f"unknown format version {version}")
    if flags or reserved:
        raise _Corrupt("reserved header fields are not zero")
    if count < 1:
        raise _Corrupt("frame holds no records")
    if comp_len > available:
        raise _Corrupt(f"incomplete frame: body of {comp_len} bytes, {available} present")
    if not _LEN.size * count <= raw_len <= _LZ4_INPUT_MAX:
        raise _Corrupt(f"implausible body length {raw_len} for {count} records")
    return first, count, raw_len, comp_len


def _decode_body(header, body, count: int, raw_len: int) -> list[bytes]:
    """Check the CRC, decompress and split the body into ``count`` payloads."""
    (crc,) = _CRC.unpack_from(header, _CRC_COVERED)
    if zlib.crc32(body, zlib.crc32(header[:_CRC_COVERED])) != crc:
        raise _Corrupt("CRC mismatch")
    try:
        raw = lz4.block.decompress(body, uncompressed_size=raw_len)
    except lz4.block.LZ4BlockError as exc:
        raise _Corrupt(f"lz4 decompression failed: {exc}") from None
    if len(raw) != raw_len:
        raise _Corrupt(f"body decompressed to {len(raw)} bytes, header says {raw_len}")
    return _split_records(raw, count)


def _split_records(raw: bytes, count: int) -> list[bytes]:
    payloads, pos, end = [], 0, len(raw)
    for _ in range(count):
        if pos + _LEN.size > end:
            raise _Corrupt("record length prefix overruns the body")
        (length,) = _LEN.unpack_from(raw, pos)
        pos += _LEN.size
        if pos + length > end:
            raise _Corrupt("record payload overruns the body")
        payloads.append(raw[pos:pos + length])
        pos += length
    if pos != end:
        raise _Corrupt(f"{end - pos} trailing bytes after the last record")
    return payloads


def _chunks(first_seq: int, payloads: list[bytes]) -> Iterator[tuple[int, list[bytes]]]:
    """Split an append into frames of at most ~FRAME_RAW_TARGET raw bytes (>= 1 record)."""
    start, size = 0, 0
    for i, payload in enumerate(payloads):
        grown = size + _LEN.size + len(payload)
        if i > start and grown > FRAME_RAW_TARGET:
            yield first_seq + start, payloads[start:i]
            start, grown = i, _LEN.size + len(payload)
        size = grown
    yield first_seq + start, payloads[start:]


# ------------------------------------------------------------------------- segments

def _segment_name(base: int) -> str:
    return f"{base:0{_SEQ_DIGITS}d}{_SEGMENT_SUFFIX}"


def _parse_segment_name(name: str) -> int | None:
    stem, suffix = name[:-len(_SEGMENT_SUFFIX)], name[-len(_SEGMENT_SUFFIX):]
    if suffix != _SEGMENT_SUFFIX or len(stem) != _SEQ_DIGITS or not stem.isdigit():
        return None
    return int(stem) or None                # seqs start at 1


@dataclass(eq=False)
class _Segment:
    """One segment file and the index of its frames."""
    base: int                       # first seq it holds; its file name
    path: str
    size: int = 0                   # bytes of verified frames (= file size)
    last: int = field(init=False)   # last seq held; base - 1 while empty
    firsts: array = field(default_factory=lambda: array("Q"))    # frame first seqs
    offsets: array = field(default_factory=lambda: array("Q"))   # frame byte offsets

    def __post_init__(self) -> None:
        self.last = self.base - 1

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def add_frame(self, first: int, count: int, length: int) -> None:
        assert first == self.last + 1, (first, self.last)
        self.firsts.append(first)
        self.offsets.append(self.size)
        self.size += length
        self.last = first + count - 1

    def frame_end(self, i: int) -> int:
        return self.offsets[i + 1] if i + 1 < len(self.offsets) else self.size

    def frame_holding(self, seq: int) -> int:
        """Index of the frame holding ``seq`` (base <= seq <= last)."""
        return bisect.bisect_right(self.firsts, seq) - 1

    def cut_frames(self, i: int) -> None:
        """Forget frames i, i+1, … (the file is cut at their offset by the caller)."""
        self.size = self.offsets[i]
        self.last = self.firsts[i] - 1
        del self.firsts[i:]
        del self.offsets[i:]


def _segment_base(segment: _Segment) -> int:
    return segment.base


# -------------------------------------------------------------------------- the log

class _Collector:
    """Gathers (seq, payload) pairs within read_from's bounds."""
    __slots__ = ("out", "nbytes", "max_records", "max_bytes")

    def __init__(self, max_records: int, max_bytes: int):
        self.out: list[tuple[int, bytes]] = []
        self.nbytes = 0
        self.max_records = max_records
        self.max_bytes = max_bytes

    def add(self, seq: int, payload: bytes) -> bool:
        """Take one record; False (record not taken) once a bound is reached.

        The first record is always taken, however large, so readers make progress.
        """
        if len(self.out) >= self.max_records:
            return False
        if self.out and self.nbytes + len(payload) > self.max_bytes:
            return False
        self.out.append((seq, payload))
        self.nbytes += len(payload)
        return True


class SegmentLog:
    """The durable, ordered record log of one journal replica. See the module docstring."""

    def __init__(self, directory: str | os.PathLike, *, segment_bytes_max: int = 64 * 2**20,
                 tail_cache_records: int = 100_000):
        if segment_bytes_max <= 0:
            raise ValueError("segment_bytes_max must be positive")
        if tail_cache_records < 0:
            raise ValueError("tail_cache_records must be >= 0")
        self._dir = os.fspath(directory)
        self._segment_bytes_max = segment_bytes_max
        self._cache_max = tail_cache_records
        self._segments: list[_Segment] = []
        self._last_seq = 0
        # The cache holds the payloads of seqs last_seq - len + 1 … last_seq.
        self._cache: list[bytes] = []
        self._fd: int | None = None          # O_APPEND fd of the last segment
        self._lock_fd: int | None = None
        self._closed = False
        self._failed: BaseException | None = None
        self.recovery_cut: TailCut | None = None
        self._create_directory()
        self._lock()
        try:
            self._recover()
            if self._segments:
                self._open_last()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ public API

    @property
    def directory(self) -> str:
        return self._dir

    @property
    def last_seq(self) -> int:
        """Seq of the last durable record; 0 when nothing was ever written."""
        return self._last_seq

    @property
    def first_seq(self) -> int:
        """Seq of the first record held; ``last_seq + 1`` when the log is empty."""
        return self._segments[0].base if self._segments else self._last_seq + 1

    def append(self, records: Sequence[tuple[int, bytes]]) -> None:
        """Append records (seq, payload) whose seqs are last_seq+1, last_seq+2, ….

        They are written as one lz4-compressed, checksummed frame (several only if the
        batch exceeds FRAME_RAW_TARGET) and fdatasync'ed once before returning (group
        commit). Raises ValueError on a gap or duplicate, before writing anything. An
        empty batch is a no-op. An I/O error leaves the log failed: reopen to recover.
        """
        self._check_usable()
        if not records:
            return
        first = self._last_seq + 1
        payloads = self._validated_payloads(first, records)
        last = first + len(payloads) - 1
        try:
            for frame_first, chunk in _chunks(first, payloads):
                frame = _encode_frame(frame_first, chunk)
                segment = self._segment_for(len(frame))
                _write_all(self._fd, frame)
                segment.add_frame(frame_first, len(chunk), len(frame))
            _fdatasync(self._fd)
        except BaseException as exc:
            self._failed = exc
            raise
        assert self._segments[-1].last == last > self._last_seq, (last, self._last_seq)
        self._last_seq = last
        self._cache_extend(payloads)

    def read_from(self, seq: int, max_records: int = 1000,
                  max_bytes: int = 4 * 2**20) -> list[tuple[int, bytes]]:
        """Records with seq >= ``seq``, in order: at most ``max_records`` of them and at
        most ``max_bytes`` of payload, except that the first record is always returned.

        Served from the in-memory tail cache when it covers ``seq``, else from disk.
        Returns [] when ``seq > last_seq``. Raises ValueError when ``seq < first_seq``
        (those records were dropped by drop_segments_before, or never existed).
        """
        self._check_usable()
        if seq < self.first_seq:
            raise ValueError(f"seq {seq} is before first_seq {self.first_seq}")
        collector = _Collector(max_records, max_bytes)
        if seq > self._last_seq or max_records <= 0:
            return collector.out
        cache_first = self._last_seq + 1 - len(self._cache)
        if seq >= cache_first:
            start = seq - cache_first
            for i, payload in enumerate(self._cache[start:start + max_records]):
                if not collector.add(seq + i, payload):
                    break
        else:
            self._read_disk(seq, collector)
        return collector.out

    def truncate_after(self, seq: int) -> None:
        """Drop every record with seq > ``seq``; durable before returning.

        Used when a replica discards an unacknowledged tail before catching up from a
        peer. A no-op when ``seq >= last_seq``. Whole later segments are removed (last
        first, so a crash leaves a contiguous prefix); a segment cut at a frame boundary
        is truncated in place; a frame straddling ``seq`` is re-encoded by rewriting its
        segment to a temporary file that is renamed over it (crash-safe, copies at most
        one segment). The only operation that lowers ``last_seq``.
        """
        self._check_usable()
        if seq >= self._last_seq:
            return
        if seq < self.first_seq - 1:
            raise ValueError(f"cannot truncate after {seq}: records before first_seq "
                             f"{self.first_seq} were already dropped")
        try:
            self._remove_segments_after(seq)
            self._cut_last_segment_after(seq)
        except BaseException as exc:
            self._failed = exc
            raise
        keep = len(self._cache) - (self._last_seq - seq)
        del self._cache[max(keep, 0):]
        self._last_seq = seq
        assert self._segments[-1].last == seq

    def drop_segments_before(self, seq: int) -> int:
        """Remove whole segment files all of whose records are < ``seq`` (retention).

        Coarse: records >= ``seq`` are always kept, and so may some below it; the last
        segment is never removed. Oldest first, with a directory fsync after each
        removal, so a crash cannot leave a hole. Returns the new ``first_seq``.
        """
        self._check_usable()
        while len(self._segments) > 1 and self._segments[0].last < seq:
            os.remove(self._segments[0].path)
            self._fsync_dir()
            del self._segments[0]
        cache_first = self._last_seq + 1 - len(self._cache)
        del self._cache[:max(self.first_seq - cache_first, 0)]
        return self.first_seq

    def close(self) -> None:
        """Release file descriptors and the directory lock. Idempotent."""
        self._closed = True
        self._cache = []
        for attr in ("_fd", "_lock_fd"):
            fd = getattr(self, attr, None)
            if fd is not None:
                setattr(self, attr, None)
                os.close(fd)

    def __enter__(self) -> "SegmentLog":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"SegmentLog({self._dir!r}, first_seq={self.first_seq}, "
                f"last_seq={self._last_seq}, segments={len(self._segments)})")

    # ------------------------------------------------------------ open and recovery

    def _create_directory(self) -> None:
        if os.path.isdir(self._dir):
            return
        os.makedirs(self._dir, exist_ok=True)
        _fsync_path(os.path.dirname(os.path.abspath(self._dir)))

    def _lock(self) -> None:
        fd = os.open(os.path.join(self._dir, _LOCK_NAME), os.O_RDWR | os.O_CREAT | _O_CLOEXEC,
                     0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(f"segment log {self._dir!r} is already open") from None
        self._lock_fd = fd

    def _recover(self) -> None:
        """Scan, verify and index every segment; cut the tail at the first bad frame."""
        self._remove_temp_files()
        names = self._segment_names()
        for i, (base, name) in enumerate(names):
            if self._segments and base != self._segments[-1].last + 1:
                self._cut_tail(None, 0, f"segment starts at seq {base}, expected "
                               f"{self._segments[-1].last + 1}", [n for _, n in names[i:]])
                return
            segment = _Segment(base, os.path.join(self._dir, name))
            self._last_seq = segment.last       # the first segment's name sets the base
            bad = self._scan(segment)
            self._segments.append(segment)
            if bad is not None:
                self._cut_tail(segment, bad[0], bad[1], [n for _, n in names[i + 1:]])
                return

    def _remove_temp_files(self) -> None:
        """Remove leftovers of a truncate_after rewrite that crashed before its rename."""
        removed = False
        for name in os.listdir(self._dir):
            if name.endswith(_SEGMENT_SUFFIX + _TMP_SUFFIX):
                os.remove(os.path.join(self._dir, name))
                removed = True
        if removed:
            self._fsync_dir()

    def _segment_names(self) -> list[tuple[int, str]]:
        names = []
        for name in os.listdir(self._dir):
            base = _parse_segment_name(name)
            if base is not None:
                names.append((base, name))
            elif name != _LOCK_NAME:
                logger.warning("segment log %s: ignoring unexpected file %r", self._dir, name)
        return sorted(names)

    def _scan(self, segment: _Segment) -> tuple[int, str] | None:
        """Verify and index ``segment``'s frames, advancing last_seq and the cache.

        Returns (offset, reason) of the first bad frame, or None if all are good.
        """
        with open(segment.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            while segment.size < size:
                pos = segment.size
                try:
                    first, payloads = self._read_frame(f, size - pos)
                    if first != segment.last + 1:
                        raise _Corrupt(f"frame starts at seq {first}, "
                                       f"expected {segment.last + 1}")
                except _Corrupt as exc:
                    return pos, str(exc)
                segment.add_frame(first, len(payloads), f.tell() - pos)
                self._last_seq = segment.last
                self._cache_extend(payloads)
        return None

    @staticmethod
    def _read_frame(f, available: int) -> tuple[int, list[bytes]]:
        """Read and verify the next frame from a file positioned at its header."""
        if available < HEADER_SIZE:
            raise _Corrupt(f"incomplete header: {available} bytes")
        header = f.read(HEADER_SIZE)
        first, count, raw_len, comp_len = _check_header(header, available - HEADER_SIZE)
        body = f.read(comp_len)
        return first, _decode_body(header, body, count, raw_len)

    def _cut_tail(self, segment: _Segment | None, offset: int, reason: str,
                  later_names: list[str]) -> None:
        """Discard from ``offset`` in ``segment`` (None: nothing) and all ``later_names``."""
        lost = 0
        if segment is not None:
            lost = os.path.getsize(segment.path) - offset
            with open(segment.path, "r+b") as f:
                f.truncate(offset)
                os.fsync(f.fileno())
        for name in reversed(later_names):
            path = os.path.join(self._dir, name)
            lost += os.path.getsize(path)
            os.remove(path)
        if later_names:
            self._fsync_dir()
        cut = TailCut(file=segment.name if segment is not None else later_names[0],
                      offset=offset, reason=reason, lost_bytes=lost,
                      removed_files=tuple(later_names), last_seq=self._last_seq)
        self.recovery_cut = cut
        logger.warning("segment log %s: cut the tail at %s offset %d (%s): %d bytes "
                       "discarded, %d later segment file(s) removed %s; last_seq is now %d",
                       self._dir, cut.file, offset, reason, lost, len(later_names),
                       list(later_names), self._last_seq)

    # ------------------------------------------------------------------ write path

    def _validated_payloads(self, first: int, records) -> list[bytes]:
        payloads = []
        for i, (seq, payload) in enumerate(records):
            if seq != first + i:
                kind = "duplicate" if seq < first + i else "gap"
                raise ValueError(f"append {kind}: record {i} has seq {seq}, expected "
                                 f"{first + i} (last_seq={self._last_seq})")
            if not isinstance(payload, (bytes, bytearray, memoryview)):
                raise TypeError(f"record {seq}: payload must be bytes-like, "
                                f"not {type(payload).__name__}")
            payload = bytes(payload)
            if len(payload) > RECORD_BYTES_MAX:
                raise ValueError(f"record {seq} is {len(payload)} bytes, "
                                 f"max {RECORD_BYTES_MAX}")
            payloads.append(payload)
        return payloads

    def _segment_for(self, frame_len: int) -> _Segment:
        """The segment the next frame goes to, rolling to a new one if it would overflow."""
        if self._segments:
            segment = self._segments[-1]
            if segment.size == 0 or segment.size + frame_len <= self._segment_bytes_max:
                return segment
            return self._roll(segment.last + 1)
        return self._roll(self._last_seq + 1)

    def _roll(self, base: int) -> _Segment:
        """Seal the last segment (fdatasync) and create the next one (fsync the dir)."""
        if self._fd is not None:
            _fdatasync(self._fd)
            os.close(self._fd)
            self._fd = None
        segment = _Segment(base, os.path.join(self._dir, _segment_name(base)))
        self._fd = os.open(segment.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL
                           | _O_CLOEXEC, 0o644)
        self._segments.append(segment)
        self._fsync_dir()
        return segment

    def _open_last(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._fd = os.open(self._segments[-1].path, os.O_RDWR | os.O_APPEND | _O_CLOEXEC)

    def _cache_extend(self, payloads: list[bytes]) -> None:
        """Add payloads of the newest seqs; trim the oldest, in slices of ~1/8 of the
        capacity so the list memmove is amortized. Never holds more than the capacity."""
        cache = self._cache
        cache.extend(payloads)
        excess = len(cache) - self._cache_max
        if excess > 0:
            del cache[:min(len(cache), excess + self._cache_max // 8)]

    # ------------------------------------------------------------------- read path

    def _read_disk(self, seq: int, collector: _Collector) -> None:
        first_segment = bisect.bisect_right(self._segments, seq, key=_segment_base) - 1
        for segment in self._segments[max(first_segment, 0):]:
            if segment.last < seq or not segment.offsets:
                continue
            with self._reader(segment) as fd:
                for first, payloads in self._frames(fd, segment, segment.frame_holding(
                        max(seq, segment.base))):
                    for i in range(max(seq - first, 0), len(payloads)):
                        if not collector.add(first + i, payloads[i]):
                            return

    @contextlib.contextmanager
    def _reader(self, segment: _Segment) -> Iterator[int]:
        """A readable fd for ``segment``: the writer's for the last one, else a fresh one."""
        if segment is self._segments[-1] and self._fd is not None:
            yield self._fd
            return
        fd = os.open(segment.path, os.O_RDONLY | _O_CLOEXEC)
        try:
            yield fd
        finally:
            os.close(fd)

    @staticmethod
    def _frames(fd: int, segment: _Segment, index: int) -> Iterator[tuple[int, list[bytes]]]:
        """Decoded frames of ``segment`` from frame ``index`` on, read in ~1 MiB spans."""
        offsets, count = segment.offsets, len(segment.offsets)
        while index < count:
            start = offsets[index]
            stop = max(bisect.bisect_right(offsets, start + _READ_SPAN, lo=index + 1) - 1,
                       index + 1)
            if stop == count - 1 and segment.size - start <= _READ_SPAN:
                stop = count
            end = offsets[stop] if stop < count else segment.size
            span = memoryview(_pread_exact(fd, end - start, start, segment))
            for i in range(index, stop):
                yield SegmentLog._decode_at(span, offsets[i] - start, segment, i)
            index = stop

    @staticmethod
    def _decode_at(span: memoryview, pos: int, segment: _Segment,
                   index: int) -> tuple[int, list[bytes]]:
        header = span[pos:pos + HEADER_SIZE]
        try:
            first, count, raw_len, comp_len = _check_header(
                header, len(span) - pos - HEADER_SIZE)
            payloads = _decode_body(header, span[pos + HEADER_SIZE:pos + HEADER_SIZE + comp_len],
                                    count, raw_len)
        except _Corrupt as exc:
            raise CorruptSegmentError(f"{segment.path} offset {segment.offsets[index]}: "
                                      f"{exc}") from None
        if first != segment.firsts[index]:
            raise CorruptSegmentError(f"{segment.path} offset {segment.offsets[index]}: "
                                      f"frame seq {first}, index says {segment.firsts[index]}")
        return first, payloads

    # --------------------------------------------------------------- truncate path

    def _remove_segments_after(self, seq: int) -> None:
        """Delete whole segments with base > seq, newest first (keeps the first one)."""
        removed = False
        while len(self._segments) > 1 and self._segments[-1].base > seq:
            segment = self._segments.pop()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            os.remove(segment.path)
            removed = True
        if removed:
            self._fsync_dir()
            self._open_last()

    def _cut_last_segment_after(self, seq: int) -> None:
        segment = self._segments[-1]
        if segment.last <= seq:
            return
        index = segment.frame_holding(seq + 1)
        offset = segment.offsets[index]
        if segment.firsts[index] == seq + 1:
            os.ftruncate(self._fd, offset)
            os.fsync(self._fd)
            segment.cut_frames(index)
        else:
            self._rewrite_straddling_frame(segment, index, seq)

    def _rewrite_straddling_frame(self, segment: _Segment, index: int, seq: int) -> None:
        """Cut ``segment`` inside frame ``index``: copy what precedes the frame plus a
        re-encoded frame of its records <= seq to a temp file, fsync, rename over."""
        offset, end = segment.offsets[index], segment.frame_end(index)
        first, payloads = self._decode_at(
            memoryview(_pread_exact(self._fd, end - offset, offset, segment)), 0, segment, index)
        kept = payloads[:seq - first + 1]
        frame = _encode_frame(first, kept)
        tmp_path = segment.path + _TMP_SUFFIX
        out = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_CLOEXEC, 0o644)
        try:
            _copy_prefix(self._fd, out, offset)
            _write_all(out, frame)
            os.fsync(out)
        finally:
            os.close(out)
        os.replace(tmp_path, segment.path)
        self._fsync_dir()
        self._open_last()
        segment.cut_frames(index)
        segment.add_frame(first, len(kept), len(frame))

    # ---------------------------------------------------------------------- misc

    def _fsync_dir(self) -> None:
        _fsync_path(self._dir)

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError(f"segment log {self._dir!r} is closed")
        if self._failed is not None:
            raise RuntimeError(f"segment log {self._dir!r} failed earlier "
                               f"({self._failed!r}); reopen it to recover") from self._failed


# ------------------------------------------------------------------- fd helpers

def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _pread_exact(fd: int, length: int, offset: int, segment: _Segment) -> bytes:
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise CorruptSegmentError(f"{segment.path}: short read at offset {offset} "
                                  f"({len(data)} of {length} bytes); file shrank?")
    return data


def _copy_prefix(src: int, dst: int, length: int) -> None:
    offset = 0
    while offset < length:
        chunk = os.pread(src, min(_READ_SPAN * 4, length - offset), offset)
        if not chunk:
            raise OSError(f"unexpected end of file copying {length} bytes")
        _write_all(dst, chunk)
        offset += len(chunk)


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
