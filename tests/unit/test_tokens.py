"""The DSQL auth token verifier without a cluster: tokens minted by boto3, then tampered
with, cut short, or made of garbage. Every refusal is an AuthError; nothing else escapes.
Also the cluster's identity, credentials and certificate, made once at the first up."""
from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import pytest
from botocore.credentials import ReadOnlyCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from dsql_ray.config import ClusterConfig
from dsql_ray.errors import AuthError
from dsql_ray.frontend import tokens
from dsql_ray.frontend.tls import ensure_certificate
from dsql_ray.frontend.tokens import TokenVerifier, mint_token

REGION = "us-east-1"
HOST = "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"
KEYS = ReadOnlyCredentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                           None)
VERIFIER = TokenVerifier(KEYS, REGION, [HOST, "localhost", "127.0.0.1"])
SIGNATURE_MISMATCH = ('password authentication failed for user "admin": the auth token\'s '
                      "signature does not match")


def sdk(credentials: ReadOnlyCredentials = KEYS, region: str = REGION):
    return boto3.Session(aws_access_key_id=credentials.access_key,
                         aws_secret_access_key=credentials.secret_key,
                         aws_session_token=credentials.token).client("dsql", region_name=region)


# minted once at import: valid for an hour, so a slow suite on a busy machine does not see
# it expire before its tests run (expiry itself is test_expired_token's)
ADMIN_TOKEN = sdk().generate_db_connect_admin_auth_token(HOST, REGION, 3600)


def refusal(token: str, user: str = "admin", **kw) -> AuthError:
    with pytest.raises(AuthError) as err:
        VERIFIER.verify(token, user, **kw)
    assert err.value.severity == "FATAL"
    return err.value


def with_params(token: str, change) -> str:
    """The token with its query parameters (a list of pairs) changed by ``change``."""
    url = urlsplit("https://" + token)
    pairs = change(parse_qsl(url.query, keep_blank_values=True))
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    return f"{url.netloc}{url.path}?{query}"


def set_param(name: str, value: str):
    return lambda pairs: [(k, value if k == name else v) for k, v in pairs]


def signed_at(token: str) -> datetime:
    date = dict(parse_qsl(urlsplit("https://" + token).query))["X-Amz-Date"]
    return datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


# -- accepted -----------------------------------------------------------------------------

@pytest.mark.parametrize("host", [HOST, "localhost", "127.0.0.1", HOST.upper()])
def test_admin_token_from_boto3_is_accepted(host):
    VERIFIER.verify(sdk().generate_db_connect_admin_auth_token(host, REGION), "admin")


def test_db_connect_token_is_accepted_for_any_other_role():
    token = sdk().generate_db_connect_auth_token(HOST, REGION, 604_800)
    VERIFIER.verify(token, "app_reader")


def test_mint_token_is_what_boto3_mints():
    token = mint_token(KEYS, HOST, REGION, user="other", expires=60)
    assert token.startswith(f"{HOST}/?Action=DbConnect&") and "X-Amz-Expires=60&" in token
    VERIFIER.verify(token, "other")


def test_re_encoded_parameters_still_verify():
    """Another SDK may encode the query differently: the signature is over its values."""
    VERIFIER.verify(with_params(ADMIN_TOKEN, list), "admin")
    VERIFIER.verify(ADMIN_TOKEN.replace("%2F", "/"), "admin")


def test_session_token_must_be_the_trusted_one():
    temporary = ReadOnlyCredentials(KEYS.access_key, KEYS.secret_key, "session/token+=")
    verifier = TokenVerifier(temporary, REGION, [HOST])
    verifier.verify(sdk(temporary).generate_db_connect_admin_auth_token(HOST, REGION), "admin")
    for credentials in (KEYS, temporary._replace(token="another")):
        with pytest.raises(AuthError, match="signature does not match"):
            verifier.verify(sdk(credentials).generate_db_connect_admin_auth_token(HOST, REGION),
                            "admin")


# -- refused, each with its own message ---------------------------------------------------

