"""Named limits with units, in one place, each with the error DSQL raises for it."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import DsqlError, LimitExceeded


@dataclass(frozen=True)
class Limit:
    name: str
    value: float
    unit: str
    sqlstate: str
    message: str

    def error(self) -> DsqlError:
        return DsqlError(self.message, sqlstate=self.sqlstate) if self.sqlstate != "54000" \
            else LimitExceeded(self.message)

    def check(self, amount: float) -> None:
        if amount > self.value:
            raise self.error()


MiB = 1024 * 1024

rows_per_txn_max = Limit("rows_per_txn_max", 3000, "rows", "54000",
                         "transaction row limit exceeded")
bytes_per_txn_max = Limit("bytes_per_txn_max", 10 * MiB, "bytes", "54000",
                          "transaction size limit 10mb exceeded")
txn_age_max = Limit("txn_age_max", 300, "s", "54000",
                    "transaction age limit of 300s exceeded")
key_size_max = Limit("key_size_max", 1024, "bytes", "54000", "key size too large")
row_size_max = Limit("row_size_max", 2 * MiB, "bytes", "54000", "row size too large")
columns_per_table_max = Limit("columns_per_table_max", 255, "columns", "54011",
                              "tables can have at most 255 columns")
connections_max = Limit("connections_max", 10_000, "connections", "53300",
                        "too many open connections")
connection_age_max = Limit("connection_age_max", 3600, "s", "57P01",
                           "connection age limit of 60 minutes exceeded")

# Internal bounds (not DSQL-visible): every wait and queue is bounded.
read_wait_max_s = 5.0          # storage waits this long for completeness at τ
rpc_timeout_s = 10.0           # one data-plane call
# A peer whose host vanished or was cut off sends no RST: connect() would retry its SYN
# for minutes (tcp_syn_retries) and an open connection would wait on retransmissions.
rpc_connect_timeout_s = 2.0    # one connection attempt; then the name is resolved again
rpc_unacked_max_ms = 5_000     # TCP_USER_TIMEOUT: sent data unacknowledged this long
rpc_keepalive_s = (2, 1, 3)    # idle, interval, probes: a silent idle peer is dropped
rpc_inflight_max = 10_000      # outstanding calls on one connection
journal_batch_max = 512        # records fsynced together
journal_pipeline_depth = 4     # append batches in flight per journal replica (a link's
#                                window; a replica holds at most this many ahead of a gap)
# Completeness leases (adjudicator.rpc_promise; ClusterConfig.closed_lead_ms and
# lease_cap_ms are the configured values, these their defaults).
closed_lead_ms = 5.0           # a lease runs this far past the adjudicator's clock
lease_cap_ms = 100.0           # a journaled lease cap runs this far past it
commit_wait_max_s = 1.0        # a commit waits at most this long for the clock to pass τ
scan_rows_max = 1_000_000      # rows one scan may return before it is refused

# Connection admission (the relay) and the connection age (compute): DSQL's values, the
# defaults of ClusterConfig (dsql-ray up --max-connections, --connection-rate, ...).
connection_rate_max = Limit("connection_rate_max", 100, "connections/s", "53400",
                            "rate exceeded")
connection_burst_max = Limit("connection_burst_max", 1000, "connections", "53400",
                             "rate exceeded")
query_canceled = Limit("query_canceled", 0, "", "57014",
                       "canceling statement due to user request")

# Memory one statement may hold in intermediate results (scanned tables, join and sort
# outputs), estimated from row counts times sampled row sizes. DSQL publishes no such
# number; queries past it fail with 54000 instead of exhausting the compute process.
statement_memory_max = Limit("statement_memory_max", 256 * MiB, "bytes", "54000",
                             "statement memory limit exceeded")
