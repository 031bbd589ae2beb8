"""The real PostgreSQL JDBC driver (pgjdbc, from Debian's libpostgresql-jdbc-java, which
`make install` brings) against the test cluster: what Flyway, Liquibase, DBeaver and
Spring do first. pgjdbc sends every statement through the extended protocol and uses
named server-side statements after five executions."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PROBE = Path(__file__).resolve().parent / "jdbc" / "JdbcProbe.java"
PGJDBC = Path("/usr/share/java/postgresql.jar")


def test_pgjdbc_end_to_end(cluster):
    java = shutil.which("java")
    assert java and PGJDBC.exists(), (
        "the JDBC test needs java and pgjdbc: `make install` installs Debian's "
        "default-jre-headless and libpostgresql-jdbc-java when run as root")
    proc = subprocess.run([java, "-cp", str(PGJDBC), str(PROBE), "127.0.0.1",
                           str(cluster.port), cluster.token()],
                          capture_output=True, text=True, timeout=300)
    lines = proc.stdout.splitlines()
    failed = [ln for ln in lines if ln.startswith("FAIL")]
    assert proc.returncode == 0 and lines and lines[-1] == "DONE failures=0", \
        "\n".join(failed) or (proc.stdout + proc.stderr)[-3000:]
    ok = {ln.split()[1]: ln for ln in lines if ln.startswith("OK")}
    # the JVM sends its own TimeZone at startup (Etc/UTC here), which PostgreSQL accepts
    assert ok["show_timezone"].split()[-1] in ("UTC", "Etc/UTC")
    assert ok["show_server_version_num"].split()[-1].startswith("16")
    # DatabaseMetaData, as DBeaver / DataGrip / Flyway / Liquibase read the schema
    assert ok["meta_get_tables"].split()[-1] == "public.jdbc_items:TABLE"
    assert ok["meta_get_columns"].split()[-1] == (
        "1:id:int8:NO,2:name:varchar:NO,3:price:numeric:YES,4:created:timestamptz:YES")
    assert ok["meta_get_primary_keys"].split()[-1] == "id:1:jdbc_items_pkey"
    assert ok["meta_get_index_info"].split()[-1] == (
        "jdbc_items_pkey:id:unique:A,jdbc_items_name_idx:name:nonunique:A")
    assert ok["meta_get_imported_keys"].split()[-1] == "rows=0"
    assert ok["meta_simple_query_mode"].split()[-1] == \
        "tables=1,columns=4,keys=1,unique_indexes=1"
