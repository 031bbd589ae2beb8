"""The rest of DML and storage pushdown on a real local cluster, over TLS with a token:
INSERT ... SELECT / ON CONFLICT, UPDATE ... FROM, DELETE ... USING with RETURNING, and
filtered reads whose predicate and projection cross the data-plane RPC to storage."""
from __future__ import annotations

import uuid

import psycopg
import pytest


def test_dml_forms_and_pushed_down_reads(cluster):
    t, u = f"t_{uuid.uuid4().hex[:8]}", f"u_{uuid.uuid4().hex[:8]}"
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {t} (id int primary key, x int, s text)")
        conn.execute(f"CREATE TABLE {u} (id int primary key, t_id int, y int)")
        conn.execute(f"INSERT INTO {t} SELECT g, g * 10, 'row ' || g "
                     f"FROM generate_series(1, 50) g")
        conn.execute(f"INSERT INTO {u} VALUES (1, 1, 100), (2, 2, 200), (3, 2, 300)")
        cur = conn.execute(f"INSERT INTO {t} AS o VALUES (1, 5, 'z'), (51, 510, 'new') "
                           f"ON CONFLICT (id) DO UPDATE SET x = o.x + excluded.x "
                           f"RETURNING id, x")
        assert sorted(cur.fetchall()) == [(1, 15), (51, 510)]
        with pytest.raises(psycopg.Error) as e:
            conn.execute(f"INSERT INTO {t} VALUES (2, 1, 'a'), (2, 2, 'b') "
                         f"ON CONFLICT (id) DO UPDATE SET x = excluded.x")
        assert e.value.sqlstate == "21000"
        cur = conn.execute(f"UPDATE {t} SET x = {u}.y FROM {u} WHERE {u}.t_id = {t}.id "
                           f"RETURNING {t}.id")
        assert cur.rowcount == 2 and sorted(cur.fetchall()) == [(1,), (2,)]
        cur = conn.execute(f"DELETE FROM {t} USING {u} WHERE {u}.t_id = {t}.id "
                           f"AND {u}.y = 100 RETURNING {t}.id, {u}.y")
        assert cur.fetchall() == [(1, 100)]
        # pushed to storage: a comparison, a parameter, IS NOT NULL, two columns
        rows = conn.execute(f"SELECT id, x FROM {t} WHERE x > %s AND s IS NOT NULL "
                            f"ORDER BY id", (450,)).fetchall()
        assert rows == [(46, 460), (47, 470), (48, 480), (49, 490), (50, 500), (51, 510)]
        assert conn.execute(f"SELECT id FROM {t} WHERE x <> 30 AND id < 5 "
                            f"ORDER BY id").fetchall() == [(2,), (4,)]
