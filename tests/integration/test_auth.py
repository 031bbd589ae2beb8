"""TLS and DSQL auth tokens on a real cluster, with real clients (psycopg, psql) and
tokens minted by boto3: what connects, and how each bad token is refused, with its own
message, while the cluster keeps serving."""
from __future__ import annotations

import json
import os
import re
import socket
import ssl
import stat
import struct
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from cryptography import x509
from psycopg.conninfo import make_conninfo

from dsql_ray.frontend.tls import self_signed_certificate
from dsql_ray.testing import pgtools

from .conftest import REGION, LocalCluster, dsql_client, free_port

SSL_REQUEST = struct.pack("!ii", 8, 80877103)
PROTOCOL_3_0 = 196608


def stored_keys(cluster) -> tuple[str, str]:
    stored = json.loads((cluster.data_dir / "credentials.json").read_text())
    return stored["aws_access_key_id"], stored["aws_secret_access_key"]


def connect(cluster, password: str, *, user: str = "admin", **params) -> psycopg.Connection:
    dsn = make_conninfo(cluster.dsn_for(user), password=password, **params)
    return psycopg.connect(dsn, autocommit=True, connect_timeout=10)


def run_psql(conninfo: str, password: str, sql: str) -> subprocess.CompletedProcess:
    exe = pgtools.find("psql")
    return subprocess.run([exe, conninfo, "-X", "-A", "-t", "-c", sql], capture_output=True,
                          text=True, timeout=60, env=os.environ | {"PGPASSWORD": password})


def startup_error(cluster, password: str, *, user: str = "admin",
                  database: str = "postgres", tls: bool = True) -> dict[str, str]:
    """The fields (S, C, M, …) of the ErrorResponse that refuses this startup: libpq shows
    only the message, this also gives the SQLSTATE. SSLRequest, then TLS, unless not
    ``tls``."""
    with socket.create_connection(("127.0.0.1", cluster.port), timeout=10) as raw:
        sock: socket.socket = raw
        if tls:
            raw.sendall(SSL_REQUEST)
            assert raw.recv(1) == b"S"
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            sock = context.wrap_socket(raw)
        params = f"user\0{user}\0database\0{database}\0\0".encode()
        sock.sendall(struct.pack("!ii", len(params) + 8, PROTOCOL_3_0) + params)
        kind, body = read_message(sock)
        if kind == b"R":                                    # AuthenticationCleartextPassword
            assert body == struct.pack("!i", 3)
            secret = password.encode() + b"\0"
            sock.sendall(b"p" + struct.pack("!i", len(secret) + 4) + secret)
            kind, body = read_message(sock)
        assert kind == b"E"
        return {field[:1]: field[1:] for field in body.decode().split("\0") if field}


def read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    header = recv_exactly(sock, 5)
    return header[:1], recv_exactly(sock, struct.unpack("!i", header[1:])[0] - 4)


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def still_serving(cluster) -> None:
    with cluster.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


# -- what connects ------------------------------------------------------------------------

@pytest.mark.parametrize("negotiation", ["postgres", "direct"])
def test_psycopg_admin_with_sdk_token_over_tls(cluster, negotiation):
    """``postgres`` is the SSLRequest; ``direct`` PostgreSQL 17's direct TLS."""
    with connect(cluster, cluster.token("admin"), sslnegotiation=negotiation) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 40 + 2").fetchone() == (42,)


def test_psycopg_other_role_with_db_connect_token(cluster):
    token = cluster.sdk.generate_db_connect_auth_token(cluster.endpoint, REGION)
    assert "Action=DbConnect&" in token
    with connect(cluster, token, user="other") as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_tokens_for_local_names_are_accepted(cluster, host):
    with connect(cluster, cluster.sdk.generate_db_connect_admin_auth_token(host, REGION)):
        pass


def test_psql_over_sslrequest_with_sdk_token(cluster):
    conninfo = f"host=127.0.0.1 port={cluster.port} dbname=postgres user=admin sslmode=require"
    proc = run_psql(conninfo, cluster.token(), "\\conninfo")
    assert proc.returncode == 0, proc.stderr
    assert "SSL connection (protocol: TLS" in proc.stdout


