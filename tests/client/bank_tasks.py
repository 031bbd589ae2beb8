"""The bank workload through Ray tasks and the Python client: transfers in
``run_transaction`` (retrying 40001), an auditor task summing balances at its snapshot,
and the final checks (the total is exact, every acknowledged transfer is there, each
balance matches the transfers that committed)."""
from __future__ import annotations

import random
import time

import dsql_ray

ACCOUNTS = 20
OPENING = 1000


def setup(cluster: str) -> None:
    with dsql_ray.connect(cluster) as conn:
        conn.execute("CREATE TABLE bank_accounts (id int primary key, bal bigint not null)")
        conn.commit()
        conn.execute("CREATE TABLE bank_transfers (id bigint primary key, src int, dst int, "
                     "amount int)")
        conn.commit()
        conn.execute("INSERT INTO bank_accounts VALUES " +
                     ", ".join(f"({i}, {OPENING})" for i in range(ACCOUNTS)))


def transfers(cluster: str, seconds: float, seed: int) -> dict:
    """One Ray task: transfers until the time is up; the ids whose commit returned."""
    rnd = random.Random(seed)
    acked, retried, failed = [], 0, {}
    conn = dsql_ray.connect(cluster)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        src, dst = rnd.sample(range(ACCOUNTS), 2)
        amount, tid = rnd.randint(1, 50), rnd.getrandbits(62)
        attempts = []

        def move(cur):
            attempts.append(1)
            cur.execute("SELECT bal FROM bank_accounts WHERE id = %s", (src,))
            cur.fetchone()
            cur.execute("UPDATE bank_accounts SET bal = bal - %s WHERE id = %s",
                        (amount, src))
            cur.execute("UPDATE bank_accounts SET bal = bal + %s WHERE id = %s",
                        (amount, dst))
            cur.execute("INSERT INTO bank_transfers VALUES (%s, %s, %s, %s)",
                        (tid, src, dst, amount))
        try:
            dsql_ray.run_transaction(conn, move, retries=20)
            acked.append(tid)
        except dsql_ray.Error as exc:
            failed[exc.sqlstate] = failed.get(exc.sqlstate, 0) + 1
        retried += len(attempts) - 1
    conn.close()
    return {"acked": acked, "retried": retried, "failed": failed}


def auditor(cluster: str, seconds: float) -> dict:
    """Sums every balance at one snapshot, again and again."""
    bad, audits = [], 0
    conn = dsql_ray.connect(cluster)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        total, n = conn.execute("SELECT sum(bal), count(*) FROM bank_accounts").fetchone()
        conn.rollback()
        audits += 1
        if (total, n) != (ACCOUNTS * OPENING, ACCOUNTS):
            bad.append((total, n))
        time.sleep(0.05)
    conn.close()
    return {"audits": audits, "bad": bad}


def run(cluster: str, tasks: int, seconds: float) -> dict:
    import ray
    work = ray.remote(num_cpus=0)(transfers)
    audit = ray.remote(num_cpus=0)(auditor)
    refs = [work.remote(cluster, seconds, seed) for seed in range(tasks)]
    audit_ref = audit.remote(cluster, seconds)
    results = ray.get(refs, timeout=seconds + 240)
    audits = ray.get(audit_ref, timeout=240)
    acked = {t for r in results for t in r["acked"]}
    with dsql_ray.connect(cluster, autocommit=True) as conn:
        total, = conn.execute("SELECT sum(bal) FROM bank_accounts").fetchone()
        rows = conn.execute("SELECT id, src, dst, amount FROM bank_transfers").fetchall()
        balances = dict(conn.execute("SELECT id, bal FROM bank_accounts").fetchall())
    expected = {i: OPENING for i in range(ACCOUNTS)}
    for _tid, src, dst, amount in rows:
        expected[src] -= amount
        expected[dst] += amount
    return {"acked": len(acked), "lost": len(acked - {r[0] for r in rows}),
            "committed": len(rows), "total": total, "balances_match": balances == expected,
            "retried": sum(r["retried"] for r in results),
            "failed": [r["failed"] for r in results if r["failed"]],
            "audits": audits["audits"], "bad_audits": audits["bad"]}
