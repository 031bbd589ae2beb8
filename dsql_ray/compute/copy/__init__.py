"""COPY between the client and a table: the statement's options, the text, CSV and
binary formats, and the rows they carry, inserted through the normal INSERT path.

Aurora DSQL accepts COPY only from and to the client (``FROM STDIN``, ``TO STDOUT``;
psql's ``\\copy``). The wire layer feeds the client's CopyData to a :class:`CopyIn` in
whatever pieces the client cut it; ``records.py``: :class:`Records` splits that stream into records
(lines) by the format's rules, ``fields.py``: :func:`text_fields` and :func:`csv_fields` split a record
into fields as PostgreSQL's COPY does (text: backslash escapes and ``\\N``; CSV:
quoting, NULL as an unquoted empty string), :class:`BinaryTuples` reads the binary
format, and ``load.py``'s :class:`CopyLoader` converts each field with the column type's input (or
binary receive) function and inserts the rows in batches through the planner's INSERT,
so the same checks apply (23505, 23502, defaults for omitted columns, the 3,000-row
transaction limit). Errors carry PostgreSQL's CONTEXT (``COPY t, line 3, column id:
"x"``). COPY TO STDOUT reads like a SELECT and ``out.py``'s :class:`CopyOut` writes the lines.
The statement and its options: ``options.py``.

Python's ``csv`` module is not used: before 3.12 it cannot tell a quoted empty string
from an unquoted one (which COPY reads as NULL), nor a quoted NULL string from the NULL
marker; the CSV reader here follows PostgreSQL's CopyReadAttributesCSV.

Formats: https://www.postgresql.org/docs/current/sql-copy.html
"""
