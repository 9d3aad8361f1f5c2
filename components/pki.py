"""The stack's PKI with pulumi-tls: a root CA, the client certificates it issues, and a server certificate.

pulumi-tls adds nothing on its own (see shared/reference/tls-provider.md): every extension a strict
verifier wants is asked for here. The root CA is a v3 CA (CA:TRUE, keyCertSign, cRLSign, SKI); leaf
certificates carry CA:FALSE, one purpose (clientAuth or serverAuth), an SKI and, because the CA has
an SKI, an AKI.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

HOURS_PER_DAY = 24


@dataclass(frozen=True)
class KeySpec:
    """Which private key to generate."""

    algorithm: str
    """`RSA` or `ECDSA`."""
    rsa_bits: int = 2048
    """RSA modulus size in bits (RSA only)."""
    ecdsa_curve: str = "P256"
    """`P256` or `P384` (ECDSA only); always passed, since the provider's own default is P224."""

    def key_usages(self) -> list[str]:
        """Key usages of a TLS end-entity key: RSA also enciphers (TLS 1.2 RSA key exchange)."""
        return ["digital_signature", "key_encipherment"] if self.algorithm == "RSA" else ["digital_signature"]


@dataclass(frozen=True)
class Subject:
    """A distinguished name, as pulumi-tls's `subject` input takes it."""

    common_name: str
    """CN."""
    organization: str | None = None
    """O."""
    organizational_unit: str | None = None
    """OU."""
    country: str | None = None
    """C, two letters."""
    province: str | None = None
    """ST."""
    locality: str | None = None
    """L."""

    def args(self) -> tls.SelfSignedCertSubjectArgs:
        return tls.SelfSignedCertSubjectArgs(
            common_name=self.common_name,
            organization=self.organization,
            organizational_unit=self.organizational_unit,
            country=self.country,
            province=self.province,
            locality=self.locality,
        )


def _private_key(name: str, key: KeySpec, opts: pulumi.ResourceOptions) -> tls.PrivateKey:
    if key.algorithm == "RSA":
        return tls.PrivateKey(name, algorithm="RSA", rsa_bits=key.rsa_bits, opts=opts)
    return tls.PrivateKey(name, algorithm="ECDSA", ecdsa_curve=key.ecdsa_curve, opts=opts)


@dataclass
class CertificateAuthorityArgs:
    """Inputs of `CertificateAuthority`."""

    subject: Subject
    """The CA's distinguished name."""
    validity_days: int
    """How long the CA certificate is valid."""
    key: KeySpec
    """The CA key's algorithm and size."""


class CertificateAuthority(pulumi.ComponentResource):
    """A self-signed root CA. Key and certificate are protected: replacing them invalidates every client."""

    cert_pem: pulumi.Output[str]
    """The CA certificate (PEM); what the ALB verifies clients against."""
    validity_end_time: pulumi.Output[str]
    """End of the CA's validity (RFC 3339)."""
    key: tls.PrivateKey
    """The CA's private key resource: its PEM is secret and is only handed to the signing resources."""

    def __init__(self, name: str, args: CertificateAuthorityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("alb-mtls:components:CertificateAuthority", name, None, opts)
        protected = pulumi.ResourceOptions(parent=self, protect=True)
        self.key = _private_key(f"{name}-key", args.key, protected)
        cert = tls.SelfSignedCert(
            f"{name}-cert",
            private_key_pem=self.key.private_key_pem,
            subject=args.subject.args(),
            is_ca_certificate=True,
            set_subject_key_id=True,
            allowed_uses=["cert_signing", "crl_signing"],
            validity_period_hours=args.validity_days * HOURS_PER_DAY,
            opts=protected,
        )
        self.cert_pem = cert.cert_pem
        self.validity_end_time = cert.validity_end_time
        self.register_outputs({"cert_pem": self.cert_pem, "validity_end_time": self.validity_end_time})


@dataclass
class IssuedCertificateArgs:
    """Inputs shared by every certificate the CA issues."""

    ca_cert_pem: pulumi.Input[str]
    """The issuing CA's certificate (PEM)."""
    ca_private_key_pem: pulumi.Input[str]
    """The issuing CA's private key (PEM, secret)."""
    validity_days: int
    """How long the certificate is valid."""
    early_renewal_days: int
    """Re-issue this many days before expiry, when `pulumi up --refresh` sees it."""
    key: KeySpec
    """The certificate key's algorithm and size."""


class _IssuedCertificate(pulumi.ComponentResource):
    """Key, CSR and CA-signed certificate for one end entity."""

    cert_pem: pulumi.Output[str]
    """The certificate (PEM)."""
    private_key_pem: pulumi.Output[str]
    """The certificate's private key (PEM, secret)."""
    validity_end_time: pulumi.Output[str]
    """End of validity (RFC 3339)."""

    def __init__(
        self,
        type_name: str,
        name: str,
        args: IssuedCertificateArgs,
        *,
        common_name: str,
        dns_names: list[str] | None,
        purpose: str,
        opts: pulumi.ResourceOptions | None,
    ):
        super().__init__(f"alb-mtls:components:{type_name}", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = _private_key(f"{name}-key", args.key, child)
        csr = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=common_name),
            dns_names=dns_names,
            opts=child,
        )
        cert = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_cert_pem=args.ca_cert_pem,
            ca_private_key_pem=args.ca_private_key_pem,
            is_ca_certificate=False,
            set_subject_key_id=True,
            allowed_uses=[*args.key.key_usages(), purpose],
            validity_period_hours=args.validity_days * HOURS_PER_DAY,
            early_renewal_hours=args.early_renewal_days * HOURS_PER_DAY,
            opts=child,
        )
        self.cert_pem = cert.cert_pem
        self.private_key_pem = pulumi.Output.secret(key.private_key_pem)
        self.validity_end_time = cert.validity_end_time
        self.register_outputs(
            {
                "cert_pem": self.cert_pem,
                "private_key_pem": self.private_key_pem,
                "validity_end_time": self.validity_end_time,
            }
        )


@dataclass
class ClientCertificateArgs(IssuedCertificateArgs):
    """Inputs of `ClientCertificate`."""

    client_name: str
    """The client's name: the certificate's CN."""


class ClientCertificate(_IssuedCertificate):
    """A client certificate: CN = the client's name, ExtendedKeyUsage clientAuth only."""

    def __init__(self, name: str, args: ClientCertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(
            "ClientCertificate",
            name,
            args,
            common_name=args.client_name,
            dns_names=None,
            purpose="client_auth",
            opts=opts,
        )


@dataclass
class ServerCertificateArgs(IssuedCertificateArgs):
    """Inputs of `ServerCertificate`."""

    domain: str
    """The host name clients call: the certificate's SAN (and CN)."""


class ServerCertificate(_IssuedCertificate):
    """The listener's server certificate: SAN DNS = the domain, ExtendedKeyUsage serverAuth only."""

    def __init__(self, name: str, args: ServerCertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(
            "ServerCertificate",
            name,
            args,
            common_name=args.domain,
            dns_names=[args.domain],
            purpose="server_auth",
            opts=opts,
        )
