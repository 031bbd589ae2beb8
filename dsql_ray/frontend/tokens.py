"""DSQL auth tokens: the credentials a cluster trusts, and checking the tokens clients
send as their password.

A token is an AWS SigV4 presigned GET request without its scheme, as the AWS SDKs mint
it offline (``generate_db_connect_admin_auth_token`` for the ``admin`` role, action
``DbConnectAdmin``; ``generate_db_connect_auth_token`` for other roles, ``DbConnect``)::

    <host>/?Action=DbConnectAdmin&X-Amz-Algorithm=AWS4-HMAC-SHA256
        &X-Amz-Credential=<access key>%2F<yyyymmdd>%2F<region>%2Fdsql%2Faws4_request
        &X-Amz-Date=<yyyymmddThhmmssZ>&X-Amz-Expires=900&X-Amz-SignedHeaders=host
        [&X-Amz-Security-Token=<session token>]&X-Amz-Signature=<hex>

The cluster trusts one key pair: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (and
``AWS_SESSION_TOKEN``) from the environment of ``dsql-ray up``, which the cluster's
processes inherit, or else a pair generated at the first ``up`` and kept in
``<data_dir>/credentials.json``. Its host name is
``<id>.dsql.<region>.on.aws``, the id generated once and kept in ``<data_dir>/cluster-id``.
"""
from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SIGV4_TIMESTAMP, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from ..config import ClusterConfig
from ..errors import AuthError

ADMIN = "admin"
ADMIN_ACTION, ROLE_ACTION = "DbConnectAdmin", "DbConnect"
SERVICE = "dsql"
ALGORITHM = "AWS4-HMAC-SHA256"
DEFAULT_EXPIRES_S = 900
MAX_EXPIRES_S = 604_800             # one week, as DSQL
MAX_CLOCK_SKEW = timedelta(minutes=15)

CLUSTER_ID_FILE = "cluster-id"
CREDENTIALS_FILE = "credentials.json"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_ACCESS_KEY_ALPHABET = string.ascii_uppercase + "234567"

_SIGNATURE = "X-Amz-Signature"
_REQUIRED = ("Action", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
             "X-Amz-Expires", "X-Amz-SignedHeaders", _SIGNATURE)
_SECURITY_TOKEN = "X-Amz-Security-Token"
_URL_CHARS = re.compile(r"[!-~]+")                  # printable ASCII, no spaces
_HOST = re.compile(r"[a-z0-9.-]+(:[0-9]{1,5})?")
_EXPIRES = re.compile(r"[0-9]{1,7}")


# ---------------------------------------------------------------------------------------
# What the cluster trusts and answers to

def init_cluster_identity(config: ClusterConfig) -> None:
    """At ``up``: give the cluster its id and, unless the environment supplies
    credentials, a generated key pair; both are kept for later ``up``s."""
    _create_once(config.data_dir / CLUSTER_ID_FILE,
                 "".join(secrets.choice(_ID_ALPHABET) for _ in range(26)))
    if environment_credentials() is None:
        access_key = "AKIA" + "".join(secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(16))
        _create_once(config.data_dir / CREDENTIALS_FILE, json.dumps({
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secrets.token_urlsafe(30)}), private=True)


def _create_once(path: Path, content: str, *, private: bool = False) -> None:
    try:
        path.touch(mode=0o600 if private else 0o644, exist_ok=False)
    except FileExistsError:
        return
    path.write_text(content)


def cluster_endpoint(config: ClusterConfig) -> str:
    """The cluster's DSQL host name, ``<id>.dsql.<region>.on.aws``."""
    cluster_id = (config.data_dir / CLUSTER_ID_FILE).read_text().strip()
    return f"{cluster_id}.{SERVICE}.{config.region.name}.on.aws"


def accepted_hosts(config: ClusterConfig) -> list[str]:
    """The host names a token may be minted for."""
    return [cluster_endpoint(config), "localhost", "127.0.0.1", *config.host_names]


def environment_credentials() -> ReadOnlyCredentials | None:
    access_key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not (access_key and secret_key):
        return None
    return ReadOnlyCredentials(access_key, secret_key, os.environ.get("AWS_SESSION_TOKEN"))


def trusted_credentials(config: ClusterConfig) -> ReadOnlyCredentials:
    """The environment's credentials if set, else the cluster's stored ones."""
    credentials = environment_credentials()
    if credentials is not None:
        return credentials
    stored = json.loads((config.data_dir / CREDENTIALS_FILE).read_text())
    return ReadOnlyCredentials(stored["aws_access_key_id"], stored["aws_secret_access_key"],
                               None)


# ---------------------------------------------------------------------------------------
# Minting (with the AWS SDK's own generator) and verifying

def mint_token(credentials: ReadOnlyCredentials, host: str, region: str, *,
               user: str = ADMIN, expires: int = DEFAULT_EXPIRES_S) -> str:
    """A token for ``user`` as boto3 mints it."""
    import boto3
    client = boto3.Session(aws_access_key_id=credentials.access_key,
                           aws_secret_access_key=credentials.secret_key,
                           aws_session_token=credentials.token).client(SERVICE,
                                                                       region_name=region)
    generate = (client.generate_db_connect_admin_auth_token if user == ADMIN
                else client.generate_db_connect_auth_token)
    return generate(Hostname=host, Region=region, ExpiresIn=expires)


