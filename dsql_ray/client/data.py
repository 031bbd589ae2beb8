"""Ray Data over dsql-ray: ``read_table`` (a Datasource) and ``write_table`` (a Datasink).

**read_table** plans once through a compute actor (same binder as SQL: unknown table or
column fail as in SQL), which answers the snapshot τ, the table's key range split by
storage key range, each range's replicas, and the columns and simple WHERE terms storage
evaluates itself (``storage/mvcc.py``'s pushdown). Then there is one read task per key
range; each reads straight from that range's storage replica in its own zone (others
if it does not answer), page by page, all at the one τ, and yields Arrow tables. Storage
serves a read at τ once it has applied every commit ≤ τ, so the dataset is one
consistent snapshot while writers go on. A read must finish within DSQL's transaction
age (300 s after τ): past it a task fails with 54000, as storage may have dropped the
versions τ needs (its GC horizon is 305 s).

**write_table** writes each block in transactions of at most 3,000 rows (DSQL's row
limit), each retried on 40001 by :func:`~.retry.run_transaction`. Atomicity: **each
batch commits on its own; the whole write does not.** A batch that fails for another
reason (a duplicate key: 23505) fails the write with an error naming the task, block and
batch, and the batches this task had committed before it; batches other tasks committed
stay.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import pyarrow as pa
from ray.data import Datasink, Datasource, ReadTask, read_datasource
from ray.data.block import BlockAccessor, BlockMetadata

from .. import limits
from ..clock import wall_us
from ..errors import DsqlError, Unavailable
from ..interval import as_interval
from ..transport.rpc import RpcClient
from . import locate
from .connection import connect
from .errors import Error, OperationalError, from_server
from .params import (BOOL, BYTEA, DATE, FLOAT8, INT8, INTERVAL, NUMERIC, TIME, TIMESTAMP,
                     TIMESTAMPTZ)
from .retry import RETRIES, run_transaction

#: rows one storage call returns (a read task pages through its range, asking for the
#: next page while it converts the last); smaller pages let the replica serve others
#: between them
PAGE_ROWS = 20_000
BATCH_ROWS = int(limits.rows_per_txn_max.value)
READ_CALL_TIMEOUT_S = 60.0


# -- reading ------------------------------------------------------------------------------

def _arrow_type(oid: int, typmod: int) -> pa.DataType | None:
    simple = {BOOL: pa.bool_(), 21: pa.int16(), 23: pa.int32(), INT8: pa.int64(),
              700: pa.float32(), FLOAT8: pa.float64(), 25: pa.string(), 1043: pa.string(),
              1042: pa.string(), 19: pa.string(), BYTEA: pa.binary(), DATE: pa.date32(),
              TIME: pa.time64("us"), TIMESTAMP: pa.timestamp("us"),
              TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
              INTERVAL: pa.month_day_nano_interval(),
              2950: pa.string(), 114: pa.string(), 3802: pa.string()}
    if oid in simple:
        return simple[oid]
    if oid == NUMERIC and typmod >= 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        return pa.decimal128(precision, scale) if precision <= 38 else \
            pa.decimal256(precision, scale)
    return None          # unconstrained numeric and the rest: inferred from the values


def _month_day_nano(v) -> tuple[int, int, int]:
    iv = as_interval(v)
    return iv.months, iv.days, iv.micros * 1000


def _to_arrow(rows: list, columns: list) -> pa.Table:
    arrays = []
    for name, oid, typmod, slot, missing in columns:
        values = [r[slot] if slot < len(r) else missing for _k, r in rows]
        if oid in (2950, 114, 3802):          # uuid, json, jsonb: as text
            values = [None if v is None else str(v) for v in values]
        elif oid == 1186:                      # interval: (months, days, nanoseconds)
            values = [None if v is None else _month_day_nano(v) for v in values]
        arrays.append(pa.array(values, type=_arrow_type(oid, typmod)))
    return pa.Table.from_arrays(arrays, names=[c[0] for c in columns])


def _check_age(snapshot: int) -> None:
    age_s = (wall_us() - snapshot) / 1e6
    if age_s > limits.txn_age_max.value:
        raise OperationalError(
            f"{limits.txn_age_max.message}: read_table's snapshot is {age_s:.0f}s old; "
            "storage keeps older versions only up to its horizon, read again",
            sqlstate=limits.txn_age_max.sqlstate)


async def _read_range(replicas: list[tuple[str, tuple]], low: bytes, high: bytes | None,
                      plan: dict, page_rows: int):
    """Pages of one key range at the plan's τ, from the first replica that answers."""
    slots = plan["slots"] if plan["project"] else None
    clients = [RpcClient(tuple(addr), name=name) for name, addr in replicas]
    try:
        while True:
            _check_age(plan["snapshot"])
            last: Exception | None = None
            for rpc in clients:
                try:
                    rows = await rpc.call("scan", low, high, plan["snapshot"], page_rows,
                                          plan["pred"], slots, timeout=READ_CALL_TIMEOUT_S)
                    break
                except Unavailable as exc:
                    last = exc
            else:
                raise from_server(last or Unavailable("no storage replica answered"))
            if rows:
                yield rows
            if len(rows) < page_rows:
                return
            low = rows[-1][0] + b"\x00"      # the next key after the last one read
    except DsqlError as exc:
        raise from_server(exc) from None
    finally:
        for rpc in clients:
            rpc.close()


