"""The plan every statement planner returns: ``run`` executes it in a transaction."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .. import types as T
from ..result import Column, QueryResult


def result_column(name: str, oid: int) -> Column:
    return Column(name, oid, T.TYPE_SIZE.get(oid, -1))


@dataclass
class Plan:
    param_oids: list[int] = field(default_factory=list)
    columns: list[Column] | None = None
    is_ddl: bool = False
    is_dml: bool = False
    reads_catalog: bool = False
    userdefs: bool = False          # compiled with domains or SQL functions (userdefs.py)
    #: nextval calls per row, by sequence name, and the rows known when planning
    #: (the session reserves their values before running: ``sequences.py``)
    sequences: Counter = field(default_factory=Counter)
    sequence_rows: int = 1

    async def run(self, txn, params: list, session) -> QueryResult:
        raise NotImplementedError

    def explain(self) -> list[str]:
        return [type(self).__name__]
