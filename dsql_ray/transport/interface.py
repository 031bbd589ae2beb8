"""Typed requests between roles, as FoundationDB's roles declare theirs.

Each role's ``interface.py`` declares one NamedTuple per request, marked with
:func:`request`: the ``rpc_<method>`` of the role that serves it, and its reply (a
NamedTuple the reply tuple becomes, or a plain type documenting a value returned as
is). Callers build a request and :func:`ask` a client (``RpcClient``, or the
simulation's ``SimClient``) for it; the role's handler takes the request's fields as
its parameters, in order (``tests/unit/test_interfaces.py`` checks every pair).

The wire is unchanged: a request travels as ``(method, fields)``, a reply as the plain
value, so typing costs one tuple unpack per call and one NamedTuple per tuple reply.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

R = TypeVar("R", bound=type)

#: every declared request class, by role
REQUESTS: dict[str, list[type]] = {}


def request(role: str, method: str, reply: Any = None) -> Callable[[R], R]:
    """Class decorator for a NamedTuple request served by ``role``'s ``rpc_<method>``."""
    def mark(cls: R) -> R:
        cls.ROLE, cls.METHOD, cls.REPLY = role, method, reply
        cls.MAKE = reply._make if isinstance(reply, type) and hasattr(reply, "_make") else None
        REQUESTS.setdefault(role, []).append(cls)
        return cls
    return mark


async def ask(client: Any, req: Any, *, timeout: float | None = None) -> Any:
    """Send ``req`` to the role behind ``client``; its typed reply."""
    value = await client.call(req.METHOD, *req, timeout=timeout)
    make = req.MAKE
    return value if make is None or value is None else make(value)
