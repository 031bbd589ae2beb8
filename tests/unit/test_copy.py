"""COPY ... FROM STDIN: the text and CSV formats (PostgreSQL's rules), the options, and
the rows it loads through a real in-process cluster (transactions, limits, errors)."""
from __future__ import annotations

import asyncio
import datetime as dt
import struct
from decimal import Decimal

import asyncpg
import psycopg
import psycopg.errors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pglast import parse_sql

from dsql_ray.compute.copy.fields import csv_fields, text_fields
from dsql_ray.compute.copy.load import CopyIn
from dsql_ray.compute.copy.options import CopyOptions, copy_options
from dsql_ray.compute.copy.out import CopyOut
from dsql_ray.compute.copy.records import BINARY_SIGNATURE, BinaryTuples, Records
from dsql_ray.compute.result import QueryResult
from dsql_ray.errors import DsqlError

from .conftest import sql

TEXT = CopyOptions()
CSV = CopyOptions(csv=True, delimiter=b",", null=b"")


def values(fields):
    return [f.value for f in fields]


def records(options: CopyOptions, chunks: list[bytes]) -> list[bytes]:
    r = Records(options)
    out = []
    for chunk in chunks:
        out += r.feed(chunk)
    return out + r.finish()


def options(sql_text: str) -> CopyOptions:
    return copy_options(parse_sql(sql_text)[0].stmt.options)


# -- text format ---------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    (b"1\tabc", ["1", "abc"]),
    (b"\\N\t\\\\N", [None, "\\N"]),                      # NULL, and an escaped backslash
    (b"a\\tb\tc\\nd", ["a\tb", "c\nd"]),
    (b"\\b\\f\\r\\v", ["\b\f\r\v"]),
    (b"\\101\\x42\\x4a\\7", ["ABJ\x07"]),                 # octal and hex escapes
    (b"\\303\\251", ["é"]),                              # escapes give bytes: UTF-8 here
    (b"a\\\tb", ["a\tb"]),                               # escaped delimiter is data
    (b"\\q\\.x", ["q.x"]),                               # any other escaped char: itself
    (b"", [""]),                                         # an empty line: one empty string
    (b"\t", ["", ""]),
    ("ünï\tcödé".encode(), ["ünï", "cödé"]),
])
def test_text_fields(raw, expected):
    assert values(text_fields(raw, TEXT)) == expected


def test_text_custom_null_and_delimiter():
    opts = options("COPY t FROM STDIN WITH (DELIMITER '|', NULL 'nil')")
    assert values(text_fields(b"nil|\\N|x\\|y", opts)) == [None, "N", "x|y"]


def test_text_bad_bytes_and_carriage_return():
    with pytest.raises(DsqlError) as e:
        text_fields(b"\\377", TEXT)
    assert e.value.sqlstate == "22021"
    with pytest.raises(DsqlError) as e:
        text_fields(b"a\\000", TEXT)
    assert e.value.sqlstate == "22021"
    with pytest.raises(DsqlError) as e:
        text_fields(b"a\rb", TEXT)
    assert e.value.sqlstate == "22P04" and "carriage return" in e.value.message


def test_text_records_escaped_newline_and_end_marker():
    data = b"1\ta\\\nb\n2\t\\\\\n3\tc\n\\.\nignored\n"
    assert records(TEXT, [data]) == [b"1\ta\\\nb", b"2\t\\\\", b"3\tc"]
    assert values(text_fields(b"1\ta\\\nb", TEXT)) == ["1", "a\nb"]
    assert records(TEXT, [b"1\n2\\.\n3\n"]) == [b"1", b"2"]      # data before \. is kept
    with pytest.raises(DsqlError) as e:
        records(TEXT, [b"1\\.2\n"])
    assert e.value.sqlstate == "22P04" and "end-of-copy marker corrupt" in e.value.message
    assert records(TEXT, [b"a\\\\.\n"]) == [b"a\\\\."]             # \\. is data


def test_crlf_newlines_follow_the_first_line():
    assert records(TEXT, [b"1\r\n2\r\n3"]) == [b"1", b"2", b"3"]
    with pytest.raises(DsqlError) as e:
        records(TEXT, [b"1\r\n2\n"])
    assert e.value.sqlstate == "22P04" and "literal newline" in e.value.message


