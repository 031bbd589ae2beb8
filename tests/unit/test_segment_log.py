"""Tests for the journal replica's on-disk segment log (dsql_ray/journal/segment.py)."""
from __future__ import annotations

import logging
import os
import random
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from dsql_ray.journal import segment as segment_mod
from dsql_ray.journal.segment import HEADER_SIZE, CorruptSegmentError, SegmentLog

MIN_FRAME = len(segment_mod._encode_frame(1, [b""]))   # smallest possible frame on disk


# ----------------------------------------------------------------------------- helpers

def payload(seq: int, size: int | None = None) -> bytes:
    rng = random.Random(seq)
    size = rng.randrange(0, 80) if size is None else size
    # half compressible text, half noise, so lz4 sees both
    text = (f"txn-{seq};" * 8).encode()[: size // 2]
    return text + rng.randbytes(size - len(text))


def batch(first: int, n: int, size: int | None = None) -> list[tuple[int, bytes]]:
    return [(s, payload(s, size)) for s in range(first, first + n)]


def seg_files(directory) -> list[str]:
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".seg"))


def read_all(log: SegmentLog, seq: int | None = None, step: int = 1000) -> list[tuple[int, bytes]]:
    seq = log.first_seq if seq is None else seq
    out: list[tuple[int, bytes]] = []
    while True:
        chunk = log.read_from(seq, max_records=step, max_bytes=1 << 30)
        if not chunk:
            return out
        out += chunk
        seq = chunk[-1][0] + 1


def append_tracked(log: SegmentLog, records) -> tuple[str, int, int]:
    """Append one batch; return (file, offset, length) of the frame it wrote."""
    log.append(records)
    path = seg_files(log.directory)[-1]
    size = os.path.getsize(path)
    length = len(segment_mod._encode_frame(records[0][0], [p for _, p in records]))
    return path, size - length, length


def flip_byte(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ 0x5A]))


def bounded(records, max_records: int, max_bytes: int):
    """The reference semantics of read_from's bounds."""
    out, nbytes = [], 0
    for seq, p in records[:max(max_records, 0)]:
        if out and nbytes + len(p) > max_bytes:
            break
        out.append((seq, p))
        nbytes += len(p)
    return out


@pytest.fixture
def logdir(tmp_path):
    return tmp_path / "journal"


# --------------------------------------------------------------------------- basics

def test_empty_log(logdir):
    with SegmentLog(logdir) as log:
        assert (log.first_seq, log.last_seq) == (1, 0)
        assert log.read_from(1) == []
        log.append([])
        log.truncate_after(0)
        assert seg_files(logdir) == []
        assert log.recovery_cut is None
    with SegmentLog(logdir) as log:
        assert (log.first_seq, log.last_seq) == (1, 0)


def test_round_trip_across_segment_rolls(logdir):
    rng = random.Random(7)
    expected: list[tuple[int, bytes]] = []
    with SegmentLog(logdir, segment_bytes_max=600, tail_cache_records=16) as log:
        while log.last_seq < 300:
            records = batch(log.last_seq + 1, rng.randrange(1, 9))
            log.append(records)
            expected += records
            assert log.last_seq == expected[-1][0]
        files = seg_files(logdir)
        assert len(files) > 10
        for path in files[:-1]:
            assert os.path.getsize(path) <= 600 or _frames_in(path) == 1
        assert read_all(log) == expected
        for seq in range(1, 302):
            assert log.read_from(seq, max_records=5) == expected[seq - 1:seq + 4]
    # segment files are named by the first seq they hold
    with SegmentLog(logdir, segment_bytes_max=600) as log:
        assert log.recovery_cut is None
        assert read_all(log) == expected
        bases = [int(os.path.basename(p)[:-4]) for p in files]
        assert bases[0] == 1
        for base in bases:
            assert log.read_from(base, max_records=1)[0] == expected[base - 1]
            assert log.read_from(base - 1 or 1, max_records=1)[0][0] == (base - 1 or 1)


def _frames_in(path: str) -> int:
    n, pos, size = 0, 0, os.path.getsize(path)
    with open(path, "rb") as f:
        while pos < size:
            f.seek(pos)
            header = f.read(HEADER_SIZE)
            pos += HEADER_SIZE + segment_mod._HEADER.unpack(header)[7]
            n += 1
    return n


