"""Background jobs (``sys.jobs``): the asynchronous index build.

A job is a catalog row of table 0 (``JOBS_INDEX``, keyed by job id), written in the same
transaction as the write-only index it builds, so it exists exactly when the index does
and any compute can list it or wait for it. Every compute runs a :class:`JobRunner`; a
runner *claims* a submitted job by committing it as ``processing`` with itself as owner
(two runners claiming at once conflict, one wins) and renews a heartbeat while it works.
A job whose owner stopped renewing (its compute died or restarted) is claimed again and
its build restarts from the beginning: writing an entry twice is harmless.

The build (F1's backfill): the index is write-only from the DDL's commit on, and every
transaction that used the table before that commit fails with OC001 when it commits
after it (the table's schema marker), so every commit after the DDL maintains the
index. The job lists the table's keys at a snapshot taken after the DDL, then writes the
entries of those rows in batches, each batch its own transaction that re-reads its rows
at its own snapshot (a concurrent writer of one of those rows writes the same entry key,
so one of the two fails and the batch retries, a bounded number of times). A unique
index also checks that no entry exists for another row. At the end the index becomes
``valid`` (readable at snapshots after the last batch) or ``failed``.
"""
from __future__ import annotations

import asyncio
import base64
import contextvars
import logging
import random
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from ..errors import (DsqlError, ForeignKeyViolation, QueryCanceled, SerializationFailure,
                      Unavailable, UndefinedObject)
from ..keys import prefix_end, row_key, table_prefix
from .catalog import (CATALOG_TABLE_ID, CATALOG_VERSION_KEY, row_to_table, table_key,
                      table_to_row, tables_range)
from .indexes import (FAILED, VALID, WRITE_ONLY, IndexDef, index_key, index_to_row,
                      load_indexes, pk_of, row_to_index)
from .constraints import compiled_check
from .fkeys import Refs, check_child
from .interrupt import interruptible
from .txn import Transaction

log = logging.getLogger(__name__)

JOBS_INDEX = 11                        # catalog: (job_id,) → job row

SUBMITTED, PROCESSING, COMPLETED = "submitted", "processing", "completed"
JOB_FAILED, CANCELLED = "failed", "cancelled"
INDEX_BUILD = "INDEX_BUILD"
DROP = "DROP"                # deletes a dropped index's entries
VALIDATE = "VALIDATE_CONSTRAINT"  # checks existing rows against a NOT VALID CHECK constraint

POLL_S = 0.5                 # a runner looks for work this often (or when kicked)
HEARTBEAT_S = 2.0            # an owner renews its claim this often
STALE_S = 10.0               # a claim not renewed for this long is taken over
BATCH_ROWS = 500             # rows per backfill transaction (DSQL allows 3,000)
DELETE_BATCH = 1000          # entries one cleanup transaction deletes
BATCH_RETRIES = 20           # conflicts one batch may meet before the job gives up
STATE_RETRIES = 20           # conflicts a job-state change may meet
BUILDS_MAX = 2               # builds one runner runs at once
WAIT_POLL_S = 0.1            # sys.wait_for_job re-reads the job this often
WAIT_MAX_S = 900.0           # ... and waits at most this long


@dataclass(frozen=True)
class Job:
    job_id: str
    job_type: str
    status: str
    details: str | None
    object_name: str
    start_time: datetime
    schema: str
    index_name: str
    owner: str | None = None
    heartbeat: float = 0.0
    table_id: int = 0            # DROP: the dropped index's key prefix
    index_id: int = 0


def new_job_id() -> str:
    """26 lowercase base32 characters, like DSQL's identifiers."""
    return base64.b32encode(uuid.uuid4().bytes).decode().rstrip("=").lower()


def job_key(job_id: str) -> bytes:
    return row_key(CATALOG_TABLE_ID, (job_id,), JOBS_INDEX)


def jobs_range() -> tuple[bytes, bytes | None]:
    low = table_prefix(CATALOG_TABLE_ID, JOBS_INDEX)
    return low, prefix_end(low)


def job_to_row(j: Job) -> tuple:
    return (j.job_id, j.job_type, j.status, j.details, j.object_name, j.start_time, j.schema,
            j.index_name, j.owner, j.heartbeat, j.table_id, j.index_id)