DATA = (b"1\tone\\ttab\n2\t\\N\n3\tthree\\\\\n4\tfour\\\nlines\n"
        b"5\t\xc3\xa9t\xc3\xa9\n6\tlast")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, len(DATA)), max_size=8))
def test_records_do_not_depend_on_how_the_data_is_cut(cuts):
    points = sorted(set(cuts))
    chunks = [DATA[a:b] for a, b in zip([0] + points, points + [len(DATA)])]
    assert records(TEXT, chunks) == records(TEXT, [DATA])
    assert len(records(TEXT, [DATA])) == 6


# -- CSV -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    (b"1,abc", ["1", "abc"]),
    (b',"",x', [None, "", "x"]),                         # unquoted empty is NULL
    (b'"a,b","say ""hi"""', ["a,b", 'say "hi"']),
    (b'"multi\nline"', ["multi\nline"]),
    (b'ab"cd"ef', ["abcdef"]),
    (b"a,", ["a", None]),
    (b'"\\N"', ["\\N"]),                                 # backslashes are plain in CSV
    (b"", [None]),
])
def test_csv_fields(raw, expected):
    assert values(csv_fields(raw, CSV)) == expected


def test_csv_options_null_escape_and_quote():
    opts = options("COPY t FROM STDIN WITH (FORMAT csv, NULL 'NA', ESCAPE '\\', "
                   "QUOTE '''', DELIMITER ';')")
    assert values(csv_fields(b"NA;'NA';'it\\'s';'a\\\\b';", opts)) == \
        [None, "NA", "it's", "a\\b", ""]


def test_csv_unterminated_quote():
    for raw in (b'"abc', b'1,"a""'):
        with pytest.raises(DsqlError) as e:
            csv_fields(raw, CSV)
        assert e.value.sqlstate == "22P04" and "unterminated CSV quoted field" in \
            e.value.message


def test_csv_records_keep_quoted_newlines():
    data = b'1,"a\nb"\n2,"x""\ny"\n3,z'
    assert records(CSV, [data]) == [b'1,"a\nb"', b'2,"x""\ny"', b"3,z"]
    for i in range(len(data)):
        assert records(CSV, [data[:i], data[i:]]) == records(CSV, [data])
    esc = options("COPY t FROM STDIN WITH (FORMAT csv, ESCAPE '\\')")
    assert records(esc, [b'1,"a\\"\nb"\n2\n']) == [b'1,"a\\"\nb"', b"2"]
    assert records(CSV, [b"1\n\\.\n2\n"]) == [b"1"]


def test_records_are_bounded():
    r = Records(TEXT, max_record=100)
    r.feed(b"x" * 90)
    with pytest.raises(DsqlError) as e:
        r.feed(b"x" * 20)
    assert e.value.sqlstate == "54000"


# -- options -------------------------------------------------------------------------------

def test_options_both_syntaxes():
    new = options("COPY t FROM STDIN WITH (FORMAT csv, HEADER true)")
    old = options("COPY t FROM STDIN WITH CSV HEADER")
    assert new == old and new.csv and new.header is True and new.delimiter == b","
    assert new.null == b""
    assert options("COPY t FROM STDIN WITH (HEADER match)").header == "match"
    assert options("COPY t FROM STDIN").null == b"\\N"


@pytest.mark.parametrize("text, sqlstate, message", [
    ("COPY t FROM STDIN WITH (FORMAT xml)", "22023", 'COPY format "xml" not recognized'),
    ("COPY t FROM STDIN WITH (FORMAT binary, HEADER)", "42601",
     "cannot specify HEADER in BINARY mode"),
    ("COPY t FROM STDIN WITH (DELIMITER '||')", "0A000", "single one-byte character"),
    ("COPY t FROM STDIN WITH (QUOTE '''')", "0A000", "COPY quote available only in CSV"),
    ("COPY t FROM STDIN WITH (FORMAT csv, QUOTE ',')", "22023",
     "delimiter and quote must be different"),
    ("COPY t FROM STDIN WITH (DELIMITER 'a')", "22023", 'COPY delimiter cannot be "a"'),
    ("COPY t FROM STDIN WITH (NULL 'a\tb')", "22023", "must not appear in the NULL"),
    ("COPY t FROM STDIN WITH (HEADER maybe)", "22023", 'Boolean value or "match"'),
    ("COPY t FROM STDIN WITH (BOGUS 1)", "42601", 'option "bogus" not recognized'),
    ("COPY t FROM STDIN WITH (FORMAT csv, FORMAT text)", "42601", "redundant options"),
    ("COPY t FROM STDIN WITH (ENCODING 'LATIN1')", "0A000", "LATIN1"),
])
def test_bad_options(text, sqlstate, message):
    with pytest.raises(DsqlError) as e:
        options(text)
    assert e.value.sqlstate == sqlstate and message in e.value.message


