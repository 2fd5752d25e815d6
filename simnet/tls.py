"""A throwaway self-signed certificate for the HTTPS listener.

The certificate is deliberately not trusted by anything: simulated HTTPS
exists to check that the crawler fetches without validating certificates.
"""

from __future__ import annotations

import datetime
import importlib.util
import ssl
import tempfile
from pathlib import Path


def tls_available() -> bool:
    """Whether the optional ``cryptography`` package needed for TLS is installed."""
    return importlib.util.find_spec("cryptography") is not None


def self_signed_context(common_name: str = "simnet.test") -> ssl.SSLContext:
    """A server-side SSL context with a freshly generated self-signed certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    # An EC key generates in about a millisecond, keeping server start fast.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # ssl can only load a certificate chain from files.
    with tempfile.TemporaryDirectory(prefix="simnet-tls-") as tmp:
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context.load_cert_chain(cert_path, key_path)
    return context
