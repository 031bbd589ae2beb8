"""COPY on a real local cluster: FROM STDIN and TO STDOUT with psycopg's copy API and
psql's \\copy over TLS with a token, the 3,000-row transaction limit, bad data and
CopyFail."""
from __future__ import annotations

import os
import subprocess
import uuid

import psycopg
import psycopg.errors
import pytest

from dsql_ray.testing.pgtools import find


def table_name() -> str:
    return f"copy_{uuid.uuid4().hex[:8]}"


def psql(cluster, *args: str, script: str = "") -> subprocess.CompletedProcess:
    exe = find("psql")
    assert exe, "psql is needed for this test"
    env = os.environ | {"PGPASSWORD": cluster.token(), "PGSSLMODE": "require"}
    return subprocess.run([str(exe), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "admin",
                           "-d", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t",
                           *args], input=script, capture_output=True, text=True, timeout=60,
                          env=env)


def test_psycopg_copy_rows_text_and_csv(cluster):
    t = table_name()
    with cluster.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, name text, score float8, "
                    "flag boolean DEFAULT true)")
        with cur.copy(f"COPY {t} (id, name, score) FROM STDIN") as copy:
            for i in range(200):
                copy.write_row((i, None if i % 10 == 0 else f"n\t{i}\\", i * 0.5))
        assert cur.statusmessage == "COPY 200"
        with cur.copy(f"COPY {t} FROM STDIN") as copy:
            copy.write("1000\tplain\t1.5\tf\n1001\t\\N\t")
            copy.write("\\N\t\\N\n1002\ttab\\there\t2\tt\n")
        assert cur.statusmessage == "COPY 3"
        with cur.copy(f"COPY {t} FROM STDIN WITH (FORMAT csv, HEADER)") as copy:
            copy.write('id,name,score,flag\n2000,"a, ""quoted""\nname",3,yes\n2001,,,\n'
                       '2002,"",4,no\n')
        assert cur.statusmessage == "COPY 3"
        assert cur.execute(f"SELECT count(*), count(name) FROM {t} WHERE id < 200"
                           ).fetchone() == (200, 180)
        assert cur.execute(f"SELECT name, score, flag FROM {t} WHERE id = 7").fetchone() \
            == ("n\t7\\", 3.5, True)
        assert cur.execute(f"SELECT * FROM {t} WHERE id >= 1000 ORDER BY id").fetchall() == [
            (1000, "plain", 1.5, False), (1001, None, None, None),
            (1002, "tab\there", 2.0, True), (2000, 'a, "quoted"\nname', 3.0, True),
            (2001, None, None, None), (2002, "", 4.0, False)]


def test_psql_backslash_copy_from_a_csv_file(cluster, tmp_path):
    t = table_name()
    data = tmp_path / "data.csv"
    lines = ["id,city,population"] + [f'{i},"City, {i}",{i * 1000}' for i in range(1, 501)]
    data.write_text("\n".join(lines) + "\n")
    proc = psql(cluster, "-f", "-", script=f"""
CREATE TABLE {t} (id int PRIMARY KEY, city text, population bigint);
\\copy {t} from '{data}' csv header
SELECT count(*), sum(population) FROM {t};
SELECT city FROM {t} WHERE id = 42;
""")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["500|125250000", "City, 42"]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,city,population\n9001,ok,1\n9002,bad,lots\n")
    proc = psql(cluster, "-c", f"\\copy {t} from '{bad}' csv header")
    assert proc.returncode != 0
    assert 'invalid input syntax for type bigint: "lots"' in proc.stderr
    assert "COPY " + t + ", line 3, column population" in proc.stderr
    proc = psql(cluster, "-c", f"SELECT count(*) FROM {t} WHERE id > 9000")
    assert proc.returncode == 0 and proc.stdout.strip() == "0"
    proc = psql(cluster, "-c", f"COPY {t} TO '/tmp/out.csv'")
    assert proc.returncode != 0 and "COPY TO a file is not supported" in proc.stderr
    out = tmp_path / "out.csv"
    proc = psql(cluster, "-c", f"\\copy (SELECT * FROM {t} WHERE id <= 3 ORDER BY id) "
                               f"to '{out}' csv header")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == lines[0] + "\n" + "\n".join(lines[1:4]) + "\n"
    proc = psql(cluster, "-c", f"\\copy {t} (id, city) to stdout")
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines())[:2] == ["1\tCity, 1", "10\tCity, 10"]


def test_copy_row_limit_3000_commits_and_3001_leaves_nothing(cluster):
    t = table_name()
    with cluster.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, v text)")
        with pytest.raises(psycopg.errors.ProgramLimitExceeded) as e:
            with cur.copy(f"COPY {t} FROM STDIN") as copy:
                for i in range(3001):
                    copy.write_row((i, "x"))
        assert e.value.sqlstate == "54000"
        assert "transaction row limit exceeded" in str(e.value)
        assert cur.execute(f"SELECT count(*) FROM {t}").fetchone() == (0,)
        with cur.copy(f"COPY {t} FROM STDIN") as copy:
            copy.write("".join(f"{i}\tx\n" for i in range(3000)))
        assert cur.statusmessage == "COPY 3000"
        assert cur.execute(f"SELECT count(*) FROM {t}").fetchone() == (3000,)


