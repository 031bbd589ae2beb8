"""Foreign keys: checked when a statement's changes are flushed, their actions applied there.

At the end of every DML statement (and before COMMIT) :func:`flush` derives the index
entries of the rows changed so far and then, for tables that hold or are referenced by a
foreign key, compares each changed row with what it was at the previous flush:

* a child row whose key columns changed must find its parent row, read at the
  transaction's snapshot with its own writes (23503 otherwise). The parent row's *key
  marker* (:func:`key_marker`) becomes a *shared key* of the commit; a parent delete or
  key update writes the marker. The adjudicator fails the child's commit if the marker
  was written since its snapshot, and fails a later writer of the marker whose snapshot
  is older than the child's commit (like PostgreSQL's FOR KEY SHARE). So a child insert
  and a parent delete racing each other never both commit: no orphan; an update of the
  parent's other columns does not conflict with them.
* a parent row deleted, or whose referenced columns changed, looks for referencing
  children (through a valid secondary index on the foreign-key columns, else a scan with
  the equality pushed to storage) and applies the action: NO ACTION / RESTRICT fail
  with 23503, CASCADE deletes or updates them, SET NULL / SET DEFAULT update them.
  Children written by an action are flushed in the next round (nested actions),
  bounded by ``fk_action_rounds_max`` and the transaction's row limit.

Checks happen at the end of the statement against the state it left (PostgreSQL's NO
ACTION); constraints declared INITIALLY DEFERRED are checked at COMMIT.
"""
from __future__ import annotations

from typing import Any, Iterable

from .. import limits
from ..errors import ForeignKeyViolation, UndefinedObject, WrongObjectType
from ..keys import encode_key, prefix_end
from .catalog import ForeignKeyDef, TableDef
from .constraints import check_row, parse_expr, row_text, write_update
from .indexes import VALID, registry, row_table_id
from .query.rowexpr import compile_constant

fk_action_rounds_max = limits.Limit("fk_action_rounds_max", 64, "rounds", "54001",
                                    "foreign key actions nested too deeply")


class Refs:
    """The catalog's foreign keys: those each table holds, those referencing each table."""

    def __init__(self, tables: Iterable[TableDef]):
        self.by_id = {t.table_id: t for t in tables}
        self.referencing: dict[int, list[tuple[TableDef, ForeignKeyDef]]] = {}
        for t in self.by_id.values():
            for fk in getattr(t, "fkeys", ()):
                self.referencing.setdefault(fk.ref_id, []).append((t, fk))

    def involved(self, table_id: int | None) -> TableDef | None:
        t = self.by_id.get(table_id)
        if t is not None and (t.fkeys or table_id in self.referencing):
            return t
        return None


def refs_of(node) -> Refs:
    """The foreign keys of the node's cached catalog (rebuilt when it is reloaded)."""
    catalog = node.catalog
    tables = getattr(catalog, "tables", {})
    cached = getattr(catalog, "fk_refs", None)
    if cached is None or cached[0] is not tables:
        values = tables.values() if isinstance(tables, dict) else tables
        cached = (tables, Refs(values))
        catalog.fk_refs = cached
    return cached[1]


def key_marker(row_key: bytes) -> bytes:
    """The key a parent row's referenced values answer for: children hold it shared, and
    the parent's delete or key update writes it (a tombstone nothing reads). An update of
    other columns leaves it alone, so it does not conflict with child inserts (PostgreSQL's
    FOR KEY SHARE against FOR NO KEY UPDATE). No key encoding starts with 0xff, so no row
    key is another's marker."""
    return row_key + b"\xff"


def values_of(table: TableDef, row: tuple, columns: Iterable[str]) -> tuple:
    names = table.column_names
    return tuple(row[names.index(c)] for c in columns)