@pytest.mark.parametrize("credentials", [
    KEYS._replace(secret_key="wrong"),
    KEYS._replace(access_key="AKIAUNKNOWNKEY000000"),
], ids=["wrong-secret", "unknown-access-key"])
def test_wrong_key_is_a_signature_mismatch(credentials):
    error = refusal(sdk(credentials).generate_db_connect_admin_auth_token(HOST, REGION))
    assert (error.sqlstate, error.message) == ("28P01", SIGNATURE_MISMATCH)


@pytest.mark.parametrize("name, value", [
    ("Action", "DbConnect"),
    ("X-Amz-Expires", "604800"),
    ("X-Amz-Date", "20990101T000000Z"),
    ("X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20990101/us-east-1/dsql/aws4_request"),
    ("X-Amz-Signature", "0" * 64),
])
def test_tampered_parameters_are_refused(name, value):
    error = refusal(with_params(ADMIN_TOKEN, set_param(name, value)))
    assert (error.sqlstate, error.message) == ("28P01", SIGNATURE_MISMATCH)


def test_tampered_host_is_refused():
    assert refusal(ADMIN_TOKEN.replace(HOST, "localhost")).message == SIGNATURE_MISMATCH


def test_added_security_token_is_refused():
    token = with_params(ADMIN_TOKEN, lambda p: p + [("X-Amz-Security-Token", "t")])
    assert refusal(token).message == SIGNATURE_MISMATCH


def test_expiry_over_a_week_is_invalid():
    token = sdk().generate_db_connect_admin_auth_token(HOST, REGION, 604_801)
    error = refusal(token)
    assert (error.sqlstate, error.message) == (
        "28P01", "invalid auth token: X-Amz-Expires must be a number of seconds from 0 to "
                 "604800")


def test_expired_token():
    token = sdk().generate_db_connect_admin_auth_token(HOST, REGION, 900)
    expires_at = signed_at(token) + timedelta(seconds=900)
    VERIFIER.verify(token, "admin", now=expires_at - timedelta(seconds=1))
    error = refusal(token, now=expires_at)
    assert (error.sqlstate, error.message) == (
        "28000", f"auth token expired at {expires_at:%Y-%m-%d %H:%M:%S} UTC")


def test_token_signed_in_the_future_is_not_valid_yet():
    at = signed_at(ADMIN_TOKEN)
    VERIFIER.verify(ADMIN_TOKEN, "admin", now=at - timedelta(minutes=14))
    error = refusal(ADMIN_TOKEN, now=at - timedelta(minutes=16))
    assert error.message == f"auth token is not valid yet: signed for {at:%Y-%m-%d %H:%M:%S} UTC"


def test_wrong_region():
    token = sdk(region="eu-west-1").generate_db_connect_admin_auth_token(HOST, "eu-west-1")
    error = refusal(token)
    assert (error.sqlstate, error.message) == (
        "28000", "auth token is for region eu-west-1, but this cluster is in us-east-1")


def test_wrong_host():
    error = refusal(sdk().generate_db_connect_admin_auth_token("db.example.com:5432", REGION))
    assert (error.sqlstate, error.message) == (
        "28000", "auth token is for host db.example.com:5432, which is not a name of this "
                 "cluster")


def test_wrong_user_to_action_mapping():
    assert refusal(sdk().generate_db_connect_auth_token(HOST, REGION)).message == \
        "Wrong user to action mapping. user: admin, action: DbConnect"
    assert refusal(ADMIN_TOKEN, user="other").message == \
        "Wrong user to action mapping. user: other, action: DbConnectAdmin"


