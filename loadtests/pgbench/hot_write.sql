-- small_write on a hot set of 10 rows: concurrent clients collide, and the loser of each
-- conflict gets 40001 (at COMMIT on dsql-ray, at the UPDATE on PostgreSQL); pgbench
-- retries it (--max-tries) and counts the retries. history ids as in small_write.sql.
\set aid random(1, 10)
\set delta random(-5000, 5000)
\set n :n + 1
\set hid :client_id * 1000000000000 + :n
BEGIN;
UPDATE accounts SET bal = bal + :delta WHERE id = :aid;
SELECT bal FROM accounts WHERE id = :aid;
INSERT INTO history (id, aid, delta) VALUES (:hid, :aid, :delta);
END;
