"""Network address types at query time (PostgreSQL 16 manual §9.12): inet and cidr, which
DSQL does not store in columns but computes with. Values are ``ipaddress`` interfaces
(inet: an address with its netmask) and networks (cidr). Casts and text forms are in
sqltypes.py; this module has the functions (host, masklen, network, broadcast, netmask,
hostmask, family, abbrev, set_masklen, text, inet_same_family, inet_merge) and the
operators (``<< <<= >> >>= &&``, ``+``/``-`` an integer, ``inet - inet``, ``~ & |``)."""
from __future__ import annotations

import ipaddress
from typing import Any

from ...errors import DsqlError
from .. import types as T
from . import sqltypes as S
from .functions import _arity, int_arg, no_function, register, strict
from .runtime import Expr

NET_TYPES = (T.INET, T.CIDR)


def _net(v) -> Any:
    """The network an inet or cidr value lies in."""
    return v.network if isinstance(v, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)) \
        else v


def _addr(v) -> Any:
    return v.ip if isinstance(v, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)) \
        else v.network_address


def _arg(c, name, args, a) -> Expr:
    a = c.coerce(a, T.INET)
    if a.oid not in NET_TYPES:
        raise no_function(name, args)
    return a


def _inet(address, prefix: int):
    return ipaddress.ip_interface(f"{address}/{prefix}")


def _same_family(a, b) -> None:
    if a.version != b.version:
        raise DsqlError("cannot merge addresses from different families", sqlstate="22023")


_FUNCTIONS = {
    "host": (lambda v: str(_addr(v)), T.TEXT),
    "masklen": (lambda v: _net(v).prefixlen, T.INT4),
    "family": (lambda v: v.version, T.INT4),
    "network": (lambda v: _net(v), T.CIDR),
    "broadcast": (lambda v: _inet(_net(v).broadcast_address, _net(v).prefixlen), T.INET),
    "netmask": (lambda v: _inet(_net(v).netmask, _net(v).max_prefixlen), T.INET),
    "hostmask": (lambda v: _inet(_net(v).hostmask, _net(v).max_prefixlen), T.INET),
    "text": (lambda v: f"{_addr(v)}/{_net(v).prefixlen}", T.TEXT),
    "abbrev": (lambda v: S.to_text(v) if isinstance(v, (ipaddress.IPv4Interface,
                                                        ipaddress.IPv6Interface))
               else abbrev_cidr(v), T.TEXT),
}


def abbrev_cidr(n) -> str:
    """abbrev(cidr): trailing zero octets of an IPv4 network dropped ('10.1/16')."""
    if n.version != 4:
        return str(n)
    octets = str(n.network_address).split(".")
    keep = max((n.prefixlen + 7) // 8, 1)
    return ".".join(octets[:keep]) + f"/{n.prefixlen}"


@register(*_FUNCTIONS)
def _one_arg(c, args, name):
    _arity(name, args, 1)
    if name == "text" and args[0].oid not in NET_TYPES:
        return c.cast(args[0], T.TEXT)
    impl, ret = _FUNCTIONS[name]
    return strict(impl, [_arg(c, name, args, args[0])], ret)


@register("set_masklen")
def _set_masklen(c, args, name):
    _arity(name, args, 2)
    a = _arg(c, name, args, args[0])

    def set_len(v, n):
        if not 0 <= n <= _net(v).max_prefixlen:
            raise DsqlError(f"invalid mask length: {n}", sqlstate="22023")
        if a.oid == T.CIDR:
            return ipaddress.ip_network(f"{v.network_address}/{n}", strict=False)
        return _inet(v.ip, n)
    return strict(set_len, [a, int_arg(c, name, args, args[1])], a.oid)


@register("inet_same_family")
def _inet_same_family(c, args, name):
    _arity(name, args, 2)
    return strict(lambda a, b: a.version == b.version,
                  [_arg(c, name, args, a) for a in args], T.BOOL)


@register("inet_merge")
def _inet_merge(c, args, name):
    _arity(name, args, 2)

    def merge(a, b):
        _same_family(a, b)
        n = min(_net(a).prefixlen, _net(b).prefixlen)
        while n > 0 and ipaddress.ip_network(f"{_addr(a)}/{n}", strict=False) != \
                ipaddress.ip_network(f"{_addr(b)}/{n}", strict=False):
            n -= 1
        return ipaddress.ip_network(f"{_addr(a)}/{n}", strict=False)
    return strict(merge, [_arg(c, name, args, a) for a in args], T.CIDR)


# -- operators -------------------------------------------------------------------------------
def _contains(outer, inner, strict_: bool) -> bool:
    o, i = _net(outer), _net(inner)
    if o.version != i.version:
        return False
    return i.subnet_of(o) and (not strict_ or i.prefixlen > o.prefixlen)


def _add(v, n: int):
    try:
        ip = _addr(v) + n
    except ipaddress.AddressValueError:
        raise DsqlError("result is out of range", sqlstate="22003") from None
    if isinstance(v, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        return _inet(ip, v.network.prefixlen)
    return _inet(ip, v.prefixlen)


def _bits(op: str):
    def apply(a, b):
        _same_family(a, b)
        x, y = int(_addr(a)), int(_addr(b))
        out = x & y if op == "&" else x | y
        return _inet(ipaddress.ip_address(out) if a.version == 4 else
                     ipaddress.IPv6Address(out), _net(a).max_prefixlen)
    return apply


def _not(v):
    top = (1 << _net(v).max_prefixlen) - 1
    ip = ipaddress.ip_address(top ^ int(_addr(v))) if v.version == 4 else \
        ipaddress.IPv6Address(top ^ int(_addr(v)))
    return _inet(ip, _net(v).prefixlen)


def inet_operator(c, op: str, left: Expr, right: Expr) -> Expr | None:
    """An operator over inet/cidr values; None when neither side is one."""
    if left.oid not in NET_TYPES and right.oid not in NET_TYPES:
        return None
    if op in ("+", "-") and right.oid in S.INTS + (S.UNKNOWN,) and left.oid in NET_TYPES:
        n = c.coerce(right, T.INT8)
        return strict(lambda v, k: _add(v, k if op == "+" else -k), [left, n], T.INET)
    if op == "+" and left.oid in S.INTS:
        return strict(lambda k, v: _add(v, k), [left, right], T.INET)
    a, b = (_arg(c, op, [left, right], x) for x in (left, right))
    if op == "-":
        return strict(lambda x, y: int(_addr(x)) - int(_addr(y)), [a, b], T.INT8)
    table = {"<<": lambda x, y: _contains(y, x, True),
             "<<=": lambda x, y: _contains(y, x, False),
             ">>": lambda x, y: _contains(x, y, True),
             ">>=": lambda x, y: _contains(x, y, False),
             "&&": lambda x, y: _contains(x, y, False) or _contains(y, x, False),
             "&": _bits("&"), "|": _bits("|")}
    if op not in table:
        return None
    return strict(table[op], [a, b], T.INET if op in ("&", "|") else T.BOOL)


def inet_not(c, arg: Expr) -> Expr | None:
    return strict(_not, [arg], T.INET) if arg.oid in NET_TYPES else None
