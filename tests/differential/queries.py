"""Hand-written queries: every feature of the engine, compared with PostgreSQL
including column names and types. A query whose top level has ORDER BY must order totally
(it is compared in order); the others are compared as multisets."""

HAND_WRITTEN = """
select * from t1 order by id
select id, a, s from t1 where a > 3 order by id
select id from t1 where a is null order by id
select id from t1 where a is not null and s is not null order by id
select id from t1 where not (a > 2) order by id
select id from t1 where a > 2 or s = 'apple' order by id
select id from t1 where flag order by id
select id from t1 where flag is not true order by id
select id from t1 where flag is unknown order by id
select id from t1 where flag is false or flag is null order by id
select id, a between 0 and 5 as btw from t1 order by id
select id from t1 where a not between 0 and 5 order by id
select id from t1 where a between symmetric 5 and 0 order by id
select id from t1 where s like 'a%' order by id
select id from t1 where s ilike 'a%' order by id
select id from t1 where s not like '%e%' order by id
select id from t1 where s like 'b\\%x' order by id
select id from t1 where s like '_a%' order by id
select id from t1 where s ~ '^[a-c]' order by id
select id from t1 where a in (1, 2, 3) order by id
select id from t1 where a not in (1, 2, null) order by id
select id from t1 where a in (1, null) order by id
select id, a is distinct from 3 as d, a is not distinct from null as nd from t1 order by id
select id, coalesce(a, -1) as c, nullif(a, 3) as ni from t1 order by id
select id, greatest(a, 2, id), least(a, id) from t1 order by id
select id, case when a > 5 then 'big' when a > 0 then 'small' else 'other' end from t1 order by id
select id, case a when 1 then 'one' when 2 then 'two' end as word from t1 order by id
select id, case when a > 5 then 1 else 2.5 end from t1 order by id
select id, a + 1, a - b, a * 2, -a, a % 3 from t1 order by id
select id, a / 2, n / 3, f / 2 from t1 order by id
select id, n * 2, n + a, n - 1.5 from t1 order by id
select id, f * 2, f + a, f + n from t1 order by id
select 7 / 2, -7 / 2, 7 % -3, -7 % 3, 7.0 / 2, 1 / 3.0, 2 ^ 10
select 10 / 4.0, 100.0 / 7, 1.0 / 3, 22 / 7.0, 123456789 / 1000.0
select id, a::text, n::int, f::numeric, s::varchar, b::text from t1 order by id
select '42'::int + 1, '3.5'::numeric, 'true'::boolean, 12::bigint, 3.7::int, -3.5::int, 2.5::int
select cast(a as double precision) from t1 order by id
select id, s || '!' , s || a, 'x' || null from t1 order by id
select id, lower(s), upper(s), length(s) from t1 order by id
select id, substring(s from 2 for 3), substring(s, 2), substr(s, 1, 2) from t1 order by id
select id, position('a' in s), strpos(s, 'e') from t1 order by id
select id, trim(s), ltrim('  x  '), rtrim('  x  '), btrim('xxaxx', 'x'), trim(both 'a' from s) from t1 order by id
select id, replace(s, 'a', 'A'), concat(s, a, flag), concat_ws('-', s, a) from t1 order by id
select id, left(s, 2), right(s, 2), left(s, -1), right(s, -1) from t1 order by id
select id, lpad(s, 8, '*'), rpad(s, 8), lpad(s, 2) from t1 order by id
select id, reverse(s), repeat(s, 2), initcap(s), split_part('a,b,c', ',', 2) from t1 order by id
select abs(-5), abs(-2.5), abs(a), round(n), round(n, 1), round(f), floor(n), ceil(n), floor(f), ceil(f) from t1 order by id
select round(2.5), round(-2.5), round(2.5::float8), round(3.5::float8), trunc(2.789, 2), trunc(-2.7)
select mod(a, 3), mod(17, 5), power(2, 10), power(2.0, 3), sqrt(16), sqrt(2.0), sign(-4), sign(0.0) from t1 order by id
select id, round(sqrt(abs(f))::numeric, 6) from t1 where f is not null order by id
select count(*) from t1
select count(*), count(a), count(s), count(distinct a), count(distinct s) from t1
select sum(a), sum(b), sum(n), sum(f), avg(a), avg(b), avg(n) from t1
select min(a), max(a), min(s), max(s), min(n), max(n), min(f), max(f) from t1
select bool_and(flag), bool_or(flag), every(flag) from t1
select string_agg(s, ',' order by s), string_agg(distinct s, '|' order by s) from t1
select count(*), sum(x), avg(x), max(x), bool_and(x > 0), string_agg(x::text, ',') from e
select a, count(*) from t1 group by a order by a
select a, count(*) from t1 group by a order by a nulls first
select a, count(*) from t1 group by a order by a desc
select a, count(*) from t1 group by a order by a desc nulls last
select flag, count(*), sum(n), avg(f) from t1 group by flag order by flag
select s, count(*) as c from t1 group by s order by c desc, s
select a % 3 as m, count(*) from t1 group by a % 3 order by 1
select a % 3 as m, count(*) from t1 group by m order by m
select a % 3, count(*) from t1 group by 1 order by 1
select a, flag, count(*) from t1 group by a, flag order by a, flag
select a, count(*) from t1 group by a having count(*) > 1 order by a
select a, sum(n) from t1 group by a having sum(n) > 0 order by a
select count(*) from t1 having count(*) > 100
select id, s from t1 group by id order by id
select upper(s), count(*) from t1 group by upper(s) order by 1
select a, count(*) filter (where flag) as t, count(*) filter (where not flag) as f from t1 group by a order by a
select a, max(n) - min(n) from t1 group by a order by a
select a, count(*) * 2 + 1 from t1 group by a order by a
select a + 1, count(*) from t1 group by a + 1 order by 1
select sum(a) / count(*), sum(n) / count(*) from t1
select t1.id, t2.id from t1 join t2 on t1.id = t2.t1_id order by 1, 2
select t1.id, t2.id from t1 inner join t2 on t1.id = t2.t1_id and t2.qty > 5 order by 1, 2
select t1.id, t2.id from t1 left join t2 on t1.id = t2.t1_id order by 1, 2
select t1.id, t2.id from t1 right join t2 on t1.id = t2.t1_id order by 1, 2
select t1.id, t2.id from t1 full join t2 on t1.id = t2.t1_id order by 1, 2
select t1.id, t2.id from t1 left join t2 on t1.id = t2.t1_id where t2.id is null order by 1
select count(*) from t1 cross join t3
select x.id, y.id from t1 x, t1 y where x.a = y.a and x.id < y.id order by 1, 2
select * from t1 join t2 using (id) order by id
select id from t1 natural join t2 order by id
select * from t1 natural join t3
select id, t1.a, t2.qty from t1 full join t2 using (id) order by id
select t1.id, t2.label, t3.v from t1 join t2 on t2.t1_id = t1.id left join t3 on t3.v = t1.a order by 1, 2, 3
select t1.id, t2.id from t1 left join t2 on t1.id = t2.t1_id and t1.a > 3 order by 1, 2
select a.id, b.id from t1 a join t2 b on a.a = b.qty order by 1, 2
select t1.id, t2.id from t1 join t2 on t1.n < t2.price and t2.id < 4 where t1.id < 5 order by 1, 2
select t1.a, count(t2.id), sum(t2.qty) from t1 left join t2 on t1.id = t2.t1_id group by t1.a order by 1
select s.id, s.total from (select t1_id as id, sum(qty) as total from t2 group by t1_id) s where s.total > 10 order by 1
select * from (select id, a from t1 where a > 0) as sub(x, y) order by x
select id from t1 where a = (select max(a) from t1) order by id
select id, (select count(*) from t2 where t2.t1_id = t1.id) as cnt from t1 order by id
select id from t1 where exists (select 1 from t2 where t2.t1_id = t1.id and t2.qty > 10) order by id
select id from t1 where not exists (select 1 from t2 where t2.t1_id = t1.id) order by id
select id from t1 where id in (select t1_id from t2) order by id
select id from t1 where id not in (select t1_id from t2) order by id
select id from t1 where id not in (select t1_id from t2 where t1_id is not null) order by id
select id from t1 where a > all (select v from t3 where v is not null) order by id
select id from t1 where a = any (select v from t3) order by id
select id from t1 where a < any (select qty from t2 where t2.t1_id = t1.id) order by id
select (select v from t3 where k = 'k1'), (select v from t3 where k = 'nope')
select (select v from t3)
select id, (select max(qty) from t2 where t2.t1_id = t1.id) from t1 where a > 0 order by id
select t1.id, x.qty from t1, lateral (select qty from t2 where t2.t1_id = t1.id order by qty desc nulls last, id limit 1) x order by 1
select t1.id, x.c from t1 left join lateral (select count(*) as c from t2 where t2.t1_id = t1.id) x on true order by 1
select t1.id, x.m from t1 left join lateral (select max(qty) as m from t2 where t2.t1_id = t1.id having max(qty) > 5) x on true order by 1
with c as (select a, count(*) as n from t1 group by a) select * from c where n > 1 order by a
with c(x) as (select id from t1 where a > 5), d as (select x * 2 as y from c) select y from d order by y
with c as (select id from t1) select count(*) from c join c c2 using (id)
with recursive r(n) as (select 1 union all select n + 1 from r where n < 10) select n from r order by n
with recursive r(n, f) as (select 1, 1::bigint union all select n + 1, f * (n + 1) from r where n < 15) select * from r order by n
with recursive r(n) as (select 1 union select n % 3 + 1 from r) select n from r order by n
with recursive chain(id, depth) as (select id, 0 from t1 where id = 1 union all select t2.id, depth + 1 from chain join t2 on t2.t1_id = chain.id where depth < 3) select depth, count(*) from chain group by depth order by depth
select id from t1 union select id from t2 order by 1
select a from t1 union all select qty from t2 order by 1 nulls first
select a from t1 union select qty from t2 order by a
select a from t1 intersect select qty from t2 order by 1
select a from t1 intersect all select qty from t2 order by 1
select a from t1 except select qty from t2 order by 1
select a from t1 except all select qty from t2 order by 1
select a from t1 union select null order by 1
select 1 union select 2.5 order by 1
select n from t1 union select a from t1 order by 1
select 'a' union select 'b' order by 1
select 1 as x union select 2 union select 3 except select 2 order by x
(select id from t1 order by id limit 3) union all (select id from t2 order by id desc limit 2) order by 1
select s from t1 union select label from t2 order by 1
select a, s from t1 except select v, k from t3 order by 1, 2
values (1, 'a'), (2, 'b'), (3, null)
values (1), (2.5), (null) order by 1
select * from (values (1, 'x'), (2, 'y')) as v(num, letter) order by num
select v.column1, t3.k from (values (1), (5)) v join t3 on t3.v = v.column1 order by 1, 2
select id, row_number() over (order by id desc) from t1 order by id
select id, a, rank() over (order by a), dense_rank() over (order by a) from t1 order by id
select id, a, row_number() over (partition by a order by id) from t1 order by id
select id, a, sum(a) over (order by id) from t1 order by id
select id, a, sum(a) over (partition by flag order by id) from t1 order by id
select id, a, sum(a) over (), count(*) over (), avg(a) over () from t1 order by id
select id, a, count(a) over (order by a) from t1 order by id
select id, a, max(a) over (partition by flag), min(n) over (partition by flag) from t1 order by id
select id, lag(a) over (order by id), lead(a) over (order by id), lag(a, 2, 0) over (order by id) from t1 order by id
select id, first_value(a) over (partition by flag order by id), last_value(a) over (partition by flag order by id) from t1 order by id
select id, sum(a) over (order by id rows between 1 preceding and 1 following) from t1 order by id
select id, sum(a) over (order by id rows between unbounded preceding and unbounded following) from t1 order by id
select id, ntile(4) over (order by id), percent_rank() over (order by a), cume_dist() over (order by a) from t1 order by id
select a, count(*), sum(count(*)) over (order by a) from t1 group by a order by a
select id, a, rank() over w from t1 window w as (order by a desc) order by id
select * from (select id, row_number() over (partition by flag order by id) as rn from t1) x where rn <= 2 order by id
select distinct a from t1 order by a
select distinct a, flag from t1 order by a, flag
select distinct s from t1 order by s desc
select count(distinct (a, flag)) from t1
select distinct on (a) a, id from t1 order by a, id
select distinct on (flag) flag, id, s from t1 order by flag, id desc
select id from t1 order by id limit 5
select id from t1 order by id limit 5 offset 10
select id from t1 order by id offset 25
select id from t1 order by id desc limit 3
select id from t1 order by id fetch first 2 rows only
select id, a from t1 order by a, id
select id, a from t1 order by a desc, id
select id, a from t1 order by a nulls first, id
select id, a from t1 order by a desc nulls last, id
select id, s from t1 order by s, id
select id, n from t1 order by n desc, id
select id, f from t1 order by f, id
select id as x from t1 order by x desc
select id, a as id2 from t1 order by 2, 1
select id, a + id as z from t1 order by z, id
select id from t1 order by a * -1, id
select id, flag from t1 order by flag, id
select 1
select 1 as one, 'two' as two, null as three, true, 1.5, 10000000000
select 1 + 1 as x, 'a' || 'b'
select null::int, null::text
select
select now() = now(), current_date = current_date
select extract(year from date '2024-03-05'), extract(month from timestamp '2024-03-05 10:11:12'), extract(dow from date '2024-03-05')
select date_trunc('month', timestamp '2024-03-05 10:11:12'), date_trunc('hour', timestamp '2024-03-05 10:11:12')
select date '2024-03-05' + 1, date '2024-03-05' - date '2024-01-01', timestamp '2024-03-05 10:00' + interval '1 day'
select x from generate_series(1, 5) x order by x
select sum(x) from generate_series(1, 100) as g(x)
select id, x from t3, generate_series(1, v) x where v < 3 order by 1, 2
select nosuch from t1
select t9.id from t1
select * from nosuch
select id from t1 where a = 'abc'
select a, s from t1 group by a
select count(*) from t1 where sum(a) > 1
select sum(count(*)) from t1
select id from t1 where s > 3
select 1 / 0
select 1.0 / 0
select id from t1 order by 5
select (select id from t1)
select id, (select id, a from t1 limit 1) from t1
select a from t1 union select s from t1
select 1 union select 1, 2
select nosuchfunc(1)
select lower(1)
select distinct a from t1 order by id
select id from t1 join t2 on true
select '2147483647'::int + 1
select 'abc'::int
with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r
select t1.id, t2.id from t1 join t2 on t1.id = t2.t1_id where t1.a > 0 and t2.qty < 10 or t2.label = 'red' order by 1, 2
select id, a from t1 where a >= all (select a from t1 where a is not null) order by id
select t3.k, count(t1.id) from t3 left join t1 on t1.s = t3.k group by t3.k order by t3.k
select k, v, w, v * w, v + w from t3 order by k
select k from t3 where k in ('apple', 'A', 'zz') order by k
select min(k), max(k), string_agg(k, ';' order by k desc) from t3
select count(*) from t1 a, t1 b where a.id = b.id + 1
select a, avg(n), avg(f), sum(b) from t1 group by a order by a
select flag, string_agg(coalesce(s, '?'), ',' order by id) from t1 group by flag order by flag
select id, a from t1 where a = (select min(v) from t3 where t3.v > t1.id) order by id
select * from t2 where price > 500 and (label = 'red' or label is null) order by id
select label, sum(price), avg(price), count(*) from t2 group by label order by label
select t1_id, array_agg(id order by id) from t2 group by t1_id order by t1_id limit 5
select upper(label) as l, count(*) from t2 group by l order by l
select id, qty, sum(qty) over (partition by label order by id), row_number() over (partition by label order by qty desc, id) from t2 order by id
select t1.s, t2.label from t1 join t2 on t1.id = t2.id where t1.s < t2.label order by 1, 2
select id from t1 join t2 on t1.id = t2.id where id > 3
select a, count(*) from t1 group by a order by count(*) desc, a
select a from t1 group by a order by sum(n) nulls first, a
select a, s from t1 group by a order by a
select id, a from t1 order by nosuch
select distinct on (a) a, id from t1 order by id
select count(*) from (select distinct a from t1) x
select a, avg(a), avg(n), sum(n) / 3 from t1 group by a order by a
select avg(qty), avg(price), avg(qty::numeric), avg(qty::float8) from t2
select sum(b), avg(b), max(b) - min(b) from t1
select x.a, x.c from (select a, count(*) as c from t1 group by a) x join (select qty, count(*) from t2 group by qty) y on x.a = y.qty order by 1
select id, a, sum(a) over (partition by a) from t1 order by id
select id, sum(n) over (order by a, id), avg(n) over (partition by flag) from t1 order by id
select id, row_number() over (), 1 from t3 where false
select a, rank() over (order by count(*) desc) from t1 group by a order by a
select id, lag(s, 1, 'none') over (partition by flag order by id) from t1 order by id
select id, last_value(id) over (order by a rows between unbounded preceding and unbounded following) from t1 where a is not null and id < 3 order by id
select id, nth_value(id, 2) over (order by id) from t1 order by id
select id, count(*) over (order by id rows between 2 preceding and current row) from t1 order by id
select id, sum(a) over (order by a range between unbounded preceding and current row) from t1 order by id
with x as (select * from t1 where a > 0), y as (select * from x where a < 5) select count(*), sum(a) from y
with x as (select 1 as one) select * from x, x as y
with t1 as (select 100 as id) select id from t1
select * from (select 'lit' as c) s
select c, c || 'x' from (select 'lit' as c) s
select 'x' as c union all select 'y' order by c
select null union select null
select null as n union select 1 order by 1
select id from t1 where id = (select 2)
select id from t1 where (id, a) in (select id, qty from t2) order by id
select id from t1 where a in (select qty from t2 where t2.t1_id = t1.id) order by id
select id, exists (select 1 from t2 where t2.t1_id = t1.id) from t1 order by id
select id, a in (select v from t3) as found from t1 order by id
select id, (select k from t3 where t3.v = t1.a limit 1) from t1 order by id
select (select count(*) from t1 x where x.a = t1.a) as peers, count(*) from t1 group by a order by a
select id from t1 where a > (select avg(a) from t1) order by id
select t1.id, (select max(t2.qty) from t2 where t2.t1_id = t1.id and t2.qty > (select min(v) from t3 where t3.v > t1.a)) from t1 order by 1
select k, (select count(*) from t1 where t1.a = t3.v) from t3 order by k
select * from t1 where id < 0
select a, count(*) from t1 where id < 0 group by a
select max(a), count(*) from t1 where id < 0
select count(*) from t1, t2 where t1.id = t2.t1_id and t1.a = t2.qty
select id from t1 where s similar to 'a%'
select id from t1 t where t.id < 3 order by t.id
select t.id from t1 as t join t1 on t.id = t1.id order by 1
select id from t1 join t3 on t1.s = t3.k order by id
select id from t1 join t2 on t1.id = t2.t1_id join t3 on t3.v = t2.qty order by 1
select s from t1 where s > 'b' order by s
select s, count(*) from t1 group by s having s is not null order by s
select a + b, a * b, b / 7, b % 1000 from t1 order by id
select 2147483647 + 1
select 9223372036854775807 + 1
select -2147483648 / -1
select 5 % 0
select 2.0 ^ 0.5, 10 ^ -2, (-8) ^ 3
select 1e3, 1.5e-2, .5, 5., 123456789012345678901234567890
select '1.5'::float8 + 1, '1e-5'::numeric, '  12  '::int
select 'yes'::boolean, 'off'::boolean, 'maybe'::boolean
select true and null, false and null, true or null, false or null, not null::boolean
select null = null, null <> 1, 1 = null is null
select id from t1 where a = any (array[1, 2, 3]) order by id
select array_agg(a order by id) from t1 where id < 6
select array[1, 2, 3]
select current_date - date '2020-01-01' > 0
select id from t1 order by id limit $1
select id from t1 for update
select id, x from t1 cross join lateral (select t1.id * 2 as x) s order by id
select a, x from t1, lateral (select count(*) as x from t2 where t2.qty = t1.a) s order by id
select s, left(s, 1) || '*' from t1 order by id
select id, coalesce(s, a::text, 'none') from t1 order by id
select id, coalesce(a, n) from t1 order by id
select id, case when flag then a end from t1 order by id
select id, case when flag then 'yes' when not flag then 'no' else null end from t1 order by id
select id, case when id > 100 then 1 / 0 else 0 end from t1 order by id
select id, greatest(s, 'c'), least(n, 0) from t1 order by id
select id from t1 where coalesce(flag, false) order by id
select id from t1 where a in (select a from t1 where a > 8 union select qty from t2 where qty < 0) order by id
select distinct a % 2 from t1 order by 1
select distinct a, a from t1 order by 1
select id, upper(s) from t1 where upper(s) like 'A%' order by 2, 1
select length(''), length(null), '' is null, lower(null)
select substring('abc' from 0 for 2), substring('abc', -1, 3), substring('abc' from 5)
select split_part('a,b,c', ',', -1), split_part('abc', '', 1), repeat('ab', 0)
select round(123.456, -1), round(-0.5), trunc(1.99), round(1.005, 2)
select abs(-2147483648)
select a from t1 union all select a from t1 except all select a from t1 order by 1
select a from t1 intersect select a from t1 union select qty from t2 order by 1
(select a from t1 union select qty from t2) intersect select v from t3 order by 1
select 1 as a, 2 as a order by a
select id as x, a as id from t1 order by id, x
select *, id from t1 order by id
select id, id from t1 order by id
select x.* from t3 x where x.k < 'b' order by k
select t3.*, t3.v from t3 order by k
select count(*) from t1 where (a, flag) is not null
select id, ('{"id": ' || id || ', "s": ' || coalesce('"' || s || '"', 'null') || '}')::jsonb ->> 's' from t1 order by id
select id, (('{"a": {"n": ' || coalesce(a::text, 'null') || '}}')::jsonb -> 'a' -> 'n') from t1 order by id
select id from t1 where ('{"a": ' || coalesce(a::text, 'null') || '}')::jsonb @> '{"a": 3}' order by id
select '{"a": {"b": [1, 2, {"c": null}]}}'::jsonb -> 'a' -> 'b' -> 2, '{"a": null}'::jsonb ->> 'a' is null
select '{"a": {"b": [1, 2]}}'::jsonb #> '{a,b,1}', '{"a": {"b": "x"}}'::jsonb #>> '{a,b}', '[1,2,3]'::jsonb -> -1
select '{"a": 1, "b": [1, 2]}'::jsonb @> '{"b": [2]}', '{"a": 1}'::jsonb <@ '{"a": 1, "c": 2}', '["x"]'::jsonb @> '"x"'
select '{"a": 1}'::jsonb ? 'a', '["x", "y"]'::jsonb ?| array['y', 'z'], '{"a": 1}'::jsonb ?& array['a', 'b']
select jsonb_typeof('[1]'), json_typeof('1.5'), jsonb_typeof('null'), jsonb_array_length('[1, 2, 3]')
select json_extract_path_text('{"a": {"b": "x"}}', 'a', 'b'), jsonb_extract_path('{"a": {"b": [1]}}', 'a', 'b')
select to_jsonb('hi'::text), to_json(1.5), to_jsonb(true), '{"b": 1, "a": 2}'::jsonb
select jsonb_array_length('{"a": 1}')
select '{"a": 1'::jsonb
select 2 = any('{1,2,3}'), 'b c' = any('{"a","b c",NULL}'::text[]), '{1,2}'::int[]
select '{1,x}'::int[]
select t1.id, t2.id from t1, t2 where t1.id = t2.t1_id and t2.qty > 10 order by 1, 2
select count(*) from t1 x, t1 y, t2 z where x.id = y.a and z.t1_id = y.id
select t1.id, t3.k from t1, t3 where t1.a = t3.v and t1.s is not null order by 1, 2
select t1.id from t1, t2 where t1.id = t2.id and t1.a > t2.qty order by 1
""".strip().splitlines()
