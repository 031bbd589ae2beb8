"""PostgreSQL's everyday function library, as a seeded query generator over one table
with interval (months too), bytea, timetz, timestamp, timestamptz, date, text and int
columns. Families follow the manual's chapters: date/time operators and functions (§9.9),
binary strings (§9.5), bit-string operators on integers (§9.3), string functions (§9.4,
§9.7), set-returning functions (§9.25), DISTINCT ON, row constructors.

Values are given as text, so both PostgreSQL and the engine read them with their own
input functions; results are compared as PostgreSQL's text output.
"""
from __future__ import annotations

import random

from dsql_ray.compute import types as T

TABLE = "lib"
COLUMNS = [("id", "int", T.INT4), ("iv", "interval", T.INTERVAL), ("b", "bytea", T.BYTEA),
           ("tz", "timetz", T.TIMETZ), ("ts", "timestamp", T.TIMESTAMP),
           ("tstz", "timestamptz", T.TIMESTAMPTZ), ("d", "date", T.DATE), ("s", "text", T.TEXT),
           ("n", "int", T.INT4)]
PRIMARY_KEY = ["id"]

ROWS_TEXT: list[tuple[str | None, ...]] = [
    ("1", "1 year 2 mons 3 days 04:05:06", "\\x0001ff", "10:00:00+02", "2024-01-31 10:00:00",
     "2024-02-29 23:30:00+00", "2024-01-31", "hello world", "5"),
    ("2", "-1 mons 15 days", "\\x48656c6c6f", "23:59:59.5-03:30", "2023-12-31 23:59:59.5",
     "2000-01-01 00:00:00+00", "2000-02-29", "Foo_Bar-baz", "-3"),
    ("3", "36:00:00", "\\x", "00:00:00+00", "1999-03-31 00:00:00", "1970-01-01 12:00:00+00",
     "1999-12-31", "a,b,,c", "0"),
    ("4", None, None, None, None, None, None, None, None),
    ("5", "1 year 6 mons", "\\x5c27", "12:30:00-08", "2024-02-29 12:00:00",
     "2024-03-31 01:02:03.456+00", "2024-02-29", "O'Reilly \\ x", "255"),
    ("6", "00:00:00.000001", "\\xdeadbeef", "01:02:03.000004+05:30", "2024-12-31 23:59:59",
     "2025-01-31 00:00:00+00", "2025-01-31", "  padded  ", "-1"),
    ("7", "-2 days +03:00:00", "\\x00", "18:00:00+00", "2020-02-29 00:00:00",
     "2021-02-28 06:00:00+00", "2020-01-01", "résumé", "1024"),
    ("8", "2 mons 29 days 23:59:59", "\\x616263", "09:15:00+01", "1970-01-01 00:00:00",
     "1999-12-31 23:59:59+00", "1970-01-01", "abcabc", "7"),
]

_IV_LITS = ["interval '1 month'", "interval '1 year'", "interval '2 days 03:00:00'",
            "interval '-1 mons 2 days'", "interval '90 minutes'", "interval '1.5 months'",
            "interval '1 year 2 mons 3 days 04:05:06.5'", "interval '0 days'",
            "interval '@ 3 days ago'", "interval 'P1Y2M3DT4H'"]
_TS_LITS = ["timestamp '2024-01-31 10:00:00'", "timestamp '2023-03-31 00:00:00'",
            "timestamp '2024-02-29 12:00:00'", "timestamp '2000-12-31 23:59:59.5'"]
_TEXT_LITS = ["'hello'", "'a,b,c'", "'Hello World'", "''", "'x-y_z'", "'abc'"]
_BYTEA_LITS = ["'\\x0102'::bytea", "'\\xff'::bytea", "''::bytea", "'abc'::bytea"]
_STEPS = ["interval '1 month'", "interval '10 days'", "interval '1 year'"]
_REPLACEMENTS = ["_", "<\\1>", "\\&\\&", ""]
_RE_FLAGS = ["", ", 'g'", ", 'gi'"]
_SPLITS = [",", "\\s+", "b"]
_WHERES = ["n > 0", "id < 6", "s is not null", "iv > interval '1 day'"]
_ZERO_BYTE = "'\\x00'::bytea"
_HEX_LITS = ["'0a0b'", "'ff00ff'", "'zz'"]
_QUALIFIED = ["1", "1.5", "-2", "1-2", "3 4:05", "4:05", "1 year 2 mons 3 days 04:05:06.789",
              "25:61:61.5"]
