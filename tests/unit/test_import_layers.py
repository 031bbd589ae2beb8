"""The architecture contracts in pyproject.toml ([tool.importlinter]) hold.

``lint-imports`` builds the import graph of ``dsql_ray`` (imports inside functions
included) and checks every contract: compute's layers, and the others declared beside
it. A second run over a copy of the package with one upward import added shows the
contract really fails on one.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_import_contracts_are_kept():
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_an_upward_import_breaks_the_compute_layers(tmp_path):
    shutil.copytree(ROOT / "dsql_ray", tmp_path / "dsql_ray",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    low = tmp_path / "dsql_ray" / "compute" / "catalog.py"
    low.write_text(low.read_text() + "\nfrom .plan import select  # noqa: E402  upward\n")
    run = _lint(tmp_path)
    assert run.returncode != 0
    assert "dsql_ray.compute.catalog -> dsql_ray.compute.plan.select" in run.stdout