def row_to_job(row: tuple) -> Job:
    job = Job(*row)
    return replace(job, job_type=VALIDATE) if job.job_type == "VALIDATE" else job  # older rows


def submit_index_build(txn, d: IndexDef) -> Job:
    """The build job of a new write-only index, in the DDL's own transaction."""
    job = Job(d.job_id, INDEX_BUILD, SUBMITTED, None, f"{d.schema}.{d.name}",
              datetime.now(timezone.utc), d.schema, d.name, table_id=d.table_id,
              index_id=d.index_id)
    txn.put(job_key(job.job_id), job_to_row(job))
    return job


def submit_index_drop(txn, d: IndexDef) -> Job:
    """The job that deletes a dropped index's entries, in the DROP's own transaction."""
    job = Job(new_job_id(), DROP, SUBMITTED, None, f"{d.schema}.{d.name}",
              datetime.now(timezone.utc), d.schema, d.name, table_id=d.table_id,
              index_id=d.index_id)
    txn.put(job_key(job.job_id), job_to_row(job))
    return job


async def submit_table_cleanup(txn, node, table) -> None:
    """DROP TABLE takes its indexes along (definitions now) and frees its rows and index
    entries in the background: one DROP job each (the rows are primary index 0)."""
    for d in await load_indexes(txn):
        if d.table_id == table.table_id:
            txn.delete(index_key(d.schema, d.name))
            submit_index_drop(txn, d)
    job = Job(new_job_id(), DROP, SUBMITTED, None, f"{table.schema}.{table.name}",
              datetime.now(timezone.utc), table.schema, table.name, table_id=table.table_id,
              index_id=0)
    txn.put(job_key(job.job_id), job_to_row(job))
    runner(node).kick()


def submit_validation(txn, table, constraint: str) -> Job:
    """ALTER TABLE ASYNC t VALIDATE CONSTRAINT c: the job that checks the existing rows."""
    job = Job(new_job_id(), VALIDATE, SUBMITTED, None, f"{table.schema}.{table.name}",
              datetime.now(timezone.utc), table.schema, constraint, table_id=table.table_id)
    txn.put(job_key(job.job_id), job_to_row(job))
    return job


async def load_jobs(txn) -> list[Job]:
    low, high = jobs_range()
    return [row_to_job(r) for _, r in await txn.scan(low, high)]


def update_time(j: Job) -> datetime:
    """When the job's row last changed: every state change and heartbeat stamps it."""
    return datetime.fromtimestamp(j.heartbeat, timezone.utc) if j.heartbeat else j.start_time


async def bump_catalog_version(txn) -> None:
    """Every compute reloads its catalog (and index definitions) at its next transaction."""
    txn.put(CATALOG_VERSION_KEY, (await txn.get(CATALOG_VERSION_KEY) or 0) + 1)


# -- waiting -----------------------------------------------------------------------------------
async def wait_for_job(node, job_id: str, timeout: float = WAIT_MAX_S) -> Job:
    """Poll the job's row until it ends (a cancel of the statement stops the wait)."""
    runner(node).kick()
    deadline = time.monotonic() + timeout
    while True:
        row = await interruptible(node.get(job_key(job_id), node.clock.now()))
        if row is None:
            raise UndefinedObject(f'job "{job_id}" does not exist')
        job = row_to_job(row)
        if job.status in (COMPLETED, JOB_FAILED, CANCELLED):
            await node.indexes.refresh()
            return job
        if time.monotonic() > deadline:
            raise QueryCanceled(f'timed out waiting for job "{job_id}"')
        await interruptible(asyncio.sleep(WAIT_POLL_S))


# -- the runner ---------------------------------------------------------------------------------
def runner(node) -> "JobRunner":
    if getattr(node, "jobs", None) is None:
        node.jobs = JobRunner(node)
    return node.jobs