def _skip_nulls(table: TableDef, fk: ForeignKeyDef, values: tuple) -> bool:
    """MATCH SIMPLE: a NULL anywhere passes; MATCH FULL: all NULL passes, some is 23503."""
    if None not in values:
        return False
    if fk.match == "f" and any(v is not None for v in values):
        raise ForeignKeyViolation(
            f'insert or update on table "{table.name}" violates foreign key constraint '
            f'"{fk.name}"', detail="MATCH FULL does not allow mixing of null and nonnull "
                                   "key values.")
    return True


# -- flushing ----------------------------------------------------------------------------------
async def flush(txn, final: bool = False) -> None:
    """Index entries and foreign keys of the rows changed so far (each DML statement's end,
    and COMMIT with ``final``: deferred constraints too). 23505 and 23503 surface here."""
    ensure = getattr(txn.node.catalog, "ensure", None)
    for _ in range(int(fk_action_rounds_max.value)):
        if not txn.changed_rows:
            break
        if ensure is not None:
            await ensure(txn)       # the catalog (and so its foreign keys) at the snapshot
        refs = refs_of(txn.node)
        if not refs.referencing:
            await txn.flush_indexes()
            return
        changes = await _before(txn, refs, set(txn.changed_rows))
        await txn.flush_indexes()
        await _enforce(txn, refs, changes)
    else:
        raise fk_action_rounds_max.error()
    if final and (txn.fk_deferred_rows or txn.fk_deferred_parents):
        await check_pending(txn, refs_of(txn.node), final=True)


async def _before(txn, refs: Refs, keys: set[bytes]) -> dict[bytes, tuple[TableDef, Any]]:
    """Changed rows of tables with foreign keys → (table, the row at the last flush)."""
    out: dict[bytes, tuple[TableDef, Any]] = {}
    fetch: list[bytes] = []
    for key in sorted(keys):
        table = refs.involved(row_table_id(key))
        if table is None:
            continue
        if key in txn.fk_base:
            out[key] = (table, txn.fk_base[key])
        elif key in txn.index_base:
            out[key] = (table, table.decode(txn.index_base[key]))
        else:
            fetch.append(key)
            out[key] = (table, None)
    if fetch:
        for key, row in zip(fetch, await txn.node.get_many(fetch, txn.start_ts)):
            table = out[key][0]
            out[key] = (table, table.decode(row))
    return out


async def _enforce(txn, refs: Refs, changes: dict[bytes, tuple[TableDef, Any]]) -> None:
    for key, (table, prev) in changes.items():
        txn.uses([table])
        new = table.decode(txn.writes.get(key))
        for fk in table.fkeys:
            if new is None or (prev is not None and values_of(table, prev, fk.columns)
                               == values_of(table, new, fk.columns)):
                continue
            if deferred(txn, fk):
                txn.fk_deferred_rows.add((key, fk.name))
            else:
                await check_child(txn, refs, table, fk, new)
        moved = txn.fk_moves.pop(key, None) if new is None else None
        after = new if moved is None else table.decode(txn.writes.get(moved))
        referencing = refs.referencing.get(table.table_id, ())
        if prev is not None and any(after is None or values_of(table, prev, fk.ref_columns)
                                    != values_of(table, after, fk.ref_columns)
                                    for _, fk in referencing):
            txn.put_entry(key_marker(key), None)     # what children hold shared: written
        for child, fk in referencing:
            await _on_parent(txn, table, child, fk, prev, after)
        txn.fk_base[key] = new


# -- the child's side ------------------------------------------------------------------------
async def check_child(txn, refs: Refs, table: TableDef, fk: ForeignKeyDef, row: tuple) -> None:
    """The parent row of ``row`` must exist (23503); its key is shared at COMMIT."""
    values = values_of(table, row, fk.columns)
    if _skip_nulls(table, fk, values):
        return
    parent = refs.by_id.get(fk.ref_id)
    if parent is not None:
        txn.uses([parent])      # its schema marker: a concurrent DROP fails us (OC001)
    key = None if parent is None else await parent_key(txn, parent, fk.ref_columns, values)
    if key is None:
        raise ForeignKeyViolation(
            f'insert or update on table "{table.name}" violates foreign key constraint '
            f'"{fk.name}"',
            detail=f"Key ({', '.join(fk.columns)})=({row_text(values)}) is not present in "
                   f'table "{parent.name if parent else fk.ref_id}".')
    txn.shared_keys.add(key_marker(key))


