"""dsql-ray up | down | status | token: run a cluster (embedded on this machine, or
deployed onto a Ray cluster with --address), look inside it, connect."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from . import limits
from .config import ClusterConfig, default_data_dir
from .control.status import cluster_status
from .frontend import tokens
from .frontend.tls import certificate_files, ensure_certificate, ssl_context_for
from .local import registry
from .local.supervisor import read_state, state_path


def _config(args: argparse.Namespace) -> ClusterConfig:
    up = getattr(args, "command", None) == "up"
    known = None if up else registry.read(args.name)
    if getattr(args, "data_dir", None):
        data_dir = Path(args.data_dir)
    elif known is not None:                    # a running cluster, found by its name
        data_dir = Path(known["data_dir"])
    else:
        data_dir = default_data_dir(args.name)
    kw = {"name": args.name, "data_dir": data_dir.resolve()}
    if getattr(args, "port", None):
        kw["port"] = args.port
    if getattr(args, "address", None):
        # on a Ray cluster every zone serves, on its node's own address
        kw |= {"ray_address": args.address, "serving_zones": "all", "host": None,
               "dataplane_host": None}
    if up and getattr(args, "host", None):
        kw["host"] = args.host
    if getattr(args, "compute_per_zone", None):
        kw["compute_per_zone"] = args.compute_per_zone
    if getattr(args, "serving_zones", None):
        kw["serving_zones"] = args.serving_zones
    if getattr(args, "adjudicator_zones", None):
        kw["adjudicator_zones"] = args.adjudicator_zones
    if getattr(args, "closed_lead_ms", None) is not None:
        kw["closed_lead_ms"] = args.closed_lead_ms
    if getattr(args, "shard_splits", None):
        kw["shard_splits"] = args.shard_splits.split(",")
    if getattr(args, "tls_cert", None):
        kw["tls_cert"] = Path(args.tls_cert).resolve()
    if getattr(args, "tls_key", None):
        kw["tls_key"] = Path(args.tls_key).resolve()
    if getattr(args, "allow_plaintext", False):
        kw["allow_plaintext"] = True
    if getattr(args, "host_name", None):
        kw["host_names"] = args.host_name
    for field in _LIMIT_FIELDS:
        if getattr(args, field, None) is not None:
            kw[field] = getattr(args, field)
    try:
        return ClusterConfig(**kw)
    except ValidationError as exc:
        sys.exit("invalid cluster settings: " + "; ".join(
            (f"--{e['loc'][0].replace('_', '-')}: " if e["loc"] else "") + e["msg"]
            for e in exc.errors()))


_LIMIT_FIELDS = ("max_connections", "connection_rate", "connection_burst",
                 "max_connection_age")


def find_cluster(config: ClusterConfig) -> dict | None:
    """The running cluster of this name: the registry's entry, else the data directory's
    state file of an embedded cluster. A deployed cluster's entry is checked by ``status``
    and ``down``, which ask its Ray cluster."""
    state = registry.read(config.name)
    if state is not None:
        if state.get("mode") == "ray" or registry.process_alive(state.get("pid")):
            return state
        registry.remove(config.name, pid=state.get("pid"))    # its supervisor is gone
    return read_state(config)


def _config_from_state(args: argparse.Namespace) -> tuple[ClusterConfig, dict]:
    config = _config(args)
    state = find_cluster(config)
    if state is None:
        sys.exit(f"cluster {args.name!r} is not running (not in the registry "
                 f"{registry.registry_dir()}, no live state in {config.data_dir})")
    return config, state


def _accepting(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _self_command() -> str:
    """How to run this CLI again: by name when it is on PATH, else by its full path."""
    found = shutil.which("dsql-ray")
    here = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if found or here is None or here.name != "dsql-ray":
        return "dsql-ray"
    return shlex.quote(str(here))


def psql_command(config: ClusterConfig, host: str | None = None,
                 port: int | None = None) -> str:
    token = f"{_self_command()} token"
    if config.name != "local":
        token += f" --name {shlex.quote(config.name)}"
    return (f"PGPASSWORD=\"$({token})\" psql \"host={host or config.host} "
            f"port={port or config.port} dbname=postgres user=admin sslmode=require\"")


def print_endpoints(state: dict) -> None:
    for zone, (host, port) in sorted((state.get("endpoints") or {}).items()):
        print(f"  endpoint: {host}:{port}  zone {zone}")


def _prepare_auth(config: ClusterConfig) -> None:
    """The cluster's id, credentials and certificate, made at the first up."""
    tokens.init_cluster_identity(config)
    ensure_certificate(config, tokens.accepted_hosts(config))
    try:
        ssl_context_for(config)
    except OSError as exc:        # ssl.SSLError included
        sys.exit(f"cannot serve TLS with {certificate_files(config)[0]}: {exc}")


