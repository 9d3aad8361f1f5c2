"""Certificates from a private CA (PCA) in Alibaba Cloud Certificate Management Service: no CA key in the stack.

With `ca.source: pca` the root CA and the issuing sub-CA live in the PCA (their keys never leave Alibaba
Cloud), and every certificate this stack hands out is issued there from a certificate request:

- `PcaAuthority`: the root (`ROOT`) and the issuing sub-CA (`SUB_ROOT`), created with pulumi-alicloud's
  `sslcertificatesservice.PcaCertificate` (protected, like the self-signed CA; aliased from the deprecated
  `sslcertificatesservicepca.Certificate` it replaces, so a stack that made its CAs with that type keeps them),
  or existing ones named by their identifiers. The resource id is the CA's identifier (its import takes
  `<identifier>`).
- `PcaCertificate`: a dynamic provider over the official PCA SDK (`alibabacloud-cas20200630`, API
  2020-06-30) that has one certificate issued from a CSR (`CreateClientCertificateWithCsr`, or
  `CreateServerCertificateWithCsr` for the listener's certificate), reads it back
  (`DescribeClientCertificate`), and revokes it (`CreateRevokeClientCertificate`) when `revoked` turns true
  (an update: the same certificate, now in the PCA's CRL) or when it is deleted.
- `PcaClientCertificate` / `PcaServerCertificate`: the stack's own key and CSR (pulumi-tls), or the
  client's own CSR, and the PCA certificate; the same outputs as `pki.ClientCertificate`.

Where, with what and how to fail are the Alibaba Cloud API layer's (`components.alicloud_api`): the calls go to
the Certificate Management site of the region (`cas_region`: cn-hangzhou for the Chinese mainland,
ap-southeast-1 otherwise) unless `endpoint` names one; throttling, 5xx and transport failures are retried until
the deadline, any other error fails at once naming the call and the code.

Ownership and idempotence: each certificate is requested with a `CustomIdentifier` derived from its owner (the
Pulumi project and stack), its resource name and what is asked (kind, issuer, days, CSR). A create adopts only a
certificate issued under its own identifier, so an issue whose answer was lost, or an `up` that was interrupted,
is not repeated, and no stack can adopt, renew or revoke a certificate another stack (or another resource)
asked for, even for the same CSR from the same sub-CA. Only creates use the identifier: a certificate issued
before identifiers named their owner keeps its PCA identifier (the resource id) for refresh, revocation and
deletion, and is neither re-issued nor revoked because of the change (`owner` is never compared). Revocation
and deletion look first (DescribeClientCertificate: already `REVOKE`, or gone, means done).

Cost: finding a certificate to adopt needs no call per certificate. The provider process lists the PCA's
certificates once (ListClientCertificate, every page) the first time a create needs it, keeps that index
current with what it issues and revokes itself, and lists again only after a failed attempt (whose answer may
have been lost). A new stack of N clients therefore costs N issues plus one listing.

Assumptions the SDK and the API reference leave open (the local fake, tests/fake_pca.py, plays them):
- `CustomIdentifier` is "a unique key" (the SDK's words): a value is never sent twice, so when certificates
  with this request's identifier exist but are all revoked (a client deleted, then added again with the
  same CSR), the next one gets a numbered suffix (`…-2`, `…-3`). What the PCA answers to a value sent twice
  is not documented: any refusal of an issue makes the provider list again and adopt what it finds under its
  identifier, and only when there is nothing does the refusal stand.
- With `Immediately=2` the create answers with `X509Certificate` (the leaf) and `CertificateChain` (the CA
  certificates, issuing CA first; a leaf found in it is dropped); DescribeClientCertificate's `CertChain` is
  the same chain, and DescribeClientCertificate and ListClientCertificate cover server certificates too
  (CreateRevokeClientCertificate's reference says it revokes "client or server" certificates).
- An unknown identifier is answered with an error code containing `NotFound` / `NotExist`.
- The listener takes the issuing sub-CA's identifier as its CA certificate id (ALB's certificate guide asks
  for "a private intermediate CA certificate" for mutual authentication); nothing is uploaded for that:
  `UploadPcaCertToCas` (it exists in the SDK, taking numeric `Ids`) synchronizes *issued* PCA certificates
  into the SSL certificate list and is not used.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
import pulumi_alicloud as alicloud
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.alicloud_api import (
    Attempts,
    CasApiError,
    RetryPolicy,
    call_api,
    cas_region,
    is_unknown,
    sdk_config,
)
from components.ca_registration import CheckedProvider
from components.package import component_options
from components.pki import HOURS_PER_DAY, ClientCertificate, KeySpec, Subject, key_and_request, parse_rfc3339

DEPRECATED_CA_TYPE = "alicloud:sslcertificatesservicepca/certificate:Certificate"
"""The type token of the CAs this module made before pulumi-alicloud deprecated it for
`sslcertificatesservice.PcaCertificate`: aliased, so those CAs move to the new type in place."""
REVOKED = "REVOKE"
"""The `Status` DescribeClientCertificate / ListClientCertificate report for a revoked certificate."""


def _field(value: Any, name: str, default: Any = None) -> Any:
    """A field of a `KeySpec` or `Subject`: dataclasses until the component package (issue 13) makes them
    TypedDicts; this module reads either."""
    if isinstance(value, dict):
        return value.get(name, default)
    return getattr(value, name, default)


def pca_algorithm(key: KeySpec) -> str:
    """The PCA's `Algorithm` value for a key spec (RSA_2048, RSA_4096, ECC_256, ECC_384)."""
    if _field(key, "algorithm") == "RSA":
        return f"RSA_{_field(key, 'rsa_bits', 2048)}"
    return {"P256": "ECC_256", "P384": "ECC_384"}[_field(key, "ecdsa_curve", "P256")]


