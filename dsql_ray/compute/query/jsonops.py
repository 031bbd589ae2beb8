"""JSON at query time: PostgreSQL's json/jsonb operators and the common functions.

DSQL has no json columns, but queries may cast text to json/jsonb and take documents
apart. Values of both types are carried as JSON text (jsonb normalized, see
``values._json``); an operator parses its operand, navigates, and answers JSON text
(``->``, ``#>``), SQL text (``->>``, ``#>>``) or a boolean (``@>``, ``<@``, ``?``,
``?|``, ``?&``). A JSON ``null`` reached by ``->>`` is SQL NULL, as in PostgreSQL.
"""
from __future__ import annotations

import decimal
import json
from functools import lru_cache
from typing import Any

from ...errors import InvalidParameterValue
from .. import types as T
from . import sqltypes as S
from .functions import _arity, no_function, register, strict
from .runtime import Expr

JSON_TYPES = (T.JSON, T.JSONB)
TEXT_ARRAY = S.ARRAY_OF[T.TEXT]
_MISSING = object()


@lru_cache(maxsize=256)
def parse(text: str) -> Any:
    return json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal)


def dump(value: Any) -> str:
    return S.jsonb_text(value)


def _as_text(value: Any) -> str | None:
    """``->>``: strings unquoted, JSON null as SQL NULL, anything else as JSON text."""
    if value is None:
        return None
    return value if isinstance(value, str) else dump(value)


def _step(doc: Any, key: Any) -> Any:
    """One step of a path: an object's member or an array's element (negative from the
    end), or _MISSING."""
    if isinstance(doc, list):
        if isinstance(key, str):
            try:
                key = int(key)
            except ValueError:
                return _MISSING
        if isinstance(key, int) and -len(doc) <= key < len(doc):
            return doc[key]
        return _MISSING
    if isinstance(doc, dict) and isinstance(key, str):
        return doc.get(key, _MISSING)
    return _MISSING


def _path(doc: Any, keys: list) -> Any:
    for k in keys:
        if k is None:
            return _MISSING
        doc = _step(doc, k)
        if doc is _MISSING:
            return _MISSING
    return doc


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true/false are not the numbers 1/0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return type(a) is type(b) and a == b


def contains(a: Any, b: Any, top: bool = True) -> bool:
    """jsonb ``a @> b``."""
    if isinstance(b, dict):
        return isinstance(a, dict) and all(k in a and contains(a[k], v, False)
                                           for k, v in b.items())
    if isinstance(b, list):
        return isinstance(a, list) and all(any(contains(x, y, False) for x in a) for y in b)
    if isinstance(a, list) and top:          # an array contains a primitive it holds
        return any(_same(x, b) for x in a)
    return _same(a, b)


def _has_key(doc: Any, key: str) -> bool:
    if isinstance(doc, dict):
        return key in doc
    if isinstance(doc, list):
        return any(isinstance(x, str) and x == key for x in doc)
    return isinstance(doc, str) and doc == key


def _getter(doc: Expr, where: Expr, walk, as_text: bool) -> Expr:
    """``doc -> key`` / ``doc #> path`` (JSON of the document's type) or their ``>>``
    forms (text): ``walk`` takes the parsed document one key or a whole path down."""
    def get(text, w):
        v = walk(parse(text), w)
        if v is _MISSING:
            return None
        return _as_text(v) if as_text else dump(v)
    return strict(get, [doc, where], T.TEXT if as_text else doc.oid)


def json_operator(c, op: str, left: Expr, right: Expr) -> Expr | None:
    """The Expr for ``left op right`` when ``left`` is json/jsonb, else None."""
    if left.oid not in JSON_TYPES:
        if op == "<@" and right.oid in JSON_TYPES:
            left = c.coerce(left, right.oid)
            return json_operator(c, "@>", right, left) if left.oid in JSON_TYPES else None
        return None
    oid = left.oid
    if op in ("->", "->>"):
        if right.oid in S.INTS:
            key = right
        else:
            key = c.coerce(right, T.TEXT)
            if S.category(key.oid) != "S":
                return None
        return _getter(left, key, _step, op == "->>")
    if op in ("#>", "#>>"):
        path = c.coerce(right, TEXT_ARRAY)
        if path.oid != TEXT_ARRAY:
            return None
        return _getter(left, path, _path, op == "#>>")
    if oid != T.JSONB:
        return None
    if op in ("@>", "<@"):
        other = c.coerce(right, T.JSONB)
        if other.oid != T.JSONB:
            return None
        if op == "@>":
            return strict(lambda a, b: contains(parse(a), parse(b)), [left, other], T.BOOL)
        return strict(lambda a, b: contains(parse(b), parse(a)), [left, other], T.BOOL)
    if op == "?":
        key = c.coerce(right, T.TEXT)
        if S.category(key.oid) != "S":
            return None
        return strict(lambda a, k: _has_key(parse(a), k), [left, key], T.BOOL)
    if op in ("?|", "?&"):
        keys = c.coerce(right, TEXT_ARRAY)
        if keys.oid != TEXT_ARRAY:
            return None
        test = any if op == "?|" else all
        return strict(lambda a, ks: test(_has_key(parse(a), k) for k in ks if k is not None),
                      [left, keys], T.BOOL)
    return None


