"""The registry of running clusters: one small JSON file per cluster name.

``dsql-ray status|down|token --name X`` find a cluster here whatever its data
directory. Files live in ``$DSQL_RAY_HOME/clusters`` (default ``~/.dsql-ray/clusters``).
An entry is live when its supervisor process is (the embedded cluster); a cluster
deployed onto a Ray cluster (``up --address``) is checked by asking its Ray cluster.
"""
from __future__ import annotations

import json
import os
from pathlib import Path


def registry_dir() -> Path:
    base = os.environ.get("DSQL_RAY_HOME") or os.path.join(Path.home(), ".dsql-ray")
    return Path(base) / "clusters"


def entry_path(name: str) -> Path:
    return registry_dir() / f"{name}.json"


def write(name: str, state: dict) -> None:
    path = entry_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


def read(name: str) -> dict | None:
    try:
        return json.loads(entry_path(name).read_text())
    except (OSError, ValueError):
        return None


def remove(name: str, pid: int | None = None) -> None:
    """Forget ``name``; with ``pid``, only if the entry is still that process's."""
    state = read(name)
    if state is not None and pid is not None and state.get("pid") != pid:
        return
    entry_path(name).unlink(missing_ok=True)


def process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
