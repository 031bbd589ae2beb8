"""The one base every role actor shares: host the role, register with control.

Each role's ``actor.py`` subclasses this with its starter and its ``ray.remote``
options; all role logic stays in plain classes behind the starter.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import ClusterConfig
from ..transport.host import DATAPLANE_HOST_ENV, RoleHost
from .control import HEARTBEAT_S
from .directory import RayDirectory


def install_files(data_dir: Path, files: dict[str, str] | None) -> None:
    """Write the cluster's shared files (its id, trusted credentials, TLS certificate and
    key) into this node's data directory unless they are there already: on a Ray
    cluster the node that ran ``up`` is not the node that serves."""
    for rel, text in (files or {}).items():
        path = data_dir / rel
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


class RoleActor:
    starter: Any = None

    def __init__(self, spec, config_json: str, files: dict[str, str] | None = None):
        import ray
        config = ClusterConfig.model_validate_json(config_json)
        # the data plane binds this node's address (Ray's node IP) unless configured
        os.environ[DATAPLANE_HOST_ENV] = (config.dataplane_host
                                          or ray.util.get_node_ip_address())
        install_files(Path(config.data_dir), files)
        control = ray.get_actor("control", namespace=config.namespace)
        self._node_id = ray.get_runtime_context().get_node_id()
        self.host = RoleHost(
            spec, config, RayDirectory(control), type(self).starter,
            register=lambda info: control.register.remote(info["name"], info),
            heartbeat_s=HEARTBEAT_S,
            extra_info={"node_id": self._node_id})

    def ready(self) -> dict[str, Any]:
        return self.host.info

    def node_id(self) -> str:
        return self._node_id

    def status(self) -> dict[str, Any]:
        return self.host.status()

    def shutdown(self) -> None:
        self.host.shutdown()
