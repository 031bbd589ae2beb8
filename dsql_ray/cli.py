"""dsql-ray up | down | status: run a local cluster and look inside it."""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .config import ClusterConfig, default_data_dir
from .local.supervisor import read_state, state_path


def _config(args: argparse.Namespace) -> ClusterConfig:
    data_dir = Path(args.data_dir) if getattr(args, "data_dir", None) else \
        default_data_dir(args.name)
    kw = {"name": args.name, "data_dir": data_dir.resolve()}
    if getattr(args, "port", None):
        kw["port"] = args.port
    if getattr(args, "shard_splits", None):
        kw["shard_splits"] = args.shard_splits.split(",")
    return ClusterConfig(**kw)


def _config_from_state(args: argparse.Namespace) -> tuple[ClusterConfig, dict]:
    config = _config(args)
    state = read_state(config)
    if state is None:
        sys.exit(f"cluster {args.name!r} is not running (no live state in {config.data_dir})")
    return config, state


def _accepting(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def psql_command(config: ClusterConfig) -> str:
    return (f"psql \"host={config.host} port={config.port} dbname=postgres user=admin "
            f"sslmode=disable\"")


def cmd_up(args: argparse.Namespace) -> int:
    config = _config(args)
    if read_state(config) is not None:
        print(f"cluster {config.name!r} is already running")
        print(f"  connect: {psql_command(config)}")
        return 0
    if _accepting(config.host, config.port):
        sys.exit(f"port {config.port} on {config.host} is already in use; choose another "
                 "with --port")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    if args.foreground:
        from .local.supervisor import run
        return run(config)
    log = open(config.data_dir / "supervisor.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dsql_ray.local.supervisor",
         "--config-json", config.model_dump_json()],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True)
    t0 = time.monotonic()
    deadline = t0 + args.timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the cluster failed to start; see {config.data_dir / 'supervisor.log'}")
        if state_path(config).exists() and _accepting(config.host, config.port):
            break
        time.sleep(0.25)
    else:
        proc.terminate()
        sys.exit(f"the cluster did not come up in {args.timeout}s; see "
                 f"{config.data_dir / 'supervisor.log'}")
    print(f"dsql-ray cluster {config.name!r} is up ({time.monotonic() - t0:.1f}s)")
    print(f"  endpoint: {config.host}:{config.port}  region {config.region.name}  "
          f"zones {', '.join(config.region.zones)}")
    print(f"  data:     {config.data_dir}")
    print(f"  connect:  {psql_command(config)}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    config = _config(args)
    state = read_state(config)
    if state is None:
        print(f"cluster {config.name!r} is not running")
        return 0
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            os.kill(state["pid"], 0)
        except OSError:
            print(f"cluster {config.name!r} stopped; data kept in {config.data_dir}")
            return 0
        time.sleep(0.25)
    os.kill(state["pid"], signal.SIGKILL)
    print(f"cluster {config.name!r} did not stop in {args.timeout}s and was killed")
    return 1


def cluster_status(state: dict) -> list[dict]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    ray.init(address=state["ray_address"], namespace=state["namespace"],
             log_to_driver=False, logging_level="ERROR")
    try:
        control = ray.get_actor("control", namespace=state["namespace"])
        return ray.get(control.status.remote(), timeout=60)
    finally:
        ray.shutdown()


def cmd_status(args: argparse.Namespace) -> int:
    _, state = _config_from_state(args)
    rows = cluster_status(state)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(f"{'actor':<22} {'role':<12} {'region':<10} {'zone':<11} {'node':<10} "
          f"{'data plane':<22} state")
    for r in rows:
        addr = ":".join(map(str, r.get("address") or [])) or "-"
        if r.get("endpoint"):
            addr = f"{addr} (pg {':'.join(map(str, r['endpoint']))})"
        print(f"{r['name']:<22} {r.get('role', ''):<12} {r.get('region') or '':<10} "
              f"{r.get('zone') or '':<11} {(r.get('node_id') or '')[:8]:<10} {addr:<22} "
              f"{r.get('state', '')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dsql-ray", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", default="local", help="cluster name (default: local)")
        p.add_argument("--data-dir", help="data directory (default: ~/.dsql-ray/NAME)")

    up = sub.add_parser("up", help="start a local cluster in the background")
    common(up)
    up.add_argument("--port", type=int, default=5432)
    up.add_argument("--foreground", action="store_true", help="run in this process")
    up.add_argument("--shard-splits", help="comma-separated hex keys where key ranges "
                    "(shards and adjudicators) split; default: catalog | user tables")
    up.add_argument("--timeout", type=float, default=180.0)
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop a local cluster, keeping its data")
    common(down)
    down.add_argument("--timeout", type=float, default=120.0)
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="list every actor with its placement")
    common(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