def test_copy_inside_a_transaction_and_its_limit(cluster):
    t = table_name()
    with cluster.connect() as conn:
        conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY)")
        conn.autocommit = False
        cur = conn.cursor()
        cur.execute(f"INSERT INTO {t} VALUES (-1)")
        with cur.copy(f"COPY {t} FROM STDIN") as copy:
            copy.write("".join(f"{i}\n" for i in range(10)))
        with cluster.connect() as other:
            assert other.execute(f"SELECT count(*) FROM {t}").fetchone() == (0,)
        conn.commit()
        assert cur.execute(f"SELECT count(*) FROM {t}").fetchone() == (11,)
        conn.commit()
        cur.execute(f"INSERT INTO {t} VALUES (-2)")     # 1 + 3,000 rows in one transaction
        with pytest.raises(psycopg.errors.ProgramLimitExceeded):
            with cur.copy(f"COPY {t} FROM STDIN") as copy:
                copy.write("".join(f"{i}\n" for i in range(100, 3100)))
        conn.rollback()
        assert cur.execute(f"SELECT count(*) FROM {t}").fetchone() == (11,)


@pytest.mark.parametrize("data, sqlstate, context", [
    ("1\tone\n2\ttwo\nthree\t3\n", "22P02", 'line 3, column id: "three"'),
    ("1\tone\n2\n", "22P04", 'line 2: "2"'),
    ("1\tone\textra\n", "22P04", "line 1"),
    ("1\tone\n1\tagain\n", "23505", "line 2"),
    ("1\t\\N\n", "23502", "line 1"),
])
def test_bad_data_gets_its_sqlstate_and_the_session_stays_usable(cluster, data, sqlstate,
                                                                  context):
    t = table_name()
    with cluster.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, name text NOT NULL)")
        with pytest.raises(psycopg.Error) as e:
            with cur.copy(f"COPY {t} FROM STDIN") as copy:
                copy.write(data)
        assert e.value.sqlstate == sqlstate
        assert e.value.diag.context.startswith(f"COPY {t}, {context}")
        assert cur.execute(f"SELECT count(*) FROM {t}").fetchone() == (0,)
        with cur.copy(f"COPY {t} FROM STDIN") as copy:
            copy.write("5\tfive\n")
        assert cur.execute(f"SELECT * FROM {t}").fetchall() == [(5, "five")]


def test_copy_fail_from_the_client(cluster):
    t = table_name()
    with cluster.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {t} (id int PRIMARY KEY)")
        with pytest.raises(RuntimeError):
            with cur.copy(f"COPY {t} FROM STDIN") as copy:
                copy.write("1\n2\n")
                raise RuntimeError("abort the load")   # psycopg sends CopyFail
        assert cur.execute(f"SELECT count(*) FROM {t}").fetchone() == (0,)
        pgconn = conn.pgconn                               # the libpq calls, to see 57014
        pgconn.send_query(f"COPY {t} FROM STDIN".encode())
        assert pgconn.get_result().status == psycopg.pq.ExecStatus.COPY_IN
        assert pgconn.put_copy_data(b"3\n") == 1
        assert pgconn.put_copy_end(b"client changed its mind") == 1
        result = pgconn.get_result()
        assert result.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == b"57014"
        assert result.error_message.startswith(
            b"ERROR:  COPY from stdin failed: client changed its mind")
        while pgconn.get_result() is not None:
            pass
        assert cur.execute(f"SELECT count(*) FROM {t}").fetchone() == (0,)


def test_asyncpg_binary_copy_both_ways(cluster):
    import asyncio
    import datetime as dt
    import decimal
    import ssl

    import asyncpg

    t = table_name()
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    rows = [(i, f"name {i}", decimal.Decimal(i) / 4,
             dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=i))
            for i in range(500)] + [(500, None, None, None)]

    async def scenario():
        conn = await asyncpg.connect(host="127.0.0.1", port=cluster.port, user="admin",
                                     database="postgres", password=cluster.token(),
                                     ssl=context, timeout=10)
        try:
            await conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, name text, "
                               "amount numeric, at timestamptz)")
            assert await conn.copy_records_to_table(t, records=rows) == "COPY 501"
            got = await conn.fetch(f"SELECT * FROM {t} ORDER BY id")
            assert [tuple(r) for r in got] == rows
            with pytest.raises(asyncpg.exceptions.UniqueViolationError):
                await conn.copy_records_to_table(t, records=[(1000, "new", None, None),
                                                             (7, "dup", None, None)])
            assert await conn.fetchval(f"SELECT count(*) FROM {t}") == 501
            out = bytearray()

            async def sink(chunk):
                out.extend(chunk)
            assert await conn.copy_from_query(
                f"SELECT id, name FROM {t} WHERE id < 3 ORDER BY id", output=sink,
                format="csv", header=True) == "COPY 3"
            assert bytes(out) == b"id,name\n0,name 0\n1,name 1\n2,name 2\n"
        finally:
            await conn.close()
    asyncio.run(scenario())