class JobRunner:
    """Claims and runs jobs on one compute, in background tasks of its event loop."""

    def __init__(self, node):
        self.node = node
        self.owner = new_job_id()
        self.running: dict[str, asyncio.Task] = {}
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            # a context of its own: not the statement's that happened to start it (cancel)
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="job-runner", context=contextvars.Context())

    def kick(self) -> None:
        self.start()
        self._wake.set()

    def stop(self) -> None:
        for task in [self._task, *self.running.values()]:
            if task is not None:
                task.cancel()

    async def _loop(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:                            # noqa: BLE001 - keep the runner
                log.warning("job runner: poll failed", exc_info=True)
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_S)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def poll(self) -> None:
        low, high = jobs_range()
        now = time.time()
        for _, row in await self.node.scan(low, high, self.node.clock.now()):
            job = row_to_job(row)
            if len(self.running) >= BUILDS_MAX:
                return
            if job.job_id in self.running:
                continue
            if job.status == SUBMITTED or (job.status == PROCESSING
                                           and now - job.heartbeat > STALE_S):
                claimed = await self._claim(job)
                if claimed is not None:
                    task = asyncio.get_running_loop().create_task(self._run(claimed))
                    self.running[job.job_id] = task

    async def _claim(self, seen: Job) -> Job | None:
        txn = Transaction(self.node, self.node.clock.now(), explicit=False)
        row = await txn.get(job_key(seen.job_id))
        if row is None or row_to_job(row) != seen:
            return None
        job = replace(seen, status=PROCESSING, owner=self.owner, heartbeat=time.time())
        txn.put(job_key(job.job_id), job_to_row(job))
        try:
            await self.node.commit(txn)
        except (SerializationFailure, Unavailable):
            return None
        return job

    async def _run(self, job: Job) -> None:
        try:
            kind = {INDEX_BUILD: IndexBuild, VALIDATE: ConstraintValidation}.get(
                job.job_type, EntryCleanup)
            await kind(self.node, job).run()
        except asyncio.CancelledError:
            raise
        except TakenOver:
            log.info("job %s: taken over by another runner", job.job_id)
        except Unavailable:
            log.warning("job %s: storage unavailable; it is taken over once stale", job.job_id)
        except Exception as exc:                         # noqa: BLE001 - the job fails
            log.warning("job %s failed", job.job_id, exc_info=True)
            try:
                await finish(self.node, job, None, JOB_FAILED, _describe(exc))
            except Exception:                            # noqa: BLE001
                log.warning("job %s: could not record its failure", job.job_id,
                            exc_info=True)
        finally:
            self.running.pop(job.job_id, None)


def _describe(exc: Exception) -> str:
    if isinstance(exc, DsqlError):
        return exc.message + (f" {exc.detail}" if exc.detail else "")
    return f"internal error: {exc!r}"


class TakenOver(Exception):
    """Another runner claimed the job (this one stopped renewing in time): stop quietly."""


class _Duplicate(Exception):
    def __init__(self, d: IndexDef, table, values: tuple):
        shown = ", ".join("null" if v is None else str(v) for v in values)
        super().__init__(f'could not create unique index "{d.name}" Key '
                         f'({", ".join(d.key_names(table))})=({shown}) is duplicated.')


async def finish(node, job: Job, d: IndexDef | None, status: str, details: str | None,
                 complete_ts: int = 0) -> None:
    """Record the job's outcome and the index's state in one catalog transaction."""
    for attempt in range(STATE_RETRIES):
        txn = Transaction(node, node.clock.now(), explicit=False)
        row = await txn.get(job_key(job.job_id))
        if row is None:
            return
        current = await txn.get(index_key(job.schema, job.index_name))
        cur = row_to_index(current) if current is not None else None
        final, note = status, details
        if d is not None and (cur is None or cur.index_id != d.index_id):
            final, note = CANCELLED, "the index was dropped"
        txn.put(job_key(job.job_id), job_to_row(replace(
            row_to_job(row), status=final, details=note, heartbeat=time.time())))
        if final != CANCELLED and cur is not None and d is not None:
            # no catalog version bump: a user's DDL must not conflict with a job's end;
            # computes see the new state within their registry's lease
            txn.put(index_key(cur.schema, cur.name), index_to_row(replace(
                cur, state=VALID if status == COMPLETED else FAILED,
                complete_ts=complete_ts, details=details)))
        try:
            await node.commit(txn)
        except SerializationFailure:
            await asyncio.sleep(random.uniform(0, 0.05 * (attempt + 1)))
            continue
        await node.indexes.refresh()
        return
    raise SerializationFailure(f"job {job.job_id}: could not record its outcome")


