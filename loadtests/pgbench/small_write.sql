-- Update + select + insert in one explicit transaction.
-- history ids never collide: :client_id is unique per pgbench client and :n is a
-- per-client counter. pgbench variables live for the whole run, so a retried or failed
-- attempt just skips a number; benchlib.pgbench starts every run at its own -D n=K*10^9.
\set aid random(1, 10000)
\set delta random(-5000, 5000)
\set n :n + 1
\set hid :client_id * 1000000000000 + :n
BEGIN;
UPDATE accounts SET bal = bal + :delta WHERE id = :aid;
SELECT bal FROM accounts WHERE id = :aid;
INSERT INTO history (id, aid, delta) VALUES (:hid, :aid, :delta);
END;
