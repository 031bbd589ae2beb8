"""COPY's statement and options: what DSQL accepts (FROM STDIN, TO STDOUT), the
options of each format checked as PostgreSQL checks them, and errors with COPY's CONTEXT.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pglast import ast

from ...errors import DsqlError, FeatureNotSupported, InvalidParameterValue, ParseError
from ..parse import option_value


MAX_DISPLAY = 100             # bytes of a line or value shown in an error's CONTEXT


def bad_format(message: str, **kw) -> DsqlError:
    return DsqlError(message, sqlstate="22P04", **kw)


def invalid_option(message: str) -> DsqlError:
    return InvalidParameterValue(message)


def shown(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if len(text.encode()) > MAX_DISPLAY:
        text = text.encode()[:MAX_DISPLAY].decode("utf-8", "ignore") + "..."
    return text


def with_context(exc: DsqlError, context: str) -> DsqlError:
    """PostgreSQL's CONTEXT field (sent as the ErrorResponse 'W' field)."""
    if not getattr(exc, "context", None):
        exc.context = context
    return exc


@dataclass(frozen=True)
class CopyOptions:
    csv: bool = False
    binary: bool = False
    delimiter: bytes = b"\t"
    null: bytes = b"\\N"
    header: bool | str = False            # True, False or "match"
    quote: bytes = b'"'
    escape: bytes = b'"'
    default: bytes | None = None          # PostgreSQL 16: a field that means DEFAULT
    force_not_null: tuple[str, ...] = ()
    force_null: tuple[str, ...] = ()
    force_quote: tuple[str, ...] = ()     # COPY TO, CSV


_TRUE_WORDS = ("true", "on", "yes", "1")


_FALSE_WORDS = ("false", "off", "no", "0")


def _boolean(opt: ast.DefElem, allow_match: bool = False) -> bool | str:
    """PostgreSQL's defGetBoolean (and defGetCopyHeaderChoice for HEADER)."""
    arg = opt.arg
    if arg is None:
        return True
    if isinstance(arg, ast.Boolean):
        return bool(arg.boolval)
    if isinstance(arg, ast.Integer) and arg.ival in (0, 1):
        return bool(arg.ival)
    if isinstance(arg, ast.String):
        word = arg.sval.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        if allow_match and word == "match":
            return "match"
    suffix = ' or "match"' if allow_match else ""
    raise invalid_option(f"{opt.defname} requires a Boolean value{suffix}")


def _string(opt: ast.DefElem) -> str:
    value = option_value(opt, (ast.String, ast.Integer))
    if value is None:
        raise ParseError(f"{opt.defname} requires a string value")
    return str(value)


def _names(opt: ast.DefElem) -> tuple[str, ...]:
    if isinstance(opt.arg, ast.A_Star):
        return ("*",)
    if isinstance(opt.arg, (list, tuple)):
        return tuple(s.sval for s in opt.arg)
    raise ParseError(f"argument to option \"{opt.defname}\" must be a list of column names")


def _one_byte(value: str, what: str) -> bytes:
    raw = value.encode()
    if len(raw) != 1:
        raise FeatureNotSupported(f"COPY {what} must be a single one-byte character")
    return raw


_COPY_OPTIONS = ("format", "delimiter", "null", "header", "quote", "escape", "default",
                 "force_not_null", "force_null", "encoding", "freeze", "force_quote")


