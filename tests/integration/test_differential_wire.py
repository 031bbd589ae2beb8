"""The SELECT and DML differential suites again, over the wire: the same corpora as
tests/differential (hand-written and generated), run on a real cluster through the
extended protocol (every statement as PQsendQueryParams sends it: Parse, Bind, Describe
portal, Execute, Sync), compared with a real PostgreSQL through the same driver. The
tables are created and loaded over the wire too, with Bind parameters."""
from __future__ import annotations

import pytest

from dsql_ray.testing.protocols import ExtendedCursor
from tests.differential import test_dml_vs_postgres as dml
from tests.differential import test_select_vs_postgres as sel
from tests.differential.dataset import SCHEMA, make_rows
from tests.differential.generator import generate
from tests.differential.queries import HAND_WRITTEN
from tests.differential.test_select_vs_postgres import servers  # noqa: F401 (the fixture)


#: queries whose answer is not determined by SQL, only by a server's physical row order
UNORDERED = {
    "select id, (select k from t3 where t3.v = t1.a limit 1) from t1 order by id":
        "LIMIT 1 without ORDER BY picks any matching t3 row: PostgreSQL its heap's first, "
        "the cluster its first by primary key (in-process the engine reads insertion order)",
}


def _drop(conn, names) -> None:
    for name in names:
        conn.execute(f"drop table if exists {name}")


def test_select_differential_over_the_wire(cluster, servers):  # noqa: F811
    pg, _ = servers
    corpus = [(q, True) for q in HAND_WRITTEN if q.strip()] + \
        [(q, False) for q in generate(sel.GENERATED_SEED, sel.GENERATED_COUNT)]
    unexpected, known = [], []
    with cluster.connect(cursor_factory=ExtendedCursor) as ours, \
            pg.connect(cursor_factory=ExtendedCursor) as theirs:
        _drop(ours, SCHEMA)
        sel.load_tables(ours, make_rows())
        for conn in (ours, theirs):
            sel._json_as_text(conn)
        theirs.execute("set statement_timeout = '5s'")
        for sql, hand in corpus:
            problem = sel._compare(sql, sel._pg_run(theirs, sql), sel._pg_run(ours, sql), hand)
            if problem is not None:
                (known if sql in sel.KNOWN_DIFFERENCES or sql in UNORDERED
                 else unexpected).append((sql, problem))
        _drop(ours, SCHEMA)
    equal = len(corpus) - len(unexpected) - len(known)
    print(f"\nSELECT differential over the wire (extended protocol): {equal}/{len(corpus)} "
          f"equal to PostgreSQL {pg.version.split()[0]}, {len(known)} known differences "
          f"(unordered or by design)")
    for sql, problem in unexpected:
        print(f"MISMATCH: {sql}\n  {problem}")
    assert not unexpected, f"{len(unexpected)} of {len(corpus)} queries differ"


@pytest.fixture(scope="module")
def dml_reference():
    from dsql_ray.testing.postgres import PostgresServer
    with PostgresServer() as pg:
        with pg.connect() as conn:
            for stmt in dml.SETUP + dml._data():
                conn.execute(stmt)
        yield pg


def test_dml_differential_over_the_wire(cluster, dml_reference):
    corpus = [c if isinstance(c, tuple) else (c, None) for c in dml.HAND_WRITTEN] + \
        [(q, None) for q in dml.generate(dml.GENERATED_SEED, dml.GENERATED_COUNT)]
    problems = []
    with cluster.connect(cursor_factory=ExtendedCursor) as ours, \
            dml_reference.connect(cursor_factory=ExtendedCursor) as theirs:
        _drop(ours, dml.TABLES)
        for stmt in dml.SETUP + dml._data():
            ours.execute(stmt)
        theirs.execute("set statement_timeout = '5s'")
        for sql, params in corpus:
            problem = dml._compare(dml._pg_case(theirs, sql, params),
                                   dml._pg_case(ours, sql, params))
            if problem is not None:
                problems.append((sql, params, problem))
        _drop(ours, dml.TABLES)
    print(f"\nDML differential over the wire (extended protocol): "
          f"{len(corpus) - len(problems)}/{len(corpus)} statements equal to PostgreSQL")
    for sql, params, problem in problems:
        print(f"MISMATCH: {sql} {params or ''}\n  {problem}")
    assert not problems, f"{len(problems)} of {len(corpus)} DML statements differ"