def unique_index(node, parent: TableDef, columns: Iterable[str]):
    """A valid unique index of ``parent`` on exactly ``columns`` (any order), or None."""
    want = sorted(columns)
    for d in registry(node).for_table(parent.table_id, (VALID,)):
        if d.unique and d.whole and sorted(d.key_names(parent)) == want:
            return d
    return None


def references_pk(parent: TableDef, columns: Iterable[str]) -> bool:
    pk = [parent.columns[i].name for i in parent.pk]
    return not parent.hidden_pk and sorted(pk) == sorted(columns)


async def parent_key(txn, parent: TableDef, columns: tuple[str, ...], values: tuple
                     ) -> bytes | None:
    """The row key of the parent row holding ``values`` in ``columns``; None if none does."""
    by_name = dict(zip(columns, values))
    if references_pk(parent, columns):
        key = parent.row_key(tuple(by_name[parent.columns[i].name] for i in parent.pk))
        return key if await txn.get(key) is not None else None
    d = unique_index(txn.node, parent, columns)
    if d is None:
        return None
    entry = await txn.get(d.entry_key(tuple(by_name[n] for n in d.key_names(parent)), ()))
    if entry is None:
        return None
    key = parent.row_key(tuple(entry[0]))
    return key if await txn.get(key) is not None else None


# -- the parent's side --------------------------------------------------------------------------
async def _on_parent(txn, parent: TableDef, child: TableDef, fk: ForeignKeyDef,
                     prev: Any, new: Any) -> None:
    """A parent row deleted or re-keyed: NO ACTION / RESTRICT or the referential action."""
    if prev is None:
        return
    old = values_of(parent, prev, fk.ref_columns)
    if None in old or (new is not None and values_of(parent, new, fk.ref_columns) == old):
        return
    action = fk.on_delete if new is None else fk.on_update
    txn.uses([child])           # its schema marker and row layout
    if action in "ar":
        if deferred(txn, fk):
            txn.fk_deferred_parents.append((parent.table_id, child.table_id, fk.name, old))
        else:
            await no_action(txn, parent, child, fk, old, action)
        return
    for key, row in await children(txn, child, fk, old):
        await _act(txn, parent, child, fk, key, row, new, action)


async def no_action(txn, parent: TableDef, child: TableDef, fk: ForeignKeyDef, old: tuple,
                    action: str = "a") -> None:
    if action == "a" and await parent_key(txn, parent, fk.ref_columns, old) is not None:
        return          # NO ACTION: another row holds the key now
    if await children(txn, child, fk, old):
        raise ForeignKeyViolation(
            f'update or delete on table "{parent.name}" violates foreign key constraint '
            f'"{fk.name}" on table "{child.name}"',
            detail=f"Key ({', '.join(fk.ref_columns)})=({row_text(old)}) is still referenced "
                   f'from table "{child.name}".')


async def _act(txn, parent: TableDef, child: TableDef, fk: ForeignKeyDef, key: bytes,
               row: tuple, new: Any, action: str) -> None:
    """CASCADE, SET NULL or SET DEFAULT on one child row."""
    if action == "c" and new is None:
        txn.delete(key)
        return
    names = child.column_names
    if action == "c":
        values = dict(zip(fk.columns, values_of(parent, new, fk.ref_columns)))
    else:
        cols = fk.delete_set if new is None and fk.delete_set else fk.columns
        values = {c: None if action == "n" else _default(child, c) for c in cols}
    out = list(row)
    for c, v in values.items():
        out[names.index(c)] = v
    check_row(child, tuple(out))
    await write_update(txn, child, key, tuple(out), [names.index(c) for c in values])


def _default(table: TableDef, column: str) -> Any:
    col = table.columns[table.column_names.index(column)]
    if col.default_sql is None:
        return None
    return compile_constant(parse_expr(col.default_sql), col.type_oid).fn((), [])


