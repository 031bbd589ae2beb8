"""A bank over the wire: concurrent transfers that retry on 40001, snapshot audits, and
the checks a user would make afterwards (the total never changes, every acknowledged
transfer is there, every balance matches the transfers that committed)."""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import psycopg

ACCOUNTS = 20
OPENING = 1000


@dataclass
class Ledger:
    acked: set[int] = field(default_factory=set)      # transfer ids whose COMMIT succeeded
    unknown: set[int] = field(default_factory=set)    # outcome lost with the connection
    conflicts: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    audits: int = 0
    audit_failures: list[str] = field(default_factory=list)
    commit_latency_s: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, exc: BaseException) -> None:
        key = getattr(exc, "sqlstate", None) or type(exc).__name__
        with self.lock:
            self.errors[key] = self.errors.get(key, 0) + 1


def setup(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TABLE accounts (id int primary key, bal bigint not null)")
    conn.execute("CREATE TABLE transfers (id bigint primary key, src int, dst int, amount int)")
    conn.execute("INSERT INTO accounts VALUES " +
                 ", ".join(f"({i}, {OPENING})" for i in range(ACCOUNTS)))


def _connect(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True, connect_timeout=10)


def transfer_client(dsn: str, ledger: Ledger, deadline: float, seed: int) -> None:
    rnd = random.Random(seed)
    conn = None
    while time.monotonic() < deadline:
        try:
            if conn is None or conn.closed:
                conn = _connect(dsn)
            src, dst = rnd.sample(range(ACCOUNTS), 2)
            amount = rnd.randint(1, 50)
            tid = rnd.getrandbits(62)
            conn.execute("BEGIN")
            conn.execute("SELECT bal FROM accounts WHERE id = %s", (src,)).fetchone()
            conn.execute("UPDATE accounts SET bal = bal - %s WHERE id = %s", (amount, src))
            conn.execute("UPDATE accounts SET bal = bal + %s WHERE id = %s", (amount, dst))
            conn.execute("INSERT INTO transfers VALUES (%s, %s, %s, %s)",
                         (tid, src, dst, amount))
            t = time.perf_counter()
            try:
                conn.execute("COMMIT")
            except psycopg.errors.SerializationFailure:
                with ledger.lock:
                    ledger.conflicts += 1
                continue
            except (psycopg.OperationalError, psycopg.errors.ConnectionFailure) as exc:
                with ledger.lock:
                    ledger.unknown.add(tid)   # the commit may or may not have happened
                ledger.error(exc)
                _close(conn)
                conn = None
                continue
            with ledger.lock:
                ledger.acked.add(tid)
                ledger.commit_latency_s.append(time.perf_counter() - t)
        except psycopg.Error as exc:   # before COMMIT: nothing was committed
            ledger.error(exc)
            if conn is not None and not conn.closed and conn.info.transaction_status != 0:
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    _close(conn)
                    conn = None
            time.sleep(0.05)
    _close(conn)


def audit_client(dsn: str, ledger: Ledger, deadline: float) -> None:
    """Snapshot reads of every balance: the total must always be the opening total."""
    conn = None
    while time.monotonic() < deadline:
        try:
            if conn is None or conn.closed:
                conn = _connect(dsn)
            conn.execute("BEGIN")
            rows = conn.execute("SELECT bal FROM accounts").fetchall()
            conn.execute("COMMIT")
            total = sum(r[0] for r in rows)
            with ledger.lock:
                ledger.audits += 1
                if len(rows) != ACCOUNTS or total != ACCOUNTS * OPENING:
                    ledger.audit_failures.append(f"{len(rows)} rows, total {total}")
        except psycopg.Error as exc:
            ledger.error(exc)
            _close(conn)
            conn = None
            time.sleep(0.05)
        time.sleep(0.05)
    _close(conn)


def _close(conn) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass


def run(dsn: str, seconds: float, clients: int = 8, during=None) -> Ledger:
    """Run the workload; ``during(elapsed_fn)`` runs in this thread meanwhile (faults)."""
    ledger = Ledger()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=transfer_client, args=(dsn, ledger, deadline, seed))
               for seed in range(clients)]
    threads.append(threading.Thread(target=audit_client, args=(dsn, ledger, deadline)))
    for t in threads:
        t.start()
    if during is not None:
        during()
    for t in threads:
        t.join(timeout=seconds + 120)
    return ledger


def verify(dsn: str, ledger: Ledger) -> dict:
    """What a user checks afterwards; raises AssertionError with the evidence."""
    with _connect(dsn) as conn:
        balances = dict(conn.execute("SELECT id, bal FROM accounts").fetchall())
        transfers = conn.execute("SELECT id, src, dst, amount FROM transfers").fetchall()
    assert sum(balances.values()) == ACCOUNTS * OPENING, balances
    present = {t[0] for t in transfers}
    missing = ledger.acked - present
    assert not missing, f"{len(missing)} acknowledged transfers are missing"
    phantom = present - ledger.acked - ledger.unknown
    assert not phantom, f"{len(phantom)} transfers present that no client committed"
    expected = {i: OPENING for i in range(ACCOUNTS)}
    for _, src, dst, amount in transfers:
        expected[src] -= amount
        expected[dst] += amount
    assert balances == expected, "balances do not match the committed transfers"
    assert not ledger.audit_failures, ledger.audit_failures[:5]
    return {"acked": len(ledger.acked), "unknown": len(ledger.unknown),
            "unknown_committed": len(ledger.unknown & present),
            "conflicts": ledger.conflicts, "audits": ledger.audits, "errors": ledger.errors}
