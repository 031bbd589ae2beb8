"""Access paths, one rule per module, chosen by predicates before anything is compiled.

``path.py`` (the Access a plan reads through, and its EXPLAIN lines), ``keys.py`` (point
lookup or key range over the primary key), ``index_scan.py`` (a valid secondary index
when it fixes more leading columns), ``pushdown.py`` (filters and columns pushed to
storage), ``terms.py`` (reading a WHERE clause into conjuncts and ``column op value``).
"""
