"""Certificates from a private CA (PCA) in Alibaba Cloud Certificate Management Service: no CA key in the stack.

With `ca.source: pca` the root CA and the issuing sub-CA live in the PCA (their keys never leave Alibaba
Cloud), and every certificate this stack hands out is issued there from a certificate request:

- `PcaAuthority`: the root (`ROOT`) and the issuing sub-CA (`SUB_ROOT`), created with pulumi-alicloud's
  `sslcertificatesservice.PcaCertificate` (protected, like the self-signed CA; aliased from the deprecated
  `sslcertificatesservicepca.Certificate` it replaces, so a stack that made its CAs with that type keeps them),
  or existing ones named by their identifiers. The resource id is the CA's identifier (its import takes
  `<identifier>`).
- `PcaClientCertificate` / `PcaServerCertificate`: the stack's own key and CSR (pulumi-tls), or the
  client's own CSR, and the PCA certificate; the same outputs as `pki.ClientCertificate`.
  The certificate itself is `components.pca_provider.PcaCertificate`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_alicloud as alicloud
from cryptography import x509

from components.dynamic_provider import ApiInputs, is_unknown
from components.issuer import ClientIssue, ListenerTrust, ServerIssue, held_identity
from components.keys import HOURS_PER_DAY, KeySpec, Subject, key_and_request
from components.package import component_options
from components.pca_anchor import PcaTrustAnchor, PcaTrustAnchorArgs

# PcaCertificateProvider is also imported here by name: a stack's state written before the provider had its own
# module refers to it as components.pca.PcaCertificateProvider (dynamic providers are pickled by reference).
from components.pca_provider import (
    DEPRECATED_CA_TYPE,
    PcaCertificate,
    PcaCertificateArgs,
    PcaCertificateProvider,
    pca_algorithm,
    pem_text,
)

__all__ = ["PcaCertificateProvider"]


@dataclass(kw_only=True)
class PcaAuthorityArgs(ApiInputs):
    """Inputs of `PcaAuthority`."""

    subject: Subject
    """The distinguished name of the CAs the stack creates (the sub-CA's CN gets ` issuing CA` appended)."""
    validity_days: int
    """Validity of the root the stack creates, days (the PCA takes whole years: rounded up); the sub-CA gets a
    year less (at least one)."""
    key: KeySpec
    """Key algorithm of the CAs the stack creates."""
    root_identifier: str | None = None
    """An existing PCA root to create the issuing sub-CA under (instead of creating a root)."""
    issuer_identifier: str | None = None
    """An existing issuing sub-CA (nothing is created)."""


class PcaAuthority(pulumi.ComponentResource):
    """The PCA root and issuing sub-CA: created (protected) or named by identifier."""

    issuer_identifier: pulumi.Output[str]
    """The issuing sub-CA's identifier: the certificates' parent and the listener's CA certificate id."""
    root_identifier: pulumi.Output[str] | None
    """The root's identifier (None when an existing issuer was named)."""

    def __init__(self, name: str, args: PcaAuthorityArgs, opts: pulumi.ResourceOptions | None = None):
        token, opts = component_options("PcaAuthority", opts)
        super().__init__(token, name, None, opts)
        # Aliased from the deprecated type it replaces: a stack that made its CAs with it keeps them (a replaced CA
        # would invalidate every certificate it issued).
        protected = pulumi.ResourceOptions(parent=self, protect=True, aliases=[pulumi.Alias(type_=DEPRECATED_CA_TYPE)])
        years = -(-args.validity_days // 365)
        subject = args.subject

        def ca(role: str, certificate_type: str, common_name: str, parent: pulumi.Input[str] | None, years: int):
            return alicloud.sslcertificatesservice.PcaCertificate(
                f"{name}-{role}",
                certificate_type=certificate_type,
                parent_identifier=parent,
                common_name=common_name,
                organization=subject.get("organization"),
                organization_unit=subject.get("organizational_unit"),
                country_code=subject.get("country"),
                state=subject.get("province"),
                locality=subject.get("locality"),
                years=years,
                algorithm=pca_algorithm(args.key),
                enable_crl=True,
                opts=protected,
            )

        if args.issuer_identifier is not None:
            self.root_identifier = None
            self.issuer_identifier = pulumi.Output.from_input(args.issuer_identifier)
        else:
            if args.root_identifier is not None:
                self.root_identifier = pulumi.Output.from_input(args.root_identifier)
            else:
                self.root_identifier = ca("root", "ROOT", subject["common_name"], None, years).id
            # A year less than the root (at least one), so the sub-CA ends before a root made with it: whether the
            # PCA refuses or shortens a longer one is not documented.
            issuer_years = max(1, years - 1)
            issuer = ca(
                "issuer",
                "SUB_ROOT",
                f"{subject['common_name']} issuing CA",
                self.root_identifier,
                issuer_years,
            )
            self.issuer_identifier = issuer.id
        self._api = {f.name: getattr(args, f.name) for f in dataclasses.fields(ApiInputs)}
        # The PCA issues only keys of its sub-CA's algorithm.
        self._server_key = KeySpec(algorithm=args.key["algorithm"], rsa_bits=2048, ecdsa_curve="P256")
        self._anchor = PcaTrustAnchor(
            f"{name}-trust-anchor",
            PcaTrustAnchorArgs(issuer_identifier=self.issuer_identifier, **self._api),
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"issuer_identifier": self.issuer_identifier, "root_identifier": self.root_identifier})

    # -- the issuer contract (`components.issuer.Issuer`) -----------------------------------------------------------
    @property
    def trust_anchor_pem(self) -> pulumi.Output[str]:
        """The root above the issuing sub-CA, as the PCA describes that CA."""
        return self._anchor.root_pem

    @property
    def listener_trust(self) -> ListenerTrust:
        """The issuing sub-CA, by its identifier: nothing is uploaded."""
        return ListenerTrust(ca_certificate_pem=None, ca_certificate_id=self.issuer_identifier)

    def issue_client(self, name: str, args: ClientIssue) -> PcaClientCertificate:
        """A client certificate issued by the sub-CA (a top-level component named `name`)."""
        return PcaClientCertificate(
            name, PcaClientCertificateArgs(issuer_identifier=self.issuer_identifier, **self._api, **args)
        )

    def issue_server(self, name: str, args: ServerIssue) -> PcaServerCertificate:
        """The listener's certificate issued by the sub-CA, for a key of the sub-CA's algorithm."""
        return PcaServerCertificate(
            name,
            PcaServerCertificateArgs(
                issuer_identifier=self.issuer_identifier, key=self._server_key, **self._api, **args
            ),
        )


@dataclass(kw_only=True)
class PcaIssuedArgs(ApiInputs):
    """Inputs of `PcaClientCertificate` and `PcaServerCertificate`."""

    issuer_identifier: pulumi.Input[str]
    """The issuing sub-CA's PCA identifier."""
    validity_days: int
    """How long the certificate is valid."""
    early_renewal_days: int
    """Issue anew this many days before expiry."""
    key: KeySpec
    """The certificate key's algorithm and size (of the generated key, or of the CSR's)."""
    rotate_key_on_renewal: bool = True
    """Make a new key and request at each renewal (a generated key only)."""


@dataclass(kw_only=True)
class PcaClientCertificateArgs(PcaIssuedArgs):
    """Inputs of `PcaClientCertificate`."""

    client_name: str = ""
    """The client's name: the CN of the generated request."""
    revoked: bool = False
    """Revoke the certificate in the PCA; key, request and certificate are kept (protected) as they are."""
    csr_pem: str | None = None
    """The client's own certificate request (PEM, already checked): no key is generated here."""


class _PcaIssued(pulumi.ComponentResource):
    """Key and CSR (pulumi-tls) or the end entity's CSR, and the certificate the PCA issues for it."""

    cert_pem: pulumi.Output[str]
    """The certificate followed by the CA certificates below the root (PEM): what the end entity presents."""
    chain_pem: pulumi.Output[str]
    """The CA certificates above the certificate (PEM), issuing CA first, the root last."""
    private_key_pem: pulumi.Output[str] | None
    """The private key (PEM, secret); None when the end entity brought its own CSR."""
    validity_end_time: pulumi.Output[str]
    """End of validity (RFC 3339)."""
    validity_start_time: pulumi.Output[str]
    """Start of validity (RFC 3339): when the PCA issued it."""
    key_created: pulumi.Output[str] | None
    """When the key was made (RFC 3339); None when the key is not rotated or is the end entity's own."""
    identifier: pulumi.Output[str]
    """The PCA's identifier of the certificate."""

    def __init__(
        self,
        type_name: str,
        name: str,
        args: PcaIssuedArgs,
        *,
        common_name: str,
        dns_names: list[str] | None,
        kind: str,
        revoked: bool,
        csr_pem: str | None,
        opts: pulumi.ResourceOptions | None,
    ):
        token, opts = component_options(type_name, opts)
        super().__init__(token, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        frozen = pulumi.ResourceOptions(parent=self, protect=True, ignore_changes=["*"]) if revoked else child
        if csr_pem is None:
            rotate_every = (args.validity_days * HOURS_PER_DAY, args.early_renewal_days * HOURS_PER_DAY)
            generated = key_and_request(
                name,
                args.key,
                common_name=common_name,
                dns_names=dns_names,
                rotate_every=rotate_every if args.rotate_key_on_renewal else None,
                opts=frozen,
            )
            request, self.private_key_pem, self.key_created = generated
        else:
            request = pulumi.Output.from_input(csr_pem)
            self.private_key_pem = self.key_created = None
        # A revoked certificate is kept as it is (protected, every input but `revoked` ignored), and turning
        # `revoked` on revokes it in the PCA: an update of the same certificate.
        kept = [p for p in PcaCertificateProvider.INPUTS if p != "revoked"]
        cert_opts = pulumi.ResourceOptions(parent=self, protect=True, ignore_changes=kept) if revoked else child
        cert = PcaCertificate(
            f"{name}-cert",
            PcaCertificateArgs(
                owner=f"{pulumi.get_project()}/{pulumi.get_stack()}",
                name=name,
                kind=kind,
                csr_pem=request,
                parent_identifier=args.issuer_identifier,
                days=args.validity_days,
                early_renewal_days=args.early_renewal_days,
                revoked=revoked,
                region=args.region,
                endpoint=args.endpoint,
                protocol=args.protocol,
            ),
            cert_opts,
        )
        # What the end entity presents: its certificate and the CAs below the root (the root is the trust anchor).
        self.cert_pem = pulumi.Output.all(cert.cert_pem, cert.chain_pem).apply(
            lambda v: v[0] + "".join(pem_text(c) for c in _below_root(v[1]))
        )
        self.chain_pem = cert.chain_pem
        self.validity_end_time = cert.validity_end_time
        self.validity_start_time = cert.validity_start_time
        self.identifier = cert.identifier
        self._certificate_id = cert.id
        self.register_outputs(
            {
                "cert_pem": self.cert_pem,
                "chain_pem": self.chain_pem,
                "private_key_pem": self.private_key_pem,
                "validity_end_time": self.validity_end_time,
                "validity_start_time": self.validity_start_time,
                "identifier": self.identifier,
                "key_created": self.key_created,
            }
        )


def _below_root(chain_pem: str) -> list[x509.Certificate]:
    """The CA certificates of a chain that are not self-issued (the root is)."""
    chain = x509.load_pem_x509_certificates(chain_pem.encode("utf-8")) if chain_pem else []
    return [c for c in chain if c.subject != c.issuer]


class PcaClientCertificate(_PcaIssued):
    """A client certificate issued by the PCA: CN = the client's name (clientAuth, as the PCA issues client certs)."""

    def __init__(self, name: str, args: PcaClientCertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(
            "PcaClientCertificate",
            name,
            args,
            common_name=args.client_name,
            dns_names=None,
            kind="client",
            revoked=args.revoked,
            csr_pem=args.csr_pem,
            opts=opts,
        )

    def held_identity(self, issued_before: dt.datetime, where: str) -> pulumi.Output[dict[str, str]]:
        """`components.issuer.held_identity` (the same refusal: a revoked client must hold a certificate issued
        before this run), told apart in a preview by the certificate's id.

        Revoking is an update of the certificate the client holds, and a preview does not know the outputs of
        an updated dynamic resource: the engine does not ask a provider that does not preview (the dynamic
        provider does not) and hands back its inputs. It does keep its id, which a certificate this update
        issues does not have yet. So an unknown id is refused, as before; under a known id the identity is left
        unknown in a preview, and checked once `up` has revoked the certificate and its outputs are known.
        """

        def refusal_or_identity() -> pulumi.Output[dict[str, str]]:
            return held_identity(self.cert_pem, self.validity_start_time, issued_before, where)

        def held(certificate_id: Any) -> pulumi.Output[dict[str, str]]:
            if is_unknown(certificate_id) or not certificate_id:
                return refusal_or_identity()  # planned: this update issues the certificate
            return pulumi.Output.all(self.cert_pem, self.validity_start_time).apply(lambda _: refusal_or_identity())

        return self._certificate_id.apply(held, run_with_unknowns=True)


@dataclass(kw_only=True)
class PcaServerCertificateArgs(PcaIssuedArgs):
    """Inputs of `PcaServerCertificate`."""

    domain: str = ""
    """The host name clients call: the request's CN and SAN."""


class PcaServerCertificate(_PcaIssued):
    """The listener's certificate issued by the PCA (CreateServerCertificateWithCsr) for the domain."""

    def __init__(self, name: str, args: PcaServerCertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(
            "PcaServerCertificate",
            name,
            args,
            common_name=args.domain,
            dns_names=[args.domain],
            kind="server",
            revoked=False,
            csr_pem=None,
            opts=opts,
        )
