"""The one base every role's Ray actor shares: host the role, register with control.

Each role's ``actor.py`` subclasses this with its starter and its ``ray.remote``
options; all role logic stays in plain classes behind the starter.
"""
from __future__ import annotations

from typing import Any

from ..config import ClusterConfig
from ..transport.host import RoleHost
from .directory import RayDirectory


class RoleActor:
    starter: Any = None

    def __init__(self, spec, config_json: str):
        import ray
        config = ClusterConfig.model_validate_json(config_json)
        control = ray.get_actor("control", namespace=config.namespace)
        self._node_id = ray.get_runtime_context().get_node_id()
        self.host = RoleHost(
            spec, config, RayDirectory(control), type(self).starter,
            register=lambda info: control.register.remote(info["name"], info),
            extra_info={"node_id": self._node_id})

    def ready(self) -> dict[str, Any]:
        return self.host.info

    def node_id(self) -> str:
        return self._node_id

    def status(self) -> dict[str, Any]:
        return self.host.status()

    def shutdown(self) -> None:
        self.host.shutdown()
