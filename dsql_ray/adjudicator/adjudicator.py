"""The adjudicator: conflict checks at COMMIT, commit timestamps, and its journal stream.

Every key has exactly one owning adjudicator (a key range). Optimistic concurrency,
first committer wins: a transaction that started at τ_start may commit only if no key it
writes (or locked with SELECT … FOR UPDATE) was committed by someone else in
(τ_start, now], and no other commit holds the key prepared. Nothing waits: a conflict is
a 40001 at once. A commit also carries *read keys*, the schema markers of the relations
it used (compute/catalog.py): only checked (a DDL committed to one since τ_start fails
it), held shared while prepared, never written. A conflict on a schema marker or on the
catalog (table 0) is reported as OC001, any other as OC000.

*Shared keys* (PostgreSQL's FOR KEY SHARE: the rows SELECT ... FOR KEY SHARE read, and
the parents' key markers of the rows a transaction wrote through a foreign key, which a
parent's delete or key update writes; compute/fkeys.py) are checked like read keys (no
commit to them since τ_start, no writer holding them) and, unlike read keys, remembered
when the transaction commits (``_last_shared``, key → τ_commit, journaled with the commit): a
writer or locker of the key whose τ_start is older than that commit fails, as does one
that meets a prepared shared holder. Shared holders never conflict with each other. So a
child insert and a parent delete that overlap never both commit, whichever is first.

A commit within one range: check, pick τ_commit from the clock, append the record to
this adjudicator's journal stream (one replica per zone) and acknowledge once a quorum
has it fsynced. A commit spanning ranges takes one extra round: the coordinator (owner
of the smallest key) asks each other owner to *prepare* (check and hold its keys),
picks τ_commit above every clock it heard, and writes the whole transaction to its own
stream: that record is the commit point. A participant journals a *prepare note* (no
writes) before it answers, so a participant that restarts still holds the keys; it
learns the outcome (resolve or abort, also noted) from the coordinator, or asks the
coordinator when it does not hear in time.

Completeness (storage/shard.py): a promise is a *lease* "no commit at or below P after
seq N", P a little (``lead_us``) past this clock, which then moves to P; so τ_commit may
run ahead of wall time, and a commit is acknowledged only once the physical clock has
passed it (commit wait). Leases never pass a *lease cap* journaled as a ("cap", τ) note
(one per cap period, ``cap_ahead_us`` ahead); ``recover`` floors the clock above the
highest cap, so a successor, even on a host whose clock is behind, commits above every
lease its predecessors granted.

State is soft: ``recover`` rebuilds it from the journal replicas.
"""
from __future__ import annotations

import asyncio
import bisect
import logging
import uuid
from collections import OrderedDict, deque
from typing import Any, Callable, Sequence

from .. import limits
from ..clock import HybridLogicalClock
from ..errors import DsqlError, SchemaChanged, SerializationFailure, Unavailable
from ..journal.interface import Last, ReadLog
from ..journal.records import CommitRecord
from ..keys import table_prefix
from ..transport.interface import ask
from .interface import Abort, Outcome, Prepare, Resolve
from .links import JournalLink
from .quorum import Quorum

log = logging.getLogger(__name__)

#: How far back conflicts are remembered: no transaction lives longer than this.
CONFLICT_WINDOW_US = int(limits.txn_age_max.value * 1_000_000) + 5_000_000
RECENT_RECORDS_MAX = 50_000        # kept in memory to bring a lagging replica up to date
PREPARED_TIMEOUT_S = 5.0           # then a participant asks the coordinator
COMMIT_WAIT_STEP_S = 0.01          # a commit wait looks at the clock this often

#: index id of a relation's schema marker (compute/catalog.py): DDL writes it, every
#: transaction that used the relation reads it; conflicts on it (or on the catalog,
#: table 0) are schema changes, OC001
SCHEMA_INDEX = 0xFFFFFFFF
_CATALOG_PREFIX = table_prefix(0)[:4]
_SCHEMA_SUFFIX = table_prefix(0, SCHEMA_INDEX)[4:]


