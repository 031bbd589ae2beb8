"""Array functions and operators (PostgreSQL 16 manual §9.19) over one-dimensional
arrays (Python lists, lower bound 1): array_length/upper/lower, cardinality, array_dims,
array_ndims, array_to_string, array_append/prepend/cat, array_position(s), array_remove,
array_replace, trim_array, and the operators ``||``, ``@>``, ``<@``, ``&&``
(:func:`array_operator`). unnest and generate_subscripts are in srfs.py."""
from __future__ import annotations

from typing import Any

from ...errors import DsqlError
from .. import types as T
from . import sqltypes as S
from .functions import _arity, int_arg, no_function, register, strict
from .runtime import Expr
from .functions import output_text
from .textfuncs import TEXT_ARRAY


def _array(c, name, args, a, like: Expr | None = None) -> Expr:
    """An array argument; an untyped one takes ``like``'s array type (else text[])."""
    if a.oid in (S.UNKNOWN, 0):
        a = c.coerce(a, like.oid if like is not None and S.element_type(like.oid)
                     else TEXT_ARRAY)
    if S.element_type(a.oid) is None:
        raise no_function(name, args)
    return a


def _element(c, name, args, arr: Expr, e: Expr) -> Expr:
    elem = S.element_type(arr.oid)
    e = c.coerce(e, elem)
    if e.oid != elem:
        if S.category(e.oid) != S.category(elem):
            raise no_function(name, args)
        e = c.cast(e, elem)
    return e


def _not_strict(impl, args: list[Expr], oid: int) -> Expr:
    """A call that sees NULL arguments (array_append(NULL, 1) is {1})."""
    fns = [a.fn for a in args]
    return Expr(lambda row, env: impl(*[f(row, env) for f in fns]), oid,
                all(a.const for a in args))


@register("array_length", "array_upper")
def _array_length(c, args, name):
    _arity(name, args, 2)
    arr = _array(c, name, args, args[0])
    return strict(lambda v, d: (len(v) or None) if d == 1 else None,
                  [arr, c.coerce(args[1], T.INT4)], T.INT4)


@register("array_lower")
def _array_lower(c, args, name):
    _arity(name, args, 2)
    arr = _array(c, name, args, args[0])
    return strict(lambda v, d: 1 if d == 1 and v else None, [arr, c.coerce(args[1], T.INT4)],
                  T.INT4)


@register("cardinality")
def _cardinality(c, args, name):
    _arity(name, args, 1)
    return strict(len, [_array(c, name, args, args[0])], T.INT4)


@register("array_ndims")
def _array_ndims(c, args, name):
    _arity(name, args, 1)
    return strict(lambda v: 1 if v else None, [_array(c, name, args, args[0])], T.INT4)


@register("array_dims")
def _array_dims(c, args, name):
    _arity(name, args, 1)
    return strict(lambda v: f"[1:{len(v)}]" if v else None, [_array(c, name, args, args[0])],
                  T.TEXT)


@register("array_to_string")
def _array_to_string(c, args, name):
    _arity(name, args, 2, 3)
    arr = _array(c, name, args, args[0])
    sep = c.coerce(args[1], T.TEXT)
    null = c.coerce(args[2], T.TEXT) if len(args) == 3 else None

    def fn(row, env):
        v, s = arr.fn(row, env), sep.fn(row, env)
        if v is None or s is None:
            return None
        n = null.fn(row, env) if null is not None else None
        return s.join(output_text(x) if x is not None else n for x in v
                      if x is not None or n is not None)
    return Expr(fn, T.TEXT, arr.const and sep.const and (null is None or null.const))


@register("array_append", "array_prepend")
def _array_append(c, args, name):
    _arity(name, args, 2)
    a_pos = 0 if name == "array_append" else 1
    arr = _array(c, name, args, args[a_pos])
    elem = _element(c, name, args, arr, args[1 - a_pos])
    if name == "array_append":
        return _not_strict(lambda v, e: (v or []) + [e], [arr, elem], arr.oid)
    return _not_strict(lambda e, v: [e] + (v or []), [elem, arr], arr.oid)