def test_verify_full_trusts_the_generated_certificate(cluster):
    conninfo = (f"host=localhost port={cluster.port} dbname=postgres user=admin "
                f"sslmode=verify-full sslrootcert={cluster.data_dir / 'tls' / 'server.crt'}")
    proc = run_psql(conninfo, cluster.token(), "SELECT 7")
    assert (proc.returncode, proc.stdout.strip()) == (0, "7"), proc.stderr


def test_the_printed_connect_command_works(cluster):
    """``up`` prints ``PGPASSWORD="$(dsql-ray token …)" psql "… sslmode=require"``."""
    command = re.search(r"connect:\s+(.*)", cluster.cli("up").stdout).group(1)
    assert command.startswith('PGPASSWORD="$(dsql-ray token') and "sslmode=require" in command
    env = cluster.env | {"PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    proc = subprocess.run(f"{command} -X -A -t -c 'SELECT 42'", shell=True, env=env,
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout.strip()) == (0, "42"), proc.stderr


def test_token_command_mints_for_a_user_and_host(cluster):
    token = cluster.cli("token", "--user", "other", "--host", "localhost",
                        "--expires", "60").stdout.strip()
    query = parse_qs(urlsplit("https://" + token).query)
    assert token.startswith("localhost/?")
    assert (query["Action"], query["X-Amz-Expires"]) == (["DbConnect"], ["60"])
    with connect(cluster, token, user="other"):
        pass