def test_reopen_preserves_records_and_appends_continue(logdir):
    with SegmentLog(logdir, segment_bytes_max=1000) as log:
        log.append(batch(1, 50))
    with SegmentLog(logdir, segment_bytes_max=1000) as log:
        assert log.last_seq == 50
        log.append(batch(51, 10))
    with SegmentLog(logdir, segment_bytes_max=1000) as log:
        assert read_all(log) == batch(1, 60)


def test_tail_reads_come_from_cache_not_disk(logdir, monkeypatch):
    with SegmentLog(logdir, segment_bytes_max=500, tail_cache_records=20) as log:
        for first in range(1, 201, 5):
            log.append(batch(first, 5))
        everything = read_all(log)

        def no_disk(*args, **kwargs):
            raise AssertionError("tail read went to disk")

        monkeypatch.setattr(SegmentLog, "_read_disk", no_disk)
        # the cache keeps between 7/8 of its capacity and its capacity: >= 18 here
        for seq in range(183, 201):
            assert log.read_from(seq) == everything[seq - 1:]
        with pytest.raises(AssertionError):
            log.read_from(150)
        monkeypatch.undo()
        assert log.read_from(150, max_records=3) == everything[149:152]


def test_tail_cache_is_bounded(logdir):
    with SegmentLog(logdir, tail_cache_records=50) as log:
        for first in range(1, 1001, 7):
            log.append(batch(first, 7))
            assert len(log._cache) <= 50
        assert len(log._cache) >= 50 - 50 // 8
    with SegmentLog(logdir, tail_cache_records=50) as log:   # also after the recovery scan
        assert 0 < len(log._cache) <= 50
    with SegmentLog(logdir, tail_cache_records=0) as log:
        assert log._cache == []
        assert read_all(log) == batch(1, 1001)


def test_read_from_bounds(logdir):
    with SegmentLog(logdir, tail_cache_records=10) as log:
        log.append([(s, bytes([s]) * 10) for s in range(1, 101)])
        for seq in (5, 95):                               # disk path and cache path
            assert len(log.read_from(seq, max_records=3)) == 3
            assert [s for s, _ in log.read_from(seq, max_bytes=35)] == [seq, seq + 1, seq + 2]
            assert [s for s, _ in log.read_from(seq, max_bytes=30)] == [seq, seq + 1, seq + 2]
            assert [s for s, _ in log.read_from(seq, max_bytes=1)] == [seq]   # progress
            assert log.read_from(seq, max_records=0) == []
        assert log.read_from(101) == []
        assert log.read_from(10**9) == []
        assert log.read_from(99) == [(99, b"c" * 10), (100, b"d" * 10)]
        with pytest.raises(ValueError):
            log.read_from(0)


def test_gap_and_duplicate_appends_raise_and_change_nothing(logdir):
    with SegmentLog(logdir) as log:
        log.append(batch(1, 3))
        size = os.path.getsize(seg_files(logdir)[-1])
        for bad in ([(5, b"x")], [(3, b"x")], [(4, b"x"), (6, b"y")], [(4, b"x"), (4, b"y")],
                    [(1, b"x")]):
            with pytest.raises(ValueError):
                log.append(bad)
        with pytest.raises(TypeError):
            log.append([(4, "text")])
        assert log.last_seq == 3
        assert os.path.getsize(seg_files(logdir)[-1]) == size
        log.append([(4, b""), (5, bytearray(b"ba")), (6, memoryview(b"mv"))])
        assert read_all(log)[3:] == [(4, b""), (5, b"ba"), (6, b"mv")]


def test_large_append_is_split_into_frames(logdir, monkeypatch):
    monkeypatch.setattr(segment_mod, "FRAME_RAW_TARGET", 100)
    records = batch(1, 40, size=30)
    with SegmentLog(logdir) as log:
        log.append(records)
        assert len(log._segments[-1].firsts) > 10
    with SegmentLog(logdir) as log:
        assert read_all(log) == records


def test_second_open_of_same_directory_is_refused(logdir):
    log = SegmentLog(logdir)
    with pytest.raises(RuntimeError, match="already open"):
        SegmentLog(logdir)
    log.close()
    log.close()                                   # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        log.append(batch(1, 1))
    SegmentLog(logdir).close()