class IndexBuild:
    def __init__(self, node, job: Job):
        self.node, self.job = node, job
        self._beat = time.monotonic()

    async def run(self) -> None:
        node, job = self.node, self.job
        ts = node.clock.now()
        row = await node.get(index_key(job.schema, job.index_name), ts)
        d = row_to_index(row) if row is not None else None
        if d is None or d.job_id != job.job_id:
            await finish(node, job, None, CANCELLED, "the index was dropped")
            return
        if d.state != WRITE_ONLY:
            await finish(node, job, d, COMPLETED if d.state == VALID else JOB_FAILED,
                         d.details, d.complete_ts)
            return
        table = await self._table(d, ts)
        if table is None or d.positions(table) is None:
            await finish(node, job, d, JOB_FAILED, "the table or an indexed column was dropped")
            return
        snapshot = node.clock.now()        # after the DDL: every later commit maintains d
        low, high = table.key_range()
        keys = [k for k, _ in await node.scan(low, high, snapshot)]
        complete = snapshot
        try:
            for i in range(0, len(keys), BATCH_ROWS):
                complete = max(complete, await self._batch(d, table, keys[i:i + BATCH_ROWS]))
                await self._heartbeat()
        except _Duplicate as dup:
            await finish(node, job, d, JOB_FAILED, str(dup))
            return
        await finish(node, job, d, COMPLETED, None, complete)

    async def _table(self, d: IndexDef, ts: int):
        low, high = tables_range()
        for _, row in await self.node.scan(low, high, ts):
            t = row_to_table(row)
            if t.table_id == d.table_id:
                return t
        return None

    async def _batch(self, d: IndexDef, table, keys: list[bytes]) -> int:
        """Entries of one batch of rows, in one transaction; its commit time."""
        node = self.node
        decode = getattr(table, "decode", None) or (lambda r: r)
        for attempt in range(BATCH_RETRIES):
            txn = Transaction(node, node.clock.now(), explicit=False)
            rows = await node.get_many(keys, txn.start_ts)
            entries: dict[bytes, tuple[tuple, tuple]] = {}
            for key, stored in zip(keys, rows):
                if stored is None:
                    continue                   # deleted since: its writer removed the entry
                row, pk = decode(stored), pk_of(key)
                entry = d.entry(table, row, pk)
                if entry is None:
                    continue                   # a partial index's predicate skips the row
                entry_key, value = entry
                values = d.key_values(table, row)
                other = entries.get(entry_key)
                if other is not None and other[0][0] != pk:
                    raise _Duplicate(d, table, values)
                entries[entry_key] = (value, values)
            if not entries:
                return txn.start_ts
            ekeys = list(entries)
            for key, existing in zip(ekeys, await node.get_many(ekeys, txn.start_ts)):
                value, values = entries[key]
                if existing is None:
                    txn.put_entry(key, value)
                elif existing[0] != value[0]:
                    raise _Duplicate(d, table, values)   # only unique entries can collide
                elif existing != value:
                    txn.put_entry(key, value)
            if not txn.writes:
                return txn.start_ts
            try:
                return await node.commit(txn)
            except SerializationFailure:
                await asyncio.sleep(random.uniform(0, min(0.02 * 2 ** attempt, 1.0)))
        raise SerializationFailure("index build: too many conflicts with concurrent writes")

    async def _heartbeat(self) -> None:
        if time.monotonic() - self._beat < HEARTBEAT_S:
            return
        self._beat = time.monotonic()
        for _ in range(STATE_RETRIES):
            txn = Transaction(self.node, self.node.clock.now(), explicit=False)
            row = await txn.get(job_key(self.job.job_id))
            if row is None or row_to_job(row).owner != self.job.owner:
                raise TakenOver(self.job.job_id)
            txn.put(job_key(self.job.job_id), job_to_row(replace(row_to_job(row),
                                                                  heartbeat=time.time())))
            try:
                await self.node.commit(txn)
                return
            except SerializationFailure:
                await asyncio.sleep(0.01)