async def children(txn, child: TableDef, fk: ForeignKeyDef, old: tuple
                   ) -> list[tuple[bytes, tuple]]:
    """Rows of ``child`` referencing ``old``: through an index on the foreign-key columns
    (valid at the snapshot) when there is one, else a scan with the equality pushed down."""
    by_name = dict(zip(fk.columns, old))
    n = len(fk.columns)
    for d in registry(txn.node).for_table(child.table_id, (VALID,)):
        names = d.key_names(child)
        if d.complete_ts > txn.start_ts or not d.whole \
                or sorted(names[:n]) != sorted(fk.columns):
            continue
        low = d.key_prefix() + encode_key(tuple(by_name[c] for c in names[:n]))
        entries = await txn.scan(low, prefix_end(low))
        keys = [child.row_key(tuple(value[0])) for _, value in entries if value is not None]
        rows = await txn.get_many(keys) if keys else []
        return [(k, r) for k, r in zip(keys, rows)
                if r is not None and values_of(child, r, fk.columns) == old]
    low, high = child.key_range()
    names = child.column_names
    pred = tuple(("=", names.index(c), v) for c, v in zip(fk.columns, old))
    return await txn.scan(low, high, pred)


# -- deferred constraints: at COMMIT, or when SET CONSTRAINTS makes them immediate -----------
def deferred(txn, fk: ForeignKeyDef) -> bool:
    """Whether the transaction checks ``fk`` at COMMIT: INITIALLY DEFERRED, or set so by
    SET CONSTRAINTS (which only DEFERRABLE ones follow)."""
    if not fk.deferrable:
        return False
    modes = txn.fk_modes
    return modes.get(fk.name, modes.get(None, fk.deferred))


async def check_pending(txn, refs: Refs, final: bool = False) -> None:
    """Run the checks put off for constraints that are immediate now (all at COMMIT)."""
    rows, txn.fk_deferred_rows = txn.fk_deferred_rows, set()
    for key, name in sorted(rows):
        table = refs.by_id.get(row_table_id(key))
        fk = next((k for k in getattr(table, "fkeys", ()) if k.name == name), None)
        if fk is not None and not final and deferred(txn, fk):
            txn.fk_deferred_rows.add((key, name))
            continue
        row = None if fk is None else table.decode(txn.writes.get(key))
        if row is not None:
            await check_child(txn, refs, table, fk, row)
    parents, txn.fk_deferred_parents = txn.fk_deferred_parents, []
    for parent_id, child_id, name, old in parents:
        parent, child = refs.by_id.get(parent_id), refs.by_id.get(child_id)
        fk = next((k for k in getattr(child, "fkeys", ()) if k.name == name), None)
        if fk is not None and not final and deferred(txn, fk):
            txn.fk_deferred_parents.append((parent_id, child_id, name, old))
        elif parent is not None and fk is not None:
            await no_action(txn, parent, child, fk, old)


async def set_constraints(txn, names: list[str] | None, defer: bool) -> None:
    """SET CONSTRAINTS ALL | name, ... DEFERRED | IMMEDIATE, in a transaction block;
    checks put off for constraints made immediate run now (23503 here, as PostgreSQL)."""
    refs = refs_of(txn.node)
    if names is None:
        txn.fk_modes.clear()
        txn.fk_modes[None] = defer
    else:
        fkeys = {k.name: k for t in refs.by_id.values() for k in t.fkeys}
        others = {n for t in refs.by_id.values()
                  for n in [f"{t.name}_pkey", *(k.name for k in t.checks)]}
        for name in names:
            fk = fkeys.get(name)
            if fk is None and name not in others:
                raise UndefinedObject(f'constraint "{name}" does not exist')
            if fk is None or not fk.deferrable:
                raise WrongObjectType(f'constraint "{name}" is not deferrable')
            txn.fk_modes[name] = defer
    if not defer:
        await check_pending(txn, refs)
