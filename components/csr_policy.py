"""What a client's own certificate request (CSR) may ask for before the stack signs it.

pulumi-tls's LocallySignedCert copies the request's subject and DNS/IP/URI names into the certificate and drops
every other requested extension, so a request is refused when what it asks for could not be what the client
gets: no CA, no serverAuth, no alternative names, and CN = the client's name (once).
"""

from __future__ import annotations

import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from components.keys import KeySpec

_CURVES = {"secp256r1": "P256", "secp384r1": "P384"}
_STRENGTH = "an RSA key of 2048 to 8192 bits or an ECDSA key on P-256 or P-384 (ALB takes RSA and ECC)"


class CsrRefused(ValueError):
    """A client's certificate request the stack will not sign: what is wrong with it and what would be accepted."""

    def __init__(self, client: str, problem: str, accepted: str) -> None:
        self.client, self.problem, self.accepted = client, problem, accepted
        super().__init__(
            f"the certificate request of client {client!r} is not accepted: {problem}; expected {accepted}"
        )


def check_csr(client: str, pem: Any) -> KeySpec:
    """Check `client`'s own certificate request (PEM) before anything is signed; return its key's description."""
    if not isinstance(pem, str) or "-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        shown = pem.strip().splitlines()[0] if isinstance(pem, str) and pem.strip() else json.dumps(pem)
        raise CsrRefused(
            client,
            f"it is not a PEM certificate request (it begins {shown[:64]!r})",
            "the PEM `-----BEGIN CERTIFICATE REQUEST-----` block `openssl req -new` writes",
        )
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as error:
        raise CsrRefused(client, f"it cannot be read ({error})", "an unaltered PEM certificate request") from None
    if not csr.is_signature_valid:
        raise CsrRefused(
            client,
            "its signature does not verify (the request was altered after it was signed)",
            "the request exactly as `openssl req -new` wrote it",
        )
    key = _key_of(client, csr)
    names = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [client]:
        raise CsrRefused(
            client,
            f"its subject CN is {', '.join(map(repr, names)) or 'missing'}",
            f"CN={client}: the certificate takes the request's subject, and the client's CN is its name",
        )
    extensions = {extension.oid: extension.value for extension in csr.extensions}
    basic = extensions.get(x509.BasicConstraints.oid)
    usage = extensions.get(x509.KeyUsage.oid)
    if (basic is not None and basic.ca) or (usage is not None and (usage.key_cert_sign or usage.crl_sign)):
        raise CsrRefused(
            client, "it asks for a CA certificate", "a request for a client certificate (CA:FALSE, no keyCertSign)"
        )
    purposes = extensions.get(x509.ExtendedKeyUsage.oid) or []
    if ExtendedKeyUsageOID.SERVER_AUTH in purposes or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in purposes:
        raise CsrRefused(
            client,
            "it asks for serverAuth",
            "a request for clientAuth only (or no extendedKeyUsage: the stack sets it)",
        )
    alternative = extensions.get(x509.SubjectAlternativeName.oid)
    copied = (x509.DNSName, x509.IPAddress, x509.UniformResourceIdentifier)
    if alternative is not None and any(isinstance(name, copied) for name in alternative):
        raise CsrRefused(
            client,
            "it asks for subject alternative names, which would be copied into the certificate",
            "no DNS, IP or URI names: a client certificate here is identified by its CN",
        )
    return key


def _key_of(client: str, csr: x509.CertificateSigningRequest) -> KeySpec:
    """The request's key as a `KeySpec`, or refused when ALB would not take it."""
    public_key = csr.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        if not 2048 <= public_key.key_size <= 8192:
            raise CsrRefused(client, f"its key is RSA {public_key.key_size} bits", _STRENGTH)
        return KeySpec(algorithm="RSA", rsa_bits=public_key.key_size)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _CURVES:
            raise CsrRefused(client, f"its key is ECDSA on {public_key.curve.name}", _STRENGTH)
        return KeySpec(algorithm="ECDSA", ecdsa_curve=_CURVES[public_key.curve.name])
    raise CsrRefused(client, f"its key is {type(public_key).__name__.removeprefix('_')}", _STRENGTH)