def _rfc3339(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


IDENTIFIER_PREFIX = "alb-mtls-"
"""Every `CustomIdentifier` this provider sends starts so: the prefix and 32 hex digits, then `-N` for the Nth."""
_BASE_LENGTH = len(IDENTIFIER_PREFIX) + 32


@dataclass(frozen=True)
class Listed:
    """One certificate as ListClientCertificate reports it: what adoption needs to decide."""

    identifier: str
    custom_identifier: str
    status: str
    after_date: int | None
    """The end of validity, milliseconds since the epoch (`AfterDate`)."""


def identifier_base(custom_identifier: str) -> str:
    """The identifier a `CustomIdentifier` numbers (`…-2` -> `…`); itself when it numbers none."""
    head, tail = custom_identifier[:_BASE_LENGTH], custom_identifier[_BASE_LENGTH:]
    if custom_identifier.startswith(IDENTIFIER_PREFIX) and tail[:1] == "-" and tail[1:].isdigit():
        return head
    return custom_identifier


@dataclass
class IssuedIndex:
    """The certificates one PCA holds, by the identifier they were issued under: listed once per provider process
    (ListClientCertificate, every page), kept current with what this process issues and revokes, and listed again
    only when asked to (after a failed attempt, whose answer may have been lost)."""

    page_size: int
    by_base: dict[str, list[Listed]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    listings: int = 0
    """Complete listings made (each one or more ListClientCertificate pages)."""

    def under(self, client: Any, base: str, refresh: bool = False) -> list[Listed]:
        """The certificates issued under `base` or a numbered `base-N`, oldest first."""
        with self.lock:
            if self.by_base is None or refresh:
                self.by_base = self._list(client)
                self.listings += 1
            return sorted(self.by_base.get(base, []), key=lambda c: (len(c.custom_identifier), c.custom_identifier))

    def add(self, listed: Listed) -> None:
        with self.lock:
            if self.by_base is not None:
                self.by_base.setdefault(identifier_base(listed.custom_identifier), []).append(listed)

    def revoked(self, identifier: str) -> None:
        with self.lock:
            for entries in (self.by_base or {}).values():
                entries[:] = [
                    Listed(c.identifier, c.custom_identifier, REVOKED, c.after_date)
                    if c.identifier == identifier
                    else c
                    for c in entries
                ]

    def _list(self, client: Any) -> dict[str, list[Listed]]:
        from alibabacloud_cas20200630 import models

        found: dict[str, list[Listed]] = {}
        page = 1
        while True:
            request = models.ListClientCertificateRequest(current_page=page, show_size=self.page_size)
            body = call_api("ListClientCertificate", client.list_client_certificate, request).body
            listed = body.certificate_list or []
            for c in listed:
                if c.identifier and c.custom_identifier:
                    entry = Listed(c.identifier, c.custom_identifier, str(c.status or ""), c.after_date)
                    found.setdefault(identifier_base(c.custom_identifier), []).append(entry)
            if not listed or page * self.page_size >= (body.total_count or 0):
                return found
            page += 1


_INDEXES: dict[tuple[Any, ...], IssuedIndex] = {}
_INDEXES_LOCK = threading.Lock()


class PcaCertificateProvider(CheckedProvider):
    """CRUD for one certificate the PCA issues from a CSR."""

    INPUTS = (
        "owner",
        "name",
        "kind",
        "csr_pem",
        "parent_identifier",
        "days",
        "early_renewal_days",
        "revoked",
        "region",
        "endpoint",
        "protocol",
    )
    """Input properties, in the order they are reported."""
    REPLACE_ON = ("name", "kind", "csr_pem", "parent_identifier", "days", "region")
    """Inputs whose change means a new certificate (the PCA cannot change an issued one); `region` only when
    its Certificate Management site changes."""
    CREATE_ONLY = ("owner",)
    """The owner names the certificates this resource creates; it changes nothing about one already issued."""
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "kind": "client",
        "early_renewal_days": 0,
        "revoked": False,
        "protocol": "https",
    }
    KINDS = ("client", "server")
    PAGE_SIZE = 50
    RETRY: ClassVar[RetryPolicy] = RetryPolicy()
    """Retries of throttling, 5xx and transport failures (tests set a short one)."""

    # -- lifecycle -------------------------------------------------------------------------------

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        news, changed, replaces = self.changes(olds, news)
        if "region" in replaces and self._same_site(olds.get("region"), news.get("region")):
            replaces.remove("region")  # the same Certificate Management site: the certificate is where it was
        if olds.get("revoked") and "revoked" in changed and not is_unknown(news.get("revoked")):
            replaces.append("revoked")  # a revoked certificate stays revoked: un-revoking issues a new one
        if not replaces and not olds.get("revoked") and news.get("revoked") is False and self._due(olds, news):
            # Early renewal, as pulumi-tls's: inside the window (or expired) the certificate is issued anew
            # (create, then revoke the old one). A revoked certificate is never renewed.
            replaces.append("validity_end_time")
            changed.append("validity_end_time")
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        props = {**self.DEFAULTS, **props}
        client = self._client(props)
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
        props = {**self.DEFAULTS, **props}
        client = self._client(props)

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
        # Only `revoked` (false -> true), endpoint, protocol and a region of the same site reach here; the rest
        # replaces.
        news = {**self.DEFAULTS, **news}
        outs = {**olds, **{k: news.get(k) for k in self.INPUTS}}
        if news["revoked"] and not olds.get("revoked"):
            client = self._client(news)
            index = self.index(news)
            Attempts(self.RETRY).run(lambda: self._revoke(client, id_, index))
            outs["status"] = REVOKED
        return pulumi.dynamic.UpdateResult(outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        props = {**self.DEFAULTS, **props}
        client = self._client(props)
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

    @staticmethod
    def _same_site(old: Any, new: Any) -> bool:
        return isinstance(old, str) and isinstance(new, str) and cas_region(old) == cas_region(new)

    # -- PCA calls -------------------------------------------------------------------------------

    @staticmethod
    def _client(props: dict[str, Any]) -> Any:
        from alibabacloud_cas20200630.client import Client

        return Client(sdk_config({**props, "region": cas_region(props["region"])}))

    @classmethod
    def index(cls, props: dict[str, Any]) -> IssuedIndex:
        """This process's index of the PCA `props` reach (one per endpoint, site and access key)."""
        import os

        key = (props.get("endpoint"), props.get("protocol"), cas_region(props["region"]))
        key += (os.environ.get("ALICLOUD_ACCESS_KEY"),)
        with _INDEXES_LOCK:
            return _INDEXES.setdefault(key, IssuedIndex(cls.PAGE_SIZE))

    @staticmethod
    def forget_listings() -> None:
        """Drop every index, as a new provider process starts without one."""
        with _INDEXES_LOCK:
            _INDEXES.clear()

    @staticmethod
    def custom_identifier(props: dict[str, Any]) -> str:
        """The `CustomIdentifier` of this request: its owner (project/stack), its resource name and what it asks
        (kind, issuer, days, CSR). The same request of the same resource always gets the same one; any other
        resource, in this stack or another, never does."""
        asked = "\n".join(
            str(props[k]) for k in ("owner", "name", "kind", "parent_identifier", "days", "csr_pem")
        ).encode("utf-8")
        return IDENTIFIER_PREFIX + hashlib.sha256(b"owned\n" + asked).hexdigest()[:32]

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
        return self._found(operation, body.identifier, body.x_509certificate, body.certificate_chain, "ISSUE")

    def _describe(self, client: Any, identifier: str) -> dict[str, Any]:
        from alibabacloud_cas20200630 import models

        request = models.DescribeClientCertificateRequest(identifier=identifier)
        body = call_api("DescribeClientCertificate", client.describe_client_certificate, request).body
        cert = body.certificate
        if cert is None or not cert.x_509certificate:
            raise CasApiError("DescribeClientCertificate", None, f"no certificate in the answer for {identifier}")
        return self._found("DescribeClientCertificate", identifier, cert.x_509certificate, cert.cert_chain, cert.status)

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

    @staticmethod
    def _found(operation: str, identifier: str, leaf_pem: str, chain_pem: str | None, status: Any) -> dict[str, Any]:
        try:
            leaf = x509.load_pem_x509_certificate(leaf_pem.encode("utf-8"))
            chain = x509.load_pem_x509_certificates(chain_pem.encode("utf-8")) if chain_pem else []
        except ValueError as error:
            raise CasApiError(operation, None, f"the certificate in the answer does not parse: {error}") from None
        chain = [c for c in chain if c != leaf]
        return {
            "identifier": identifier,
            "cert_pem": _pem(leaf),
            "chain_pem": "".join(_pem(c) for c in chain),
            "serial_number": f"{leaf.serial_number:X}",
            "validity_start_time": _rfc3339(leaf.not_valid_before_utc),
            "validity_end_time": _rfc3339(leaf.not_valid_after_utc),
            "status": str(status) if status else "ISSUE",
        }

    # -- helpers ---------------------------------------------------------------------------------

    def _outs(self, props: dict[str, Any], found: dict[str, Any]) -> dict[str, Any]:
        return {**{k: props.get(k) for k in self.INPUTS}, **found}

    @staticmethod
    def _problems(prop: str, value: Any) -> list[str]:
        """Why an input value is unacceptable (empty when it is fine)."""
        if prop == "endpoint":
            if value is not None and (not isinstance(value, str) or "/" in value or not value.strip()):
                return [f"endpoint must be a host[:port] without scheme or path (e.g. cas.aliyuncs.com), got {value!r}"]
            return []
        if prop == "revoked":
            return [] if isinstance(value, bool) else [f"revoked must be true or false, got {value!r}"]
        if prop in ("days", "early_renewal_days"):
            least = 1 if prop == "days" else 0
            ok = (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and int(value) == value
                and value >= least
            )
            return [] if ok else [f"{prop} must be a whole number of days, at least {least}, got {value!r}"]
        if not isinstance(value, str) or not value.strip():
            return [f"{prop} is required and must be a non-empty string, got {value!r}"]
        if prop == "kind" and value not in PcaCertificateProvider.KINDS:
            return [f"kind must be 'client' or 'server', got {value!r}"]
        if prop == "protocol" and value not in ("https", "http"):
            return [f"protocol must be 'https' or 'http', got {value!r}"]
        if prop == "csr_pem":
            if "PRIVATE KEY" in value:
                return ["csr_pem contains a private key; pass only the certificate request"]
            try:
                x509.load_pem_x509_csr(value.encode("utf-8"))
            except ValueError as error:
                return [f"csr_pem is not a PEM certificate request: {error}"]
        return []


@dataclass
class PcaCertificateArgs:
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
    early_renewal_days: pulumi.Input[int]
    """Issue anew this many days before the end (on the next `pulumi up` or preview inside the window)."""
    region: pulumi.Input[str]
    """The stack's Alibaba Cloud region (`alicloud:region`); the PCA is called at its Certificate Management site
    (`cas_region`: cn-hangzhou for the Chinese mainland, ap-southeast-1 otherwise)."""
    kind: pulumi.Input[str] = "client"
    """`client` (CreateClientCertificateWithCsr) or `server` (CreateServerCertificateWithCsr)."""
    revoked: pulumi.Input[bool] = False
    """Revoke it in the PCA (kept, listed in the CRL); turning this on is an update, not a new certificate."""
    endpoint: pulumi.Input[str] | None = None
    """API endpoint override (`host[:port]`, the `cas` entry of `alicloud:endpoints`); by default the SDK's
    endpoint for the site."""
    protocol: pulumi.Input[str] = "https"
    """`https` (default) or `http`: `alicloud:protocol` as the SDK spells it."""


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
        props = {
            "owner": args.owner,
            "name": args.name,
            "kind": args.kind,
            "csr_pem": args.csr_pem,
            "parent_identifier": args.parent_identifier,
            "days": args.days,
            "early_renewal_days": args.early_renewal_days,
            "revoked": args.revoked,
            "region": args.region,
            "endpoint": args.endpoint,
            "protocol": args.protocol,
            **dict.fromkeys(
                ("identifier", "cert_pem", "chain_pem", "serial_number", "validity_start_time", "validity_end_time")
            ),
            "status": None,
        }
        super().__init__(PcaCertificateProvider(), name, props, opts)


@dataclass
class PcaAuthorityArgs:
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
                organization=_field(subject, "organization"),
                organization_unit=_field(subject, "organizational_unit"),
                country_code=_field(subject, "country"),
                state=_field(subject, "province"),
                locality=_field(subject, "locality"),
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
                self.root_identifier = ca("root", "ROOT", _field(subject, "common_name"), None, years).id
            # A year less than the root (at least one), so the sub-CA ends before a root made with it: whether the
            # PCA refuses or shortens a longer one is not documented.
            issuer_years = max(1, years - 1)
            issuer = ca(
                "issuer", "SUB_ROOT", f"{_field(subject, 'common_name')} issuing CA", self.root_identifier, issuer_years
            )
            self.issuer_identifier = issuer.id
        self.register_outputs({"issuer_identifier": self.issuer_identifier, "root_identifier": self.root_identifier})


@dataclass
class PcaIssuedArgs:
    """Inputs of `PcaClientCertificate` and `PcaServerCertificate`."""

    issuer_identifier: pulumi.Input[str]
    """The issuing sub-CA's PCA identifier."""
    validity_days: int
    """How long the certificate is valid."""
    early_renewal_days: int
    """Issue anew this many days before expiry."""
    key: KeySpec
    """The certificate key's algorithm and size (of the generated key, or of the CSR's)."""
    region: str
    """The stack's Alibaba Cloud region (`alicloud:region`); the PCA is called at its Certificate Management site."""
    endpoint: str | None = None
    """API endpoint override (`host[:port]`, the `cas` entry of `alicloud:endpoints`)."""
    protocol: str = "https"
    """`https` or `http`: `alicloud:protocol` as the SDK spells it (`components.alicloud_api.cas_endpoint`)."""
    rotate_key_on_renewal: bool = True
    """Make a new key and request at each renewal (a generated key only)."""


@dataclass
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
            lambda v: v[0] + "".join(_pem(c) for c in _below_root(v[1]))
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


def root_of(chain_pem: str) -> str:
    """The self-issued root certificate (PEM) at the end of a PCA chain."""
    chain = x509.load_pem_x509_certificates(chain_pem.encode("utf-8"))
    roots = [c for c in chain if c.subject == c.issuer]
    if not roots:
        raise ValueError("the PCA's certificate chain holds no root certificate")
    return _pem(roots[-1])


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
        """`ClientCertificate.held_identity` (the same refusal: a revoked client must hold a certificate issued
        before this run), told apart in a preview by the certificate's id.

        Revoking is an update of the certificate the client holds, and a preview does not know the outputs of
        an updated dynamic resource: the engine does not ask a provider that does not preview (the dynamic
        provider does not) and hands back its inputs. It does keep its id, which a certificate this update
        issues does not have yet. So an unknown id is refused, as before; under a known id the identity is left
        unknown in a preview, and checked once `up` has revoked the certificate and its outputs are known.
        """
        refusal_or_identity = functools.partial(ClientCertificate.held_identity, self, issued_before, where)

        def held(certificate_id: Any) -> pulumi.Output[dict[str, str]]:
            if is_unknown(certificate_id) or not certificate_id:
                return refusal_or_identity()  # planned: this update issues the certificate
            return pulumi.Output.all(self.cert_pem, self.validity_start_time).apply(lambda _: refusal_or_identity())

        return self._certificate_id.apply(held, run_with_unknowns=True)


@dataclass
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
