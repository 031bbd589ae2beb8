"""The Python client over Ray against psycopg over the wire, side by side in one run.

Starts a local cluster (or uses ``--cluster NAME --port P --data-dir D``, whose first
table must be ``big``) whose first table is split into 4 key ranges, then prints:

1. write_table of ROWS rows into ``big`` (the load), and of 200,000 rows into another
   table: rows landed vs rows written;
2. read_table of ``big`` while 4 writers update it, checked equal (as a multiset, and
   row count) to ``SELECT *`` run in one transaction at the same snapshot τ; its time
   against ``SELECT * FROM big`` over psycopg and ``ray.data.read_sql`` with a psycopg
   connection factory;
3. point-select and one-row-commit latency (p50, p99) through the Ray client and
   through psycopg (TLS, token) to the same cluster, interleaved in one run;
4. the bank through 16 Ray tasks with run_transaction and an auditor task.

    python loadtests/bench_client.py [--rows 1000000] [--bank-seconds 30]

Timings on a shared machine move with its load: compare the ratios of one run.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dsql_ray  # noqa: E402
from dsql_ray.keys import encode_key, table_prefix  # noqa: E402
from dsql_ray.testing.ports import free_port  # noqa: E402

CLI = [sys.executable, "-m", "dsql_ray.cli"]


def cli(*args: str, timeout: float = 600) -> str:
    return subprocess.run(CLI + list(args), check=True, capture_output=True, text=True,
                          timeout=timeout).stdout


def psycopg_connect(args):
    import psycopg
    token = cli("token", "--name", args.cluster, "--data-dir", args.data_dir).strip()
    return psycopg.connect(host="127.0.0.1", port=args.port, dbname="postgres",
                           user="admin", password=token, sslmode="require",
                           autocommit=True, connect_timeout=10)


def row_of(i: int) -> dict:
    return {"id": i, "grp": i % 7, "qty": 100, "price": Decimal(i) / 4,
            "label": f"item {i}"}


STEP = 100_000      # SELECTs over all of big go by id ranges: one statement over 1M rows
#                     passes compute's statement memory limit (54000), and so does
#                     count(*) even with an id range (the engine scans the whole table)


def count_big(conn, rows: int) -> int:
    return sum(len(conn.execute("SELECT id FROM big WHERE id >= %s AND id < %s",
                                (low, low + STEP)).fetchall())
               for low in range(0, rows, STEP))


def load(args, ray) -> None:
    with dsql_ray.connect(args.cluster, autocommit=True) as conn:
        have = count_big(conn, args.rows) \
            if conn.execute("SELECT count(*) FROM information_schema.tables WHERE "
                            "table_name = 'big'").fetchone()[0] else None
        if have is None:
            conn.execute("CREATE TABLE big (id int primary key, grp int, qty bigint, "
                         "price numeric(12,2), label text)")
            have = 0
    if have < args.rows:
        t0 = time.perf_counter()
        ds = ray.data.range(args.rows - have, override_num_blocks=16).map(
            lambda r: row_of(r["id"] + have))
        report = dsql_ray.write_table(ds, "big", cluster=args.cluster)
        took = time.perf_counter() - t0
        print(f"write_table load: {report.rows_written:,} rows in {report.batches} "
              f"transactions, {took:.1f} s ({report.rows_written / took:,.0f} rows/s)")
    with dsql_ray.connect(args.cluster, autocommit=True) as conn:
        n = count_big(conn, args.rows)
    print(f"big: {n:,} rows")


def write_200k(args, ray) -> None:
    with dsql_ray.connect(args.cluster, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS landed")
        conn.execute("CREATE TABLE landed (id bigint primary key, name text, v float8)")
    n = 200_000
    ds = ray.data.range(n, override_num_blocks=8).map(
        lambda r: {"id": r["id"], "name": f"n{r['id']}", "v": r["id"] * 0.5})
    t0 = time.perf_counter()
    report = dsql_ray.write_table(ds, "landed", cluster=args.cluster)
    took = time.perf_counter() - t0
    with dsql_ray.connect(args.cluster, autocommit=True) as conn:
        landed, distinct = conn.execute("SELECT count(*), count(DISTINCT id) FROM landed"
                                        ).fetchone()
    print(f"write_table {n:,} rows: report {report.rows_written:,} rows in "
          f"{report.batches} transactions, {took:.1f} s; landed {landed:,} "
          f"(distinct ids {distinct:,}): {'EXACT' if landed == n == distinct else 'WRONG'}")


def read_vs_sql(args, ray) -> None:
    stop = threading.Event()
    updates = [0]

    def writer(seed: int) -> None:
        rnd = random.Random(seed)
        conn = dsql_ray.connect(args.cluster, autocommit=True)
        while not stop.is_set():
            conn.execute("UPDATE big SET qty = qty + 1, label = %s WHERE id = %s",
                         (f"w{seed}", rnd.randrange(args.rows)))
            updates[0] += 1
        conn.close()

    threads = [threading.Thread(target=writer, args=(s,), daemon=True) for s in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        reader = dsql_ray.connect(args.cluster)
        reader.execute("SELECT 1")
        tau = reader.snapshot_ts
        t0 = time.perf_counter()
        from dsql_ray.client.data import TableDatasource
        source = TableDatasource("big", cluster=args.cluster, as_of=tau)
        ds = ray.data.read_datasource(source)       # what dsql_ray.read_table returns
        ds = ds.materialize()                       # every block read, in the object store
        t_read = time.perf_counter() - t0
        got = Counter()                             # (the check, not timed)
        for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
            got.update(zip(*(batch.column(c).to_pylist() for c in batch.column_names)))
        tasks = len(source.ranges)
        # SELECT * at the same τ: in the reader's transaction, in key ranges of 100k
        expected = Counter()
        t0 = time.perf_counter()
        for low in range(0, args.rows, STEP):
            expected.update(reader.execute("SELECT * FROM big WHERE id >= %s AND id < %s",
                                           (low, low + STEP)).fetchall())
        t_sql_ray = time.perf_counter() - t0
        reader.rollback()
        reader.close()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    equal = got == expected
    print(f"read_table at τ while 4 writers updated ({updates[0]:,} updates): "
          f"{sum(got.values()):,} rows, {tasks} read tasks, {t_read:.1f} s to materialize; "
          f"SELECT * at "
          f"the same τ (Ray client, 100k-row ranges): {sum(expected.values()):,} rows, "
          f"{t_sql_ray:.1f} s; multiset {'EQUAL' if equal else 'DIFFERENT'}")

    # SELECT * over psycopg (its own snapshot), and ray.data.read_sql through psycopg
    pg = psycopg_connect(args)
    t0 = time.perf_counter()
    try:
        n_pg = len(pg.execute("SELECT * FROM big").fetchall())
        how = "one statement"
    except Exception as exc:  # noqa: BLE001 - e.g. the statement memory limit
        print(f"  SELECT * FROM big over psycopg failed: {exc!r}; in 100k-row ranges:")
        t0, n_pg = time.perf_counter(), 0
        for low in range(0, args.rows, STEP):
            n_pg += len(pg.execute("SELECT * FROM big WHERE id >= %s AND id < %s",
                                   (low, low + STEP)).fetchall())
        how = "100k-row ranges"
    t_pg = time.perf_counter() - t0
    pg.close()

    def factory():
        return psycopg_connect(args)
    t0 = time.perf_counter()
    try:
        n_rs = ray.data.read_sql("SELECT * FROM big", factory).materialize().count()
        t_rs = time.perf_counter() - t0
        rs = "SELECT * FROM big"
    except Exception as exc:  # noqa: BLE001 - the same statement memory limit
        print(f"  ray.data.read_sql('SELECT * FROM big') failed: {type(exc).__name__}: "
              f"{str(exc)[-200:]}; again as a union of one read_sql per 100k-row range:")
        t0 = time.perf_counter()
        parts = [ray.data.read_sql(f"SELECT * FROM big WHERE id >= {low} AND id < "
                                   f"{low + STEP}", factory)
                 for low in range(0, args.rows, STEP)]
        try:
            n_rs = parts[0].union(*parts[1:]).materialize().count()
        except Exception as exc:  # noqa: BLE001 - e.g. compute's storage timeouts
            n_rs = None
            rs = f"failed too: {type(exc).__name__}: {str(exc)[-200:]}"
        t_rs = time.perf_counter() - t0
        if n_rs is not None:
            rs = f"{len(parts)} read_sql datasets unioned"
    if n_rs is not None:
        rs = f"{rs}: {n_rs:,} rows, {t_rs:.1f} s ({t_rs / t_read:.2f}x read_table's time)"
    print(f"  SELECT * over psycopg ({how}): {n_pg:,} rows, {t_pg:.1f} s "
          f"({t_pg / t_read:.2f}x read_table's time)")
    print(f"  ray.data.read_sql + psycopg factory: {rs}")


def latency(args) -> None:
    ray_conn = dsql_ray.connect(args.cluster, autocommit=True)
    pg = psycopg_connect(args)
    for c in (ray_conn, pg):
        c.execute("DROP TABLE IF EXISTS one_row")
    ray_conn.execute("CREATE TABLE one_row (id bigint primary key, v int)")
    rnd = random.Random(1)
    samples = {k: [] for k in ("ray select", "pg select", "ray commit", "pg commit")}
    next_id = [0]

    def select(conn):
        conn.execute("SELECT label FROM big WHERE id = %s", (rnd.randrange(args.rows),)
                     ).fetchone()

    def commit(conn):
        next_id[0] += 1
        conn.execute("INSERT INTO one_row VALUES (%s, %s)", (next_id[0], 1))
    for _ in range(20):                       # warm up (psycopg prepares after 5)
        select(ray_conn), select(pg)
    for _round in range(args.latency_rounds):  # interleaved blocks
        for name, fn, conn in (("ray select", select, ray_conn), ("pg select", select, pg),
                               ("ray commit", commit, ray_conn),
                               ("pg commit", commit, pg)):
            for _ in range(50):
                t0 = time.perf_counter()
                fn(conn)
                samples[name].append(time.perf_counter() - t0)

    def q(xs, p):
        return sorted(xs)[int(p * (len(xs) - 1))] * 1000
    print(f"latency, one client, {len(samples['ray select'])} each, interleaved:")
    for kind in ("select", "commit"):
        r, p = samples[f"ray {kind}"], samples[f"pg {kind}"]
        print(f"  {'point select' if kind == 'select' else 'one-row commit':15s} "
              f"Ray client p50 {q(r, .5):6.2f} ms p99 {q(r, .99):6.2f} ms | psycopg "
              f"p50 {q(p, .5):6.2f} ms p99 {q(p, .99):6.2f} ms | p50 ratio "
              f"{q(r, .5) / q(p, .5):.2f}x")
    ray_conn.close()
    pg.close()


def bank(args) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.client import bank_tasks
    with dsql_ray.connect(args.cluster, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bank_accounts")
        conn.execute("DROP TABLE IF EXISTS bank_transfers")
    bank_tasks.setup(args.cluster)
    out = bank_tasks.run(args.cluster, tasks=16, seconds=args.bank_seconds)
    ok = out["lost"] == 0 and out["balances_match"] and not out["bad_audits"] and \
        out["total"] == bank_tasks.ACCOUNTS * bank_tasks.OPENING
    print(f"bank, 16 Ray tasks, {args.bank_seconds:.0f} s: {out['acked']:,} acknowledged "
          f"transfers ({out['acked'] / args.bank_seconds:.0f}/s), {out['committed']:,} in "
          f"the table, lost {out['lost']}, retries on 40001 {out['retried']:,}, gave up "
          f"{out['failed']}; {out['audits']} audits, bad {len(out['bad_audits'])}; final "
          f"total {out['total']:,}: {'EXACT' if ok else 'WRONG'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--bank-seconds", type=float, default=30.0)
    ap.add_argument("--latency-rounds", type=int, default=20)
    ap.add_argument("--cluster", help="use this running cluster (its first table: big)")
    ap.add_argument("--port", type=int)
    ap.add_argument("--data-dir")
    ap.add_argument("--keep", action="store_true", help="leave the started cluster up")
    ap.add_argument("--skip", default="", help="comma-separated: load,write,read,latency,bank")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    started = args.cluster is None
    if started:
        args.cluster, args.port = f"benchclient{free_port()}", free_port()
        args.data_dir = tempfile.mkdtemp(prefix="bench_client_")
        q = args.rows // 4
        splits = [table_prefix(1).hex()] + [(table_prefix(1) + encode_key((i,))).hex()
                                            for i in (q, 2 * q, 3 * q)]
        print(f"cluster {args.cluster}: --port {args.port} --data-dir {args.data_dir}")
        cli("up", "--name", args.cluster, "--data-dir", args.data_dir, "--port",
            str(args.port), "--shard-splits", ",".join(splits))
    import ray
    state = json.loads((Path(args.data_dir) / "state.json").read_text())
    ray.init(address=state["ray_address"], log_to_driver=False, logging_level="ERROR")
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        print("(machine shared with other test runs: compare ratios within this run)")
        if "load" not in skip:
            load(args, ray)
        if "write" not in skip:
            write_200k(args, ray)
        if "read" not in skip:
            read_vs_sql(args, ray)
        if "latency" not in skip:
            latency(args)
        if "bank" not in skip:
            bank(args)
    finally:
        ray.shutdown()
        if started and not args.keep:
            cli("down", "--name", args.cluster, "--data-dir", args.data_dir)


if __name__ == "__main__":
    main()
