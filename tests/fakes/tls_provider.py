"""A faithful test double for pulumi-tls 5.x (terraform-provider-tls v4), built on `cryptography`.

It issues real keys and certificates exactly as the provider would, following
shared/reference/tls-provider.md: nothing is added that the inputs did not ask for, BasicConstraints
is always there and critical, KeyUsage is critical, the SKI is set for every CA and otherwise only
on request, a locally signed certificate gets the CA's SKI as its AKI, only subject and SANs are
copied from the CSR, serials are random below 2^128, and the signature hash follows the key.
`now` can be moved to issue certificates in the past (for expiry tests).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CURVES = {"P224": ec.SECP224R1, "P256": ec.SECP256R1, "P384": ec.SECP384R1, "P521": ec.SECP521R1}
KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "cert_signing",
    "crl_signing",
    "encipher_only",
    "decipher_only",
)
EXTENDED_KEY_USAGES = {
    "any_extended": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec_end_system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec_tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec_user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft_server_gated_crypto": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape_server_gated_crypto": x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
    "microsoft_commercial_code_signing": x509.ObjectIdentifier("1.3.6.1.4.1.311.2.1.22"),
    "microsoft_kernel_code_signing": x509.ObjectIdentifier("1.3.6.1.4.1.311.61.1.1"),
}
# Fixed RDN order of the provider: C, ST, L, STREET, postalCode, O, OU, CN, serialNumber, emailAddress.
SUBJECT_FIELDS = (
    ("country", NameOID.COUNTRY_NAME),
    ("province", NameOID.STATE_OR_PROVINCE_NAME),
    ("locality", NameOID.LOCALITY_NAME),
    ("streetAddresses", NameOID.STREET_ADDRESS),
    ("postalCode", NameOID.POSTAL_CODE),
    ("organization", NameOID.ORGANIZATION_NAME),
    ("organizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("commonName", NameOID.COMMON_NAME),
    ("serialNumber", NameOID.SERIAL_NUMBER),
    ("emailAddress", NameOID.EMAIL_ADDRESS),
)
SECRET_OUTPUTS = {
    "tls:index/privateKey:PrivateKey": ("privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"),
}
_CERT_INPUTS = ("validityPeriodHours", "allowedUses", "isCaCertificate", "setSubjectKeyId", "earlyRenewalHours")
_CERT_INPUTS += ("maxPathLength",)
INPUTS = {
    "tls:index/privateKey:PrivateKey": ("algorithm", "rsaBits", "ecdsaCurve"),
    "tls:index/selfSignedCert:SelfSignedCert": (
        "privateKeyPem",
        "subject",
        "dnsNames",
        "ipAddresses",
        "uris",
        "setAuthorityKeyId",
        *_CERT_INPUTS,
    ),
    "tls:index/certRequest:CertRequest": ("privateKeyPem", "subject", "dnsNames", "ipAddresses", "uris"),
    "tls:index/locallySignedCert:LocallySignedCert": ("certRequestPem", "caPrivateKeyPem", "caCertPem", *_CERT_INPUTS),
}
"""Each resource's inputs: every one forces a new resource, except `earlyRenewalHours` (updated in place)."""
DEFAULTS = {
    "tls:index/privateKey:PrivateKey": {"rsaBits": 2048, "ecdsaCurve": "P224"},
    "tls:index/selfSignedCert:SelfSignedCert": {
        "isCaCertificate": False,
        "setSubjectKeyId": False,
        "setAuthorityKeyId": False,
        "earlyRenewalHours": 0,
    },
    "tls:index/locallySignedCert:LocallySignedCert": {
        "isCaCertificate": False,
        "setSubjectKeyId": False,
        "earlyRenewalHours": 0,
    },
}
"""What the provider fills in for an input left unset (it stores these in the state)."""
UPDATABLE = ("earlyRenewalHours",)


class ProviderError(Exception):
    """What the real provider would report as a failed create."""


def _pem(data: bytes) -> str:
    text = data.decode()
    return text if text.endswith("\n") else text + "\n"


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_algorithm(key: Any) -> str:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ECDSA"
    return "ED25519"


def _hash_for(key: Any) -> hashes.HashAlgorithm | None:
    if isinstance(key, rsa.RSAPrivateKey):
        return hashes.SHA256()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = key.curve.key_size
        return hashes.SHA256() if size <= 256 else hashes.SHA384() if size == 384 else hashes.SHA512()
    return None  # Ed25519 signs without a separate hash