def _read_task_fn(replicas_by_zone: list[tuple[str, str, tuple]], low, high, plan,
                  page_rows: int):
    def read() -> Iterable[pa.Table]:
        zone = locate.my_zone()
        ordered = sorted(replicas_by_zone, key=lambda r: r[1] != zone)   # own zone first
        replicas = [(name, addr) for name, _zone, addr in ordered]
        loop = locate.loop_thread()
        pages = _read_range(replicas, low, high, plan, page_rows)
        pending = loop.submit(pages.__anext__())
        while True:
            try:
                rows = pending.result(timeout=READ_CALL_TIMEOUT_S * 4)
            except StopAsyncIteration:
                return
            pending = loop.submit(pages.__anext__())     # the next page while converting
            yield _to_arrow(rows, plan["columns"])
    return read


class TableDatasource(Datasource):
    """One read task per storage key range of a table, all at one snapshot τ."""

    def __init__(self, table: str, *, columns: list[str] | None = None,
                 where: str | None = None, cluster: str = "local",
                 address: str | None = None, as_of: int | None = None,
                 page_rows: int = PAGE_ROWS):
        self.table, self.cluster = table, cluster
        conn = connect(cluster, address=address, autocommit=True)
        try:
            plan = conn._run(conn._core.call("client_read_plan", conn._core.sid, table,
                                             columns, where, as_of))
        finally:
            conn.close()
        _check_age(plan["snapshot"])
        found = locate.cluster(cluster)
        plan["project"] = columns is not None
        self.plan = plan
        self.snapshot_ts: int = plan["snapshot"]
        self.page_rows = page_rows
        self.ranges = []
        for low, high, names in plan["ranges"]:
            entries = [found.storage_address(n) for n in names]
            self.ranges.append((low, high, [(e["name"], e.get("zone"), tuple(e["address"]))
                                            for e in entries]))

    def get_name(self) -> str:
        return f"DsqlTable({self.table})"

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                       data_context=None) -> list[ReadTask]:
        meta = BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None,
                             input_files=None)
        return [ReadTask(_read_task_fn(replicas, low, high, self.plan, self.page_rows), meta,
                         per_task_row_limit=per_task_row_limit)
                for low, high, replicas in self.ranges]


def read_table(table: str, *, columns: list[str] | None = None, where: str | None = None,
               cluster: str = "local", address: str | None = None, as_of: int | None = None,
               page_rows: int = PAGE_ROWS, **read_args: Any):
    """``table`` as a Ray Dataset read in parallel at one snapshot (see the module doc).

    ``columns``: the columns to read (default all, in table order). ``where``: an AND of
    ``column op constant`` / ``column IS [NOT] NULL`` terms, evaluated in storage.
    ``as_of``: read at this τ instead of now, e.g. ``conn.snapshot_ts`` of an open
    transaction (within 300 s). ``read_args`` go to :func:`ray.data.read_datasource`."""
    source = TableDatasource(table, columns=columns, where=where, cluster=cluster,
                             address=address, as_of=as_of, page_rows=page_rows)
    return read_datasource(source, **read_args)