# -- functions ------------------------------------------------------------------------------
def _json_arg(c, name: str, args: list[Expr], i: int = 0) -> Expr:
    a = args[i]
    if a.oid in (S.UNKNOWN, 0):
        return c.coerce(a, T.JSONB if name.startswith("jsonb") else T.JSON)
    if a.oid not in JSON_TYPES:
        raise no_function(name, args)
    return a


_TYPEOF = ((dict, "object"), (list, "array"), (str, "string"), (bool, "boolean"),
           (decimal.Decimal, "number"))


@register("json_typeof", "jsonb_typeof")
def _typeof(c, args, name):
    _arity(name, args, 1)

    def typeof(doc):
        v = parse(doc)
        if v is None:
            return "null"
        return next(label for kind, label in _TYPEOF if isinstance(v, kind))
    return strict(typeof, [_json_arg(c, name, args)], T.TEXT)


@register("json_array_length", "jsonb_array_length")
def _array_length(c, args, name):
    _arity(name, args, 1)

    def length(doc):
        v = parse(doc)
        if not isinstance(v, list):
            what = "a non-array" if name.startswith("json_") or isinstance(v, dict) \
                else "a scalar"
            raise InvalidParameterValue(f"cannot get array length of {what}")
        return len(v)
    return strict(length, [_json_arg(c, name, args)], T.INT4)


@register("json_extract_path", "jsonb_extract_path", "json_extract_path_text",
          "jsonb_extract_path_text")
def _extract_path(c, args, name):
    if not args:
        raise no_function(name, args)
    doc = _json_arg(c, name, args)
    keys = [c.coerce(a, T.TEXT) for a in args[1:]]
    as_text = name.endswith("_text")
    oid = T.TEXT if as_text else doc.oid
    fns = [k.fn for k in keys]
    dfn = doc.fn

    def fn(row, env):
        d = dfn(row, env)
        if d is None:
            return None
        v = _path(parse(d), [f(row, env) for f in fns])
        if v is _MISSING:
            return None
        return _as_text(v) if as_text else dump(v)
    return Expr(fn, oid)


@register("to_json", "to_jsonb")
def _to_json(c, args, name):
    _arity(name, args, 1)
    a = c.coerce(args[0], T.TEXT) if args[0].oid in (S.UNKNOWN, 0) else args[0]
    src, oid = a.oid, (T.JSONB if name == "to_jsonb" else T.JSON)
    f = a.fn

    def fn(row, env):
        text = S.to_json(f(row, env), src)
        return dump(parse(text)) if oid == T.JSONB else text
    return Expr(fn, oid)


@register("jsonb_pretty")
def _pretty(c, args, name):
    _arity(name, args, 1)

    def pretty(doc):
        return _pretty_text(parse(doc), 0)
    return strict(pretty, [_json_arg(c, name, args)], T.TEXT)


def _pretty_text(v: Any, depth: int) -> str:
    pad, inner = "    " * depth, "    " * (depth + 1)
    if isinstance(v, dict) and v:
        keys = sorted(v, key=lambda k: (len(k.encode()), k.encode()))
        body = ",\n".join(f"{inner}{json.dumps(k, ensure_ascii=False)}: "
                          f"{_pretty_text(v[k], depth + 1)}" for k in keys)
        return "{\n" + body + "\n" + pad + "}"
    if isinstance(v, list) and v:
        body = ",\n".join(inner + _pretty_text(x, depth + 1) for x in v)
        return "[\n" + body + "\n" + pad + "]"
    return dump(v)


