"""DDL: plans that change the catalog, one module per kind of statement.

Every DDL runs as one transaction that reads catalog rows at its snapshot and writes
the changed definitions (table 0), bumps the catalog version and writes the schema
marker of each relation it changed (see :mod:`..catalog`), so a transaction that used the
old definition fails at COMMIT with OC001. Definitions are PostgreSQL's: CHECK
constraints and their generated names, type modifiers (varchar(n), char(n),
numeric(p,s)) enforced on write, views stored as their SQL text, sequences as a row
holding the next unallocated value; DSQL's rules on top (sequence CACHE 1 or ≥ 65536,
bigint only, no ALTER COLUMN TYPE, constraints on existing tables NOT VALID).

``tables.py`` CREATE TABLE / SCHEMA, ``alter.py`` ALTER TABLE and RENAME, ``drop.py``,
``views.py`` CREATE VIEW and view dependencies, ``sequences.py`` CREATE SEQUENCE and
sequence parameters, ``coltypes.py`` column types, ``identity.py`` identity-column
rules for writes, ``common.py`` the catalog writes they share.
"""
