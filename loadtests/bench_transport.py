"""Ray actor call vs. the asyncio data plane, between two actors on different zone nodes.

Starts a local Ray cluster of two labelled nodes (us-east-1a, us-east-1b), places a
caller actor on one and a callee actor on the other, and measures from inside the caller,
in one run and side by side:
  - round trip p50/p99 of one call at a time (small payload), and
  - calls/s with 64 calls in flight (pipelined).

    python loadtests/bench_transport.py [--calls 3000]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from dsql_ray.transport.loop import LoopThread  # noqa: E402
from dsql_ray.transport.rpc import RpcClient, RpcServer  # noqa: E402

PAYLOAD = (b"k" * 16, 1_700_000_000_000_000)


class Echo:
    def rpc_echo(self, value):
        return value


@ray.remote(num_cpus=0, label_selector={"zone": "us-east-1b"})
class Callee:
    def __init__(self):
        self.loop = LoopThread("bench")
        self.address = self.loop.run(RpcServer(Echo()).start())

    def echo(self, value):
        return value

    def data_plane_address(self):
        return self.address

    def node(self):
        return ray.get_runtime_context().get_node_id()


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_s)
    return (statistics.median(ordered) * 1e3,
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3)


@ray.remote(num_cpus=0, label_selector={"zone": "us-east-1a"})
class Caller:
    def node(self):
        return ray.get_runtime_context().get_node_id()

    def ray_calls(self, callee, calls: int, window: int) -> dict:
        ray.get(callee.echo.remote(PAYLOAD))
        lat = []
        for _ in range(calls):
            t = time.perf_counter()
            ray.get(callee.echo.remote(PAYLOAD))
            lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        inflight = []
        for _ in range(calls):
            inflight.append(callee.echo.remote(PAYLOAD))
            if len(inflight) >= window:
                ray.get(inflight.pop(0))
        ray.get(inflight)
        return {"lat": percentiles(lat), "rate": calls / (time.perf_counter() - t)}

    def data_plane_calls(self, address, calls: int, window: int) -> dict:
        async def run():
            client = RpcClient(tuple(address), name="callee")
            await client.call("echo", PAYLOAD)
            lat = []
            for _ in range(calls):
                t = time.perf_counter()
                await client.call("echo", PAYLOAD)
                lat.append(time.perf_counter() - t)
            sem = asyncio.Semaphore(window)

            async def one():
                async with sem:
                    await client.call("echo", PAYLOAD)
            t = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(calls)))
            rate = calls / (time.perf_counter() - t)
            client.close()
            return {"lat": percentiles(lat), "rate": rate}
        return LoopThread("bench-client").run(run(), timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--window", type=int, default=64)
    args = parser.parse_args()
    cluster = Cluster(initialize_head=True, head_node_args=dict(
        num_cpus=2, include_dashboard=False,
        labels={"region": "us-east-1", "zone": "us-east-1a"}))
    cluster.add_node(num_cpus=2,
                     labels={"region": "us-east-1", "zone": "us-east-1b"})
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        callee, caller = Callee.remote(), Caller.remote()
        zones = {n["NodeID"]: n["Labels"]["zone"] for n in ray.nodes()}
        print(f"caller on {zones[ray.get(caller.node.remote())]}, "
              f"callee on {zones[ray.get(callee.node.remote())]}; {args.calls} calls each")
        address = ray.get(callee.data_plane_address.remote())
        results = {
            "ray actor call": ray.get(caller.ray_calls.remote(callee, args.calls, args.window)),
            "data plane (asyncio TCP)": ray.get(
                caller.data_plane_calls.remote(address, args.calls, args.window)),
        }
        print(f"{'transport':<26} {'p50 ms':>8} {'p99 ms':>8} {'calls/s (64 in flight)':>24}")
        for name, r in results.items():
            print(f"{name:<26} {r['lat'][0]:>8.3f} {r['lat'][1]:>8.3f} {r['rate']:>24,.0f}")
        ray_r, dp = results["ray actor call"], results["data plane (asyncio TCP)"]
        print(f"data plane vs ray: p50 {ray_r['lat'][0] / dp['lat'][0]:.1f}x lower, "
              f"throughput {dp['rate'] / ray_r['rate']:.1f}x higher")
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