# -- through a session on the in-process cluster ---------------------------------------------

async def copy(session, statement: str, *chunks: bytes):
    """Run a COPY FROM STDIN as the wire layer does; returns its result."""
    started = (await sql(session, statement))[-1]
    assert isinstance(started, CopyIn)
    try:
        for chunk in chunks:
            await started.data(chunk)
        return await started.done()
    finally:
        started.abandon()


async def rows(session, query="SELECT * FROM t ORDER BY id"):
    return (await sql(session, query))[0].rows


def test_copy_text_and_csv_load_rows(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, name text, n int DEFAULT 7)")
        result = await copy(s, "COPY t (id, name) FROM STDIN", b"1\talpha\n2\t\\N\n3\tga",
                            b"mma\\tx\n")
        assert result.tag == "COPY 3"
        assert await rows(s) == [(1, "alpha", 7), (2, None, 7), (3, "gamma\tx", 7)]
        result = await copy(s, "COPY t FROM STDIN WITH (FORMAT csv, HEADER)",
                            b'id,name,n\n4,"de,lta",\n5,,1\n6,"",2\n')
        assert result.tag == "COPY 3"
        assert await rows(s, "SELECT * FROM t WHERE id >= 4 ORDER BY id") == \
            [(4, "de,lta", None), (5, None, 1), (6, "", 2)]
        assert s.txn_status == "I"
    run(scenario)


def test_copy_inside_a_transaction_joins_it(run):
    async def scenario(c):
        s, other = c.session(), c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, name text)")
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO t VALUES (1, 'a')")
        assert (await copy(s, "COPY t FROM STDIN", b"2\tb\n3\tc\n")).tag == "COPY 2"
        assert s.txn_status == "T"
        assert len(await rows(s)) == 3
        assert await rows(other) == []                  # not committed yet
        await sql(s, "COMMIT")
        assert len(await rows(other)) == 3
        await sql(s, "BEGIN")
        assert (await copy(s, "COPY t FROM STDIN", b"4\td\n")).tag == "COPY 1"
        await sql(s, "ROLLBACK")
        assert len(await rows(other)) == 3
    run(scenario)


def test_copy_row_limit_is_the_transaction_limit(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY)")
        data = b"".join(b"%d\n" % i for i in range(3001))
        with pytest.raises(DsqlError) as e:
            await copy(s, "COPY t FROM STDIN", data)
        assert e.value.sqlstate == "54000" and \
            e.value.message == "transaction row limit exceeded"
        assert await rows(s) == [] and s.txn is None
        assert (await copy(s, "COPY t FROM STDIN", data[:data.index(b"3000\n")])).tag \
            == "COPY 3000"
        assert len(await rows(s)) == 3000
        await sql(s, "CREATE TABLE u (id int PRIMARY KEY)")
        await sql(s, "BEGIN")
        await sql(s, "INSERT INTO u VALUES (-1)")         # the transaction counts it too
        with pytest.raises(DsqlError) as e:
            await copy(s, "COPY u FROM STDIN", data[:data.index(b"3000\n")])
        assert e.value.sqlstate == "54000"
        assert s.txn_status == "E"
        assert (await sql(s, "COMMIT"))[0].tag == "ROLLBACK"
        assert await rows(s, "SELECT * FROM u") == []
    run(scenario)