# -- writing ------------------------------------------------------------------------------

@dataclass
class WriteReport:
    rows_written: int = 0
    batches: int = 0
    tasks: int = 0
    per_task: list[dict] = field(default_factory=list)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class TableDatasink(Datasink):
    """Inserts each block's rows in transactions of at most ``batch_rows`` rows."""

    def __init__(self, table: str, *, cluster: str = "local", batch_rows: int = BATCH_ROWS,
                 retries: int = RETRIES):
        if not 1 <= batch_rows <= BATCH_ROWS:
            raise ValueError(f"batch_rows must be within 1..{BATCH_ROWS} (DSQL's rows per "
                             "transaction)")
        self.table, self.cluster = table, cluster
        self.batch_rows, self.retries = batch_rows, retries
        self.report: WriteReport | None = None

    def get_name(self) -> str:
        return f"DsqlTable({self.table})"

    def write(self, blocks: Iterable, ctx) -> dict:
        conn = connect(self.cluster)
        task = getattr(ctx, "task_idx", None)
        done: list[tuple[int, int, int]] = []        # (block, first row, rows) committed
        rows_written = 0
        try:
            for b, block in enumerate(blocks):
                arrow = BlockAccessor.for_block(block).to_arrow()
                names = arrow.column_names
                if not names:
                    continue
                head = f"INSERT INTO {self.table} ({', '.join(map(_quote, names))}) VALUES "
                one = "(" + ", ".join(["%s"] * len(names)) + ")"
                columns = [arrow.column(i).to_pylist() for i in range(len(names))]
                rows = list(zip(*columns))
                for start in range(0, len(rows), self.batch_rows):
                    batch = rows[start:start + self.batch_rows]
                    # one multi-row INSERT per batch (its text, so its plan, is cached)
                    sql = head + ", ".join([one] * len(batch))
                    flat = [v for row in batch for v in row]
                    try:
                        run_transaction(conn, lambda cur: cur.execute(sql, flat),
                                        retries=self.retries)
                    except Error as exc:
                        raise _batch_error(exc, self.table, task, b, start, len(batch),
                                           batch[0], done, rows_written) from None
                    done.append((b, start, len(batch)))
                    rows_written += len(batch)
        finally:
            conn.close()
        return {"task": task, "rows": rows_written, "batches": len(done)}

    def on_write_complete(self, write_result) -> None:
        returns = [r for r in write_result.write_returns if r]
        self.report = WriteReport(rows_written=sum(r["rows"] for r in returns),
                                  batches=sum(r["batches"] for r in returns),
                                  tasks=len(returns), per_task=returns)


def _batch_error(exc: Error, table: str, task, block: int, start: int, size: int,
                 first_row: tuple, done: list, rows_written: int) -> Error:
    landed = ", ".join(f"block {b} rows {s}..{s + n - 1}" for b, s, n in done) or "none"
    message = (f"write_table into {table}: write task {task}, block {block}, batch of rows "
               f"{start}..{start + size - 1} (first row {first_row!r}) failed and was "
               f"rolled back: {exc} [{exc.sqlstate}]. Each batch commits on its own: this "
               f"task committed {rows_written} rows before it ({landed}); batches other "
               "tasks committed stay committed.")
    err = type(exc)(message, sqlstate=exc.sqlstate, detail=exc.detail, hint=exc.hint)
    err.batch = {"task": task, "block": block, "first_row": start, "rows": size}
    err.rows_landed = rows_written
    err.landed = list(done)
    return err


def write_table(dataset, table: str, *, cluster: str = "local",
                batch_rows: int = BATCH_ROWS, retries: int = RETRIES,
                **write_args: Any) -> WriteReport:
    """Insert every row of ``dataset`` (columns named as the table's) into ``table``,
    in transactions of at most 3,000 rows; returns the rows and batches written. Not
    atomic as a whole: see the module doc."""
    sink = TableDatasink(table, cluster=cluster, batch_rows=batch_rows, retries=retries)
    dataset.write_datasink(sink, **write_args)
    return sink.report or WriteReport()
