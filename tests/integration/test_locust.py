"""The Locust users of loadtests/locustfile.py, run headless against the test cluster
as a user would run them: TLS, a fresh SDK token per connection, the weighted mix."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"


def test_locust_headless_run(cluster, tmp_path):
    prefix = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
         "-u", "6", "-r", "6", "-t", "8s", "--host", f"postgresql://127.0.0.1:{cluster.port}",
         "--dsql-data-dir", str(cluster.data_dir), "--csv", str(prefix),
         "--exit-code-on-error", "0", "--only-summary", "--stop-timeout", "10"],
        capture_output=True, text=True, timeout=120, env=cluster.env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(f"{prefix}_stats.csv") as f:
        stats = {row["Name"]: row for row in csv.DictReader(f)}
    total = stats["Aggregated"]
    assert int(total["Request Count"]) > 0, stats
    for name in ("point read", "range read", "insert", "rmw"):
        assert int(stats[name]["Request Count"]) > 0, f"{name} never ran: {stats}"
    with open(f"{prefix}_failures.csv") as f:
        failures = list(csv.DictReader(f))
    # the only failures allowed are counted 40001 retries of the read-modify-write
    for row in failures:   # psycopg raises SerializationFailure for SQLSTATE 40001
        assert row["Name"] == "rmw" and "SerializationFailure" in row["Error"], row
    counted = sum(int(r["Occurrences"]) for r in failures)
    assert counted == int(total["Failure Count"])