def test_copy_bad_data_names_the_line(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)")
        cases = [
            (b"1\ta\n2\tb\nx\tc\n", "22P02", 'invalid input syntax for type integer: "x"',
             'COPY t, line 3, column id: "x"'),
            (b"1\ta\n2\n", "22P04", 'missing data for column "name"', 'COPY t, line 2: "2"'),
            (b"1\ta\tb\n", "22P04", "extra data after last expected column",
             'COPY t, line 1: "1\ta\tb"'),
            (b"1\ta\n2\t\\N\n", "23502", 'null value in column "name"', "COPY t, line 2"),
            (b"1\ta\n2\tb\n1\tc\n", "23505", "duplicate key value violates unique "
             'constraint "t_pkey"', "COPY t, line 3"),
            (b"99999999999\ta\n", "22003", "out of range", "COPY t, line 1, column id"),
        ]
        for data, sqlstate, message, context in cases:
            with pytest.raises(DsqlError) as e:
                await copy(s, "COPY t FROM STDIN", data)
            assert e.value.sqlstate == sqlstate and message in e.value.message, data
            assert e.value.context.startswith(context), (data, e.value.context)
            assert s.txn is None
        with pytest.raises(DsqlError) as e:
            await copy(s, "COPY t FROM STDIN WITH (FORMAT csv, HEADER match)",
                       b"id,nom\n1,a\n")
        assert e.value.sqlstate == "22P04" and 'got "nom", expected "name"' in \
            e.value.message
        assert await rows(s) == []                       # nothing of any of them
        assert (await copy(s, "COPY t FROM STDIN", b"1\tok\n")).tag == "COPY 1"
    run(scenario)


def test_copy_duplicate_of_a_committed_row(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY)")
        await sql(s, "INSERT INTO t VALUES (500)")
        data = b"".join(b"%d\n" % i for i in range(1000))      # several batches
        with pytest.raises(DsqlError) as e:
            await copy(s, "COPY t FROM STDIN", data)
        assert e.value.sqlstate == "23505" and e.value.context == "COPY t, line 501"
        assert await rows(s) == [(500,)]
    run(scenario)


def test_copy_fail_and_errors_in_a_transaction_block(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY)")
        started = (await sql(s, "COPY t FROM STDIN"))[0]
        await started.data(b"1\n2\n")
        with pytest.raises(DsqlError) as e:
            await started.fail("client gave up")
        assert e.value.sqlstate == "57014"
        assert e.value.message == "COPY from stdin failed: client gave up"
        assert s.txn is None and await rows(s) == []
        await sql(s, "BEGIN")
        with pytest.raises(DsqlError):
            await copy(s, "COPY t FROM STDIN", b"zz\n")
        with pytest.raises(DsqlError) as e:
            await sql(s, "SELECT 1")
        assert e.value.sqlstate == "25P02"
        assert (await sql(s, "ROLLBACK"))[0].tag == "ROLLBACK"
        assert (await sql(s, "SELECT 1"))[0].rows == [(1,)]
    run(scenario)


def test_copy_refusals(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY)")
        for text in ("COPY t TO '/tmp/out'", "COPY (SELECT 1) TO PROGRAM 'cat'",
                     "COPY t FROM '/etc/passwd'", "COPY t FROM PROGRAM 'ls'",
                     "COPY t FROM STDIN WHERE id > 1",
                     "COPY t TO STDOUT (FORMAT csv, FORCE_NULL (id))"):
            with pytest.raises(DsqlError) as e:
                await sql(s, text)
            assert e.value.sqlstate == "0A000", text
        with pytest.raises(DsqlError) as e:
            await sql(s, "COPY nope FROM STDIN")
        assert e.value.sqlstate == "42P01"
        with pytest.raises(DsqlError) as e:
            await sql(s, "COPY t (id, id) FROM STDIN")
        assert e.value.sqlstate == "42701"
        with pytest.raises(DsqlError) as e:
            await sql(s, "COPY t (nope) FROM STDIN")
        assert e.value.sqlstate == "42703"
        assert s.txn is None
    run(scenario)


def test_statements_after_copy_wait_for_its_data(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY)")
        results = await sql(s, "SELECT 1; COPY t FROM STDIN; SELECT count(*) FROM t")
        assert [r.tag for r in results[:1]] == ["SELECT 1"]
        started = results[1]
        assert isinstance(started, CopyIn) and started.rest == "SELECT count(*) FROM t"
        await started.data(b"1\n2\n")
        assert (await started.done()).tag == "COPY 2"
        assert (await sql(s, started.rest))[0].rows == [(2,)]
    run(scenario)


# -- over the wire: serve_connection on the in-process cluster, real clients ------------------

