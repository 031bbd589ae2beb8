-- One primary-key lookup per transaction (autocommit).
\set aid random(1, 10000)
SELECT bal FROM accounts WHERE id = :aid;
