"""The stack's PKI with pulumi-tls: a root CA, the client certificates it issues, and a server certificate.

pulumi-tls adds nothing on its own (see shared/reference/tls-provider.md): every extension a strict
verifier wants is asked for here. The root CA is a v3 CA (CA:TRUE, keyCertSign, cRLSign, SKI); leaf
certificates carry CA:FALSE, one purpose (clientAuth or serverAuth), an SKI and, because the CA has
an SKI, an AKI.

A revoked client keeps its key, CSR and certificate exactly as they are: they are protected and ignore
every input change (`protect`, `ignore_changes=["*"]`). Nothing the configuration does re-issues them,
and pulumi-tls's renewal (once `readyForRenewal`, the provider plans a replacement) is refused by the
engine instead of handing the client a certificate the gate does not know. `ignore_changes` alone would
not do: it applies to inputs, and `readyForRenewal` is an output the provider's plan turns into a
replacement (pulumi-terraform-bridge `pf/tfbridge/provider_diff.go`: ignoreChanges only rewrites the
checked inputs; `RequiresReplace` from the plan goes through).
"""

import datetime as dt
from typing import NotRequired, TypedDict

import pulumi
import pulumi_tls as tls

from components.issuer import ClientIssue, ListenerTrust, ServerIssue, held_identity
from components.keys import HOURS_PER_DAY, KeySpec, Subject, key_and_request, key_usages, private_key, subject_args
from components.package import component_options

SERVER_KEY = KeySpec(algorithm="RSA", rsa_bits=2048, ecdsa_curve="P256")
"""The server certificate's key the self-signed CA issues for (what ALB and every client accepts)."""


class CertificateAuthorityArgs(TypedDict):
    """Inputs of `CertificateAuthority`."""

    subject: Subject
    """The CA's distinguished name."""
    validity_days: int
    """How long the CA certificate is valid, in days."""
    key: KeySpec
    """The CA key's algorithm and size."""


class CertificateAuthority(pulumi.ComponentResource):
    """A self-signed root CA. Key and certificate are protected: replacing them invalidates every client."""

    cert_pem: pulumi.Output[str]
    """The CA certificate (PEM); what the ALB verifies clients against."""
    validity_end_time: pulumi.Output[str]
    """End of the CA's validity (RFC 3339)."""
    private_key_pem: pulumi.Output[str]
    """The CA's private key (PEM, secret): hand it only to the components that sign (`caPrivateKeyPem`), never export it."""

    def __init__(self, name: str, args: CertificateAuthorityArgs, opts: pulumi.ResourceOptions | None = None):
        type_name, opts = component_options("CertificateAuthority", opts)
        super().__init__(type_name, name, None, opts)
        protected = pulumi.ResourceOptions(parent=self, protect=True)
        # The key resource (not a schema output: the package serves its PEM, as the secret `private_key_pem`).
        self.key = private_key(f"{name}-key", args["key"], protected)
        cert = tls.SelfSignedCert(
            f"{name}-cert",
            private_key_pem=self.key.private_key_pem,
            subject=subject_args(args["subject"]),
            is_ca_certificate=True,
            set_subject_key_id=True,
            allowed_uses=["cert_signing", "crl_signing"],
            validity_period_hours=args["validity_days"] * HOURS_PER_DAY,
            opts=protected,
        )
        self.cert_pem = cert.cert_pem
        self.validity_end_time = cert.validity_end_time
        self.private_key_pem = pulumi.Output.secret(self.key.private_key_pem)
        self._signer = {"ca_cert_pem": cert.cert_pem, "ca_private_key_pem": self.key.private_key_pem}
        self.register_outputs(
            {
                "cert_pem": self.cert_pem,
                "validity_end_time": self.validity_end_time,
                "private_key_pem": self.private_key_pem,
            }
        )

    # -- the issuer contract (`Issuer`) --------------------------------------------------------------------------
    @property
    def trust_anchor_pem(self) -> pulumi.Output[str]:
        """This CA's certificate: the root clients trust."""
        return self.cert_pem

    @property
    def listener_trust(self) -> ListenerTrust:
        """This CA's certificate, uploaded to Certificate Management for the listener."""
        return ListenerTrust(ca_certificate_pem=self.cert_pem, ca_certificate_id=None)

    def issue_client(self, name: str, args: ClientIssue) -> "ClientCertificate":
        """A client certificate signed by this CA (a top-level component named `name`)."""
        return ClientCertificate(name, ClientCertificateArgs(**self._signer, **args))

    def issue_server(self, name: str, args: ServerIssue) -> "ServerCertificate":
        """The listener's certificate signed by this CA, for an RSA 2048 key (`SERVER_KEY`)."""
        return ServerCertificate(name, ServerCertificateArgs(**self._signer, key=SERVER_KEY, **args))