def _print_credentials(config: ClusterConfig) -> None:
    credentials = tokens.environment_credentials()
    if credentials is not None:
        print(f"  auth:     trusts AWS_ACCESS_KEY_ID {credentials.access_key} from the "
              "environment")
        return
    credentials = tokens.trusted_credentials(config)
    print(f"  auth:     trusts the key pair in {config.data_dir / tokens.CREDENTIALS_FILE}; "
          "to mint tokens with the AWS SDKs:")
    print(f"              export AWS_ACCESS_KEY_ID={credentials.access_key} "
          f"AWS_SECRET_ACCESS_KEY={credentials.secret_key}")


def cmd_up(args: argparse.Namespace) -> int:
    config = _config(args)
    running = find_cluster(config)
    if running is not None and (running.get("mode") != "ray" or _deployed(running)):
        print(f"cluster {config.name!r} is already running")
        print_endpoints(running)
        print(f"  connect:  {_connect_line(config, running)}")
        return 0
    if config.ray_address is not None:
        return _up_onto_ray(config, args)
    if _accepting(config.host, config.port):
        sys.exit(f"port {config.port} on {config.host} is already in use; choose another "
                 "with --port")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    _prepare_auth(config)
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
    _print_up(config, json.loads(state_path(config).read_text()))
    return 0


def _deployed(state: dict) -> bool:
    from .control.deploy import is_deployed
    return is_deployed(state)


def _up_onto_ray(config: ClusterConfig, args: argparse.Namespace) -> int:
    from .control.deploy import DeployError, deploy_onto
    config.data_dir.mkdir(parents=True, exist_ok=True)
    _prepare_auth(config)
    try:
        state = deploy_onto(config, wait_zones_s=args.wait_zones)
    except DeployError as exc:
        sys.exit(str(exc))
    registry.write(config.name, state)
    print(f"dsql-ray cluster {config.name!r} is up on the Ray cluster at "
          f"{state['ray_address']} ({state['started_s']:.1f}s)")
    _print_up(config, state)
    return 0


def _print_up(config: ClusterConfig, state: dict) -> None:
    print(f"  region:   {config.region.name}  zones {', '.join(config.region.zones)}")
    print_endpoints(state)
    print(f"  host:     {tokens.cluster_endpoint(config)}")
    print(f"  data:     {config.data_dir}")
    print(f"  tls:      {certificate_files(config)[0]}"
          + ("  (plaintext clients allowed)" if config.allow_plaintext else ""))
    _print_credentials(config)
    print(f"  connect:  {_connect_line(config, state)}")


def _connect_line(config: ClusterConfig, state: dict) -> str:
    """psql to the first zone's endpoint."""
    first = sorted((state.get("endpoints") or {}).items())
    host, port = first[0][1] if first else (config.host, config.port)
    return psql_command(config, host, port)


def cmd_token(args: argparse.Namespace) -> int:
    if not 0 < args.expires <= tokens.MAX_EXPIRES_S:
        sys.exit(f"--expires must be from 1 to {tokens.MAX_EXPIRES_S} seconds")
    config = _config(args)
    try:
        credentials = tokens.trusted_credentials(config)
        host = args.host or tokens.cluster_endpoint(config)
    except OSError:
        sys.exit(f"cluster {config.name!r} has no credentials in {config.data_dir} and none "
                 "are in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); start "
                 "it once with dsql-ray up")
    print(tokens.mint_token(credentials, host, config.region.name, user=args.user,
                            expires=args.expires))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    config = _config(args)
    state = find_cluster(config)
    if state is None:
        print(f"cluster {config.name!r} is not running")
        return 0
    if state.get("mode") == "ray":
        from .control.deploy import undeploy
        stopped = undeploy(state)
        registry.remove(config.name)
        print(f"cluster {config.name!r} " + ("stopped; data kept on each node under "
              f"{state['data_dir']}" if stopped else "was not running"))
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


