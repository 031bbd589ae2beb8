"""Bind and plan: one module per statement kind.

``select.py`` (SELECT: the key-aware plan or the query engine, chosen by a predicate
before compiling), ``insert.py`` (+ ``conflict.py`` for ON CONFLICT), ``update.py``,
``delete.py``; shared by them: ``rows.py`` (values stored into columns, row checks),
``returning.py``, ``matches.py`` (UPDATE/DELETE through the engine), ``engine.py`` (the
query engine over a transaction and statement-local relations), ``trees.py`` (the parse
trees those engine plans are built from), ``projection.py`` and ``base.py`` (the Plan).
"""