def copy_options(options: Any, is_from: bool = True) -> CopyOptions:
    """Validate a CopyStmt's options as PostgreSQL 16's ProcessCopyOptions does."""
    seen: dict[str, ast.DefElem] = {}
    for opt in options or ():
        name = opt.defname
        if name not in _COPY_OPTIONS:
            raise ParseError(f'option "{name}" not recognized')
        if name in seen:
            raise ParseError("conflicting or redundant options")
        seen[name] = opt
    fmt = _string(seen["format"]).lower() if "format" in seen else "text"
    if fmt not in ("text", "csv", "binary"):
        raise invalid_option(f'COPY format "{fmt}" not recognized')
    csv = fmt == "csv"
    _check_mode_options(seen, fmt, is_from)
    delimiter = _one_byte(_string(seen["delimiter"]), "delimiter") if "delimiter" in seen \
        else (b"," if csv else b"\t")
    null = _string(seen["null"]).encode() if "null" in seen else (b"" if csv else b"\\N")
    quote = _one_byte(_string(seen["quote"]), "quote") if "quote" in seen else b'"'
    escape = _one_byte(_string(seen["escape"]), "escape") if "escape" in seen else quote
    default = _string(seen["default"]).encode() if "default" in seen else None
    _check_separators(csv, delimiter, null, quote, default)
    header = _boolean(seen["header"], allow_match=True) if "header" in seen else False
    if header == "match" and not is_from:
        raise FeatureNotSupported('cannot use "match" with HEADER in COPY TO')
    return CopyOptions(
        csv=csv, binary=fmt == "binary", delimiter=delimiter, null=null, header=header,
        quote=quote, escape=escape, default=default,
        force_not_null=_names(seen["force_not_null"]) if "force_not_null" in seen else (),
        force_null=_names(seen["force_null"]) if "force_null" in seen else (),
        force_quote=_names(seen["force_quote"]) if "force_quote" in seen else ())


def _check_mode_options(seen: dict, fmt: str, is_from: bool) -> None:
    """Options the format or the direction does not allow; encoding and freeze."""
    csv = fmt == "csv"
    if fmt == "binary":
        for name in ("delimiter", "null", "default", "header"):
            if name in seen:
                raise ParseError(f"cannot specify {name.upper()} in BINARY mode")
    if "encoding" in seen:
        encoding = _string(seen["encoding"])
        if encoding.upper().replace("-", "").replace("_", "") not in ("UTF8", "UNICODE"):
            raise FeatureNotSupported(f'COPY encoding "{encoding}" is not supported',
                                      hint="Aurora DSQL uses UTF8.")
    if "freeze" in seen:
        _boolean(seen["freeze"])
    for name in ("quote", "escape", "force_not_null", "force_null", "force_quote"):
        if name in seen and not csv:
            raise FeatureNotSupported(f"COPY {name.replace('_', ' ')} available only in "
                                      "CSV mode")
    if "force_quote" in seen and is_from:
        raise FeatureNotSupported("COPY force quote only available using COPY TO")
    for name in ("force_not_null", "force_null", "default"):
        if name in seen and not is_from:
            what = name.replace("_", " ") if name != "default" else "DEFAULT"
            raise FeatureNotSupported(f"COPY {what} only available using COPY FROM")


def _check_separators(csv: bool, delimiter: bytes, null: bytes, quote: bytes,
                      default: bytes | None) -> None:
    """The delimiter, NULL, quote and DEFAULT strings must not clash."""
    if delimiter in b"\r\n":
        raise invalid_option("COPY delimiter cannot be newline or carriage return")
    if b"\r" in null or b"\n" in null:
        raise invalid_option("COPY null representation cannot use newline or carriage "
                              "return")
    if default is not None:
        if b"\r" in default or b"\n" in default:
            raise invalid_option("COPY default representation cannot use newline or "
                                  "carriage return")
        if default == null:
            raise invalid_option("NULL specification and DEFAULT specification cannot be "
                                  "the same")
    if not csv and delimiter in b"\\.abcdefghijklmnopqrstuvwxyz0123456789":
        raise invalid_option(f'COPY delimiter cannot be "{delimiter.decode()}"')
    if csv and delimiter == quote:
        raise invalid_option("COPY delimiter and quote must be different")
    if delimiter in null:
        raise invalid_option("COPY delimiter must not appear in the NULL specification")
    if csv and quote in null:
        raise invalid_option("CSV quote character must not appear in the NULL "
                              "specification")


def check_copy_statement(node: ast.CopyStmt) -> None:
    """COPY goes to and from the client only (``FROM STDIN``, ``TO STDOUT``; psql's
    ``\\copy``): refuse files and programs (0A000), as Aurora DSQL does."""
    way = "FROM" if node.is_from else "TO"
    hint = f"Use COPY ... {way} {'STDIN' if node.is_from else 'STDOUT'} (psql: \\copy)."
    if node.is_program:
        raise FeatureNotSupported(f"COPY {way} PROGRAM is not supported", hint=hint)
    if node.filename is not None:
        raise FeatureNotSupported(f"COPY {way} a file is not supported", hint=hint)
    if node.whereClause is not None:
        raise FeatureNotSupported("COPY FROM ... WHERE is not supported")
