"""String functions (PostgreSQL 16 manual §9.4) beyond the basics in functions.py, and the
binary string functions (§9.5): bytea's length, substr, encode/decode, get/set_byte,
md5/sha*, convert_to/from, position, trim. Functions that take either text or bytea
dispatch on the first argument's type."""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any, Callable

from ...errors import DsqlError, InvalidParameterValue
from .. import types as T
from . import sqltypes as S
from .functions import (FUNCTIONS, _arity, _sized, _text_args, compiled_regex, int_arg,
                        no_function, output_text, register, strict, substring_of)
from .runtime import Expr

TEXT_ARRAY = S.ARRAY_OF[T.TEXT]


def _bytea(c, name, args, a) -> Expr:
    a = c.coerce(a, T.BYTEA)
    if a.oid != T.BYTEA:
        raise no_function(name, args)
    return a


def _is_bytea(args) -> bool:
    return bool(args) and args[0].oid == T.BYTEA


def _either(name: str, bytea_resolver):
    """Keep ``name``'s text resolver; route calls whose first argument is bytea."""
    text_resolver = FUNCTIONS[name]

    def resolve(c, args, fname):
        return (bytea_resolver if _is_bytea(args) else text_resolver)(c, args, fname)
    FUNCTIONS[name] = resolve


def _bytea_fn(impl, ret, n_int=0):
    def resolve(c, args, name):
        _arity(name, args, 1 + n_int, 1 + n_int)
        conv = [_bytea(c, name, args, args[0])] + \
            [int_arg(c, name, args, a) for a in args[1:]]
        return strict(impl, conv, ret)
    return resolve


# -- bytea -----------------------------------------------------------------------------------
def _bytea_substr(c, args, name):
    _arity(name, args, 2, 3)
    conv = [_bytea(c, name, args, args[0])] + [int_arg(c, name, args, a) for a in args[1:]]
    return strict(substring_of, conv, T.BYTEA)


def _bytea_trim(which: str):
    def resolve(c, args, name):
        _arity(name, args, 1, 2)
        conv = [_bytea(c, name, args, a) for a in args]
        if len(conv) == 1:
            raise no_function(name, args)
        strip = {"btrim": bytes.strip, "ltrim": bytes.lstrip, "rtrim": bytes.rstrip}[which]
        return strict(lambda b, chars: strip(b, chars), conv, T.BYTEA)
    return resolve


def _bytea_position(c, args, name):
    _arity(name, args, 2)
    conv = [_bytea(c, name, args, a) for a in args]
    return strict(lambda b, sub: b.find(sub) + 1, conv, T.INT4)


_either("length", _bytea_fn(len, T.INT4))
_either("octet_length", _bytea_fn(len, T.INT4))
_either("substr", _bytea_substr)
_either("substring", _bytea_substr)
_either("btrim", _bytea_trim("btrim"))
_either("ltrim", _bytea_trim("ltrim"))
_either("rtrim", _bytea_trim("rtrim"))
_either("position", _bytea_position)
_either("strpos", _bytea_position)
_either("md5", _bytea_fn(lambda b: hashlib.md5(b).hexdigest(), T.TEXT))

for _alg in ("sha224", "sha256", "sha384", "sha512"):
    register(_alg)(_bytea_fn(lambda b, h=getattr(hashlib, _alg): h(b).digest(), T.BYTEA))


@register("bit_length")
def _bit_length(c, args, name):
    _arity(name, args, 1)
    if _is_bytea(args):
        return strict(lambda b: 8 * len(b), args, T.INT4)
    return strict(lambda s: 8 * len(s.encode()), _text_args(c, name, args), T.INT4)


def _byte_index(b: bytes, n: int, bits: int = 1) -> None:
    if not 0 <= n < len(b) * bits:
        raise DsqlError(f"index {n} out of valid range, 0..{len(b) * bits - 1}",
                        sqlstate="2202E")


def _get_byte(b: bytes, n: int) -> int:
    _byte_index(b, n)
    return b[n]


def _set_byte(b: bytes, n: int, v: int) -> bytes:
    _byte_index(b, n)
    out = bytearray(b)
    out[n] = v & 0xFF
    return bytes(out)