def test_failed_fsync_leaves_the_log_unusable_until_reopened(logdir, monkeypatch):
    log = SegmentLog(logdir)
    log.append(batch(1, 3))

    def failing_fsync(fd):
        raise OSError(5, "EIO")

    monkeypatch.setattr(segment_mod, "_fdatasync", failing_fsync)
    with pytest.raises(OSError):
        log.append(batch(4, 3))
    monkeypatch.undo()
    assert log.last_seq == 3                        # never acknowledged
    for op in (lambda: log.append(batch(4, 1)), lambda: log.read_from(1),
               lambda: log.truncate_after(1)):
        with pytest.raises(RuntimeError, match="reopen"):
            op()
    log.close()
    with SegmentLog(logdir) as log:                 # the unacknowledged frame may survive
        assert log.last_seq in (3, 6)
        assert read_all(log) == batch(1, log.last_seq)

# ------------------------------------------------------------------------- recovery

def test_torn_tail_loses_only_the_last_frame(logdir):
    with SegmentLog(logdir, segment_bytes_max=400) as log:
        for first in range(1, 60, 6):
            log.append(batch(first, 6))
        path, offset, length = append_tracked(log, batch(61, 4))
    pristine = {p: open(p, "rb").read() for p in seg_files(logdir)}
    # cut < length: a cut of exactly `length` bytes would leave a clean, shorter log
    for cut in sorted(set(random.Random(3).sample(range(1, length), 12)) | {1, length - 1}):
        with open(path, "r+b") as f:
            f.truncate(offset + length - cut)
        with SegmentLog(logdir, segment_bytes_max=400) as log:
            assert log.last_seq == 60, cut
            assert log.recovery_cut is not None
            assert log.recovery_cut.lost_bytes == length - cut
            assert read_all(log) == batch(1, 60)
            log.append(batch(61, 4))                          # the log is writable again
        with SegmentLog(logdir, segment_bytes_max=400) as log:
            assert log.recovery_cut is None
            assert read_all(log) == batch(1, 60) + batch(61, 4)
        assert set(seg_files(logdir)) == set(pristine)
        for p, data in pristine.items():                      # restore for the next cut
            with open(p, "wb") as f:
                f.write(data)


_NOISE = random.Random(11).randbytes(5000)


@pytest.mark.parametrize("garbage", [b"\x00", b"DSJF", b"\x00" * 31, _NOISE[:32],
                                     b"DSJF\x01" + _NOISE[:200], _NOISE],
                         ids=["zero", "magic", "zeros31", "noise32", "magic+noise", "noise5000"])
def test_garbage_after_the_last_frame_is_cut(logdir, garbage, caplog):
    with SegmentLog(logdir) as log:
        log.append(batch(1, 10))
        log.append(batch(11, 10))
    with open(seg_files(logdir)[-1], "ab") as f:
        f.write(garbage)
    with caplog.at_level(logging.WARNING, logger=segment_mod.__name__):
        with SegmentLog(logdir) as log:
            assert log.last_seq == 20
            assert log.recovery_cut.lost_bytes == len(garbage)
            assert read_all(log) == batch(1, 20)
    assert "cut the tail" in caplog.text


def test_flipped_byte_in_last_frame_is_detected(logdir):
    with SegmentLog(logdir) as log:
        log.append(batch(1, 10, size=50))
        path, offset, length = append_tracked(log, batch(11, 10, size=50))
    pristine = open(path, "rb").read()
    for pos in sorted(set(random.Random(5).sample(range(length), 20)) | {0, 8, 28, 40, length - 1}):
        flip_byte(path, offset + pos)
        with SegmentLog(logdir) as log:
            assert log.last_seq == 10, pos
            assert log.recovery_cut.offset == offset
            if pos >= HEADER_SIZE or 8 <= pos < 16:            # body, first_seq: only the CRC
                assert log.recovery_cut.reason == "CRC mismatch"
            assert read_all(log) == batch(1, 10, size=50)
        with open(path, "wb") as f:
            f.write(pristine)