_QUALIFIERS = ["year", "month", "day", "hour", "minute", "second", "year to month",
               "day to hour", "day to minute", "day to second", "hour to minute",
               "hour to second", "minute to second", "second(2)", "day to second(0)"]
_NUM_FORMATS = ["999", "FM999.00", "9,999.99", "S999", "000", "999MI", "FM9.999", "99.9",
                "\"n=\" 9999", "FM0.0", "9G999D9"]
_DATE_FORMATS = ["YYYY-MM-DD", "DD Mon YYYY", "YYYYMMDD", "Month DD, YYYY", "DD/MM/YY",
                 "YYYY-DDD"]
_DATE_TEXTS = ["2024-01-05", "05 Dec 2000", "20240229", "December 25, 2023", "31/12/99",
               "2024-060", "2023-02-29"]
_ADDRESSES = ["192.168.1.5", "192.168.1.5/24", "10.0.0.1/8", "10.1.2.3", "172.16.0.0/12"]
_NETWORKS = ["10.0.0.0/8", "192.168.0.0/16", "192.168.1.0/24", "10.1.0.0/16"]
_PERIOD_ENDS = ["iv", "interval '1 year'", "null::timestamp"]
_ZONES = ["UTC", "America/New_York", "Europe/Paris", "Asia/Kolkata", "+02", "UTC-3",
          "Australia/Adelaide"]
_TO_CHAR = ["YYYY-MM-DD HH24:MI:SS", "Day, DD Month YYYY", "FMDay FMDD FMMonth",
            "HH12:MI am", "Dy Mon YYYY Q WW IW DDD", "yyyy/mm/dd hh24.mi.ss.ms", "J SSSS US"]
_FIELDS = ["year", "month", "day", "hour", "minute", "second", "epoch", "quarter",
           "milliseconds", "microseconds", "decade", "century"]
_TRUNC = ["year", "month", "day", "hour", "minute", "second", "quarter", "week",
          "century", "decade", "millennium", "milliseconds"]