def cmd_status(args: argparse.Namespace) -> int:
    config, state = _config_from_state(args)
    rows = cluster_status(state)
    if rows is None:
        if state.get("mode") == "ray":
            registry.remove(config.name)
        print(f"cluster {config.name!r} is not running", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print_endpoints(state)
    print(f"{'actor':<26} {'role':<12} {'region':<10} {'zone':<11} {'node':<10} "
          f"{'data plane':<22} state")
    for r in rows:
        addr = ":".join(map(str, r.get("address") or [])) or "-"
        if r.get("endpoint"):
            addr = f"{addr} (pg {':'.join(map(str, r['endpoint']))})"
        print(f"{r['name']:<26} {r.get('role', ''):<12} {r.get('region') or '':<10} "
              f"{r.get('zone') or '':<11} {(r.get('node_id') or '')[:8]:<10} {addr:<22} "
              f"{r.get('state', '')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dsql-ray", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", default="local", help="cluster name (default: local)")
        p.add_argument("--data-dir", help="data directory (default: ~/.dsql-ray/NAME)")

    up = sub.add_parser("up", help="start a local cluster in the background, or deploy "
                        "onto a running Ray cluster (--address)")
    common(up)
    up.add_argument("--port", type=int, default=5432,
                    help="client port (with a loopback --host, zone k's relay takes "
                    "PORT + k)")
    up.add_argument("--address", metavar="auto|HOST:PORT",
                    help="deploy onto this running Ray cluster, whose nodes are labelled "
                    "region=…, zone=…; every zone then serves (default: start an "
                    "embedded local cluster)")
    up.add_argument("--wait-zones", type=float, default=0.0, metavar="SECONDS",
                    help="with --address: wait this long for a node of every zone to "
                    "join before refusing (default 0: refuse at once)")
    up.add_argument("--host", help="address the client endpoints listen on (default: "
                    "127.0.0.1 locally, each relay's node address with --address)")
    up.add_argument("--compute-per-zone", type=int, metavar="N",
                    help="compute actors beside each serving zone's relay (default 2)")
    up.add_argument("--adjudicator-zones", choices=("spread", "serving"),
                    help="adjudicator i in zone i mod 3 (spread, the default) or all in "
                    "the first serving zone, beside its compute (serving)")
    up.add_argument("--closed-lead-ms", type=float, metavar="MS",
                    help="how far ahead a completeness lease runs (default "
                    f"{limits.closed_lead_ms:g}; 0: reads ask every adjudicator)")
    up.add_argument("--serving-zones", choices=("first", "all"),
                    help="zones that run a relay and compute (default: first locally, "
                    "all with --address)")
    up.add_argument("--foreground", action="store_true", help="run in this process")
    up.add_argument("--shard-splits", help="comma-separated hex keys where key ranges "
                    "(shards and adjudicators) split; default: catalog | user tables")
    up.add_argument("--timeout", type=float, default=180.0)
    up.add_argument("--tls-cert", help="server certificate (PEM); default: a self-signed "
                    "one generated into DATA_DIR/tls at the first up")
    up.add_argument("--tls-key", help="the certificate's private key (PEM), unless the "
                    "certificate file holds it")
    up.add_argument("--allow-plaintext", action="store_true",
                    help="also accept clients without TLS (local only; default: TLS "
                    "required)")
    up.add_argument("--host-name", action="append", metavar="NAME",
                    help="another name clients reach the cluster by, accepted in auth "
                    "tokens (repeatable); always accepted: the cluster's "
                    "<id>.dsql.<region>.on.aws, localhost, 127.0.0.1")
    up.add_argument("--max-connections", type=int, metavar="N",
                    help="open connections at most; more are refused with 53300 "
                    "(default 10000, as DSQL)")
    up.add_argument("--connection-rate", type=float, metavar="PER_S",
                    help="new connections a second, sustained; more are refused with "
                    "53400 (default 100, as DSQL)")
    up.add_argument("--connection-burst", type=int, metavar="N",
                    help="new connections allowed at once above the rate (default 1000, "
                    "as DSQL)")
    up.add_argument("--max-connection-age", type=float, metavar="SECONDS",
                    help="a connection is closed (57P01) after this long (default 3600, "
                    "as DSQL)")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop a local cluster, keeping its data")
    common(down)
    down.add_argument("--timeout", type=float, default=120.0)
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="list every actor with its placement")
    common(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    token = sub.add_parser("token", help="print an auth token to use as the password "
                           "(as the AWS SDKs mint it, with the cluster's credentials)")
    common(token)
    token.add_argument("--user", default=tokens.ADMIN,
                       help="database role (default: admin, action DbConnectAdmin; other "
                       "roles: DbConnect)")
    token.add_argument("--expires", type=int, default=tokens.DEFAULT_EXPIRES_S,
                       help=f"lifetime in seconds (default {tokens.DEFAULT_EXPIRES_S}, at "
                       f"most {tokens.MAX_EXPIRES_S})")
    token.add_argument("--host", help="host name the token is for (default: the "
                       "cluster's <id>.dsql.<region>.on.aws)")
    token.set_defaults(func=cmd_token)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
