"""The PCA certificate dynamic provider: one certificate issued from a CSR by a private CA (PCA) in Alibaba
Cloud Certificate Management Service, over the PCA SDK (`alibabacloud-cas20200630`, API 2020-06-30).

It has the certificate issued (`CreateClientCertificateWithCsr`, or `CreateServerCertificateWithCsr` for the
listener's), reads it back (`DescribeClientCertificate`) and revokes it (`CreateRevokeClientCertificate`) when
`revoked` turns true (an update: the same certificate, now in the CRL) or when it is deleted. Each request carries a
`CustomIdentifier` derived from its owner (project/stack), resource name and what it asks, so a create adopts only
its own lost issue, and no stack adopts, renews or revokes another's certificate. Finding one to adopt costs one
listing of the PCA per provider process, kept current with what the process issues and revokes.

Assumed where the SDK and the API reference are silent: a `CustomIdentifier` is never accepted twice (a re-issue
gets `-2`, `-3`; any refused issue lists again and adopts what is there under its identifier); with
`Immediately=2` the answer holds the leaf and its chain, issuing CA first; DescribeClientCertificate and
ListClientCertificate cover server certificates; an unknown identifier's code contains `NotFound` / `NotExist`;
ALB takes the issuing sub-CA's identifier as the listener's CA certificate (nothing is uploaded for it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.alicloud_api import Attempts, CasApiError, call_api
from components.dynamic_provider import (
    ApiInputs,
    CheckedProvider,
    input_defaults,
    is_unknown,
    registered,
    required_string,
)
from components.issuer import parse_rfc3339
from components.keys import KeySpec
from components.pca_index import REVOKED, IssuedIndex, Listed, custom_identifier, forget_listings, index_for

RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
"""How the validity outputs are written (as pulumi-tls writes them, in UTC)."""
DEPRECATED_CA_TYPE = "alicloud:sslcertificatesservicepca/certificate:Certificate"
"""The type token of the CAs this module made before pulumi-alicloud deprecated it for
`sslcertificatesservice.PcaCertificate`: aliased, so those CAs move to the new type in place."""


def pca_algorithm(key: KeySpec) -> str:
    """The PCA's `Algorithm` value for a key spec (RSA_2048, RSA_4096, ECC_256, ECC_384)."""
    if key["algorithm"] == "RSA":
        return f"RSA_{key.get('rsa_bits', 2048)}"
    return {"P256": "ECC_256", "P384": "ECC_384"}[key.get("ecdsa_curve", "P256")]


def pem_text(cert: x509.Certificate) -> str:
    """A certificate as PEM text."""
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(kw_only=True)
class PcaCertificateArgs(ApiInputs):
    """Inputs of `PcaCertificate`."""

    owner: pulumi.Input[str]
    """Who asks: `<project>/<stack>`. Part of the CustomIdentifier of what this resource creates, so no other
    stack adopts, renews or revokes it; never compared (a certificate already issued stays as it is)."""
    name: pulumi.Input[str]
    """The resource's name (e.g. `client-alice`, `server`): part of its CustomIdentifier."""
    csr_pem: pulumi.Input[str]
    """The certificate request (PEM) the PCA signs; its subject and key are the certificate's."""
    parent_identifier: pulumi.Input[str]
    """The issuing sub-CA's PCA identifier."""
    days: pulumi.Input[int]
    """Validity, days (the PCA caps it at the sub-CA's own end)."""
    early_renewal_days: pulumi.Input[int] = 0
    """Issue anew this many days before the end (on the next `pulumi up` or preview inside the window)."""
    kind: pulumi.Input[str] = "client"
    """`client` (CreateClientCertificateWithCsr) or `server` (CreateServerCertificateWithCsr)."""
    revoked: pulumi.Input[bool] = False
    """Revoke it in the PCA (kept, listed in the CRL); turning this on is an update, not a new certificate."""