@dataclass(frozen=True, slots=True)
class _Token:
    host: str
    params: dict[str, str]          # every query parameter but the signature
    signature: str
    access_key: str
    region: str
    signed_at: datetime
    expires_at: datetime

    @property
    def action(self) -> str:
        return self.params["Action"]


class TokenVerifier:
    """Checks a token against one trusted key pair, the cluster's region and the host
    names it answers to. ``verify`` raises :class:`AuthError` with a message of its own
    for each way a token can fail."""

    def __init__(self, credentials: ReadOnlyCredentials, region: str, hosts: Iterable[str]):
        self._credentials = credentials
        self._region = region
        self._hosts = frozenset(h.lower() for h in hosts)

    @classmethod
    def for_cluster(cls, config: ClusterConfig) -> TokenVerifier:
        return cls(trusted_credentials(config), config.region.name, accepted_hosts(config))

    def verify(self, token: str, user: str, *, now: datetime | None = None) -> None:
        parsed = _parse(token)
        if parsed.region != self._region:
            raise AuthError(f"auth token is for region {parsed.region}, but this cluster "
                            f"is in {self._region}")
        if not self._signed_by_trusted_key(parsed):
            raise AuthError(f'password authentication failed for user "{user}": the auth '
                            "token's signature does not match", sqlstate="28P01")
        now = now or datetime.now(timezone.utc)
        if now >= parsed.expires_at:
            raise AuthError(f"auth token expired at {parsed.expires_at:%Y-%m-%d %H:%M:%S} UTC")
        if parsed.signed_at > now + MAX_CLOCK_SKEW:
            raise AuthError(f"auth token is not valid yet: signed for "
                            f"{parsed.signed_at:%Y-%m-%d %H:%M:%S} UTC")
        if parsed.host not in self._hosts:
            raise AuthError(f"auth token is for host {parsed.host}, which is not a name of "
                            "this cluster")
        if parsed.action != (ADMIN_ACTION if user == ADMIN else ROLE_ACTION):
            raise AuthError(f"Wrong user to action mapping. user: {user}, "
                            f"action: {parsed.action}")

    def _signed_by_trusted_key(self, token: _Token) -> bool:
        """Recompute the signature over the token's request with the trusted secret,
        as botocore's presigner computed it, and compare in constant time."""
        trusted = self._credentials
        request = AWSRequest(method="GET", url=f"https://{token.host}/", params=token.params)
        request.context["timestamp"] = token.params["X-Amz-Date"]
        auth = SigV4QueryAuth(trusted, SERVICE, self._region,
                              expires=int(token.params["X-Amz-Expires"]))
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)),
                                  request)
        signature_ok = hmac.compare_digest(token.signature.encode(), expected.encode())
        key_ok = hmac.compare_digest(token.access_key.encode(), trusted.access_key.encode())
        session_ok = hmac.compare_digest(token.params.get(_SECURITY_TOKEN, "").encode(),
                                         (trusted.token or "").encode())
        return signature_ok & key_ok & session_ok


def _invalid(reason: str) -> AuthError:
    return AuthError(f"invalid auth token: {reason}", sqlstate="28P01")


def _parse(token: str) -> _Token:
    """Split a token into its parts, checking its shape (not its signature)."""
    if not _URL_CHARS.fullmatch(token):
        raise _invalid("not a presigned DSQL request")
    try:
        url = urlsplit("https://" + token)
        pairs = parse_qsl(url.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise _invalid("not a presigned DSQL request") from None
    host = url.netloc.lower()
    if not (_HOST.fullmatch(host) and url.query) or url.path not in ("", "/"):
        raise _invalid("not a presigned DSQL request")
    params = dict(pairs)
    if len(params) != len(pairs):
        raise _invalid("a parameter is repeated")
    for name in _REQUIRED:
        if name not in params:
            raise _invalid(f"missing {name}")
    unexpected = params.keys() - {*_REQUIRED, _SECURITY_TOKEN}
    if unexpected:
        raise _invalid(f"unexpected parameter {min(unexpected)}")
    if params["Action"] not in (ADMIN_ACTION, ROLE_ACTION):
        raise _invalid(f"unknown action {params['Action']}")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _invalid(f"X-Amz-Algorithm must be {ALGORITHM}")
    if params["X-Amz-SignedHeaders"] != "host":
        raise _invalid("X-Amz-SignedHeaders must be host")
    scope = params["X-Amz-Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _invalid("malformed X-Amz-Credential")
    access_key, _, region, service, _ = scope
    if service != SERVICE:
        raise _invalid(f"signed for service {service}, not {SERVICE}")
    try:
        signed_at = datetime.strptime(params["X-Amz-Date"], SIGV4_TIMESTAMP).replace(
            tzinfo=timezone.utc)
    except ValueError:
        raise _invalid("malformed X-Amz-Date") from None
    expires = params["X-Amz-Expires"]
    if not _EXPIRES.fullmatch(expires) or int(expires) > MAX_EXPIRES_S:
        raise _invalid(f"X-Amz-Expires must be a number of seconds from 0 to {MAX_EXPIRES_S}")
    try:
        expires_at = signed_at + timedelta(seconds=int(expires))
    except OverflowError:           # signed at the very end of year 9999
        raise _invalid("malformed X-Amz-Date") from None
    signature = params.pop(_SIGNATURE)
    return _Token(host=host, params=params, signature=signature,
                  access_key=access_key, region=region, signed_at=signed_at,
                  expires_at=expires_at)