@register("array_cat")
def _array_cat(c, args, name):
    _arity(name, args, 2)
    known = next((a for a in args if S.element_type(a.oid)), None)
    a, b = (_array(c, name, args, x, known) for x in args)
    if a.oid != b.oid:
        raise no_function(name, args)
    return _not_strict(lambda x, y: None if x is None and y is None else (x or []) + (y or []),
                       [a, b], a.oid)


def _positions(v: list, e: Any) -> list[int]:
    return [i for i, x in enumerate(v, 1) if x == e or (x is None and e is None)]


@register("array_position")
def _array_position(c, args, name):
    _arity(name, args, 2, 3)
    arr = _array(c, name, args, args[0])
    elem = _element(c, name, args, arr, args[1])
    start = [int_arg(c, name, args, args[2])] if len(args) == 3 else []

    def pos(v, e, s=1):
        if v is None or s is None:
            return None
        return next((i for i in _positions(v, e) if i >= s), None)
    return _not_strict(pos, [arr, elem] + start, T.INT4)


@register("array_positions")
def _array_positions(c, args, name):
    _arity(name, args, 2)
    arr = _array(c, name, args, args[0])
    elem = _element(c, name, args, arr, args[1])
    return _not_strict(lambda v, e: None if v is None else _positions(v, e), [arr, elem],
                       S.ARRAY_OF[T.INT4])


@register("array_remove")
def _array_remove(c, args, name):
    _arity(name, args, 2)
    arr = _array(c, name, args, args[0])
    elem = _element(c, name, args, arr, args[1])
    return _not_strict(lambda v, e: None if v is None else
                       [x for i, x in enumerate(v, 1) if i not in set(_positions(v, e))],
                       [arr, elem], arr.oid)


@register("array_replace")
def _array_replace(c, args, name):
    _arity(name, args, 3)
    arr = _array(c, name, args, args[0])
    old, new = (_element(c, name, args, arr, a) for a in args[1:])

    def replace(v, o, n):
        if v is None:
            return None
        hits = set(_positions(v, o))
        return [n if i in hits else x for i, x in enumerate(v, 1)]
    return _not_strict(replace, [arr, old, new], arr.oid)


@register("trim_array")
def _trim_array(c, args, name):
    _arity(name, args, 2)
    arr = _array(c, name, args, args[0])

    def trim(v, n):
        if not 0 <= n <= len(v):
            raise DsqlError("number of elements to trim must be between 0 and "
                            f"{len(v)}", sqlstate="2202E")
        return v[:len(v) - n]
    return strict(trim, [arr, int_arg(c, name, args, args[1])], arr.oid)


# -- operators ------------------------------------------------------------------------------
def _contains(a: list, b: list) -> bool:
    """a @> b: every element of b is in a (NULL elements never match)."""
    return all(x is not None and x in a for x in b)


def array_operator(c, op: str, left: Expr, right: Expr) -> Expr | None:
    """``||``, ``@>``, ``<@``, ``&&`` when an operand is an array; None otherwise."""
    la, ra = S.element_type(left.oid) is not None, S.element_type(right.oid) is not None
    if not (la or ra) or op not in ("||", "@>", "<@", "&&"):
        return None
    if op == "||":
        if la and (ra or right.oid in (S.UNKNOWN, 0)) or ra and left.oid in (S.UNKNOWN, 0):
            return _array_cat(c, [left, right], "array_cat")
        return _array_append(c, [left, right], "array_append" if la else "array_prepend")
    known = left if la else right
    a, b = (_array(c, op, [left, right], x, known) for x in (left, right))
    if a.oid != b.oid:
        raise c._no_operator(op, a, b)
    impl = {"@>": _contains, "<@": lambda x, y: _contains(y, x),
            "&&": lambda x, y: any(e is not None and e in x for e in y)}[op]
    return strict(impl, [a, b], T.BOOL)