class LibraryGen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def pick(self, seq):
        return self.r.choice(seq)

    def iv(self) -> str:
        return self.pick(["iv", "iv", self.pick(_IV_LITS)])

    def ts(self) -> str:
        return self.pick(["ts", "tstz", "d", self.pick(_TS_LITS)])

    def text(self) -> str:
        return self.pick(["s", "s", self.pick(_TEXT_LITS)])

    def bytea(self) -> str:
        return self.pick(["b", "b", self.pick(_BYTEA_LITS)])

    def small(self) -> str:
        return self.pick(["n", str(self.r.randint(-3, 9)), "id"])

    # -- families: each returns a select-list expression over the table ----------------------
    def interval_expr(self) -> str:
        return self.pick([
            f"{self.ts()} + {self.iv()}", f"{self.ts()} - {self.iv()}",
            f"{self.iv()} + {self.iv()}", f"{self.iv()} - {self.iv()}",
            f"{self.iv()} * {self.pick(['2', '0.5', '-1.5', 'n', '3.25', '1.0 / 3'])}",
            f"{self.small()} * {self.iv()}", f"{self.iv()} / {self.pick(['2', '3', '7.5'])}",
            f"-{self.iv()}", f"ts - {self.pick(_TS_LITS)}", "tstz - ts::timestamptz",
            f"age({self.pick(['ts', 'd::timestamp'])}, {self.pick(_TS_LITS)})",
            f"justify_days({self.iv()})", f"justify_hours({self.iv()})",
            f"justify_interval({self.iv()})",
            f"extract({self.pick(_FIELDS)} from {self.iv()})",
            f"date_part('{self.pick(_FIELDS)}', {self.iv()})",
            f"date_trunc('{self.pick(_TRUNC)}', {self.iv()})",
            f"{self.iv()} {self.pick(['<', '=', '>=', '<>'])} {self.iv()}",
            f"{self.iv()}::text", f"make_interval({self.r.randint(0, 2)}, {self.small()})",
            f"make_interval(days => {self.small()}, secs => 1.5)",
            f"date_trunc('{self.pick(_TRUNC[:7])}', ts)",
            f"interval '{self.pick(_QUALIFIED)}' {self.pick(_QUALIFIERS)}",
            f"iv::interval {self.pick(_QUALIFIERS)}", f"iv::interval({self.r.randint(0, 6)})",
            f"extract({self.pick(_FIELDS[:9])} from {self.pick(['ts', 'tstz', 'd'])})",
            f"d + {self.small()}", f"d - date '2000-01-01'",
        ])

    def timetz_expr(self) -> str:
        return self.pick([
            "tz", f"tz + {self.iv()}", f"tz - interval '{self.r.randint(1, 30)} hours'",
            f"tz {self.pick(['<', '=', '>'])} timetz '10:00:00+02'", "tz::time",
            f"extract({self.pick(['hour', 'minute', 'second', 'timezone', 'timezone_hour'])} "
            "from tz)", "tstz::timetz", "tz::text",
            f"{self.pick(['ts', 'tstz', 'tz'])} at time zone '{self.pick(_ZONES)}'",
        ])

    def construct_expr(self) -> str:
        y, m, d = self.r.randint(1999, 2025), self.r.randint(1, 12), self.r.randint(1, 31)
        return self.pick([
            f"make_date({y}, {m}, {d})", f"make_time({self.r.randint(0, 24)}, "
            f"{self.r.randint(0, 59)}, {self.pick(['0', '59.5', '30.25'])})",
            f"make_timestamp({y}, {m}, {self.r.randint(1, 28)}, 8, 15, 23.5)",
            f"make_timestamptz({y}, {m}, {self.r.randint(1, 28)}, 8, 15, 23.5, "
            f"'{self.pick(['UTC', '+2', '-03:30'])}')",
            f"make_date(2024, {m}, {d}) + {self.iv()}",
            f"to_char({self.pick(['ts', 'tstz', 'd'])}, '{self.pick(_TO_CHAR)}')",
            f"date_bin('{self.pick(['15 minutes', '1 day', '7 days', '90 seconds'])}', "
            f"{self.pick(['ts', 'tstz::timestamp'])}, timestamp '2001-01-01 00:02:30')",
            f"to_timestamp({self.pick(['n', 'id * 86400.5', '-1.25', '1e9'])})",
            "to_date(to_char(d, '{0}'), '{0}')".format(self.pick(_DATE_FORMATS)),
            f"to_timestamp(to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US'), "
            f"'{self.pick(['YYYY-MM-DD HH24:MI:SS.US', 'YYYY-MM-DD HH24:MI', 'YYYY-MM-DD'])}')",
            "to_date('{}', '{}')".format(*self.pick(list(zip(_DATE_TEXTS, _DATE_FORMATS)))),
            f"(ts, {self.pick(['d', 'tstz::timestamp', 'ts + iv'])}) overlaps "
            f"({self.pick(_TS_LITS)}, {self.pick(_PERIOD_ENDS)})",
        ])

    def bytea_expr(self) -> str:
        return self.pick([
            f"length({self.bytea()})", f"octet_length({self.bytea()})",
            f"substr({self.bytea()}, {self.r.randint(0, 3)}, {self.r.randint(0, 3)})",
            f"substring({self.bytea()} from 2)", f"encode({self.bytea()}, 'hex')",
            f"encode({self.bytea()}, 'base64')", f"encode({self.bytea()}, 'escape')",
            f"decode(encode({self.bytea()}, 'base64'), 'base64')",
            f"decode({self.pick(_HEX_LITS)}, 'hex')",
            f"{self.bytea()} || {self.bytea()}", f"get_byte(b, {self.r.randint(0, 4)})",
            f"set_byte(b, 0, {self.r.randint(0, 255)})", f"md5({self.bytea()})",
            f"sha256({self.bytea()})", f"sha224({self.bytea()})", f"sha512({self.bytea()})",
            f"convert_to({self.text()}, '{self.pick(['UTF8', 'LATIN1'])}')",
            f"convert_from(convert_to({self.text()}, 'UTF8'), 'UTF8')",
            f"position({_ZERO_BYTE} in {self.bytea()})", f"btrim({self.bytea()}, {_ZERO_BYTE})",
            f"get_bit(b, {self.r.randint(0, 20)})", f"bit_length({self.bytea()})",
            f"{self.bytea()} = {self.bytea()}", f"{self.bytea()} < {self.bytea()}",
        ])

    def bits_expr(self) -> str:
        a, b = self.small(), self.small()
        return self.pick([f"{a} & {b}", f"{a} | {b}", f"{a} # {b}", f"~{a}",
                          f"{a} << {self.r.randint(0, 40)}", f"{a} >> {self.r.randint(0, 4)}",
                          f"{a}::bigint << {self.r.randint(0, 70)}",
                          f"{a}::int2 << {self.r.randint(0, 17)}", f"to_hex({a})",
                          f"to_hex({a}::bigint)", f"gcd({a}, {b})", f"lcm({a}, {b})",
                          f"num_nulls({a}, s, iv)", f"round(sin({a})::numeric, 10)",
                          f"round(degrees(atan2({a}, 7))::numeric, 8)",
                          f"width_bucket({a}, -5, 300, {self.r.randint(1, 6)})",
                          f"width_bucket({a} * 1.5, 10, 0, 4)"])

    def string_expr(self) -> str:
        t = self.text()
        return self.pick([
            f"translate({t}, 'abo', 'XY')", f"lpad({t}, {self.r.randint(0, 14)}, '*-')",
            f"rpad({t}, {self.r.randint(0, 14)})", f"split_part({t}, ',', "
            f"{self.pick(['1', '2', '-1', '4'])})", f"repeat({t}, {self.r.randint(0, 3)})",
            f"reverse({t})", f"initcap({t})", f"ascii({t})", f"chr({self.r.randint(65, 300)})",
            f"starts_with({t}, 'a')", f"left({t}, {self.r.randint(-3, 4)})",
            f"right({t}, {self.r.randint(-3, 4)})", f"strpos({t}, 'b')",
            f"format('%s|%I|%L', {t}, {t}, {t})", f"format('[%-8s]', {t})",
            f"quote_ident({t})", f"quote_literal({t})", f"quote_nullable({t})",
            f"regexp_replace({t}, '{self.pick(['[aeiou]', 'l+', '(.)(.)', '^.'])}', "
            f"'{self.pick(_REPLACEMENTS)}'{self.pick(_RE_FLAGS)})",
            f"regexp_match({t}, '{self.pick(['(b)(.)', 'o.', '[0-9]+', '^(.)'])}')",
            f"regexp_like({t}, '{self.pick(['^a', 'l{{2}}', 'X'])}', 'i')",
            f"regexp_count({t}, '{self.pick(['a', 'l', '[, ]'])}')",
            f"regexp_count({t}, 'a|o', {self.r.randint(1, 4)}, 'i')",
            f"regexp_substr({t}, '(.)([a-z])', {self.r.randint(1, 3)}, {self.r.randint(1, 2)}, "
            f"'', {self.r.randint(0, 2)})",
            f"regexp_instr({t}, '[aeiou]', 1, {self.r.randint(1, 3)}, {self.r.randint(0, 1)})",
            f"regexp_replace({t}, '[aeiou]', '#', {self.r.randint(1, 3)}, "
            f"{self.r.randint(0, 2)}, 'i')",
            f"string_to_array({t}, '{self.pick([',', ' ', ''])}')",
            f"regexp_split_to_array({t}, '{self.pick(_SPLITS)}')",
            f"overlay({t} placing 'XY' from {self.r.randint(1, 4)})",
            f"length({t})", f"octet_length({t})", f"bit_length({t})", f"md5({t})",
            f"concat_ws('-', {t}, n, d)", f"upper({t}) || lower({t})",
            f"to_char({self.pick(['n', 'id * 1.25', 'n / 7.0', '-n', 'n::float8 / 3'])}, "
            f"'{self.pick(_NUM_FORMATS)}')",
        ])

    def array_expr(self) -> str:
        arr = self.pick(["string_to_array(s, ',')", "array[n, id, null]", "array[id, 2, 3]",
                         "regexp_split_to_array(s, ' ')", "array[d, d + 1]"])
        ints = "array[n, id, 2]"
        return self.pick([
            f"array_append({ints}, {self.small()})", f"array_prepend({self.small()}, {ints})",
            f"{ints} || {ints}", f"{ints} || {self.small()}", f"{self.small()} || {ints}",
            f"array_cat({ints}, array[{self.small()}])", f"array_position({arr}, ({arr})[2])",
            f"array_positions({ints}, {self.small()})", f"array_remove({ints}, 2)",
            f"array_replace({ints}, {self.small()}, 0)", f"array_length({arr}, 1)",
            f"cardinality({arr})", f"array_dims({arr})", f"array_to_string({arr}, '|', '?')",
            f"{ints} @> array[{self.small()}]", f"array[2] <@ {ints}",
            f"{ints} && array[{self.small()}, 7]", f"trim_array({ints}, {self.r.randint(0, 3)})",
            f"({arr})[{self.r.randint(0, 3)}]",
            f"({arr})[{self.pick(['', '1', '2', '0', 'n'])}:{self.pick(['', '2', '5', 'id'])}]",
        ])

    def inet_expr(self) -> str:
        addr = f"'{self.pick(_ADDRESSES)}'::inet"
        net = f"'{self.pick(_NETWORKS)}'::cidr"
        return self.pick([
            addr, net, f"host({addr})", f"masklen({addr})", f"network({addr})",
            f"broadcast({addr})", f"netmask({addr})", f"family({addr})", f"abbrev({net})",
            f"set_masklen({addr}, {self.r.randint(8, 30)})", f"{addr} << {net}",
            f"{addr} <<= {net}", f"{net} >> {addr}", f"{net} && {addr}",
            f"{addr} + {self.small()}", f"{addr} - {self.r.randint(0, 300)}",
            f"{addr} - '10.0.0.1'::inet", f"{addr} = {net}", f"{addr} < {addr}",
            f"~{addr}", f"{addr} & '0.0.255.255'::inet",
        ])

    def scalar_query(self) -> str:
        family = self.pick([self.interval_expr] * 4 + [self.timetz_expr] + [self.construct_expr]
                           + [self.bytea_expr] * 3 + [self.bits_expr] + [self.string_expr] * 3
                           + [self.array_expr, self.inet_expr])
        exprs = [family() for _ in range(self.r.randint(1, 3))]
        sql = f"select id, {', '.join(exprs)} from {TABLE}"
        if self.r.random() < 0.3:
            sql += f" where {self.pick(_WHERES)}"
        return sql + (" order by id" if self.r.random() < 0.5 else "")

    # -- set-returning functions, DISTINCT ON, rows ------------------------------------------
    def srf_query(self) -> str:
        lo, hi = self.r.randint(-2, 3), self.r.randint(0, 8)
        step = self.pick(["", ", 2", ", -1", ", 3"])
        ords = self.pick(["", " with ordinality"])
        return self.pick([
            f"select * from generate_series({lo}, {hi}{step}){ords}",
            f"select * from generate_series({lo}, {hi}{step}){ords} as g(v{', o' if ords else ''})",
            f"select * from generate_series({lo}::numeric, {hi}, 0.5) g",
            f"select * from generate_series({self.pick(_TS_LITS)}, timestamp '2024-06-30', "
            f"{self.pick(_STEPS)})",
            f"select * from generate_series(date '2024-01-31', date '2024-05-01', "
            f"interval '1 month'){ords}",
            f"select id, g from {TABLE}, generate_series(1, n) g where n between -1 and 7",
            f"select id, u, o from {TABLE}, unnest(string_to_array(s, ',')) with ordinality "
            f"u(u, o)",
            f"select id, generate_series(1, {hi}) from {TABLE} where id <= 3",
            f"select id, generate_series(1, n), unnest(array['a', 'b']) from {TABLE} "
            "where n between 0 and 5",
            f"select * from unnest(array[{lo}, {hi}, null], array['x']) as t(a, b)",
            f"select * from rows from (generate_series(1, {hi}), unnest(array['p', 'q'])) "
            f"{ords}",
            f"select regexp_split_to_table(s, '{self.pick([',', ' ', 'o'])}') from {TABLE}",
            f"select id, x from {TABLE}, string_to_table(s, '{self.pick([',', ' '])}') x",
            f"select regexp_matches(s, '{self.pick(['(a)(b)', 'l', '[a-z]{2}'])}', 'g') "
            f"from {TABLE}",
            f"select * from generate_subscripts(array['a', 'b', 'c'], 1{self.pick(['', ', true'])})",
            f"select * from jsonb_array_elements('[1, \"x\", null, {{\"k\": [2]}}]'){ords}",
            f"select * from jsonb_each_text('{{\"a\": 1, \"b\": \"two\", \"c\": null}}')",
            f"select key, value from jsonb_each('{{\"a\": 1, \"b\": [1, 2]}}')",
            f"select g, g * interval '1 mon' from generate_series(0, {hi}) g",
            f"select n % 2 as k, generate_series(1, count(*)::int) from {TABLE} group by n % 2 "
            "order by 1, 2",
            f"select d is null as k, unnest(array_agg(id order by id)) as v, count(*) from "
            f"{TABLE} group by d is null order by k, v",
            f"select generate_series(min(n), min(n) + {hi}) from {TABLE}",

        ])

    def distinct_on_query(self) -> str:
        key = self.pick(["n % 2", "d", "s is null", "iv > interval '1 mon'", "length(b)"])
        order = self.pick(["id", "id desc", "ts desc nulls last, id", "iv, id", "tz, id"])
        cols = self.pick(["id", "id, s", "iv", "b, id"])
        return f"select distinct on ({key}) {key} as k, {cols} from {TABLE} order by {key}, " \
               f"{order}"

    def json_query(self) -> str:
        key = self.pick(["n % 2", "s is null", "length(b) > 2", "d < date '2020-01-01'"])
        agg = self.pick(["json_agg(id order by id)", "jsonb_agg(s order by id)",
                         "json_object_agg(id, n order by id)", "jsonb_object_agg(id::text, iv)",
                         "bit_and(n)", "bit_or(n)", "bit_xor(id)", "jsonb_agg(distinct n % 3)",
                         "json_agg(b order by id)", "array_agg(id order by id)",
                         "stddev(n)", "variance(id)", "var_pop(n::float8)",
                         "stddev_pop(n * 1.5)"])
        if self.r.random() < 0.5:
            return f"select {key} as k, {agg} from {TABLE} group by {key} order by 1"
        return self.pick([
            f"select jsonb_build_array(id, s, n) || '[\"z\"]'::jsonb from {TABLE}",
            f"select json_build_array(id, iv, d, tz) from {TABLE}",
            f"select jsonb_set(jsonb_build_array(id, n), '{{{self.r.randint(-3, 3)}}}', "
            f"'\"x\"', {self.pick(['true', 'false'])}) from {TABLE}",
            f"select jsonb_build_array(s, n) - {self.r.randint(-2, 2)} from {TABLE}",
            f"select jsonb_strip_nulls(jsonb_build_array(s, null)) from {TABLE}",
            f"select ('{{\"a\": 1, \"b\": null}}'::jsonb || jsonb_build_array(id)) - 'a' "
            f"from {TABLE}",
        ])

    def row_query(self) -> str:
        return self.pick([
            f"select row(id, s, {self.pick(['iv', 'b', 'tz', 'n', 'd'])}) from {TABLE}",
            "select row(1, 'a b', null, true, 2.5)", f"select (id, n) from {TABLE}",
            f"select row(id, n) = row(id, 5) from {TABLE}",
            f"select row(id, s) is distinct from row(id, null), (n, d) < (5, d) from {TABLE}",
        ])

    def query(self) -> str:
        r = self.r.random()
        if r < 0.62:
            return self.scalar_query()
        if r < 0.84:
            return self.srf_query()
        if r < 0.9:
            return self.distinct_on_query()
        if r < 0.96:
            return self.json_query()
        return self.row_query()


def generate_library(seed: int, count: int) -> list[str]:
    """``count`` distinct queries (at most 20 tries per query)."""
    g = LibraryGen(seed)
    seen: dict[str, None] = {}
    for _ in range(20 * count):
        if len(seen) == count:
            break
        seen.setdefault(g.query())
    return list(seen)


def create_table_sql() -> str:
    cols = ", ".join(f"{name} {sqltype}" for name, sqltype, _ in COLUMNS)
    return f"create table {TABLE} ({cols}, primary key ({', '.join(PRIMARY_KEY)}))"


def insert_sql() -> str:
    marks = ", ".join(f"%s::{sqltype}" for _, sqltype, _ in COLUMNS)
    return f"insert into {TABLE} values ({marks})"