def over_the_wire(run, client) -> None:
    """Serve the in-process cluster's sessions on a local port and run ``client(port)``
    (blocking, in a thread) against it."""
    from dsql_ray.frontend.session import serve_connection

    async def scenario(c):
        async def factory(user, database, settings):
            return c.session()

        server = await asyncio.start_server(
            lambda r, w: serve_connection(r, w, factory), "127.0.0.1", 0)
        try:
            await asyncio.to_thread(client, server.sockets[0].getsockname()[1])
        finally:
            server.close()
    run(scenario)


def connect(port: int) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=port, user="admin", dbname="postgres",
                           sslmode="disable", autocommit=True, connect_timeout=5)


def test_psycopg_copy(run):
    def client(port):
        with connect(port) as conn:
            cur = conn.cursor()
            cur.execute("CREATE TABLE t (id int PRIMARY KEY, name text, score float8)")
            with cur.copy("COPY t (id, name, score) FROM STDIN") as copy:
                for i in range(50):
                    copy.write_row((i, f"row\t{i}\n" if i % 2 else None, i / 4))
            assert cur.rowcount == 50 and cur.statusmessage == "COPY 50"
            with cur.copy("COPY t FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write('100,"a,b",1.5\n101,,')
                copy.write("\n102,plain,2\n")
            assert cur.execute("SELECT * FROM t WHERE id >= 100 ORDER BY id").fetchall() \
                == [(100, "a,b", 1.5), (101, None, None), (102, "plain", 2.0)]
            assert cur.execute("SELECT name FROM t WHERE id = 3").fetchone() == ("row\t3\n",)
            with pytest.raises(psycopg.errors.InvalidTextRepresentation) as e:
                with cur.copy("COPY t FROM STDIN") as copy:
                    copy.write("200\tok\t1\n201\tbad\tx\n202\tnever\t3\n")
            assert e.value.diag.context.startswith('COPY t, line 2, column score: "x"')
            with pytest.raises(RuntimeError):          # psycopg sends CopyFail
                with cur.copy("COPY t FROM STDIN") as copy:
                    copy.write("300\tok\t1\n")
                    raise RuntimeError("changed my mind")
            assert cur.execute("SELECT count(*) FROM t").fetchone() == (53,)
            conn.autocommit = False
            with cur.copy("COPY t (id) FROM STDIN") as copy:
                copy.write_row((400,))
            conn.rollback()
            assert cur.execute("SELECT count(*) FROM t WHERE id = 400").fetchone() == (0,)
    over_the_wire(run, client)


def test_raw_protocol_copy(run):
    from .test_pgwire import Raw, bind, cstr, error_fields, execute, frame, kinds, parse, q

    def client(port):
        raw = Raw(port)

        raw.send(q("CREATE TABLE t (id int PRIMARY KEY, v text)"))
        assert kinds(raw.until()) == "CZ"
        # simple protocol: CopyInResponse with two text columns, data in odd pieces
        raw.send(q("COPY t FROM STDIN"))
        kind, body = raw.read()
        assert (kind, body) == (b"G", struct.pack("!bhhh", 0, 2, 0, 0))
        raw.send(frame(b"d", b"1\to"), frame(b"d", b"ne\n2\t"), frame(b"H"),
                 frame(b"d", b"two\n"), frame(b"c"))
        messages = raw.until()
        assert kinds(messages) == "CZ" and messages[0][1] == cstr("COPY 2")
        # extended protocol: the Sync sent before the data is ignored in copy mode
        raw.send(parse("COPY t FROM STDIN WITH (FORMAT csv)"), bind(), frame(b"D", b"P\0"),
                 execute(), frame(b"S"))
        assert kinds([raw.read(), raw.read(), raw.read(), raw.read()]) == "12nG"
        raw.send(frame(b"d", b"3,three\n"), frame(b"c"), frame(b"S"))
        messages = raw.until()
        assert kinds(messages) == "CZ" and messages[0][1] == cstr("COPY 1")
        # an error mid-COPY: ErrorResponse at once, the rest of the data is dropped
        raw.send(q("COPY t FROM STDIN"))
        assert raw.read()[0] == b"G"
        raw.send(frame(b"d", b"4\tfour\nx\tbad\n"))
        messages = raw.until()
        assert kinds(messages) == "EZ"
        fields = error_fields(messages[0][1])
        assert fields["C"] == "22P02" and fields["W"] == 'COPY t, line 2, column id: "x"'
        raw.send(frame(b"d", b"5\tfive\n"), frame(b"c"), q("SELECT count(*) FROM t"))
        messages = raw.until()
        assert kinds(messages) == "TDCZ" and messages[1][1].endswith(b"3")
        # rows are inserted in batches: a duplicate key shows at the batch's end
        raw.send(q("COPY t FROM STDIN"))
        assert raw.read()[0] == b"G"
        raw.send(frame(b"d", b"4\tfour\n4\tdup\n"), frame(b"c"))
        messages = raw.until()
        fields = error_fields(messages[0][1])
        assert kinds(messages) == "EZ" and fields["C"] == "23505"
        assert fields["W"] == "COPY t, line 2"
        # CopyFail, and a stray message during COPY
        raw.send(q("COPY t FROM STDIN"))
        assert raw.read()[0] == b"G"
        raw.send(frame(b"f", cstr("no thanks")))
        messages = raw.until()
        fields = error_fields(messages[0][1])
        assert fields["C"] == "57014" and fields["M"] == "COPY from stdin failed: no thanks"
        raw.send(q("COPY t FROM STDIN"))
        assert raw.read()[0] == b"G"
        raw.send(q("SELECT 1"))
        messages = raw.until()
        assert error_fields(messages[0][1])["C"] == "08P01"
        # a simple query with statements after the COPY runs them after its data
        raw.send(q("COPY t FROM STDIN; SELECT count(*) FROM t"))
        assert raw.read()[0] == b"G"
        raw.send(frame(b"d", b"6\tsix\n"), frame(b"c"))
        messages = raw.until()
        assert kinds(messages) == "CTDCZ" and messages[2][1].endswith(b"4")
        # COPY TO STDOUT in the extended protocol
        raw.send(parse("COPY (SELECT id, v FROM t WHERE id < 3 ORDER BY id) TO STDOUT"),
                 bind(), execute(), frame(b"S"))
        messages = raw.until()
        assert kinds(messages) == "12HddcCZ"
        assert messages[2][1] == struct.pack("!bhhh", 0, 2, 0, 0)
        assert [m[1] for m in messages[3:5]] == [b"1\tone\n", b"2\ttwo\n"]
        assert messages[6][1] == cstr("COPY 2")
        raw.sock.close()
    over_the_wire(run, client)


def test_copy_without_primary_key_typmods_and_csv_null_options(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (code varchar(3), n numeric(5, 1), note text DEFAULT 'd')")
        assert (await copy(s, "COPY t FROM STDIN", b"abc\t1.25\tx\nab\t\\N\t\\N\n")).tag \
            == "COPY 2"
        assert sorted(await rows(s, "SELECT code, n, note FROM t"), key=str) == \
            sorted([("abc", Decimal("1.3"), "x"), ("ab", None, None)], key=str)
        with pytest.raises(DsqlError) as e:
            await copy(s, "COPY t FROM STDIN", b"abcd\t1\tx\n")
        assert e.value.sqlstate == "22001"
        assert e.value.context == 'COPY t, line 1, column code: "abcd"'
        result = await copy(
            s, "COPY t FROM STDIN WITH (FORMAT csv, NULL 'NA', DEFAULT '@', "
               "FORCE_NOT_NULL (code), FORCE_NULL (note))",
            b'NA,2,@\nq,NA,"NA"\n')
        assert result.tag == "COPY 2"
        assert sorted(await rows(s, "SELECT code, n, note FROM t WHERE n = 2 OR n IS NULL "
                                    "AND code IN ('NA', 'q')"), key=str) == \
            sorted([("NA", Decimal("2.0"), "d"), ("q", None, None)], key=str)
        with pytest.raises(DsqlError) as e:
            await sql(s, "COPY t (n) FROM STDIN WITH (FORMAT csv, FORCE_NULL (note))")
        assert e.value.sqlstate == "42P10"
    run(scenario)


# -- COPY TO STDOUT ---------------------------------------------------------------------------

def test_copy_out_lines():
    result = QueryResult("SELECT 2", None, [])
    text = CopyOut(result, options("COPY t TO STDOUT WITH (HEADER)"))
    assert text.line([b"1", None, b"a\tb\\c\nd\re", b"\x01"]) == \
        b"1\t\\N\ta\\tb\\\\c\\nd\\re\t\x01\n"
    pipe = CopyOut(result, options("COPY t TO STDOUT WITH (DELIMITER '|', NULL '')"))
    assert pipe.line([b"a|b", None]) == b"a\\|b|\n"
    csv = CopyOut(result, options("COPY t TO STDOUT WITH (FORMAT csv)"))
    assert csv.line([b"plain", b'say "hi"', b"a,b", b"", None, b"two\nlines"]) == \
        b'plain,"say ""hi""","a,b","",,"two\nlines"\n'
    assert csv.line([b"\\."]) == b'"\\."\n'
    esc = CopyOut(result, options("COPY t TO STDOUT WITH (FORMAT csv, ESCAPE '\\', "
                                  "NULL 'NA')"))
    assert esc.line([b'a"b\\c', b"NA", None]) == b'"a\\"b\\\\c","NA",NA\n'
    for line in (text.line([b"1", None, b"x\ty"]), csv.line([b"1", None, b'"q",'])):
        opts = text.options if line is not None and b"\t" in line else csv.options
        parsed = (text_fields if opts is text.options else csv_fields)(line[:-1], opts)
        assert [f.value for f in parsed] in (["1", None, "x\ty"], ["1", None, '"q",'])


def test_copy_to_stdout_reads_the_table_or_query(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, name text)")
        await sql(s, "INSERT INTO t VALUES (1, 'one'), (2, NULL)")
        out = (await sql(s, "COPY t TO STDOUT WITH (FORMAT csv, HEADER, FORCE_QUOTE *)"))[0]
        assert isinstance(out, CopyOut) and out.tag == "COPY 2"
        assert list(out.chunks([]))[0] == b"id,name\n"
        assert sorted(out.rows) == [(1, "one"), (2, None)]
        out = (await sql(s, "COPY (SELECT name, id * 10 AS x FROM t WHERE id = 1) TO STDOUT"
                         ))[0]
        assert out.rows == [("one", 10)] and [c.name for c in out.columns] == ["name", "x"]
        out = (await sql(s, "COPY t (name) TO STDOUT"))[0]
        assert sorted(out.rows, key=str) == sorted([("one",), (None,)], key=str)
        with pytest.raises(DsqlError) as e:
            await sql(s, "COPY nope TO STDOUT")
        assert e.value.sqlstate == "42P01"
    run(scenario)


def test_psycopg_copy_to_stdout(run):
    def client(port):
        with connect(port) as conn:
            cur = conn.cursor()
            cur.execute("CREATE TABLE t (id int PRIMARY KEY, name text, f float8)")
            with cur.copy("COPY t FROM STDIN") as copy:
                for row in [(1, "tab\there", 1.5), (2, None, None), (3, "x,y", -2.0)]:
                    copy.write_row(row)
            with cur.copy("COPY (SELECT * FROM t ORDER BY id) TO STDOUT") as copy:
                got = list(copy.rows())
            assert got == [("1", "tab\there", "1.5"), ("2", None, None), ("3", "x,y", "-2")]
            assert cur.rowcount == 3
            with cur.copy("COPY (SELECT id, name FROM t ORDER BY id) TO STDOUT "
                          "WITH (FORMAT csv, HEADER)") as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
            assert data == b'id,name\n1,tab\there\n2,\n3,"x,y"\n'
    over_the_wire(run, client)


def test_copy_fills_identity_columns_and_refuses_views(run):
    async def scenario(c):
        s = c.session()
        await sql(s, "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY (CACHE 1) "
                     "PRIMARY KEY, v text)")
        assert (await copy(s, "COPY t (v) FROM STDIN", b"a\nb\nc\n")).tag == "COPY 3"
        assert await rows(s) == [(1, "a"), (2, "b"), (3, "c")]
        await sql(s, "CREATE VIEW w AS SELECT * FROM t")
        with pytest.raises(DsqlError) as e:
            await sql(s, "COPY w FROM STDIN")
        assert e.value.sqlstate == "42809" and e.value.message == 'cannot copy to view "w"'
        out = (await sql(s, "COPY (SELECT v FROM w ORDER BY id) TO STDOUT"))[0]
        assert out.rows == [("a",), ("b",), ("c",)]
    run(scenario)


def test_autocommit_copy_conflicts_at_copy_done(run):
    async def scenario(c):
        s, other = c.session(), c.session()
        await sql(s, "CREATE TABLE t (id int PRIMARY KEY, v text)")
        started = (await sql(s, "COPY t FROM STDIN"))[0]      # its snapshot: now
        await started.data(b"1\tmine\n")
        await sql(other, "INSERT INTO t VALUES (1, 'theirs')")  # commits first
        with pytest.raises(DsqlError) as e:
            await started.done()
        assert e.value.sqlstate == "40001"
        assert s.txn is None and s.txn_status == "I"
        assert await rows(s) == [(1, "theirs")]
    run(scenario)


# -- the binary format ------------------------------------------------------------------------

def binary_stream(*tuples, trailer: bool = True) -> bytes:
    out = BINARY_SIGNATURE + struct.pack("!ii", 0, 0)
    for values in tuples:
        out += struct.pack("!h", len(values))
        for v in values:
            out += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v
    return out + (struct.pack("!h", -1) if trailer else b"")


def test_binary_tuples_whatever_the_cuts():
    data = binary_stream([struct.pack("!i", 1), b"one"], [struct.pack("!i", 2), None])
    whole = BinaryTuples(2)
    assert whole.feed(data) == [[b"\0\0\0\1", b"one"], [b"\0\0\0\2", None]]
    assert whole.ended and whole.finish() == []
    for cut in range(1, len(data)):
        parts = BinaryTuples(2)
        assert parts.feed(data[:cut]) + parts.feed(data[cut:]) == \
            [[b"\0\0\0\1", b"one"], [b"\0\0\0\2", None]]


@pytest.mark.parametrize("data, message", [
    (b"PGCOPY\nxxxx", "COPY file signature not recognized"),
    (BINARY_SIGNATURE + struct.pack("!ii", 1 << 16, 0), "WITH OIDS"),
    (binary_stream([b"x"]) + b"more", "received copy data after EOF marker"),
    (binary_stream() [:-2] + struct.pack("!hi", 1, -7), "invalid field size"),
])
def test_binary_format_errors(data, message):
    with pytest.raises(DsqlError) as e:
        BinaryTuples(1).feed(data)
    assert e.value.sqlstate == "22P04" and message in e.value.message


def test_binary_options_and_eof():
    with pytest.raises(DsqlError) as e:
        options("COPY t FROM STDIN WITH (FORMAT binary, DELIMITER ',')")
    assert e.value.message == "cannot specify DELIMITER in BINARY mode"
    assert options("COPY t FROM STDIN WITH (FORMAT binary)").binary
    cut = BinaryTuples(1)
    cut.feed(binary_stream([b"abc"], trailer=False)[:-1])
    with pytest.raises(DsqlError) as e:
        cut.finish()
    assert e.value.message == "unexpected EOF in COPY data"


def test_psycopg_and_asyncpg_binary_copy(run):
    def client(port):
        with connect(port) as conn:
            cur = conn.cursor()
            cur.execute("CREATE TABLE t (id int PRIMARY KEY, name text, amount numeric, "
                        "at timestamptz)")
            when = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
            with cur.copy("COPY t FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "text", "numeric", "timestamptz"])
                copy.write_row((1, "one", Decimal("1.50"), when))
                copy.write_row((2, None, None, None))
            assert cur.rowcount == 2
            with cur.copy("COPY t TO STDOUT (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "text", "numeric", "timestamptz"])
                assert sorted(copy.rows(), key=lambda r: r[0]) == \
                    [(1, "one", Decimal("1.50"), when), (2, None, None, None)]
            with pytest.raises(psycopg.errors.InvalidBinaryRepresentation) as e:
                with cur.copy("COPY t (id) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(binary_stream([b"\0\0\0\3"], [b"\0\1"]))
            assert e.value.diag.context == "COPY t, line 2, column id"
            assert cur.execute("SELECT count(*) FROM t").fetchone() == (2,)

        async def with_asyncpg():
            conn = await asyncpg.connect(host="127.0.0.1", port=port, user="admin",
                                         database="postgres", ssl=False)
            try:
                tag = await conn.copy_records_to_table(
                    "t", records=[(10, "ten", Decimal("10"), None), (11, "x", None, when)],
                    columns=["id", "name", "amount", "at"])
                assert tag == "COPY 2"
                assert await conn.fetchval("SELECT name FROM t WHERE id = 11") == "x"
            finally:
                await conn.close()
        asyncio.run(with_asyncpg())
    over_the_wire(run, client)
