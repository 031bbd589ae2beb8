"""PostgreSQL type OIDs the engine speaks, and SQL type names mapped to them: the front
end's (:mod:`dsql_ray.frontend.types`), which compute builds on."""
from __future__ import annotations

from ..frontend.types import *  # noqa: F401,F403
