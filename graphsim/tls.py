"""A certificate authority and a server certificate for 127.0.0.1, made when first asked for, for the
simulator's HTTPS port (the Logs Ingestion endpoint: Azure's SDKs send a bearer token over TLS only).

The client trusts the authority through `REQUESTS_CA_BUNDLE`, which requests reads from the
environment whenever a session trusts it (azure-core's RequestsTransport does by default). Both
certificates carry the extensions a strict verifier asks for (basic constraints, key usage, key
identifiers), so urllib3's VERIFY_X509_STRICT accepts them. One pair per process, on P-256 keys:
making them takes milliseconds, and no test shares a secret with another process.
"""

from __future__ import annotations

import ipaddress
import ssl
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_lock = threading.Lock()
_made: dict[str, Path] = {}


def authority_bundle() -> Path:
    """The PEM file of the authority that signed the server certificate: the value for REQUESTS_CA_BUNDLE."""
    return _files()["authority"]


def server_context() -> ssl.SSLContext:
    """A TLS server context with the certificate for 127.0.0.1 and localhost."""
    files = _files()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # the Logs Ingestion API enforces TLS 1.2 or higher
    context.load_cert_chain(files["certificate"], files["key"])
    return context


def _files() -> dict[str, Path]:
    with _lock:
        if not _made:
            _made.update(_write(Path(tempfile.mkdtemp(prefix="graphsim-tls-"))))
        return dict(_made)


def _write(directory: Path) -> dict[str, Path]:
    now = datetime.now(UTC)
    valid = (now - timedelta(hours=1), now + timedelta(days=2))
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "graphsim test authority")])
    authority = (
        x509.CertificateBuilder()
        .subject_name(authority_name)
        .issuer_name(authority_name)
        .public_key(authority_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(authority_key.public_key()), critical=False)
        .sign(authority_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(authority_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()), critical=False)
        .sign(authority_key, hashes.SHA256())
    )
    files = {
        "authority": directory / "authority.pem",
        "certificate": directory / "server.pem",
        "key": directory / "server-key.pem",
    }
    files["authority"].write_bytes(authority.public_bytes(serialization.Encoding.PEM))
    files["certificate"].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