@pytest.mark.parametrize("name", ["Action", "X-Amz-Algorithm", "X-Amz-Credential",
                                  "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                                  "X-Amz-Signature"])
def test_missing_parameter(name):
    token = with_params(ADMIN_TOKEN, lambda pairs: [(k, v) for k, v in pairs if k != name])
    error = refusal(token)
    assert (error.sqlstate, error.message) == ("28P01", f"invalid auth token: missing {name}")


@pytest.mark.parametrize("change, message", [
    (lambda p: p + [("Action", "DbConnectAdmin")], "a parameter is repeated"),
    (lambda p: p + [("DBUser", "x")], "unexpected parameter DBUser"),
    (set_param("Action", "connect"), "unknown action connect"),
    (set_param("X-Amz-Algorithm", "AWS4-HMAC-SHA1"), "X-Amz-Algorithm must be AWS4-HMAC-SHA256"),
    (set_param("X-Amz-SignedHeaders", "host;x-amz-date"), "X-Amz-SignedHeaders must be host"),
    (set_param("X-Amz-Credential", "AKIA/2025"), "malformed X-Amz-Credential"),
    (set_param("X-Amz-Date", "yesterday"), "malformed X-Amz-Date"),
    (set_param("X-Amz-Expires", "-5"),
     "X-Amz-Expires must be a number of seconds from 0 to 604800"),
    (set_param("X-Amz-Expires", "٩"),
     "X-Amz-Expires must be a number of seconds from 0 to 604800"),
])
def test_malformed_token(change, message):
    error = refusal(with_params(ADMIN_TOKEN, change))
    assert (error.sqlstate, error.message) == ("28P01", f"invalid auth token: {message}")


def test_token_for_another_service():
    scope = dict(parse_qsl(urlsplit("https://" + ADMIN_TOKEN).query))["X-Amz-Credential"]
    token = with_params(ADMIN_TOKEN, set_param("X-Amz-Credential",
                                               scope.replace("/dsql/", "/rds-db/")))
    assert refusal(token).message == "invalid auth token: signed for service rds-db, not dsql"


@pytest.mark.parametrize("garbage", ["", "hunter2", "https://", "/?", "?Action=DbConnect",
                                     "[::1/?a=b", "h/?&&&", "h/?a=b&c", "h/path?Action=x",
                                     ADMIN_TOKEN[:-10] + "\n" + ADMIN_TOKEN[-10:],
                                     ADMIN_TOKEN.replace("&", ";")])
def test_garbage_is_refused(garbage):
    assert refusal(garbage).sqlstate == "28P01"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_is_refused_without_crashing(text):
    with pytest.raises(AuthError):
        VERIFIER.verify(text, "admin")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(ADMIN_TOKEN) - 1), st.integers(1, 20), st.text(max_size=5))
def test_mangled_tokens_never_crash(at, cut, insert):
    """Refused with an AuthError, or accepted when the change does not matter (the
    host's case, the case of a percent-encoding)."""
    mangled = ADMIN_TOKEN[:at] + insert + ADMIN_TOKEN[at + cut:]
    try:
        VERIFIER.verify(mangled, "admin")
    except AuthError:
        return
    assert urlsplit("https://" + mangled).hostname == HOST
    assert sorted(parse_qsl(urlsplit("https://" + mangled).query)) == \
        sorted(parse_qsl(urlsplit("https://" + ADMIN_TOKEN).query))


# -- made once, at the first up -----------------------------------------------------------

@pytest.fixture
def config(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return ClusterConfig(data_dir=tmp_path, host_names=["db.example.test"])


def test_identity_and_credentials_are_made_once_and_kept(config):
    tokens.init_cluster_identity(config)
    endpoint, credentials = tokens.cluster_endpoint(config), tokens.trusted_credentials(config)
    assert endpoint.endswith(".dsql.us-east-1.on.aws") and len(endpoint.split(".")[0]) == 26
    assert credentials.access_key.startswith("AKIA") and len(credentials.secret_key) >= 40
    stored = config.data_dir / tokens.CREDENTIALS_FILE
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text())["aws_access_key_id"] == credentials.access_key
    tokens.init_cluster_identity(config)
    assert (tokens.cluster_endpoint(config), tokens.trusted_credentials(config)) == \
        (endpoint, credentials)
    assert tokens.accepted_hosts(config) == [endpoint, "localhost", "127.0.0.1",
                                             "db.example.test"]


def test_environment_credentials_are_trusted_and_not_stored(config, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    tokens.init_cluster_identity(config)
    assert tokens.trusted_credentials(config) == ReadOnlyCredentials("AKIAENV", "secret", None)
    assert not (config.data_dir / tokens.CREDENTIALS_FILE).exists()


def test_certificate_is_made_once_with_a_private_key(config):
    ensure_certificate(config, ["localhost", "127.0.0.1"])
    cert, key = config.data_dir / "tls" / "server.crt", config.data_dir / "tls" / "server.key"
    first = cert.read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    ensure_certificate(config, ["localhost", "127.0.0.1"])
    assert cert.read_bytes() == first