def is_schema_key(key: bytes) -> bool:
    return key[:4] == _CATALOG_PREFIX or key[4:8] == _SCHEMA_SUFFIX


def conflict(key: bytes) -> SerializationFailure:
    return SchemaChanged() if is_schema_key(key) else SerializationFailure()


class Adjudicator:
    def __init__(self, index: int, ranges: Sequence[tuple[bytes, bytes | None]],
                 journals: Sequence[Any], *, peers: Sequence[Any] = (),
                 quorum: int | Quorum = 2,
                 clock: HybridLogicalClock | None = None,
                 txn_ids: Callable[[], str] | None = None,
                 lead_us: int = int(limits.closed_lead_ms * 1000),
                 cap_ahead_us: int = int(limits.lease_cap_ms * 1000),
                 clock_error_us: int = 0):
        self.index = index
        self.stream = index
        self.ranges = list(ranges)
        self._lows = [low for low, _ in self.ranges]
        self.low, self.high = self.ranges[index]
        self.clock = clock or HybridLogicalClock()
        self._journal_clients = list(journals)
        self.quorum = (quorum if isinstance(quorum, Quorum)
                       else Quorum.flat(len(self._journal_clients), quorum))
        self._peers = list(peers)          # adjudicator clients, by index (self included)
        self._txn_ids = txn_ids or (lambda: uuid.uuid4().hex)
        self.links: list[JournalLink] = []
        self.epoch = 0
        self.base_seq = 0                  # end of the stream found by recovery
        self.last_seq = 0                  # last sequence number assigned
        self.durable_seq = 0               # last sequence number on a quorum
        self._durable_floor = 0            # nothing is durable before this epoch's first record
        self.recovered = False
        self._recent: deque[tuple[int, int, bytes]] = deque(maxlen=RECENT_RECORDS_MAX)
        self._last_write: OrderedDict[bytes, int] = OrderedDict()   # key → τ_commit
        self._last_shared: OrderedDict[bytes, int] = OrderedDict()  # shared key → τ_commit
        self._shared_of: dict[str, list[bytes]] = {}               # txn → shared keys held
        self._prepared: dict[bytes, str] = {}                      # key → txn holding it
        self._held: dict[str, tuple[list[bytes], float, int]] = {}  # txn → keys, since, coordinator
        self._read_held: dict[bytes, set[str]] = {}                # read key → txns holding it
        self._read_keys_of: dict[str, list[bytes]] = {}            # txn → read keys it holds
        self._outcomes: OrderedDict[str, int] = OrderedDict()       # coordinated txn → τ
        self._in_flight: set[str] = set()
        self._durable_waiters: list[tuple[int, asyncio.Future]] = []
        self.lead_us = lead_us             # a lease runs this far past the clock
        self.cap_ahead_us = cap_ahead_us   # a journaled cap runs this far past it
        self.clock_error_us = clock_error_us   # how far other hosts' clocks may lag
        self.lease_cap = 0                 # leases go no higher: a durable "cap" note
        self._raising: asyncio.Future | None = None   # the cap note in flight
        self.commit_wait_max_s = limits.commit_wait_max_s
        self.promises = 0                  # leases granted
        self.commits = 0
        self.conflicts = 0
        self._sweeper: asyncio.Task | None = None

    def owner(self, key: bytes) -> int:
        return bisect.bisect_right(self._lows, key) - 1

    # -- recovery --------------------------------------------------------------------
    async def recover(self) -> None:
        """Recover the stream from a quorum, take a new epoch, rebuild conflict state.

        The log to continue is the quorum member's with the newest (last record's epoch,
        last seq): it holds every acknowledged record. Like a Raft leader, the new writer
        counts nothing as durable until a record of its own epoch is on a quorum.
        """
        answers = await asyncio.gather(*(ask(j, Last(self.stream), timeout=5.0)
                                         for j in self._journal_clients),
                                       return_exceptions=True)
        reachable = [(i, a) for i, a in enumerate(answers) if not isinstance(a, BaseException)]
        if not self.quorum.covers(i for i, _ in reachable):
            raise Unavailable(f"adjudicator {self.index}: journal quorum unreachable "
                              f"({self.quorum.describe()} needed)")
        best, (last_seq, last_ts, _, _) = max(reachable,
                                              key=lambda ia: (ia[1].last_epoch, ia[1].seq))
        self.epoch = max(a.epoch for _, a in reachable) + 1
        self.base_seq = self.last_seq = last_seq
        self.clock.update(last_ts)
        self.lease_cap = await self._replay(self._journal_clients[best], last_ts)
        self.clock.update(self.lease_cap)     # no commit at or below a granted lease
        self.links = [JournalLink(self, c, i) for i, c in enumerate(self._journal_clients)]
        seq, _ = self._append((), None, ("epoch",))
        self._durable_floor = seq
        await self._wait_durable(seq, timeout=limits.rpc_timeout_s * 3)
        self.recovered = True
        self._sweeper = asyncio.ensure_future(self._sweep_prepared())
        log.info("adjudicator %d recovered: epoch %d, seq %d", self.index, self.epoch, last_seq)

    async def _replay(self, journal, last_ts: int) -> int:
        """Rebuild recent writes, coordinated outcomes and unresolved prepares; the
        highest lease cap journaled."""
        horizon = last_ts - CONFLICT_WINDOW_US
        unresolved: dict[str, tuple[list[bytes], int, list[bytes], list[bytes]]] = {}
        seq, cap = 1, 0
        while seq <= self.last_seq:
            batch = await ask(journal, ReadLog(self.stream, seq, 5000), timeout=30.0)
            if not batch:
                raise Unavailable(f"adjudicator {self.index}: replay stopped at seq {seq}")
            for s, payload in batch:
                rec = CommitRecord.decode(payload)
                self._recent.append((s, rec.ts, payload))
                seq = s + 1
                if rec.note is not None and rec.note[0] == "cap":
                    cap = max(cap, rec.note[1])
                if rec.ts < horizon:
                    continue
                if rec.note is None:
                    for key, _ in rec.writes:
                        self._note_write(key, rec.ts)
                    for key in rec.shared:
                        self._note_shared(key, rec.ts)
                    if rec.txn_id:
                        self._outcomes[rec.txn_id] = rec.ts
                elif rec.note[0] == "prepare":
                    reads = list(rec.note[3]) if len(rec.note) > 3 else []
                    shared = list(rec.note[4]) if len(rec.note) > 4 else []
                    unresolved[rec.txn_id] = (list(rec.note[2]), rec.note[1], reads, shared)
                elif rec.txn_id in unresolved:
                    keys, _, _, shared = unresolved.pop(rec.txn_id)
                    if rec.note[1] is not None:
                        for key in keys:
                            self._note_write(key, rec.note[1])
                        for key in shared:
                            self._note_shared(key, rec.note[1])
        for txn_id, (keys, coordinator, reads, shared) in unresolved.items():
            self._hold(txn_id, keys, coordinator, since=float("-inf"),   # ask at once
                       read_keys=reads, shared_keys=shared)
        return cap

    async def records_from(self, seq: int, exclude: int) -> list[tuple[int, int, bytes]]:
        """Records from ``seq`` on, for a replica catching up: from memory or a peer."""
        if self._recent and self._recent[0][0] <= seq:
            start = seq - self._recent[0][0]
            return [self._recent[i] for i in range(start, min(len(self._recent),
                                                              start + limits.journal_batch_max))]
        for link in self.links:
            if link.index == exclude or not link.healthy:
                continue
            try:
                batch = await ask(link.client, ReadLog(self.stream, seq, 1000), timeout=10.0)
            except DsqlError:
                continue
            return [(s, CommitRecord.decode(p).ts, p) for s, p in batch
                    if s <= self.last_seq]
        return []

    def seq_at(self, ts: int) -> int | None:
        """The sequence number of our recent record at τ ``ts`` (None: not among them)."""
        i = bisect.bisect_left(self._recent, ts, key=lambda entry: entry[1])
        if i < len(self._recent) and self._recent[i][1] == ts:
            return self._recent[i][0]
        return None

    def record_epoch(self, seq: int) -> int | None:
        """The writer epoch of our record at ``seq``, if it is among the recent ones."""
        if not self._recent or not self._recent[0][0] <= seq <= self._recent[-1][0]:
            return None
        return CommitRecord.decode(self._recent[seq - self._recent[0][0]][2]).epoch

    # -- durability ---------------------------------------------------------------------
    def on_ack(self) -> None:
        durable = self.quorum.durable([link.acked_seq for link in self.links])
        if durable <= self.durable_seq or durable < self._durable_floor:
            return
        self.durable_seq = durable
        still = []
        for seq, fut in self._durable_waiters:
            if seq <= durable:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((seq, fut))
        self._durable_waiters = still
        for link in self.links:
            link.poke()

    async def _wait_durable(self, seq: int, timeout: float = limits.rpc_timeout_s) -> None:
        if seq <= self.durable_seq:
            return
        fut = asyncio.get_running_loop().create_future()
        self._durable_waiters.append((seq, fut))
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise Unavailable("commit outcome unknown: the journal quorum did not answer "
                              "in time") from None

    def _append(self, writes: Sequence[tuple[bytes, Any]], txn_id: str | None,
                note: tuple | None = None, shared: Sequence[bytes] = ()) -> tuple[int, int]:
        """Assign τ_commit and the next sequence number; hand the record to every link."""
        commit_ts = self.clock.now()
        self.last_seq += 1
        payload = CommitRecord(self.last_seq, commit_ts, tuple(writes), txn_id, note,
                               self.epoch, tuple(shared)).encode()
        entry = (self.last_seq, commit_ts, payload)
        self._recent.append(entry)
        for link in self.links:
            link.send(*entry)
        return self.last_seq, commit_ts

    # -- conflicts -------------------------------------------------------------------------
    def _check(self, start_ts: int, keys, txn_id: str | None = None) -> None:
        """Written/locked keys: no commit since start_ts, no commit since start_ts that
        held them shared, and no other holder (shared holders of a read key included)."""
        last_write, prepared, read_held = self._last_write, self._prepared, self._read_held
        last_shared = self._last_shared
        for key in keys:
            ts = last_write.get(key)
            shared_ts = last_shared.get(key)
            holder = prepared.get(key)
            readers = read_held.get(key)
            if (ts is not None and ts > start_ts) or (holder is not None and holder != txn_id) \
                    or (shared_ts is not None and shared_ts > start_ts) \
                    or (readers and readers != {txn_id}):
                self.conflicts += 1
                raise conflict(key)

    def _check_reads(self, start_ts: int, read_keys, txn_id: str | None = None) -> None:
        """Read and shared keys: no commit since start_ts, no writer holding them."""
        last_write, prepared = self._last_write, self._prepared
        for key in read_keys:
            ts = last_write.get(key)
            holder = prepared.get(key)
            if (ts is not None and ts > start_ts) or (holder is not None and holder != txn_id):
                self.conflicts += 1
                raise conflict(key)

    def _note_write(self, key: bytes, ts: int) -> None:
        self._last_write[key] = ts
        self._last_write.move_to_end(key)

    def _note_shared(self, key: bytes, ts: int) -> None:
        self._last_shared[key] = ts
        self._last_shared.move_to_end(key)

    def _forget_old(self) -> None:
        horizon = self.clock.last - CONFLICT_WINDOW_US
        for table in (self._last_write, self._last_shared, self._outcomes):
            while table:
                key, ts = next(iter(table.items()))
                if ts >= horizon:
                    break
                table.popitem(last=False)

    def _hold(self, txn_id: str, keys: list[bytes], coordinator: int,
              since: float | None = None, read_keys: Sequence[bytes] = (),
              shared_keys: Sequence[bytes] = ()) -> None:
        for key in keys:
            self._prepared[key] = txn_id
        if shared_keys:        # held like read keys; remembered once committed
            self._shared_of[txn_id] = list(shared_keys)
        read_keys = list(read_keys) + list(shared_keys)
        if read_keys:          # shared: other readers may hold them too, writers may not
            self._read_keys_of[txn_id] = read_keys
            for key in read_keys:
                self._read_held.setdefault(key, set()).add(txn_id)
        if since is None:
            since = asyncio.get_running_loop().time()
        self._held[txn_id] = (keys, since, coordinator)

    def _release(self, txn_id: str, commit_ts: int | None) -> None:
        for key in self._read_keys_of.pop(txn_id, ()):
            readers = self._read_held.get(key)
            if readers is not None:
                readers.discard(txn_id)
                if not readers:
                    del self._read_held[key]
        for key in self._shared_of.pop(txn_id, ()):
            if commit_ts is not None:
                self._note_shared(key, commit_ts)
        held = self._held.pop(txn_id, None)
        if held is None:
            return
        keys, _, coordinator = held
        for key in keys:
            if self._prepared.get(key) == txn_id:
                del self._prepared[key]
            if commit_ts is not None:
                self._note_write(key, commit_ts)
        if commit_ts is not None:
            self.clock.update(commit_ts)
        if coordinator != self.index and self.recovered:
            self._append((), txn_id, ("resolve", commit_ts))   # no need to wait for it

    # -- data plane: commit ------------------------------------------------------------------
    def _by_owner(self, keys: Sequence[bytes]) -> dict[int, list[bytes]]:
        out: dict[int, list[bytes]] = {}
        for key in keys:
            out.setdefault(self.owner(key), []).append(key)
        return out

    async def rpc_commit(self, start_ts: int, writes: list[tuple[bytes, Any]],
                         lock_keys: Sequence[bytes] = (), read_keys: Sequence[bytes] = (),
                         shared_keys: Sequence[bytes] = ()) -> int:
        """Check, order and journal one transaction; returns τ_commit.

        ``read_keys`` (schema markers of the relations the transaction used) are only
        checked: a commit to one of them after ``start_ts`` fails the transaction.
        ``shared_keys`` are checked alike and remembered at τ_commit (module docstring)."""
        if not self.recovered:
            raise Unavailable(f"adjudicator {self.index} is recovering")
        by_owner = self._by_owner([k for k, _ in writes] + list(lock_keys))
        reads_by_owner = self._by_owner(read_keys)
        shared_by_owner = self._by_owner(shared_keys)
        if set(by_owner) | set(reads_by_owner) | set(shared_by_owner) <= {self.index}:
            return await self._commit_local(start_ts, writes, by_owner.get(self.index, []),
                                            reads_by_owner.get(self.index, []),
                                            shared_by_owner.get(self.index, []))
        return await self._commit_spanning(start_ts, writes, by_owner, reads_by_owner,
                                           shared_by_owner)

    async def _commit_local(self, start_ts: int, writes, keys: list[bytes],
                            read_keys: Sequence[bytes] = (),
                            shared_keys: Sequence[bytes] = ()) -> int:
        self._check(start_ts, keys)
        self._check_reads(start_ts, [*read_keys, *shared_keys])
        self.clock.update(start_ts)
        seq, commit_ts = self._append(writes, None, shared=shared_keys)
        for key in keys:
            self._note_write(key, commit_ts)
        for key in shared_keys:
            self._note_shared(key, commit_ts)
        self._forget_old()
        self.commits += 1
        await self._acknowledge(seq, commit_ts)
        return commit_ts

    async def _commit_spanning(self, start_ts: int, writes, by_owner: dict[int, list[bytes]],
                               reads_by_owner: dict[int, list[bytes]] | None = None,
                               shared_by_owner: dict[int, list[bytes]] | None = None) -> int:
        txn_id = self._txn_ids()
        reads_by_owner = dict(reads_by_owner or {})
        shared_by_owner = dict(shared_by_owner or {})
        mine = by_owner.pop(self.index, [])
        my_reads = reads_by_owner.pop(self.index, [])
        my_shared = shared_by_owner.pop(self.index, [])
        self._check(start_ts, mine)
        self._check_reads(start_ts, [*my_reads, *my_shared])
        self._hold(txn_id, mine, self.index, read_keys=my_reads, shared_keys=my_shared)
        self._in_flight.add(txn_id)
        prepared: list[int] = []
        owners = sorted(set(by_owner) | set(reads_by_owner) | set(shared_by_owner))
        try:
            replies = await asyncio.gather(*(
                ask(self._peers[p], Prepare(txn_id, start_ts, by_owner.get(p, []),
                                            self.index, reads_by_owner.get(p, []),
                                            shared_by_owner.get(p, [])))
                for p in owners), return_exceptions=True)
            for p, reply in zip(owners, replies):
                if not isinstance(reply, BaseException):
                    prepared.append(p)
                    self.clock.update(reply)
            failures = [r for r in replies if isinstance(r, BaseException)]
            if failures:
                self._release(txn_id, None)
                for p in prepared:
                    asyncio.ensure_future(self._tell(p, Abort(txn_id)))
                raise failures[0] if isinstance(failures[0], DsqlError) else \
                    Unavailable(f"prepare failed: {failures[0]!r}")
            self.clock.update(start_ts)
            seq, commit_ts = self._append(writes, txn_id, shared=my_shared)
            self._outcomes[txn_id] = commit_ts
        finally:
            self._in_flight.discard(txn_id)
        self._release(txn_id, commit_ts)
        self.commits += 1
        for p in prepared:
            asyncio.ensure_future(self._tell(p, Resolve(txn_id, commit_ts)))
        await self._acknowledge(seq, commit_ts)
        return commit_ts

    async def _acknowledge(self, seq: int, commit_ts: int) -> None:
        """Return once the commit is on a quorum *and* the physical clock has passed
        τ_commit (commit wait): leases put τ_commit up to ``lead_us`` ahead of wall time
        (after a restart, up to the recovered cap), and a compute whose clock reads wall
        time must not begin a transaction below a commit already acknowledged. Where
        hosts' clocks differ by up to ``clock_error_us``, the wait is that much longer
        (as Spanner's commit wait). The two waits overlap."""
        await asyncio.gather(self._wait_durable(seq), self._wait_clock(commit_ts))

    async def _wait_clock(self, ts: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.commit_wait_max_s
        while (ahead_us := ts + self.clock_error_us - self.clock.physical()) >= 0:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise Unavailable("commit outcome unknown: the clock did not pass the "
                                  "commit timestamp in time")
            # (in steps: a clock that jumps, as after an NTP step, is noticed)
            await asyncio.sleep(min((ahead_us + 1) / 1e6, remaining, COMMIT_WAIT_STEP_S))

    async def _tell(self, peer: int, req: Abort | Resolve) -> None:
        for attempt in range(20):
            try:
                await ask(self._peers[peer], req, timeout=2.0)
                return
            except DsqlError:
                await asyncio.sleep(0.05 * (attempt + 1))
        # the participant will ask us (rpc_outcome) once its hold times out

    # -- data plane: participant side ---------------------------------------------------------
    async def rpc_prepare(self, txn_id: str, start_ts: int, keys: list[bytes],
                          coordinator: int, read_keys: Sequence[bytes] = (),
                          shared_keys: Sequence[bytes] = ()) -> int:
        """Check and hold ``keys`` for a coordinator; the hold is journaled before the reply.

        Read and shared keys are held shared (other readers may hold them too); they are
        journaled in the prepare note with the written keys, so a participant that
        restarts holds them again until the outcome is known, and remembers the shared
        ones at τ_commit when it learns it (resolve)."""
        if not self.recovered:
            raise Unavailable(f"adjudicator {self.index} is recovering")
        self._check(start_ts, keys, txn_id)
        self._check_reads(start_ts, [*read_keys, *shared_keys], txn_id)
        self._hold(txn_id, keys, coordinator, read_keys=read_keys, shared_keys=shared_keys)
        self.clock.update(start_ts)
        seq, _ = self._append((), txn_id, ("prepare", coordinator, tuple(keys),
                                           tuple(read_keys), tuple(shared_keys)))
        try:
            await self._wait_durable(seq)
        except Unavailable:
            self._release(txn_id, None)
            raise
        return self.clock.now()

    def rpc_resolve(self, txn_id: str, commit_ts: int) -> None:
        self._release(txn_id, commit_ts)

    def rpc_abort(self, txn_id: str) -> None:
        self._release(txn_id, None)

    def rpc_outcome(self, txn_id: str) -> int | None:
        """τ_commit of a transaction this adjudicator coordinated; None if it never will."""
        if not self.recovered or txn_id in self._in_flight:
            raise Unavailable("outcome not known yet")
        return self._outcomes.get(txn_id)

    async def _sweep_prepared(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = asyncio.get_running_loop().time()
            for txn_id, (_, since, coordinator) in list(self._held.items()):
                if coordinator == self.index or now - since < PREPARED_TIMEOUT_S:
                    continue
                try:
                    ts = await ask(self._peers[coordinator], Outcome(txn_id), timeout=2.0)
                except DsqlError:
                    continue
                self._release(txn_id, ts)

    # -- data plane: completeness --------------------------------------------------------------
    async def rpc_promise(self, ts: int) -> tuple[int, int]:
        """A lease: no commit at or below P = max(ts, physical now) + lead follows seq N
        (the reply). The clock moves to P, so every later τ_commit here is above it.

        Only once recovered: before that the stream's end is not known. P never passes
        the durable lease cap, above which a successor's clock starts (``recover``).
        Not awaited: seq N's durability. Storage counts the lease only once it has
        received N, and journals serve only records durable on a quorum; records up to
        N that a successor's fence cuts were never acknowledged, and the successor's
        records in their place are above the cap, so above P.
        """
        if not self.recovered:
            raise Unavailable(f"adjudicator {self.index} is recovering")
        # from the physical clock, not the hybrid one: that one already stands at the
        # last lease granted (to any replica), and leases counted from it would climb
        # a lead higher with every renewal, and commit waits with them
        want = max(ts, self.clock.physical()) + self.lead_us
        if want > self.lease_cap:
            await self._raise_cap(want)
        elif want > self.lease_cap - self.cap_ahead_us // 2:
            self._cap_note(want)       # ahead of need: later leases do not wait for it
        lease = min(want, self.lease_cap)
        self.clock.update(lease)
        self.promises += 1
        return lease, self.last_seq

    async def _raise_cap(self, want: int, rounds: int = 3) -> None:
        """Until a journaled cap at or above ``want`` is durable (one note in flight)."""
        for _ in range(rounds):
            if self.lease_cap >= want:
                return
            await asyncio.shield(self._cap_note(want))
        if self.lease_cap < want:
            raise Unavailable(f"adjudicator {self.index}: lease cap not raised")

    def _cap_note(self, want: int) -> asyncio.Future:
        """Journal a cap ``cap_ahead_us`` past ``want`` unless one is in flight."""
        if self._raising is None or self._raising.done():
            self._raising = asyncio.ensure_future(self._journal_cap(want))
            self._raising.add_done_callback(lambda f: f.cancelled() or f.exception())
        return self._raising

    async def _journal_cap(self, want: int) -> None:
        cap = max(want, self.clock.now()) + self.cap_ahead_us
        seq, _ = self._append((), None, ("cap", cap))
        await self._wait_durable(seq)
        self.lease_cap = max(self.lease_cap, cap)

    def rpc_now(self) -> int:
        if not self.recovered:
            raise Unavailable(f"adjudicator {self.index} is recovering")
        return self.clock.now()

    def rpc_status(self) -> dict[str, Any]:
        return {"index": self.index, "epoch": self.epoch, "last_seq": self.last_seq,
                "durable_seq": self.durable_seq, "commits": self.commits,
                "promises": self.promises, "lease_cap": self.lease_cap,
                "conflicts": self.conflicts, "prepared": len(self._held),
                "replicas": [(l.acked_seq, l.healthy) for l in self.links]}

    def stop(self) -> None:
        for link in self.links:
            link.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