# The schema takes each property's description from its own class (the analyzer does not read base
# classes' docstrings), so the fields every issued certificate shares are spelled out in each class.
class IssuedCertificateArgs(TypedDict):
    """Inputs shared by every certificate the CA issues."""

    ca_cert_pem: pulumi.Input[str]
    """The issuing CA's certificate (PEM)."""
    ca_private_key_pem: pulumi.Input[str]
    """The issuing CA's private key (PEM, secret)."""
    validity_days: int
    """How long the certificate is valid, in days."""
    early_renewal_days: int
    """Re-issue this many days before expiry, when `pulumi up --refresh` sees it."""
    key: KeySpec
    """The certificate key's algorithm and size (for a client's own CSR: its key's)."""
    rotate_key_on_renewal: NotRequired[bool]
    """Make a new key and request at each renewal, not only a new certificate (default true; not for a CSR)."""


class _IssuedCertificate(pulumi.ComponentResource):
    """Key, CSR and CA-signed certificate for one end entity; or, given the end entity's own CSR, the certificate."""

    cert_pem: pulumi.Output[str]
    """The certificate (PEM)."""
    private_key_pem: pulumi.Output[str] | None
    """The certificate's private key (PEM, secret); None when the end entity brought its own CSR (its key)."""
    validity_end_time: pulumi.Output[str]
    """End of validity (RFC 3339)."""
    validity_start_time: pulumi.Output[str]
    """Start of validity (RFC 3339): when the provider issued it."""
    key_created: pulumi.Output[str] | None
    """When the key was made (RFC 3339); None when the key is not rotated or is the end entity's own."""

    def __init__(
        self,
        type_name: str,
        name: str,
        args: IssuedCertificateArgs,
        *,
        common_name: str,
        dns_names: list[str] | None,
        purpose: str,
        frozen: bool = False,
        csr_pem: str | None = None,
        opts: pulumi.ResourceOptions | None,
    ):
        token, opts = component_options(type_name, opts)
        super().__init__(token, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if frozen:  # never replaced, never renewed, never deleted by accident (see the module docstring)
            child = pulumi.ResourceOptions(parent=self, protect=True, ignore_changes=["*"])
        if csr_pem is None:
            generated = key_and_request(
                name,
                args["key"],
                common_name=common_name,
                dns_names=dns_names,
                rotate_every=renewal_hours(args),
                opts=child,
            )
            request, self.private_key_pem, self.key_created = generated
        else:  # the end entity's own request: no key here, ever; renewal signs the same request again
            request = pulumi.Output.from_input(csr_pem)
            self.private_key_pem = self.key_created = None
        cert = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=request,
            ca_cert_pem=args["ca_cert_pem"],
            ca_private_key_pem=args["ca_private_key_pem"],
            is_ca_certificate=False,
            set_subject_key_id=True,
            allowed_uses=[*key_usages(args["key"]), purpose],
            validity_period_hours=args["validity_days"] * HOURS_PER_DAY,
            early_renewal_hours=args["early_renewal_days"] * HOURS_PER_DAY,
            opts=child,
        )
        self.cert_pem = cert.cert_pem
        self.validity_end_time = cert.validity_end_time
        self.validity_start_time = cert.validity_start_time
        self.register_outputs(
            {
                "cert_pem": self.cert_pem,
                "private_key_pem": self.private_key_pem,
                "validity_end_time": self.validity_end_time,
                "validity_start_time": self.validity_start_time,
                "key_created": self.key_created,
            }
        )


def renewal_hours(args: IssuedCertificateArgs) -> tuple[int, int] | None:
    """(validity, early-renewal) hours of a certificate whose key is rotated at renewal, else None."""
    if not args.get("rotate_key_on_renewal", True):
        return None
    return args["validity_days"] * HOURS_PER_DAY, args["early_renewal_days"] * HOURS_PER_DAY