class PcaCertificateProvider(CheckedProvider):
    """CRUD for one certificate the PCA issues from a CSR."""

    INPUTS = ("owner", "name", "kind", "csr_pem", "parent_identifier", "days", "early_renewal_days", "revoked",
              "region", "endpoint", "protocol")  # fmt: skip
    REPLACE_ON = ("name", "kind", "csr_pem", "parent_identifier", "days", "region")
    """Inputs whose change means a new certificate (the PCA cannot change an issued one)."""
    CREATE_ONLY = ("owner",)
    """The owner names the certificates this resource creates; it changes nothing about one already issued."""
    DEFAULTS = input_defaults(PcaCertificateArgs)
    KINDS = ("client", "server")
    index = staticmethod(index_for)
    custom_identifier = staticmethod(custom_identifier)
    forget_listings = staticmethod(forget_listings)

    # -- lifecycle -------------------------------------------------------------------------------

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        news, changed, replaces = self.changes(olds, news)
        if olds.get("revoked") and "revoked" in changed and not is_unknown(news.get("revoked")):
            replaces.append("revoked")  # a revoked certificate stays revoked: un-revoking issues a new one
        if not replaces and not olds.get("revoked") and news.get("revoked") is False and self._due(olds, news):
            # Early renewal, as pulumi-tls's: inside the window (or expired) the certificate is issued anew
            # (create, then revoke the old one). A revoked certificate is never renewed.
            replaces.append("validity_end_time")
            changed.append("validity_end_time")
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        props = self.with_defaults(props)
        client = self.client(props)
        index = self.index(props)
        attempts = Attempts(self.RETRY)
        base = self.custom_identifier(props)

        def adopt_or_issue() -> dict[str, Any]:
            # After a failed attempt (its answer may have been lost) the PCA is listed again; an issue it holds
            # under this identifier is adopted, never repeated.
            refreshed = attempts.failed > 0
            issued = index.under(client, base, refresh=refreshed)
            while True:
                adopted = self._adoptable(client, issued, props)
                if adopted is not None:
                    return adopted
                custom_identifier = base if not issued else f"{base}-{len(issued) + 1}"
                try:
                    found = self._issue(client, props, custom_identifier)
                except CasApiError as refusal:
                    if refusal.retryable or refreshed:
                        raise
                    # Refused: perhaps the identifier is taken since the listing. Look again, once.
                    refreshed = True
                    issued = index.under(client, base, refresh=True)
                    if any(c.custom_identifier == custom_identifier for c in issued):
                        continue
                    raise
                ends = int(parse_rfc3339(found["validity_end_time"]).timestamp() * 1000)
                index.add(Listed(found["identifier"], custom_identifier, found["status"], ends))
                return found

        found = attempts.run(adopt_or_issue)
        identifier = found["identifier"]
        if props["revoked"] and found["status"] != REVOKED:
            attempts.run(lambda: self._revoke(client, identifier, index))
            found["status"] = REVOKED
        return pulumi.dynamic.CreateResult(identifier, self._outs(props, found))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        props = self.with_defaults(props)
        client = self.client(props)

        def describe() -> dict[str, Any] | None:
            try:
                return self._describe(client, id_)
            except CasApiError as failure:
                if failure.not_found:
                    return None
                raise

        found = Attempts(self.RETRY).run(describe)
        if found is None:
            return pulumi.dynamic.ReadResult("", {})  # deleted out of band
        return pulumi.dynamic.ReadResult(id_, self._outs(props, found))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        # Only `revoked` (false -> true), endpoint, protocol and a region of the same site reach here.
        news = self.with_defaults(news)
        outs = {**olds, **{k: news.get(k) for k in self.INPUTS}}
        if news["revoked"] and not olds.get("revoked"):
            self.delete(id_, news)  # a delete revokes
            outs["status"] = REVOKED
        return pulumi.dynamic.UpdateResult(outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Revokes the certificate: the PCA deletes nothing it issued."""
        props = self.with_defaults(props)
        client = self.client(props)
        index = self.index(props)
        Attempts(self.RETRY).run(lambda: self._revoke(client, id_, index))

    @staticmethod
    def _due(state: dict[str, Any], props: dict[str, Any]) -> bool:
        """Whether the certificate in `state` is inside its early-renewal window (`early_renewal_days` before
        its end, or past it)."""
        end, days = state.get("validity_end_time"), props.get("early_renewal_days") or 0
        if not isinstance(end, str) or is_unknown(days):
            return False
        ends = parse_rfc3339(end)
        return dt.datetime.now(dt.UTC) >= ends - dt.timedelta(days=int(days))

    # -- PCA calls -------------------------------------------------------------------------------

    def client(self, props: dict[str, Any]) -> Any:
        """The PCA SDK client for `props` (region, endpoint, protocol)."""
        from alibabacloud_cas20200630.client import Client

        return Client(self.sdk_config(props))

    def _adoptable(self, client: Any, issued: list[Listed], props: dict[str, Any]) -> dict[str, Any] | None:
        """The first certificate issued under this request's identifier that is neither revoked nor being renewed
        (inside its early-renewal window: its renewal must not adopt it), described; None when there is none."""
        now_ms = dt.datetime.now(dt.UTC).timestamp() * 1000
        window_ms = int(props.get("early_renewal_days") or 0) * 86_400_000
        for candidate in issued:
            if candidate.status == REVOKED:
                continue
            if candidate.after_date is not None and now_ms >= candidate.after_date - window_ms:
                continue
            try:
                found = self._describe(client, candidate.identifier)
            except CasApiError as failure:
                if failure.not_found:  # deleted since it was listed
                    continue
                raise
            if found["status"] != REVOKED and not self._due(found, props):
                return found
        return None

    def _issue(self, client: Any, props: dict[str, Any], custom_identifier: str) -> dict[str, Any]:
        from alibabacloud_cas20200630 import models

        common = {
            "csr": props["csr_pem"],
            "parent_identifier": props["parent_identifier"],
            "days": int(props["days"]),
            "immediately": 2,  # answer with the certificate and its chain
            "enable_crl": 1,  # carry the CRL address, so a revocation is visible to anyone who checks
            "custom_identifier": custom_identifier,
        }
        if props["kind"] == "server":
            # `Domain`: the request's DNS names, comma-separated (assumed to become the certificate's SAN).
            csr = x509.load_pem_x509_csr(props["csr_pem"].encode("utf-8"))
            try:
                names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                domain = ",".join(names.get_values_for_type(x509.DNSName))
            except x509.ExtensionNotFound:
                domain = None
            operation, method = "CreateServerCertificateWithCsr", client.create_server_certificate_with_csr
            request = models.CreateServerCertificateWithCsrRequest(**common, domain=domain or None)
        else:
            operation, method = "CreateClientCertificateWithCsr", client.create_client_certificate_with_csr
            request = models.CreateClientCertificateWithCsrRequest(**common)
        body = call_api(operation, method, request).body
        if not body.identifier or not body.x_509certificate:
            raise CasApiError(operation, None, "the response carries no Identifier or X509Certificate")
        return _found(operation, body.identifier, body.x_509certificate, body.certificate_chain, "ISSUE")

    def _describe(self, client: Any, identifier: str) -> dict[str, Any]:
        from alibabacloud_cas20200630 import models

        request = models.DescribeClientCertificateRequest(identifier=identifier)
        cert = call_api("DescribeClientCertificate", client.describe_client_certificate, request).body.certificate
        if cert is None or not cert.x_509certificate:
            raise CasApiError("DescribeClientCertificate", None, f"no certificate in the answer for {identifier}")
        return _found("DescribeClientCertificate", identifier, cert.x_509certificate, cert.cert_chain, cert.status)

    def _revoke(self, client: Any, identifier: str, index: IssuedIndex) -> None:
        """Revokes `identifier` unless it is already revoked or gone, revoked or deleted in the console (looked up
        first on every attempt)."""
        from alibabacloud_cas20200630 import models

        try:
            if self._describe(client, identifier)["status"] == REVOKED:
                index.revoked(identifier)
                return
        except CasApiError as failure:
            if failure.not_found:
                return
            raise
        request = models.CreateRevokeClientCertificateRequest(identifier=identifier)
        call_api("CreateRevokeClientCertificate", client.create_revoke_client_certificate, request)
        index.revoked(identifier)

    # -- helpers ---------------------------------------------------------------------------------

    def _outs(self, props: dict[str, Any], found: dict[str, Any]) -> dict[str, Any]:
        return {**{k: props.get(k) for k in self.INPUTS}, **found}

    def input_problems(self, prop: str, value: Any) -> list[str]:
        if prop == "revoked":
            return [] if isinstance(value, bool) else [f"revoked must be true or false, got {value!r}"]
        if prop in ("days", "early_renewal_days"):
            least = 1 if prop == "days" else 0
            whole = isinstance(value, int | float) and not isinstance(value, bool) and int(value) == value
            if whole and value >= least:
                return []
            return [f"{prop} must be a whole number of days, at least {least}, got {value!r}"]
        problems = required_string(prop, value)
        if problems:
            return problems
        if prop == "kind" and value not in self.KINDS:
            return [f"kind must be 'client' or 'server', got {value!r}"]
        if prop == "csr_pem":
            if "PRIVATE KEY" in value:
                return ["csr_pem contains a private key; pass only the certificate request"]
            try:
                x509.load_pem_x509_csr(value.encode("utf-8"))
            except ValueError as error:
                return [f"csr_pem is not a PEM certificate request: {error}"]
        return []


def _found(operation: str, identifier: str, leaf_pem: str, chain_pem: str | None, status: Any) -> dict[str, Any]:
    """The outputs of a certificate the PCA answered with (a leaf found in the chain is dropped)."""
    try:
        leaf = x509.load_pem_x509_certificate(leaf_pem.encode("utf-8"))
        chain = x509.load_pem_x509_certificates(chain_pem.encode("utf-8")) if chain_pem else []
    except ValueError as error:
        raise CasApiError(operation, None, f"the certificate in the answer does not parse: {error}") from None
    return {
        "identifier": identifier,
        "cert_pem": pem_text(leaf),
        "chain_pem": "".join(pem_text(c) for c in chain if c != leaf),
        "serial_number": f"{leaf.serial_number:X}",
        "validity_start_time": leaf.not_valid_before_utc.strftime(RFC3339),
        "validity_end_time": leaf.not_valid_after_utc.strftime(RFC3339),
        "status": str(status) if status else "ISSUE",
    }


class PcaCertificate(pulumi.dynamic.Resource):
    """One certificate issued by the PCA from a CSR; revoked in the PCA when `revoked` or deleted."""

    identifier: pulumi.Output[str]
    """The PCA's identifier of the certificate (also the resource id)."""
    cert_pem: pulumi.Output[str]
    """The certificate (PEM)."""
    chain_pem: pulumi.Output[str]
    """The CA certificates above it (PEM), issuing CA first, as the PCA reports them."""
    serial_number: pulumi.Output[str]
    """The serial number, upper-case hex."""
    validity_start_time: pulumi.Output[str]
    """Start of validity (RFC 3339)."""
    validity_end_time: pulumi.Output[str]
    """End of validity (RFC 3339)."""
    status: pulumi.Output[str]
    """`ISSUE` or `REVOKE`."""

    def __init__(self, name: str, args: PcaCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        provider = PcaCertificateProvider()
        outputs = ("identifier", "cert_pem", "chain_pem", "serial_number", "validity_start_time", "validity_end_time")
        super().__init__(provider, name, registered(provider, args, (*outputs, "status")), opts)