def test_flipped_byte_in_an_earlier_frame_cuts_everything_after_it(logdir, caplog):
    frames = []
    with SegmentLog(logdir, segment_bytes_max=700) as log:
        for first in range(1, 121, 4):
            frames.append((first, *append_tracked(log, batch(first, 4, size=40))))
    files = seg_files(logdir)
    assert len(files) >= 5
    victim_first, path, offset, length = next(f for f in frames if f[1] == files[2]
                                              and f[2] > 0)
    flip_byte(path, offset + HEADER_SIZE + 3)
    with caplog.at_level(logging.WARNING, logger=segment_mod.__name__):
        with SegmentLog(logdir, segment_bytes_max=700) as log:
            # Honest behaviour: every record from the damaged frame on is lost here and
            # must be re-fetched from a peer.
            cut = log.recovery_cut
            assert log.last_seq == victim_first - 1
            assert (cut.file, cut.offset, cut.reason) == (os.path.basename(path), offset,
                                                          "CRC mismatch")
            assert cut.removed_files == tuple(os.path.basename(p) for p in files[3:])
            assert cut.last_seq == victim_first - 1
            assert read_all(log) == batch(1, victim_first - 1, size=40)
            assert seg_files(logdir) == files[:3]
            assert os.path.getsize(path) == offset
            log.append(batch(victim_first, 4, size=40))        # refilled from a peer
    assert f"{len(files) - 3} later segment file(s) removed" in caplog.text
    with SegmentLog(logdir, segment_bytes_max=700) as log:
        assert read_all(log) == [r for f in range(1, victim_first + 1, 4)
                                 for r in batch(f, 4, size=40)]


def test_missing_middle_segment_cuts_the_later_ones(logdir):
    with SegmentLog(logdir, segment_bytes_max=300) as log:
        for first in range(1, 101, 5):
            log.append(batch(first, 5))
    files = seg_files(logdir)
    os.remove(files[3])
    with SegmentLog(logdir, segment_bytes_max=300) as log:
        assert log.last_seq == int(os.path.basename(files[3])[:-4]) - 1
        assert "expected" in log.recovery_cut.reason
        assert seg_files(logdir) == files[:3]


def test_empty_segment_left_by_a_crash_during_roll(logdir):
    with SegmentLog(logdir) as log:
        log.append(batch(1, 5))
    open(os.path.join(logdir, "00000000000000000006.seg"), "wb").close()
    with SegmentLog(logdir) as log:
        assert log.recovery_cut is None and log.last_seq == 5
        log.append(batch(6, 5))
        assert read_all(log) == batch(1, 10)


def test_bit_rot_after_open_is_reported_on_read(logdir):
    with SegmentLog(logdir, tail_cache_records=0) as log:
        _, offset, _ = append_tracked(log, batch(1, 5, size=50))
        flip_byte(seg_files(logdir)[0], offset + HEADER_SIZE + 10)
        with pytest.raises(CorruptSegmentError):
            log.read_from(1)


# ------------------------------------------------------------------------- truncate

@pytest.mark.parametrize("keep", [0, 1, 3, 4, 5, 17, 40, 41, 42, 79, 80])
def test_truncate_after_then_append_again(logdir, keep):
    with SegmentLog(logdir, segment_bytes_max=350, tail_cache_records=7) as log:
        for first in range(1, 81, 4):
            log.append(batch(first, 4))
        log.truncate_after(keep)
        assert log.last_seq == keep
        assert read_all(log) == batch(1, keep)
        assert not [n for n in os.listdir(logdir) if n.endswith(".tmp")]
    with SegmentLog(logdir, segment_bytes_max=350, tail_cache_records=7) as log:
        assert log.recovery_cut is None
        assert log.last_seq == keep
        assert read_all(log) == batch(1, keep)
        log.append(batch(keep + 1, 6))
        assert read_all(log) == batch(1, keep + 6)
        log.truncate_after(keep + 6)                       # no-op at or past the end
        log.truncate_after(keep + 100)
        assert log.last_seq == keep + 6
    with SegmentLog(logdir, segment_bytes_max=350) as log:
        assert read_all(log) == batch(1, keep + 6)
        assert log.recovery_cut is None


def test_stale_rewrite_temp_file_is_removed_at_open(logdir):
    with SegmentLog(logdir) as log:
        log.append(batch(1, 5))
    tmp = seg_files(logdir)[0] + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"half a rewrite")
    with SegmentLog(logdir) as log:
        assert read_all(log) == batch(1, 5)
    assert not os.path.exists(tmp)


def test_drop_segments_before(logdir):
    with SegmentLog(logdir, segment_bytes_max=300) as log:
        for first in range(1, 101, 5):
            log.append(batch(first, 5))
        first = log.drop_segments_before(50)
        assert 1 < first <= 50
        assert int(os.path.basename(seg_files(logdir)[0])[:-4]) == first
        assert read_all(log) == batch(first, 101 - first)
        with pytest.raises(ValueError):
            log.read_from(first - 1)
        with pytest.raises(ValueError):
            log.truncate_after(first - 2)
        assert log.drop_segments_before(10**6) == int(os.path.basename(seg_files(logdir)[-1])[:-4])
        kept_first = log.first_seq
    with SegmentLog(logdir, segment_bytes_max=300) as log:
        assert (log.first_seq, log.last_seq) == (kept_first, 100)
        log.truncate_after(kept_first - 1)                  # empty, but remembers its base
        assert (log.first_seq, log.last_seq) == (kept_first, kept_first - 1)
    with SegmentLog(logdir, segment_bytes_max=300) as log:
        assert (log.first_seq, log.last_seq) == (kept_first, kept_first - 1)
        log.append(batch(kept_first, 3))
        assert read_all(log) == batch(kept_first, 3)


