"""dsql-ray up | down | status | token: run a local cluster, look inside it, connect."""
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

from .config import ClusterConfig, default_data_dir
from .control.status import cluster_status
from .frontend import tokens
from .frontend.tls import certificate_files, ensure_certificate, ssl_context_for
from .local.supervisor import read_state, state_path


def _config(args: argparse.Namespace) -> ClusterConfig:
    data_dir = Path(args.data_dir) if getattr(args, "data_dir", None) else \
        default_data_dir(args.name)
    kw = {"name": args.name, "data_dir": data_dir.resolve()}
    if getattr(args, "port", None):
        kw["port"] = args.port
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


def _self_command() -> str:
    """How to run this CLI again: by name when it is on PATH, else by its full path."""
    found = shutil.which("dsql-ray")
    here = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if found or here is None or here.name != "dsql-ray":
        return "dsql-ray"
    return shlex.quote(str(here))


def psql_command(config: ClusterConfig) -> str:
    token = f"{_self_command()} token"
    if config.name != "local":
        token += f" --name {shlex.quote(config.name)}"
    if config.data_dir != default_data_dir(config.name).resolve():
        token += f" --data-dir {shlex.quote(str(config.data_dir))}"
    return (f"PGPASSWORD=\"$({token})\" psql \"host={config.host} port={config.port} "
            f"dbname=postgres user=admin sslmode=require\"")


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
    if read_state(config) is not None:
        print(f"cluster {config.name!r} is already running")
        print(f"  connect: {psql_command(config)}")
        return 0
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
    print(f"  endpoint: {config.host}:{config.port}  region {config.region.name}  "
          f"zones {', '.join(config.region.zones)}")
    print(f"  host:     {tokens.cluster_endpoint(config)}")
    print(f"  data:     {config.data_dir}")
    print(f"  tls:      {certificate_files(config)[0]}"
          + ("  (plaintext clients allowed)" if config.allow_plaintext else ""))
    _print_credentials(config)
    print(f"  connect:  {psql_command(config)}")
    return 0


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
