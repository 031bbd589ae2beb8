"""How long a local cluster takes to come up, and how much memory the whole of it holds.

Runs `dsql-ray up` (the default local topology) in a throwaway data directory, times it
from the command's start until it returns (the endpoint accepts connections), waits a
few seconds for startup work to settle, then sums the memory of every process that
appeared since the command started (Ray's head, raylet, workers and the supervisor):
RSS (each process's resident pages, shared ones counted in each) and PSS (shared pages
split among the processes that map them: the honest whole). Then `dsql-ray down`.

    python loadtests/footprint.py [--settle 10] [--port 0] [-- extra up flags]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from benchlib import free_port, run, say


def pss_kib(pid: int) -> int:
    """Proportional set size from smaps_rollup (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def new_processes(before: set[int]) -> list[psutil.Process]:
    me = os.getpid()
    return [p for p in psutil.process_iter(["pid", "name"])
            if p.pid not in before and p.pid != me]


def measure(procs: list[psutil.Process]) -> tuple[int, int, dict[str, int]]:
    rss = pss = 0
    by_name: dict[str, int] = {}
    for p in procs:
        try:
            r = p.memory_info().rss
            name = p.name()
        except psutil.Error:
            continue
        k = pss_kib(p.pid) * 1024
        rss += r
        pss += k
        by_name[name] = by_name.get(name, 0) + k
    return rss, pss, by_name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds to wait after up before measuring")
    parser.add_argument("--port", type=int, default=0, help="endpoint port (0: a free one)")
    parser.add_argument("extra", nargs="*", help="more `dsql-ray up` flags, after --")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="footprint_"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    name = f"footprint{os.getpid()}"
    common = ["--name", name, "--data-dir", str(data)]
    port = args.port or free_port()
    before = {p.pid for p in psutil.process_iter()}
    t0 = time.monotonic()
    try:
        subprocess.run([sys.executable, "-m", "dsql_ray.cli", "up", *common,
                        "--port", str(port), *args.extra], check=True, env=env,
                       stdout=subprocess.DEVNULL, timeout=300)
        up_s = time.monotonic() - t0
        time.sleep(args.settle)
        procs = new_processes(before)
        rss, pss, by_name = measure(procs)
        say(f"local cluster up in {up_s:.1f} s ({' '.join(args.extra) or 'defaults'})")
        say(f"{len(procs)} processes; whole RSS {rss / 2**30:.2f} GiB, "
            f"whole PSS {pss / 2**30:.2f} GiB (after {args.settle:.0f} s settling)")
        for n, k in sorted(by_name.items(), key=lambda kv: -kv[1])[:8]:
            say(f"  {n:<28} PSS {k / 2**20:8.0f} MiB")
    finally:
        subprocess.run([sys.executable, "-m", "dsql_ray.cli", "down", *common], env=env,
                       stdout=subprocess.DEVNULL, timeout=180)
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    run(main)
