"""The role boundaries declared in pyproject.toml ([tool.importlinter]) hold: Ray is
imported only by the actor.py wrappers and the control and local packages, and the
PostgreSQL front end (and the relay) import nothing of compute. ``lint-imports`` builds
the import graph of ``dsql_ray``, imports inside functions included; a copy of the
package with one forbidden import added shows each contract really fails on one."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")
CONTRACTS = ("ray-at-the-edge", "frontend-below-compute")


def _lint(cwd: Path, contract: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--config", str(cwd / "pyproject.toml"), "--no-cache",
                           "--contract", contract],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("contract", CONTRACTS)
def test_contract_is_kept(contract):
    run = _lint(ROOT, contract)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout


@pytest.mark.parametrize("contract, module, line", [
    ("ray-at-the-edge", "storage/shard.py", "import ray"),
    ("ray-at-the-edge", "compute/service.py", "from ray.util import queue"),
    ("frontend-below-compute", "frontend/pgwire.py", "from ..compute import types"),
    ("frontend-below-compute", "relay/relay.py", "from ..compute.node import ComputeNode"),
])
def test_a_forbidden_import_breaks_it(tmp_path, contract, module, line):
    shutil.copytree(ROOT / "dsql_ray", tmp_path / "dsql_ray",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "dsql_ray" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa: E402\n")
    run = _lint(tmp_path, contract)
    assert run.returncode != 0 and "0 kept, 1 broken" in run.stdout, run.stdout
