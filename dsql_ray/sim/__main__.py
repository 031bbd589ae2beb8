"""python -m dsql_ray.sim [--seeds N] [--first S] [--jobs J] [--seed S -v]"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import logging
import os
import sys
import time

from .harness import InvariantViolation, run_seed, summary


def run_one(seed: int):
    try:
        return seed, run_seed(seed), None
    except InvariantViolation as exc:
        return seed, None, str(exc)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m dsql_ray.sim")
    parser.add_argument("--seeds", type=int, default=200, help="how many seeds to run")
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, help="run exactly this seed, in this process")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL)
    t0 = time.monotonic()
    if args.seed is not None:
        outcomes = [run_one(args.seed)]
    else:
        seeds = range(args.first, args.first + args.seeds)
        with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
            outcomes = list(pool.map(run_one, seeds, chunksize=8))
    failures = [err for _, _, err in outcomes if err]
    for err in failures:
        print(f"FAIL {err}", flush=True)
    results = [r for _, r, _ in outcomes if r]
    if args.verbose:
        for r in results:
            print(json.dumps(r.__dict__, indent=1))
    print(json.dumps({**summary(results), "failures": len(failures),
                      "seconds": round(time.monotonic() - t0, 1)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