# -- building and modifying jsonb ------------------------------------------------------------
def concat(a: Any, b: Any) -> Any:
    """jsonb || jsonb: objects merge (the right wins), anything else as arrays."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {**a, **b}
    return (a if isinstance(a, list) else [a]) + (b if isinstance(b, list) else [b])


def delete(doc: Any, key: Any) -> Any:
    """jsonb - text (a key, or matching strings of an array), - integer (an element), -
    text[] (keys)."""
    if isinstance(key, list):
        for k in key:
            if k is not None:
                doc = delete(doc, k)
        return doc
    if isinstance(key, int):
        if isinstance(doc, dict):
            raise InvalidParameterValue("cannot delete from object using integer index")
        if not isinstance(doc, list):
            raise InvalidParameterValue("cannot delete from scalar")
        i = key + len(doc) if key < 0 else key
        return [v for j, v in enumerate(doc) if j != i]
    if isinstance(doc, dict):
        return {k: v for k, v in doc.items() if k != key}
    if isinstance(doc, list):
        return [v for v in doc if v != key or not isinstance(v, str)]
    raise InvalidParameterValue("cannot delete from scalar")


def json_modify_operator(c, op: str, left: Expr, right: Expr) -> Expr | None:
    """jsonb ``||`` and ``-``; None when ``left`` is not jsonb."""
    if left.oid != T.JSONB and not (op == "||" and right.oid == T.JSONB):
        return None
    if op == "||":
        a, b = c.coerce(left, T.JSONB), c.coerce(right, T.JSONB)
        if a.oid != T.JSONB or b.oid != T.JSONB:
            return None
        return strict(lambda x, y: dump(concat(parse(x), parse(y))), [a, b], T.JSONB)
    key = right if right.oid in S.INTS or right.oid == TEXT_ARRAY else c.coerce(right, T.TEXT)
    if key.oid not in S.INTS and key.oid not in (T.TEXT, TEXT_ARRAY):
        return None
    return strict(lambda x, k: dump(delete(parse(x), k)), [left, key], T.JSONB)


@register("json_build_array", "jsonb_build_array")
def _build_array(c, args, name):
    conv = [c.to_output(a) for a in args]
    fns, oids = [a.fn for a in conv], [a.oid for a in conv]
    jsonb = name.startswith("jsonb")

    def build(row, env):
        items = [S.to_json(f(row, env), o) for f, o in zip(fns, oids)]
        if jsonb:
            return dump([parse(x) for x in items])
        return "[" + ", ".join(items) + "]"
    return Expr(build, T.JSONB if jsonb else T.JSON, all(a.const for a in args))


def strip_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: strip_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [strip_nulls(x) for x in v]
    return v


@register("jsonb_strip_nulls")
def _strip_nulls(c, args, name):
    _arity(name, args, 1)
    return strict(lambda d: dump(strip_nulls(parse(d))), [_json_arg(c, name, args)], T.JSONB)


def set_path(doc: Any, path: list, value: Any, create: bool) -> Any:
    """jsonb_set: replace (or, with ``create``, add) the item at ``path``."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(doc, dict):
        if key not in doc and (rest or not create):
            return doc
        out = dict(doc)
        out[key] = set_path(doc.get(key), rest, value, create) if key in doc else value
        return out
    if isinstance(doc, list):
        try:
            i = int(key)
        except (TypeError, ValueError):
            raise InvalidParameterValue(f'path element at position 1 is not an integer: '
                                        f'"{key}"') from None
        n = len(doc)
        j = i + n if i < 0 else i
        if 0 <= j < n:
            return doc[:j] + [set_path(doc[j], rest, value, create)] + doc[j + 1:]
        if create and not rest:
            return [value] + doc if j < 0 else doc + [value]
        return doc
    if rest or path:
        raise InvalidParameterValue("cannot set path in scalar")
    return doc


@register("jsonb_set")
def _jsonb_set(c, args, name):
    _arity(name, args, 3, 4)
    doc = _json_arg(c, name, args)
    path = c.coerce(args[1], TEXT_ARRAY)
    new = _json_arg(c, name, args, 2)
    create = [c.coerce(args[3], T.BOOL)] if len(args) == 4 else []
    if path.oid != TEXT_ARRAY:
        raise no_function(name, args)
    return strict(lambda d, p, v, cr=True: dump(set_path(parse(d), p, parse(v), cr)),
                  [doc, path, new] + create, T.JSONB)
