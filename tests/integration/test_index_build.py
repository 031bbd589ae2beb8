"""Secondary indexes over the wire on a real cluster: CREATE INDEX ASYNC on a 20,000-row
table while writers keep changing it, sys.wait_for_job, sys.jobs, EXPLAIN, the index's
answers against full scans, a unique build on duplicated data, psql's \\di and \\d."""
from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from .test_catalogs import psql

ROWS = 20_000
BATCH = 2_000          # rows per INSERT transaction (DSQL allows 3,000)
VALUES = 100           # distinct values of the indexed column


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _load(conn, table: str) -> None:
    for start in range(0, ROWS, BATCH):
        conn.execute(f"INSERT INTO {table} VALUES " + ", ".join(
            f"({i}, {i % VALUES}, 'r{i}')" for i in range(start, start + BATCH)))


def _plan(conn, query: str, *params) -> str:
    return "\n".join(r[0] for r in conn.execute(f"EXPLAIN {query}", params).fetchall())


class Writers:
    """Threads inserting, updating and deleting rows until stopped (40001 is retried)."""

    def __init__(self, cluster, table: str, threads: int = 2):
        self.cluster, self.table = cluster, table
        self.stop = threading.Event()
        self.done = [0] * threads
        self.conflicts = [0] * threads
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def _run(self, n: int) -> None:
        t = self.table
        try:
            with self.cluster.connect() as conn:
                i = 0
                while not self.stop.is_set():
                    i += 1
                    key = ROWS + n * 1_000_000 + i
                    old = (i * 7919 + n * 31) % ROWS
                    try:
                        conn.execute(f"INSERT INTO {t} VALUES (%s, %s, 'new')",
                                     (key, i % VALUES))
                        conn.execute(f"UPDATE {t} SET x = %s, note = 'moved' WHERE id = %s",
                                     ((i * 13) % VALUES, old))
                        with conn.transaction():
                            conn.execute(f"DELETE FROM {t} WHERE id = %s", ((old + 1) % ROWS,))
                            conn.execute(f"UPDATE {t} SET x = x + 1 WHERE id = %s", (key,))
                        self.done[n] += 1
                    except psycopg.errors.SerializationFailure:
                        self.conflicts[n] += 1
        except BaseException as exc:      # noqa: BLE001 - reported by the test
            self.errors.append(exc)


def test_index_built_under_concurrent_writes_answers_like_a_full_scan(cluster):
    t = _name("ix")
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, x int, note text)")
        _load(conn, t)
        assert conn.execute(f"SELECT count(*) FROM {t}").fetchone() == (ROWS,)
        with Writers(cluster, t) as writers:
            time.sleep(0.5)
            job_id = conn.execute(f"CREATE INDEX ASYNC {t}_x_idx ON {t} (x)").fetchone()[0]
            assert isinstance(job_id, str) and len(job_id) == 26
            status = conn.execute("SELECT status FROM sys.jobs WHERE job_id = %s",
                                  (job_id,)).fetchone()[0]
            assert status in ("submitted", "processing", "completed")
            assert conn.execute("CALL sys.wait_for_job(%s)", (job_id,)).fetchone() == (True,)
            time.sleep(0.5)                 # writes keep coming after the index is valid
        assert not writers.errors, writers.errors
        assert sum(writers.done) > 0, (writers.done, writers.conflicts)
        job = conn.execute("SELECT job_id, status, job_type, object_name FROM sys.jobs "
                           "WHERE job_id = %s", (job_id,)).fetchone()
        assert job == (job_id, "completed", "INDEX_BUILD", f"public.{t}_x_idx")

        text = _plan(conn, f"SELECT * FROM {t} WHERE x = 42")
        assert text.startswith(f"Index Scan using {t}_x_idx on {t}\n  Index Cond: (x = 42)")
        assert "Shards:" in text and "Key range:" in text
        assert "Seq Scan" in _plan(conn, f"SELECT * FROM {t} WHERE x + 0 = 42")
        for v in range(VALUES):
            by_index = sorted(conn.execute(f"SELECT * FROM {t} WHERE x = %s", (v,)).fetchall())
            by_scan = sorted(conn.execute(f"SELECT * FROM {t} WHERE x + 0 = %s",
                                          (v,)).fetchall())
            assert by_index == by_scan, v
        assert sorted(conn.execute(f"SELECT id FROM {t} WHERE x >= 10 AND x < 13").fetchall()) \
            == sorted(conn.execute(f"SELECT id FROM {t} WHERE x + 0 >= 10 AND x + 0 < 13")
                      .fetchall())

        # the other compute process uses the index too (a fresh connection may land there)
        for _ in range(4):
            with cluster.connect() as other:
                assert f"Index Scan using {t}_x_idx" in _plan(other, f"SELECT * FROM {t} "
                                                                     "WHERE x = 7")

        out = psql(cluster, f"\\di\n\\d {t}\n")
        assert f"{t}_x_idx" in out
        assert f'"{t}_x_idx" btree (x)' in out


def test_unique_build_on_duplicated_data_fails(cluster):
    t = _name("uq")
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, code text)")
        conn.execute(f"INSERT INTO {t} VALUES " +
                     ", ".join(f"({i}, 'c{i % 500}')" for i in range(1000)))
        job_id = conn.execute(f"CREATE UNIQUE INDEX ASYNC {t}_code ON {t} (code)").fetchone()[0]
        assert conn.execute("CALL sys.wait_for_job(%s)", (job_id,)).fetchone() == (False,)
        status, details = conn.execute("SELECT status, details FROM sys.jobs WHERE job_id = %s",
                                       (job_id,)).fetchone()
        assert status == "failed" and "is duplicated" in details
        assert "Seq Scan" in _plan(conn, f"SELECT * FROM {t} WHERE code = 'c1'")
        conn.execute(f"INSERT INTO {t} VALUES (5000, 'c1')")        # not enforcing
        conn.execute(f"DROP INDEX {t}_code")

        conn.execute(f"DELETE FROM {t} WHERE id >= 500")
        job_id = conn.execute(f"CREATE UNIQUE INDEX ASYNC {t}_code ON {t} (code)").fetchone()[0]
        assert conn.execute("CALL sys.wait_for_job(%s)", (job_id,)).fetchone() == (True,)
        with pytest.raises(psycopg.errors.UniqueViolation) as e:
            conn.execute(f"INSERT INTO {t} VALUES (9999, 'c1')")
        assert e.value.sqlstate == "23505"
        assert conn.execute(f"SELECT id FROM {t} WHERE code = 'c1'").fetchall() == [(1,)]


def test_plain_create_index_is_refused(cluster):
    t = _name("plain")
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, x int)")
        with pytest.raises(psycopg.errors.FeatureNotSupported) as e:
            conn.execute(f"CREATE INDEX {t}_x ON {t} (x)")
        assert "please use CREATE INDEX ASYNC" in str(e.value)
        assert conn.execute("SELECT 1").fetchone() == (1,)