def _get_bit(b: bytes, n: int) -> int:
    _byte_index(b, n, 8)
    return (b[n // 8] >> (n % 8)) & 1


def _set_bit(b: bytes, n: int, v: int) -> bytes:
    _byte_index(b, n, 8)
    if v not in (0, 1):
        raise InvalidParameterValue("new bit must be 0 or 1")
    out = bytearray(b)
    out[n // 8] = out[n // 8] & ~(1 << (n % 8)) | (v << (n % 8))
    return bytes(out)


register("get_byte")(_bytea_fn(_get_byte, T.INT4, 1))
register("set_byte")(_bytea_fn(_set_byte, T.BYTEA, 2))
register("get_bit")(_bytea_fn(_get_bit, T.INT4, 1))
register("set_bit")(_bytea_fn(_set_bit, T.BYTEA, 2))


def encode(b: bytes, fmt: str) -> str:
    f = fmt.lower()
    if f == "hex":
        return b.hex()
    if f == "base64":
        text = base64.b64encode(b).decode()
        return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    if f == "escape":
        return "".join("\\\\" if x == 0x5C else chr(x) if 0 < x < 0x80 else f"\\{x:03o}"
                       for x in b)
    raise InvalidParameterValue(f'unrecognized encoding: "{fmt}"')


def decode(s: str, fmt: str) -> bytes:
    f = fmt.lower()
    if f == "hex":
        return _decode_hex(s)
    if f == "base64":
        try:
            return base64.b64decode("".join(s.split()), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterValue("invalid base64 end sequence",
                                        hint="Input data is missing padding, is truncated, "
                                        "or is otherwise corrupted.") from None
    if f == "escape":
        return S.cast(s, T.BYTEA) if "\\" in s else s.encode()
    raise InvalidParameterValue(f'unrecognized encoding: "{fmt}"')


def _decode_hex(s: str) -> bytes:
    digits = "".join(s.split())
    bad = re.search(r"[^0-9a-fA-F]", digits)
    if bad:
        raise InvalidParameterValue(f'invalid hexadecimal digit: "{bad.group()}"')
    if len(digits) % 2:
        raise InvalidParameterValue("invalid hexadecimal data: odd number of digits")
    return bytes.fromhex(digits)


@register("encode")
def _encode(c, args, name):
    _arity(name, args, 2)
    return strict(encode, [_bytea(c, name, args, args[0])] + _text_args(c, name, args[1:]),
                  T.TEXT)


@register("decode")
def _decode(c, args, name):
    _arity(name, args, 2)
    return strict(decode, _text_args(c, name, args), T.BYTEA)


_ENCODINGS = {"utf8": "utf-8", "utf-8": "utf-8", "unicode": "utf-8", "latin1": "latin-1",
              "iso88591": "latin-1", "iso_8859_1": "latin-1", "sql_ascii": "ascii",
              "win1252": "cp1252", "latin2": "iso8859-2", "win1251": "cp1251"}


def _codec(enc: str) -> str:
    codec = _ENCODINGS.get(enc.lower().replace("-", "").replace("_", "")) or \
        _ENCODINGS.get(enc.lower())
    if codec is None:
        raise InvalidParameterValue(f'invalid destination encoding name "{enc}"')
    return codec


def _convert_to(s: str, enc: str) -> bytes:
    codec = _codec(enc)
    try:
        return s.encode(codec)
    except UnicodeEncodeError as exc:
        raise DsqlError(f'character with byte sequence {exc.object[exc.start].encode().hex()} '
                        f'in encoding "UTF8" has no equivalent in encoding "{enc.upper()}"',
                        sqlstate="22P05") from None


def _convert_from(b: bytes, enc: str) -> str:
    codec = _codec(enc)
    try:
        return b.decode(codec)
    except UnicodeDecodeError:
        raise DsqlError(f'invalid byte sequence for encoding "{enc.upper()}"',
                        sqlstate="22021") from None


@register("convert_to")
def _convert_to_fn(c, args, name):
    _arity(name, args, 2)
    return strict(_convert_to, _text_args(c, name, args), T.BYTEA)


@register("convert_from")
def _convert_from_fn(c, args, name):
    _arity(name, args, 2)
    return strict(_convert_from, [_bytea(c, name, args, args[0])] +
                  _text_args(c, name, args[1:]), T.TEXT)


@register("convert")
def _convert_fn(c, args, name):
    _arity(name, args, 3)
    conv = [_bytea(c, name, args, args[0])] + _text_args(c, name, args[1:])
    return strict(lambda b, src, dst: _convert_to(_convert_from(b, src), dst), conv, T.BYTEA)


# -- text ------------------------------------------------------------------------------------
def _text_fn(name: str, impl: Callable[..., Any], lo: int, hi: int | None = None,
             ret: int = T.TEXT, ints: tuple[int, ...] = ()):
    @register(name)
    def resolve(c, args, fname):
        _arity(fname, args, lo, hi if hi is not None else lo)
        conv = [int_arg(c, fname, args, a) if i in ints else _text_args(c, fname, [a])[0]
                for i, a in enumerate(args)]
        return strict(impl, conv, ret)
    return resolve


def translate(s: str, frm: str, to: str) -> str:
    table: dict[int, int | None] = {}
    for i, ch in enumerate(frm):
        if ord(ch) not in table:
            table[ord(ch)] = ord(to[i]) if i < len(to) else None
    return s.translate(table)


def quote_ident(s: str) -> str:
    if re.fullmatch(r"[a-z_][a-z0-9_$]*", s) and s not in _RESERVED:
        return s
    return '"' + s.replace('"', '""') + '"'


#: reserved key words quote_ident quotes (PostgreSQL's RESERVED_KEYWORD list, the usual ones)
_RESERVED = frozenset(
    "all analyse analyze and any array as asc asymmetric both case cast check collate column "
    "constraint create current_catalog current_date current_role current_time "
    "current_timestamp current_user default deferrable desc distinct do else end except "
    "false fetch for foreign from grant group having in initially intersect into lateral "
    "leading limit localtime localtimestamp not null offset on only or order placing primary "
    "references returning select session_user some symmetric system_user table then to "
    "trailing true union unique user using variadic when where window with".split())


def quote_literal(s: str) -> str:
    body = s.replace("'", "''")
    if "\\" in body:
        return "E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


def _overlay(s: str, r: str, start: int, count: int | None = None) -> str:
    if count is None:
        count = len(r)
    if start < 1:
        raise DsqlError("negative substring length not allowed", sqlstate="22011")
    return s[:start - 1] + r + s[start - 1 + count:]


def to_hex(v: int, width: int) -> str:
    return format(v & ((1 << width) - 1), "x")


_text_fn("translate", translate, 3)
_text_fn("quote_ident", quote_ident, 1)
_text_fn("overlay", _overlay, 3, 4, ints=(2, 3))
_UNISTR = re.compile(r"\\\\|\\(?:u?([0-9a-fA-F]{4})|\+([0-9a-fA-F]{6})|U([0-9a-fA-F]{8}))")
_text_fn("unistr", lambda s: _UNISTR.sub(
    lambda m: chr(int(m[1] or m[2] or m[3], 16)) if m.group(0) != "\\\\" else "\\", s), 1)


@register("quote_literal", "quote_nullable")
def _quote_literal(c, args, name):
    _arity(name, args, 1)
    a = c.coerce(args[0], T.TEXT)
    f = a.fn
    if name == "quote_nullable":
        return Expr(lambda row, env: "NULL" if (v := f(row, env)) is None
                    else quote_literal(S.to_text(v)), T.TEXT, a.const)
    return strict(lambda v: quote_literal(output_text(v)), [a], T.TEXT)


@register("to_hex")
def _to_hex(c, args, name):
    _arity(name, args, 1)
    a = int_arg(c, name, args, args[0])
    width = 64 if a.oid == T.INT8 else 32
    return strict(lambda v: to_hex(v, width), [a], T.TEXT)


# -- format() ---------------------------------------------------------------------------------
_SPEC = re.compile(r"%(?:(\d+)\$)?(-)?(\d+|\*)?([sIL%])?")


def format_text(fmt: str, values: list) -> str:
    """format(): %s, %I, %L with optional ``n$`` position, ``-`` flag and width."""
    out, pos, nxt = [], 0, 0
    for m in _SPEC.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        argn, minus, width, kind = m.groups()
        if kind is None:
            raise InvalidParameterValue("unterminated format() type specifier",
                                        hint='For a single "%" use "%%".')
        if kind == "%":
            out.append("%")
            continue
        if width == "*":
            raise InvalidParameterValue("format() width from an argument is not supported")
        index = int(argn) - 1 if argn else nxt
        if index < 0 or index >= len(values):
            raise DsqlError("too few arguments for format()", sqlstate="22023")
        nxt = index + 1
        v = values[index]
        text = _format_one(kind, v)
        w = int(width) if width else 0
        _sized(w)
        out.append(text.ljust(w) if minus else text.rjust(w))
    out.append(fmt[pos:])
    return "".join(out)


def _format_one(kind: str, v) -> str:
    if kind == "s":
        return "" if v is None else output_text(v)
    if kind == "I":
        if v is None:
            raise DsqlError("null values cannot be formatted as an SQL identifier",
                            sqlstate="22004")
        return quote_ident(output_text(v))
    return "NULL" if v is None else quote_literal(output_text(v))


@register("format")
def _format(c, args, name):
    if not args:
        raise no_function(name, args)
    fmt = _text_args(c, name, args[:1])[0]
    rest = [c.to_output(a) for a in args[1:]]
    ff, fns = fmt.fn, [a.fn for a in rest]

    def fn(row, env):
        f = ff(row, env)
        return None if f is None else format_text(f, [g(row, env) for g in fns])
    return Expr(fn, T.TEXT, all(a.const for a in args))


# -- regular expressions ---------------------------------------------------------------------
def _flags(flags: str) -> tuple[int, bool]:
    """Python re flags and 'global' from PostgreSQL's regexp flags."""
    out, glob = 0, False
    for ch in flags:
        if ch == "i":
            out |= re.IGNORECASE
        elif ch == "c":
            out &= ~re.IGNORECASE
        elif ch == "g":
            glob = True
        elif ch in "nmpw":
            out |= re.MULTILINE
        elif ch == "x":
            out |= re.VERBOSE
        elif ch not in "qst":
            raise InvalidParameterValue(f'invalid regular expression option: "{ch}"')
    return out, glob


def _pattern(pat: str, flags: str):
    f, glob = _flags(flags)
    return compiled_regex("regex", pat, f), glob


def _replacement(rep: str):
    """PostgreSQL's \\1..\\9 and \\& in a replacement, as a function of the match."""
    parts = re.split(r"(\\[0-9&\\])", rep)

    def expand(m: re.Match) -> str:
        out = []
        for p in parts:
            if len(p) == 2 and p[0] == "\\":
                if p[1] == "&":
                    out.append(m.group(0))
                elif p[1] == "\\":
                    out.append("\\")
                else:
                    n = int(p[1])
                    out.append((m.group(n) or "") if n <= (m.re.groups) else "")
            else:
                out.append(p)
        return "".join(out)
    return expand


def regexp_replace(s: str, pat: str, rep: str, flags: str = "") -> str:
    rx, glob = _pattern(pat, flags)
    return rx.sub(_replacement(rep), s, count=0 if glob else 1)


def regexp_match(s: str, pat: str, flags: str = "") -> list | None:
    rx, glob = _pattern(pat, flags)
    if glob:
        raise InvalidParameterValue("regexp_match() does not support the \"global\" option",
                                    hint="Use the regexp_matches function instead.")
    m = rx.search(s)
    if m is None:
        return None
    return list(m.groups()) if rx.groups else [m.group(0)]


def regexp_matches(s: str, pat: str, flags: str = "") -> list[list]:
    """Each match's groups (or the whole match): all of them with 'g', else the first."""
    rx, glob = _pattern(pat, flags)
    found = []
    for m in rx.finditer(s):
        found.append(list(m.groups()) if rx.groups else [m.group(0)])
        if not glob:
            break
    return found


def regexp_split(s: str, pat: str, flags: str = "") -> list[str]:
    rx, glob = _pattern(pat, flags)
    if glob:
        raise InvalidParameterValue("regexp_split_to_table() does not support the \"global\" "
                                    "option")
    out, pos = [], 0
    for m in rx.finditer(s):
        if m.end() == m.start() and (m.start() == 0 or m.start() >= len(s)):
            continue            # an empty match at either end splits nothing
        if m.end() == m.start() == pos and out == [] and pos == 0:
            continue
        out.append(s[pos:m.start()])
        pos = m.end()
    out.append(s[pos:])
    return out


_text_fn("regexp_match", regexp_match, 2, 3, ret=TEXT_ARRAY)
_text_fn("regexp_split_to_array", regexp_split, 2, 3, ret=TEXT_ARRAY)
_text_fn("regexp_like", lambda s, p, f="": _pattern(p, f)[0].search(s) is not None, 2, 3,
         ret=T.BOOL)


def _matches(s: str, pat: str, start: int, flags: str) -> list[re.Match]:
    """The matches of ``pat`` in ``s`` from 1-based ``start`` (PostgreSQL 15's regexp_*
    functions; 'g' is not an option of theirs)."""
    if start < 1:
        raise InvalidParameterValue(f'invalid value for parameter "start": {start}')
    rx, glob = _pattern(pat, flags)
    if glob:
        raise InvalidParameterValue('invalid regular expression option: "g"')
    return list(rx.finditer(s, start - 1))


def _nth(found: list[re.Match], n: int) -> re.Match | None:
    if n < 1:
        raise InvalidParameterValue(f'invalid value for parameter "n": {n}')
    return found[n - 1] if n <= len(found) else None


def regexp_count(s, pat, start=1, flags=""):
    return len(_matches(s, pat, start, flags))


def regexp_substr(s, pat, start=1, n=1, flags="", sub=0):
    m = _nth(_matches(s, pat, start, flags), n)
    return None if m is None or sub > (m.re.groups or 0) else m.group(sub)


def regexp_instr(s, pat, start=1, n=1, endoption=0, flags="", sub=0):
    m = _nth(_matches(s, pat, start, flags), n)
    if m is None or sub > (m.re.groups or 0) or m.start(sub) < 0:
        return 0
    return (m.end(sub) if endoption else m.start(sub)) + 1


def regexp_replace_n(s, pat, rep, start, n=0, flags=""):
    """regexp_replace from ``start``: the ``n``th match, or every match when ``n`` is 0."""
    found = _matches(s, pat, start, flags.replace("g", ""))
    chosen = found if n == 0 else [m for m in [_nth(found, n)] if m is not None]
    expand, out, pos = _replacement(rep), [], 0
    for m in chosen:
        out += [s[pos:m.start()], expand(m)]
        pos = m.end()
    return "".join(out) + s[pos:]


_REGEXP_ARGS = {"regexp_count": (regexp_count, 2, 4, (2,), T.INT4),
                "regexp_substr": (regexp_substr, 2, 6, (2, 3, 5), T.TEXT),
                "regexp_instr": (regexp_instr, 2, 7, (2, 3, 4, 6), T.INT4)}


@register("regexp_count", "regexp_substr", "regexp_instr")
def _regexp_positional(c, args, name):
    impl, lo, hi, ints, ret = _REGEXP_ARGS[name]
    _arity(name, args, lo, hi)
    conv = [int_arg(c, name, args, a) if i in ints else _text_args(c, name, [a])[0]
            for i, a in enumerate(args)]
    return strict(impl, conv, ret)


@register("regexp_replace")
def _regexp_replace(c, args, name):
    _arity(name, args, 3, 6)
    if len(args) == 4 and args[3].oid not in S.INTS:          # (s, pattern, rep, flags)
        return strict(regexp_replace, _text_args(c, name, args), T.TEXT)
    conv = [int_arg(c, name, args, a) if i in (3, 4) else _text_args(c, name, [a])[0]
            for i, a in enumerate(args)]
    if len(conv) == 3:
        return strict(regexp_replace, conv, T.TEXT)
    return strict(regexp_replace_n, conv, T.TEXT)


def string_to_array(s: str, delim: str | None, null: str | None = None) -> list:
    if s == "":
        return []
    if delim is None:
        parts = list(s)
    elif delim == "":
        parts = [s]
    else:
        parts = s.split(delim)
    return [None if null is not None and p == null else p for p in parts]


@register("string_to_array")
def _string_to_array(c, args, name):
    _arity(name, args, 2, 3)
    conv = _text_args(c, name, args)
    fns = [a.fn for a in conv]

    def fn(row, env):
        vals = [f(row, env) for f in fns]
        return None if vals[0] is None else string_to_array(*vals)
    return Expr(fn, TEXT_ARRAY, all(a.const for a in conv))