def test_up_made_an_identity_credentials_and_certificate(cluster):
    data = cluster.data_dir
    assert re.fullmatch(r"[a-z0-9]{26}", (data / "cluster-id").read_text())
    for private in (data / "credentials.json", data / "tls" / "server.key"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    cert = x509.load_pem_x509_certificate((data / "tls" / "server.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = san.get_values_for_type(x509.DNSName) + [
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    assert {cluster.endpoint, "localhost", "127.0.0.1"} <= set(names)
    access_key, secret_key = stored_keys(cluster)
    assert f"export AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={secret_key}" \
        in cluster.up_output
    assert f"host:     {cluster.endpoint}" in cluster.up_output


# -- what is refused ----------------------------------------------------------------------

def test_plaintext_is_refused(cluster):
    with pytest.raises(psycopg.OperationalError, match="FATAL:  SSL/TLS required"):
        connect(cluster, cluster.token(), sslmode="disable")
    error = startup_error(cluster, "", tls=False)
    assert (error["S"], error["C"], error["M"]) == ("FATAL", "28000", "SSL/TLS required")
    still_serving(cluster)


def _expired(cluster) -> tuple[str, str]:
    token = cluster.sdk.generate_db_connect_admin_auth_token(cluster.endpoint, REGION, 1)
    signed = datetime.strptime(parse_qs(urlsplit("https://" + token).query)["X-Amz-Date"][0],
                               "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    time.sleep(max(0.0, (signed + timedelta(seconds=2) - datetime.now(timezone.utc))
                   .total_seconds()))
    return token, f"auth token expired at {signed + timedelta(seconds=1):%Y-%m-%d %H:%M:%S} UTC"


def _signed_with(access_key=None, secret_key=None):
    def mint(cluster) -> tuple[str, str]:
        stored_key, stored_secret = stored_keys(cluster)
        sdk = dsql_client(access_key or stored_key, secret_key or stored_secret)
        return (sdk.generate_db_connect_admin_auth_token(cluster.endpoint, REGION),
                "password authentication failed for user \"admin\": the auth token's "
                "signature does not match")
    return mint


def _longer_lived(cluster) -> tuple[str, str]:
    token = cluster.token(expires=900).replace("X-Amz-Expires=900", "X-Amz-Expires=604800")
    return token, ("password authentication failed for user \"admin\": the auth token's "
                   "signature does not match")


def _for_region(cluster) -> tuple[str, str]:
    sdk = dsql_client(*stored_keys(cluster))
    return (sdk.generate_db_connect_admin_auth_token(cluster.endpoint, "eu-west-1"),
            "auth token is for region eu-west-1, but this cluster is in us-east-1")


def _for_host(cluster) -> tuple[str, str]:
    return (cluster.sdk.generate_db_connect_admin_auth_token("db.example.com", REGION),
            "auth token is for host db.example.com, which is not a name of this cluster")


def _db_connect_for_admin(cluster) -> tuple[str, str]:
    return (cluster.sdk.generate_db_connect_auth_token(cluster.endpoint, REGION),
            "Wrong user to action mapping. user: admin, action: DbConnect")


def _not_a_token(cluster) -> tuple[str, str]:
    return "hunter2", "invalid auth token: not a presigned DSQL request"


@pytest.mark.parametrize("make, sqlstate", [
    (_signed_with(secret_key="wrong-secret"), "28P01"),
    (_signed_with(access_key="AKIAUNKNOWNKEY000000"), "28P01"),
    (_longer_lived, "28P01"),
    (_not_a_token, "28P01"),
    (_expired, "28000"),
    (_for_region, "28000"),
    (_for_host, "28000"),
    (_db_connect_for_admin, "28000"),
], ids=["wrong-secret", "unknown-access-key", "tampered-expiry", "not-a-token", "expired",
        "wrong-region", "wrong-host", "wrong-action"])
def test_bad_token_is_refused_with_its_own_message(cluster, make, sqlstate):
    token, message = make(cluster)
    with pytest.raises(psycopg.OperationalError) as err:
        connect(cluster, token)
    assert f"FATAL:  {message}\n" in str(err.value) + "\n"
    error = startup_error(cluster, token)
    assert (error["S"], error["C"], error["M"]) == ("FATAL", sqlstate, message)
    still_serving(cluster)


def test_admin_action_for_another_role_is_refused(cluster):
    message = "Wrong user to action mapping. user: other, action: DbConnectAdmin"
    with pytest.raises(psycopg.OperationalError, match=re.escape(message)):
        connect(cluster, cluster.token("admin"), user="other")
    still_serving(cluster)


def test_database_other_than_postgres_does_not_exist(cluster):
    with pytest.raises(psycopg.OperationalError, match='FATAL:  database "mydb" does not exist'):
        connect(cluster, cluster.token(), dbname="mydb")
    error = startup_error(cluster, cluster.token(), database="mydb")
    assert (error["S"], error["C"]) == ("FATAL", "3D000")
    still_serving(cluster)


# -- a cluster with the user's certificate, credentials and names, plaintext allowed -----

@pytest.fixture(scope="module")
def custom_cluster(tmp_path_factory):
    tls_dir = tmp_path_factory.mktemp("user-tls")
    cert, key = self_signed_certificate(["db.example.test", "localhost"])
    (tls_dir / "db.crt").write_bytes(cert)
    (tls_dir / "db.key").write_bytes(key)
    c = LocalCluster(tmp_path_factory.mktemp("custom"), free_port(), "pytestauth",
                     up_args=("--tls-cert", str(tls_dir / "db.crt"),
                              "--tls-key", str(tls_dir / "db.key"),
                              "--allow-plaintext", "--host-name", "db.example.test"),
                     aws_env={"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                              "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
    c.up()
    c.user_cert = tls_dir / "db.crt"
    yield c
    c.down()


def test_environment_credentials_are_trusted_and_not_stored(custom_cluster):
    c = custom_cluster
    assert "trusts AWS_ACCESS_KEY_ID AKIAIOSFODNN7EXAMPLE from the environment" in c.up_output
    assert "wJalrXUtnFEMI" not in c.up_output
    assert not (c.data_dir / "credentials.json").exists()
    with connect(c, c.token()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with connect(c, c.cli("token").stdout.strip()):
        pass


def test_host_name_option_is_accepted_in_tokens(custom_cluster):
    token = custom_cluster.sdk.generate_db_connect_admin_auth_token("db.example.test", REGION)
    with connect(custom_cluster, token):
        pass


def test_the_users_certificate_is_served(custom_cluster):
    c = custom_cluster
    assert not (c.data_dir / "tls").exists()
    conninfo = (f"host=localhost port={c.port} dbname=postgres user=admin "
                f"sslmode=verify-full sslrootcert={c.user_cert}")
    proc = run_psql(conninfo, c.token(), "SELECT 1")
    assert proc.returncode == 0, proc.stderr


def test_allow_plaintext_accepts_clients_without_tls(custom_cluster):
    with connect(custom_cluster, custom_cluster.token(), sslmode="disable") as conn:
        assert not conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 1").fetchone() == (1,)
    forged = dsql_client("AKIAIOSFODNN7EXAMPLE", "nope").generate_db_connect_admin_auth_token(
        "localhost", REGION)
    with pytest.raises(psycopg.OperationalError, match="signature does not match"):
        connect(custom_cluster, forged, sslmode="disable")
