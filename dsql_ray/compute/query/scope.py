"""Name resolution: which FROM item and column a name means, at which query level.

A query level's row is the concatenation of its FROM items' columns (plus the merged
columns of USING/NATURAL joins). Each :class:`Scope` knows the entries (range-table
items) of one FROM clause; ``parent`` is the enclosing query's scope for correlated
references. ``level`` is the position of the level's current row in ``Env.outer`` while
a nested query runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast

from ...errors import (AmbiguousColumn, DuplicateAlias, FeatureNotSupported, ParseError,
                       UndefinedColumn, UndefinedTable)
from ..catalog import TableDef


@dataclass
class Entry:
    """One FROM item as names see it."""
    alias: str | None
    names: list[str]
    offsets: list[int]
    table: TableDef | None = None
    typmods: list[int] | None = None     # a sub-query's column type modifiers

    def find(self, name: str) -> list[int]:
        return [o for n, o in zip(self.names, self.offsets) if n == name]


@dataclass
class Frame:
    """A nested query being compiled; ``correlated`` once it reads an outer level."""
    level: int
    correlated: bool = False


@dataclass
class CteNamespace:
    ctes: dict[str, Any] = field(default_factory=dict)
    parent: "CteNamespace | None" = None

    def lookup(self, name: str):
        ns = self
        while ns is not None:
            if name in ns.ctes:
                return ns.ctes[name]
            ns = ns.parent
        return None


class Scope:
    def __init__(self, level: int = 0, parent: "Scope | None" = None,
                 ctes: CteNamespace | None = None):
        self.level = level
        self.parent = parent
        self.ctes = ctes or CteNamespace()
        self.entries: list[Entry] = []
        self.oids: list[int] = []
        self.names: list[str] = []          # column name per offset
        self.hidden: set[int] = set()       # offsets not found by unqualified names
        self.star: list[int] = []           # offsets that * expands to, in order

    @property
    def width(self) -> int:
        return len(self.oids)

    def add_entry(self, alias: str | None, names: list[str], oids: list[int],
                  table: TableDef | None = None) -> Entry:
        if alias is not None and any(e.alias == alias for e in self.entries):
            raise DuplicateAlias(f'table name "{alias}" specified more than once')
        base = self.width
        offsets = list(range(base, base + len(names)))
        self.oids.extend(oids)
        self.names.extend(names)
        self.star.extend(offsets)
        entry = Entry(alias, list(names), offsets, table)
        self.entries.append(entry)
        return entry

    def absorb(self, other: "Scope") -> int:
        """Append another scope's entries (a join's right side); returns the shift."""
        shift = self.width
        for e in other.entries:
            if e.alias is not None and any(x.alias == e.alias for x in self.entries):
                raise DuplicateAlias(f'table name "{e.alias}" specified more than once')
            self.entries.append(Entry(e.alias, e.names, [o + shift for o in e.offsets],
                                      e.table, e.typmods))
        self.oids.extend(other.oids)
        self.names.extend(other.names)
        self.hidden |= {o + shift for o in other.hidden}
        self.star.extend(o + shift for o in other.star)
        return shift

    def find_local(self, alias: str | None, name: str) -> tuple[list[int], bool]:
        """Offsets matching at this level, and whether the alias exists here."""
        if alias is None:
            hits = [o for e in self.entries for o in e.find(name) if o not in self.hidden]
            return sorted(set(hits)), False
        entries = [e for e in self.entries if e.alias == alias]
        return [o for e in entries for o in e.find(name)], bool(entries)

    def resolve(self, fields: tuple, frames: list[Frame] | None = None
                ) -> tuple["Scope", int]:
        names = [f.sval for f in fields if isinstance(f, ast.String)]
        if len(names) != len(fields):
            raise ParseError("improper use of \"*\"")
        if len(names) > 3:
            raise ParseError(f"improper qualified name (too many dotted names): "
                             f"{'.'.join(names)}")
        name = names[-1]
        alias = names[-2] if len(names) >= 2 else None
        s: Scope | None = self
        alias_seen = False
        while s is not None:
            hits, has_alias = s.find_local(alias, name)
            alias_seen = alias_seen or has_alias
            if len(hits) > 1:
                raise AmbiguousColumn(f'column reference "{".".join(names)}" is ambiguous')
            if hits:
                if frames and s.level < self.level:
                    for f in frames:
                        if s.level < f.level:
                            f.correlated = True
                return s, hits[0]
            if has_alias:
                raise UndefinedColumn(f"column {alias}.{name} does not exist")
            s = s.parent
        if alias is not None and not alias_seen:
            raise UndefinedTable(f'missing FROM-clause entry for table "{alias}"')
        raise UndefinedColumn(f'column "{name}" does not exist')

    def entry_of(self, offset: int) -> Entry | None:
        for e in self.entries:
            if offset in e.offsets:
                return e
        return None

    def star_for(self, alias: str | None) -> list[int]:
        if alias is None:
            return list(self.star)
        s: Scope | None = self
        while s is not None:
            entries = [e for e in s.entries if e.alias == alias]
            if entries:
                if s is not self:
                    raise FeatureNotSupported("outer-level * references are not supported")
                return [o for e in entries for o in e.offsets]
            s = s.parent
        raise UndefinedTable(f'missing FROM-clause entry for table "{alias}"')
