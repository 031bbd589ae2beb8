"""What a running statement can ask about its session without importing it.

``CURRENT_SESSION`` is set by the session while one of its statements runs; sequence
functions (``sequences.py``) and ``now()`` outside a query read it.
"""
from __future__ import annotations

import contextvars
import datetime as dt

#: the session a statement runs for, read by nextval/currval/setval and now()
CURRENT_SESSION: contextvars.ContextVar = contextvars.ContextVar("dsql_session", default=None)


def transaction_now() -> dt.datetime:
    """now() / CURRENT_TIMESTAMP: the running transaction's timestamp, as PostgreSQL."""
    session = CURRENT_SESSION.get()
    txn = getattr(session, "txn", None)
    return txn.now if txn is not None else dt.datetime.now(dt.timezone.utc)