class ClientCertificateArgs(IssuedCertificateArgs):
    """Inputs of `ClientCertificate`."""

    ca_cert_pem: pulumi.Input[str]
    """The issuing CA's certificate (PEM)."""
    ca_private_key_pem: pulumi.Input[str]
    """The issuing CA's private key (PEM, secret)."""
    validity_days: int
    """How long the certificate is valid, in days."""
    early_renewal_days: int
    """Re-issue this many days before expiry, when `pulumi up --refresh` sees it."""
    key: KeySpec
    """The certificate key's algorithm and size (for a client's own CSR: its key's)."""
    rotate_key_on_renewal: NotRequired[bool]
    """Make a new key and request at each renewal, not only a new certificate (default true; not for a CSR)."""
    client_name: str
    """The client's name: the certificate's CN."""
    revoked: NotRequired[bool]
    """Keep key, CSR and certificate exactly as they are (protected, every change ignored; default false)."""
    csr_pem: NotRequired[str | None]
    """The client's own certificate request (PEM, already checked: CN = `client_name`, key described by `key`):
    signed as it is, so no key is generated and the stack never holds the client's private key."""


class ClientCertificate(_IssuedCertificate):
    """A client certificate: CN = the client's name, ExtendedKeyUsage clientAuth only."""

    cert_pem: pulumi.Output[str]
    """The certificate (PEM)."""
    private_key_pem: pulumi.Output[str] | None
    """The certificate's private key (PEM, secret); None when the end entity brought its own CSR (its key)."""
    validity_end_time: pulumi.Output[str]
    """End of validity (RFC 3339)."""
    validity_start_time: pulumi.Output[str]
    """Start of validity (RFC 3339): when the provider issued it."""
    key_created: pulumi.Output[str] | None
    """When the key was made (RFC 3339); None when the key is not rotated or is the end entity's own."""

    def __init__(self, name: str, args: ClientCertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(
            "ClientCertificate",
            name,
            args,
            common_name=args["client_name"],
            dns_names=None,
            purpose="client_auth",
            frozen=args.get("revoked", False),
            csr_pem=args.get("csr_pem"),
            opts=opts,
        )

    def held_identity(self, issued_before: dt.datetime, where: str) -> pulumi.Output[dict[str, str]]:
        """The identity of the certificate the client already holds, for revoking it (`held_identity`)."""
        return held_identity(self.cert_pem, self.validity_start_time, issued_before, where)


class ServerCertificateArgs(IssuedCertificateArgs):
    """Inputs of `ServerCertificate`."""

    ca_cert_pem: pulumi.Input[str]
    """The issuing CA's certificate (PEM)."""
    ca_private_key_pem: pulumi.Input[str]
    """The issuing CA's private key (PEM, secret)."""
    validity_days: int
    """How long the certificate is valid, in days."""
    early_renewal_days: int
    """Re-issue this many days before expiry, when `pulumi up --refresh` sees it."""
    key: KeySpec
    """The certificate key's algorithm and size (for a client's own CSR: its key's)."""
    rotate_key_on_renewal: NotRequired[bool]
    """Make a new key and request at each renewal, not only a new certificate (default true; not for a CSR)."""
    domain: str
    """The host name clients call: the certificate's SAN (and CN)."""


class ServerCertificate(_IssuedCertificate):
    """The listener's server certificate: SAN DNS = the domain, ExtendedKeyUsage serverAuth only."""

    cert_pem: pulumi.Output[str]
    """The certificate (PEM)."""
    private_key_pem: pulumi.Output[str] | None
    """The certificate's private key (PEM, secret); None when the end entity brought its own CSR (its key)."""
    validity_end_time: pulumi.Output[str]
    """End of validity (RFC 3339)."""
    validity_start_time: pulumi.Output[str]
    """Start of validity (RFC 3339): when the provider issued it."""
    key_created: pulumi.Output[str] | None
    """When the key was made (RFC 3339); None when the key is not rotated or is the end entity's own."""

    def __init__(self, name: str, args: ServerCertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(
            "ServerCertificate",
            name,
            args,
            common_name=args["domain"],
            dns_names=[args["domain"]],
            purpose="server_auth",
            opts=opts,
        )
