"""python -m dsql_ray.sim [--seeds N] [--first S] [--seed S] [-v]"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from .harness import InvariantViolation, run_seed, summary


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m dsql_ray.sim")
    parser.add_argument("--seeds", type=int, default=200, help="how many seeds to run")
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--seed", type=int, help="run exactly this seed")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL)
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.seeds)
    results, failures = [], []
    t0 = time.monotonic()
    for seed in seeds:
        try:
            r = run_seed(seed)
        except InvariantViolation as exc:
            failures.append(str(exc))
            print(f"FAIL {exc}", flush=True)
            continue
        results.append(r)
        if args.verbose:
            print(json.dumps(r.__dict__, indent=1))
    print(json.dumps({**summary(results), "failures": len(failures),
                      "seconds": round(time.monotonic() - t0, 1)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
