"""The cluster's TLS certificate: the user's (``--tls-cert``/``--tls-key``), or a
self-signed one generated at the first ``up`` into ``<data_dir>/tls/`` and reused after.

Clients that verify the server (``sslmode=verify-full``) can trust the generated
certificate with ``sslrootcert=<data_dir>/tls/server.crt``.
"""
from __future__ import annotations

import ipaddress
import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..config import ClusterConfig
from .session import server_ssl_context

VALIDITY = timedelta(days=3650)


def certificate_files(config: ClusterConfig) -> tuple[Path, Path | None]:
    """The certificate and key files the cluster serves (the key may be None when the
    user's certificate file holds it too)."""
    if config.tls_cert is not None:
        return config.tls_cert, config.tls_key
    tls_dir = config.data_dir / "tls"
    return tls_dir / "server.crt", tls_dir / "server.key"


def ensure_certificate(config: ClusterConfig, host_names: Iterable[str]) -> None:
    """At ``up``: without a certificate of the user's, generate a self-signed one for
    ``host_names`` unless an earlier ``up`` did."""
    cert_file, key_file = certificate_files(config)
    if config.tls_cert is not None or (cert_file.exists() and key_file.exists()):
        return
    cert_pem, key_pem = self_signed_certificate(host_names)
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.unlink(missing_ok=True)
    key_file.touch(mode=0o600)
    key_file.write_bytes(key_pem)
    cert_file.write_bytes(cert_pem)


def self_signed_certificate(host_names: Iterable[str]) -> tuple[bytes, bytes]:
    """(certificate, private key) in PEM: EC P-256, valid for ``host_names`` (DNS names
    or IP addresses), the first of them also its common name."""
    names = list(host_names)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def ssl_context_for(config: ClusterConfig) -> ssl.SSLContext:
    """The server TLS context for the cluster's certificate."""
    cert_file, key_file = certificate_files(config)
    return server_ssl_context(str(cert_file), str(key_file) if key_file else None)