# ------------------------------------------------------------------ property / model

class SegmentLogMachine(RuleBasedStateMachine):
    """Compare SegmentLog with a list model under appends, reads, truncation, trimming,
    reopen and tail damage (torn write, flipped byte, garbage)."""

    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="seglog-")
        self.log = self._open()
        self.model: list[bytes] = []          # payload of seq i+1
        self.first = 1
        self.frames: list[list[int]] = []     # [first_seq, count] of each frame on disk

    def _open(self) -> SegmentLog:
        return SegmentLog(self.dir, segment_bytes_max=256, tail_cache_records=6)

    @property
    def last(self) -> int:
        return len(self.model)

    @rule(payloads=st.lists(st.binary(max_size=48), min_size=1, max_size=6))
    def append(self, payloads):
        first = self.last + 1
        self.log.append(list(enumerate(payloads, start=first)))
        self.model += payloads
        self.frames.append([first, len(payloads)])

    @rule(data=st.data())
    def bad_append(self, data):
        seq = data.draw(st.sampled_from([self.last + 2, self.last + 9, self.last, self.first, 0]))
        if seq != self.last + 1:
            with pytest.raises(ValueError):
                self.log.append([(seq, b"x")])

    @rule(data=st.data(), max_records=st.integers(0, 12), max_bytes=st.integers(0, 200))
    def read(self, data, max_records, max_bytes):
        seq = data.draw(st.integers(self.first, self.last + 2))
        expected = [(s, self.model[s - 1]) for s in range(seq, self.last + 1)]
        assert self.log.read_from(seq, max_records, max_bytes) == \
            bounded(expected, max_records, max_bytes)

    @rule(data=st.data())
    def truncate(self, data):
        seq = data.draw(st.integers(self.first - 1, self.last + 1))
        self.log.truncate_after(seq)
        if seq >= self.last:
            return
        del self.model[seq:]
        self.frames = [f for f in self.frames if f[0] <= seq]
        if self.frames:
            f = self.frames[-1]
            f[1] = min(f[1], seq - f[0] + 1)

    @rule(seq=st.integers(1, 60))
    def drop_before(self, seq):
        new_first = self.log.drop_segments_before(seq)
        assert self.first <= new_first <= max(seq, self.first)
        self.first = new_first
        self.frames = [f for f in self.frames if f[0] >= new_first]

    @rule()
    def reopen(self):
        self.log.close()
        self.log = self._open()
        assert self.log.recovery_cut is None

    @rule(data=st.data(), kind=st.sampled_from(["tear", "flip", "garbage"]))
    def damage_tail(self, data, kind):
        self.log.close()
        nonempty = [p for p in seg_files(self.dir) if os.path.getsize(p) > 0]
        if nonempty:
            path = nonempty[-1]
            size = os.path.getsize(path)
            if kind == "tear":
                with open(path, "r+b") as f:
                    f.truncate(size - data.draw(st.integers(1, MIN_FRAME)))
            elif kind == "flip":
                flip_byte(path, size - data.draw(st.integers(1, MIN_FRAME)))
            else:
                with open(path, "ab") as f:
                    f.write(data.draw(st.binary(min_size=1, max_size=64)))
        self.log = self._open()
        if not nonempty:
            assert self.log.recovery_cut is None
            return
        assert self.log.recovery_cut is not None
        if kind != "garbage":
            lost_first, _ = self.frames.pop()
            del self.model[lost_first - 1:]

    @invariant()
    def matches_model(self):
        assert self.log.last_seq == self.last
        assert self.log.first_seq == self.first
        assert len(self.log._cache) <= 6

    @invariant()
    def full_scan_matches(self):
        assert read_all(self.log) == [(s, self.model[s - 1])
                                      for s in range(self.first, self.last + 1)]

    def teardown(self):
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


SegmentLogMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_segment_log_state_machine = SegmentLogMachine.TestCase
