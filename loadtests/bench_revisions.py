"""Two revisions of dsql-ray side by side in one run: does a change make it slower?

Checks out BASE (default: the first parent of HEAD's branch point, or any git revision)
into a temporary git worktree, starts a local cluster from it and one from this checkout
(each its own name, port and data directory; the same installed dependencies), loads the
same 10,000 accounts into both, then runs pgbench point selects (-M prepared, then
-M simple) and the small write transaction against each, alternating which goes first,
ROUNDS times, and prints TPS per run, the median per revision and the ratio
this/base. It reports; it asserts nothing. Run it alone: the machine is shared.

    python loadtests/bench_revisions.py --base 15d42f4 [--seconds 10] [--rounds 2]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

from benchlib import SCRIPTS, run, DsqlRay, fmt, load_schema, pgbench, ratio, say

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = (("point select -M prepared", "point_select.sql", "prepared"),
             ("point select -M simple", "point_select.sql", "simple"),
             ("small write -M prepared", "small_write.sql", "prepared"))


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the git revision to compare with")
    parser.add_argument("--seconds", type=int, default=10, help="pgbench -T per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    base_sha = git("rev-parse", "--short", args.base)
    head_sha = git("rev-parse", "--short", "HEAD")
    dirty = " (+ uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    workdir = Path(tempfile.mkdtemp(prefix="bench_revisions_"))
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        tree = workdir / "base"
        git("worktree", "add", "--detach", str(tree), base_sha)
        cleanup.callback(git, "worktree", "remove", "--force", str(tree))
        base = DsqlRay(workdir, tree=tree, label=f"base {base_sha}")
        this = DsqlRay(workdir, label=f"this {head_sha}")
        for server in (base, this):
            cleanup.callback(server.stop)
            server.start()
            say(f"{server.label}: up in {server.up_s:.1f} s; loaded 10,000 accounts in "
                f"{load_schema(server):.1f} s")
        tps: dict[str, dict[str, list[float]]] = {w[0]: {base.label: [], this.label: []}
                                                  for w in WORKLOADS}
        for rnd in range(args.rounds):
            for i, (name, script, mode) in enumerate(WORKLOADS):
                order = (base, this) if (rnd + i) % 2 == 0 else (this, base)
                for server in order:
                    r = pgbench(server, SCRIPTS / script, mode=mode, clients=args.clients,
                                threads=args.threads, seconds=args.seconds)
                    say(f"round {rnd + 1} {name:<26} {server.label:<16} "
                        f"{fmt(r.tps, ',.0f'):>8} TPS  failed {r.failed}"
                        + (f"  ! {r.errors[0]}" if r.errors else ""))
                    if r.tps is not None:
                        tps[name][server.label].append(r.tps)
        say(f"\nmedian TPS over {args.rounds} round(s), pgbench -c {args.clients} "
            f"-T {args.seconds}; this = {head_sha}{dirty}, base = {base_sha}")
        say(f"{'workload':<26} {'base':>10} {'this':>10} {'this/base':>10}")
        for name, by in tps.items():
            b = statistics.median(by[base.label]) if by[base.label] else None
            t = statistics.median(by[this.label]) if by[this.label] else None
            say(f"{name:<26} {fmt(b, ',.0f'):>10} {fmt(t, ',.0f'):>10} {ratio(t, b):>10}")
    return 0


if __name__ == "__main__":
    run(main)
