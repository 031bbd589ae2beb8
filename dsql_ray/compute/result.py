"""What the compute role hands back to the wire layer for one statement: the front
end's backend contract (:mod:`dsql_ray.frontend.backend`), which compute implements."""
from __future__ import annotations

from ..frontend.backend import Column, PreparedInfo, QueryResult, SessionBackend

__all__ = ["Column", "PreparedInfo", "QueryResult", "SessionBackend"]