class EntryCleanup:
    """DROP: delete a dropped index's entries, or a dropped table's rows, in bounded
    batches (every commit after the DROP has stopped writing them: the DROP changed the
    table's schema marker)."""

    def __init__(self, node, job: Job):
        self.node, self.job = node, job

    async def run(self) -> None:
        node, job = self.node, self.job
        low = table_prefix(job.table_id, job.index_id)
        keys = [k for k, _ in await node.scan(low, prefix_end(low), node.clock.now())]
        for i in range(0, len(keys), DELETE_BATCH):
            batch = keys[i:i + DELETE_BATCH]
            for attempt in range(BATCH_RETRIES):
                txn = Transaction(node, node.clock.now(), explicit=False)
                for key in batch:
                    txn.put_entry(key, None)
                try:
                    await node.commit(txn)
                    break
                except SerializationFailure:
                    await asyncio.sleep(random.uniform(0, min(0.02 * 2 ** attempt, 1.0)))
            else:
                raise SerializationFailure("index cleanup: too many conflicts")
        await finish(node, job, None, COMPLETED, None)


class ConstraintValidation:
    """Check every row committed before the job against a NOT VALID CHECK constraint, then
    mark it validated (or fail the job naming the constraint). Rows written since the
    constraint was added were checked when written, and transactions older than it fail
    with OC001, so one snapshot after the job was submitted covers everything."""

    def __init__(self, node, job: Job):
        self.node, self.job = node, job

    async def run(self) -> None:
        job = self.job
        for attempt in range(STATE_RETRIES):
            txn = Transaction(self.node, self.node.clock.now(), explicit=False)
            low, high = tables_range()
            tables = [row_to_table(r) for _, r in await txn.scan(low, high)]
            t = next((t for t in tables if t.table_id == job.table_id), None)
            outcome = None if t is None else await self._check(txn, t, Refs(tables))
            if outcome is None:
                await self._end(txn, CANCELLED, "the constraint or its table was dropped")
                return
            if isinstance(outcome, str):
                await self._end(txn, JOB_FAILED, outcome)
                return
            if outcome != t:
                txn.put(table_key(t.schema, t.name), table_to_row(outcome))
                await bump_catalog_version(txn)   # computes show convalidated; no OC001
            try:
                await self._end(txn, COMPLETED, None)
                return
            except SerializationFailure:
                await asyncio.sleep(random.uniform(0, 0.05 * (attempt + 1)))
        raise SerializationFailure(f"job {job.job_id}: could not record its outcome")

    async def _check(self, txn, t, refs: Refs):
        """The table marked validated; a message if a row violates the constraint; None
        if the constraint is gone. A foreign key's parents are held shared at COMMIT."""
        name = self.job.index_name
        check = next((c for c in t.checks if c.name == name), None)
        fk = next((k for k in t.fkeys if k.name == name), None)
        if check is None and fk is None:
            return None
        txn.uses([t])
        rows = await txn.scan(*t.key_range())
        if check is not None:
            test = compiled_check(check.expr_sql, tuple(t.column_names), tuple(t.column_oids))
            if any(test(r, []) is False for _, r in rows):
                return (f'check constraint "{check.name}" of relation "{t.name}" is violated '
                        "by some row")
            return t if check.validated else replace(t, checks=tuple(
                replace(c, validated=True) if c is check else c for c in t.checks))
        try:
            for _, r in rows:
                await check_child(txn, refs, t, fk, r)
        except ForeignKeyViolation as exc:
            return f"{exc.message} ({exc.detail})" if exc.detail else exc.message
        return t if fk.validated else replace(t, fkeys=tuple(
            replace(k, validated=True) if k is fk else k for k in t.fkeys))

    async def _end(self, txn, status: str, details: str | None) -> None:
        row = await txn.get(job_key(self.job.job_id))
        if row is None:
            return
        txn.put(job_key(self.job.job_id), job_to_row(replace(
            row_to_job(row), status=status, details=details, heartbeat=time.time())))
        await self.node.commit(txn)
