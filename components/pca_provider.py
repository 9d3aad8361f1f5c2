"""The PCA certificate dynamic provider: one certificate issued from a CSR by a private CA (PCA) in Alibaba
Cloud Certificate Management Service, over the official PCA SDK (`alibabacloud-cas20200630`, API 2020-06-30).

It has the certificate issued (`CreateClientCertificateWithCsr`, or `CreateServerCertificateWithCsr` for the
listener's certificate), reads it back (`DescribeClientCertificate`), and revokes it
(`CreateRevokeClientCertificate`) when `revoked` turns true (an update: the same certificate, now in the PCA's
CRL) or when it is deleted.

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
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
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
from components.pki import KeySpec, parse_rfc3339

DEPRECATED_CA_TYPE = "alicloud:sslcertificatesservicepca/certificate:Certificate"
"""The type token of the CAs this module made before pulumi-alicloud deprecated it for
`sslcertificatesservice.PcaCertificate`: aliased, so those CAs move to the new type in place."""
REVOKED = "REVOKE"
"""The `Status` DescribeClientCertificate / ListClientCertificate report for a revoked certificate."""


def pca_algorithm(key: KeySpec) -> str:
    """The PCA's `Algorithm` value for a key spec (RSA_2048, RSA_4096, ECC_256, ECC_384)."""
    if key["algorithm"] == "RSA":
        return f"RSA_{key.get('rsa_bits', 2048)}"
    return {"P256": "ECC_256", "P384": "ECC_384"}[key.get("ecdsa_curve", "P256")]


def _rfc3339(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def pem_text(cert: x509.Certificate) -> str:
    """A certificate as PEM text."""
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
            "cert_pem": pem_text(leaf),
            "chain_pem": "".join(pem_text(c) for c in chain),
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