def _load_key(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def _subject(subject: dict[str, Any] | None) -> x509.Name:
    subject = subject or {}
    attributes = []
    for field, oid in SUBJECT_FIELDS:
        value = subject.get(field)
        for item in value if isinstance(value, list) else [value]:
            if item:
                attributes.append(x509.NameAttribute(oid, item))
    return x509.Name(attributes)


def _sans(inputs: dict[str, Any]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in inputs.get("dnsNames") or []]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in inputs.get("ipAddresses") or []]
    names += [x509.UniformResourceIdentifier(u) for u in inputs.get("uris") or []]
    return names


class FakeTlsProvider:
    """Plays the `tls:` resources for `pulumi.runtime.Mocks`."""

    def __init__(self, now: Callable[[], dt.datetime] | None = None):
        self.now = now or (lambda: dt.datetime.now(dt.UTC))

    def handles(self, type_token: str) -> bool:
        return type_token.startswith("tls:index/")

    # --- lifecycle beyond create (the engine plugin uses these; mocks only create) ---------------
    def check(self, type_token: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """The inputs with the provider's defaults filled in."""
        return {**DEFAULTS.get(type_token, {}), **{k: v for k, v in inputs.items() if v is not None}}

    def diff(self, type_token: str, state: dict[str, Any], news: dict[str, Any]) -> tuple[list[str], list[str]]:
        """(changed inputs, inputs whose change replaces the resource), as the provider plans an update.

        A certificate whose state says `readyForRenewal` (set by a refresh inside the early-renewal
        window) is replaced even with unchanged inputs: that is how the provider renews.
        """
        olds, news = self.check(type_token, state), self.check(type_token, news)
        changed = [k for k in INPUTS[type_token] if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k not in UPDATABLE]
        if state.get("readyForRenewal"):
            changed.append("readyForRenewal")
            replaces.append("readyForRenewal")
        return changed, replaces

    def read(self, type_token: str, state: dict[str, Any]) -> dict[str, Any]:
        """The state as a refresh finds it: a certificate's `readyForRenewal` is computed anew."""
        if "validityEndTime" not in state:
            return dict(state)
        return {**state, "readyForRenewal": self._ready(state["validityEndTime"], state.get("earlyRenewalHours"))}

    def update(self, type_token: str, state: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        """An in-place update (only `earlyRenewalHours` can change this way)."""
        return self.read(type_token, {**state, **self.check(type_token, news)})

    def _ready(self, end: str, early_hours: Any) -> bool:
        end_time = dt.datetime.strptime(end, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        return self.now() >= end_time - dt.timedelta(hours=int(early_hours or 0))

    def create(self, type_token: str, inputs: dict[str, Any]) -> dict[str, Any]:
        handler = {
            "tls:index/privateKey:PrivateKey": self.private_key,
            "tls:index/selfSignedCert:SelfSignedCert": self.self_signed_cert,
            "tls:index/certRequest:CertRequest": self.cert_request,
            "tls:index/locallySignedCert:LocallySignedCert": self.locally_signed_cert,
        }[type_token]
        return handler(dict(inputs))

    # --- PrivateKey -----------------------------------------------------------------------------
    def private_key(self, inputs: dict[str, Any]) -> dict[str, Any]:
        algorithm = inputs["algorithm"]
        if algorithm == "RSA":
            inputs.setdefault("rsaBits", 2048)
            key: Any = rsa.generate_private_key(public_exponent=65537, key_size=int(inputs["rsaBits"]))
            traditional = serialization.PrivateFormat.TraditionalOpenSSL  # PKCS#1
        elif algorithm == "ECDSA":
            inputs.setdefault("ecdsaCurve", "P224")
            key = ec.generate_private_key(CURVES[inputs["ecdsaCurve"]]())
            traditional = serialization.PrivateFormat.TraditionalOpenSSL  # SEC1
        elif algorithm == "ED25519":
            key = ed25519.Ed25519PrivateKey.generate()
            traditional = serialization.PrivateFormat.PKCS8
        else:
            raise ProviderError(f"invalid algorithm {algorithm!r}")
        encoding, none = serialization.Encoding.PEM, serialization.NoEncryption()
        public = key.public_key()
        return {
            **inputs,
            "privateKeyPem": _pem(key.private_bytes(encoding, traditional, none)),
            "privateKeyPemPkcs8": _pem(key.private_bytes(encoding, serialization.PrivateFormat.PKCS8, none)),
            "publicKeyPem": _pem(public.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)),
        }

    # --- certificates ---------------------------------------------------------------------------
    def _build(
        self,
        inputs: dict[str, Any],
        *,
        subject: x509.Name,
        public_key: Any,
        issuer: x509.Name,
        signing_key: Any,
        sans: list[x509.GeneralName],
        authority_ski: x509.SubjectKeyIdentifier | None,
    ) -> dict[str, Any]:
        for required in ("validityPeriodHours", "allowedUses"):
            if required not in inputs:
                raise ProviderError(f"missing required argument {required!r}")
        is_ca = bool(inputs.get("isCaCertificate", False))
        uses = list(inputs["allowedUses"])
        unknown = [u for u in uses if u not in KEY_USAGES and u not in EXTENDED_KEY_USAGES]
        if unknown:
            raise ProviderError(f"invalid allowed_uses {unknown}")
        start = self.now().replace(microsecond=0)
        end = start + dt.timedelta(hours=int(inputs["validityPeriodHours"]))
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(secrets.randbelow(2**128))
            .not_valid_before(start)
            .not_valid_after(end)
        )
        key_usage = {name: name in uses for name in KEY_USAGES}
        if any(key_usage.values()):
            builder = builder.add_extension(
                x509.KeyUsage(
                    **{
                        k.replace("cert_signing", "key_cert_sign").replace("crl_signing", "crl_sign"): v
                        for k, v in key_usage.items()
                    }
                ),
                critical=True,
            )
        ext_usages = [EXTENDED_KEY_USAGES[u] for u in uses if u in EXTENDED_KEY_USAGES]
        if ext_usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ext_usages), critical=False)
        max_path = int(inputs.get("maxPathLength") or 0)
        builder = builder.add_extension(
            x509.BasicConstraints(ca=is_ca, path_length=max_path if is_ca and max_path > 0 else None), critical=True
        )
        if is_ca or inputs.get("setSubjectKeyId"):
            builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        if authority_ski is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(authority_ski), critical=False
            )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=len(subject) == 0)
        cert = builder.sign(signing_key, _hash_for(signing_key))
        return {
            **inputs,
            "certPem": _pem(cert.public_bytes(serialization.Encoding.PEM)),
            "validityStartTime": _rfc3339(start),
            "validityEndTime": _rfc3339(end),
            "readyForRenewal": self._ready(_rfc3339(end), inputs.get("earlyRenewalHours")),
        }

    def self_signed_cert(self, inputs: dict[str, Any]) -> dict[str, Any]:
        key = _load_key(inputs["privateKeyPem"])
        subject = _subject(inputs.get("subject"))
        if inputs.get("isCaCertificate") and len(subject) == 0:
            raise ProviderError("a CA certificate needs a subject")
        authority = (
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()) if inputs.get("setAuthorityKeyId") else None
        )
        outputs = self._build(
            inputs,
            subject=subject,
            public_key=key.public_key(),
            issuer=subject,
            signing_key=key,
            sans=_sans(inputs),
            authority_ski=authority,
        )
        outputs["keyAlgorithm"] = _key_algorithm(key)
        return outputs

    def cert_request(self, inputs: dict[str, Any]) -> dict[str, Any]:
        key = _load_key(inputs["privateKeyPem"])
        builder = x509.CertificateSigningRequestBuilder().subject_name(_subject(inputs.get("subject")))
        sans = _sans(inputs)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        csr = builder.sign(key, _hash_for(key))
        return {
            **inputs,
            "certRequestPem": _pem(csr.public_bytes(serialization.Encoding.PEM)),
            "keyAlgorithm": _key_algorithm(key),
        }

    def locally_signed_cert(self, inputs: dict[str, Any]) -> dict[str, Any]:
        for required in ("certRequestPem", "caPrivateKeyPem", "caCertPem"):
            if required not in inputs:
                raise ProviderError(f"missing required argument {required!r}")
        csr = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
        ca_cert = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
        ca_key = _load_key(inputs["caPrivateKeyPem"])
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if ca_key.public_key().public_bytes(*spki) != ca_cert.public_key().public_bytes(*spki):
            raise ProviderError("the CA private key does not match the CA certificate")
        # Only the subject (without emailAddress) and the SANs survive from the CSR.
        subject = x509.Name([a for a in csr.subject if a.oid != NameOID.EMAIL_ADDRESS])
        try:
            sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        except x509.ExtensionNotFound:
            sans = []
        try:
            authority = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except x509.ExtensionNotFound:
            authority = None
        outputs = self._build(
            inputs,
            subject=subject,
            public_key=csr.public_key(),
            issuer=ca_cert.subject,
            signing_key=ca_key,
            sans=sans,
            authority_ski=authority,
        )
        outputs["caKeyAlgorithm"] = _key_algorithm(ca_key)
        return outputs
