"""Test equipment: a stand-in for the private CA (PCA) of Certificate Management Service, API 2020-06-30.

`PcaAuthorities` is the PCA itself: CAs with real keys (made with `cryptography`, held here and nowhere
else) that sign certificate requests as the PCA would. It is the one implementation both doubles use:

- `FakePca`, the local HTTP endpoint (a `tests.fake_cas.FakeCas` speaking version 2020-06-30, with the same
  signature checks, recording and fault injection) that the real `alibabacloud-cas20200630` SDK client
  talks to: CreateClientCertificateWithCsr, CreateServerCertificateWithCsr, DescribeClientCertificate,
  ListClientCertificate, CreateRevokeClientCertificate, and for the engine tests' pulumi-alicloud double
  (tests/engine/alicloud_plugin.py) CreateRootCACertificate, CreateSubCACertificate, DescribeCACertificate.
- `PcaAuthorities.mock(...)`, used by `tests.harness.StackMocks` for the program under mocks: the
  pulumi-alicloud `sslcertificatesservice.PcaCertificate` (ROOT / SUB_ROOT; id = the CA's identifier; also under
  its deprecated type `sslcertificatesservicepca.Certificate`) and
  the `components.pca_provider.PcaCertificate` dynamic resource (the provider's outputs, from a real signature).

Assumptions (the API reference does not settle them; `components/pca.py` states the same): a certificate
comes back with `CertificateChain` = issuing CA then root; a `CustomIdentifier` already used is refused
(`CustomIdentifier.Duplicate`); an unknown identifier is answered `NotFound`-coded; an identifier of a CA
this PCA does not hold is, under mocks only, an existing CA (a root and sub-CA are made for it on first use).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fake_cas import FakeCas

PCA_CERTIFICATE_TYPE = "alicloud:sslcertificatesservice/pcaCertificate:PcaCertificate"
"""pulumi-alicloud's CA resource (ROOT / SUB_ROOT)."""
DEPRECATED_PCA_CERTIFICATE_TYPE = "alicloud:sslcertificatesservicepca/certificate:Certificate"
"""The same resource under the type pulumi-alicloud deprecated for it (the same inputs and outputs)."""
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"
CRL_URL = "http://crl.pca.example.invalid/{identifier}.crl"


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key(algorithm: str) -> Any:
    if algorithm.startswith("RSA"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm.split("_")[1]))
    return ec.generate_private_key(ec.SECP384R1() if algorithm == "ECC_384" else ec.SECP256R1())


def _dns_names(csr_pem: str) -> str:
    """A CSR's DNS names, comma-separated, as the PCA provider sends them (`Domain`)."""
    csr = x509.load_pem_x509_csr(csr_pem.encode("utf-8"))
    try:
        return ",".join(
            csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        )
    except x509.ExtensionNotFound:
        return ""


@dataclass
class Authority:
    """One CA the PCA holds: its certificate, its key (here only) and its parent."""

    identifier: str
    cert: x509.Certificate
    key: Any
    parent: Authority | None

    def chain(self) -> list[x509.Certificate]:
        """This CA and those above it, this one first."""
        return [self.cert, *(self.parent.chain() if self.parent else [])]

    def listing(self) -> dict[str, Any]:
        """As DescribeCACertificate reports it (the fields pulumi-alicloud reads back, and the certificate)."""
        cert, key = self.cert, self.key
        full = f"RSA_{key.key_size}" if isinstance(key, rsa.RSAPrivateKey) else f"ECC_{key.curve.key_size}"

        def subject(oid: x509.ObjectIdentifier) -> str:
            values = cert.subject.get_attributes_for_oid(oid)
            return str(values[0].value) if values else ""

        return {
            "Identifier": self.identifier,
            "ParentIdentifier": self.parent.identifier if self.parent else "",
            "CertificateType": "SUB_ROOT" if self.parent else "ROOT",
            "CommonName": subject(NameOID.COMMON_NAME),
            "Organization": subject(NameOID.ORGANIZATION_NAME),
            "OrganizationUnit": subject(NameOID.ORGANIZATIONAL_UNIT_NAME),
            "CountryCode": subject(NameOID.COUNTRY_NAME),
            "State": subject(NameOID.STATE_OR_PROVINCE_NAME),
            "Locality": subject(NameOID.LOCALITY_NAME),
            "Algorithm": full.split("_")[0],
            "FullAlgorithm": full,
            "KeySize": key.key_size,
            "Years": (cert.not_valid_after_utc - cert.not_valid_before_utc).days // 365,
            "Status": "ISSUE",
            "SerialNumber": f"{cert.serial_number:x}",
            "BeforeDate": int(cert.not_valid_before_utc.timestamp() * 1000),
            "AfterDate": int(cert.not_valid_after_utc.timestamp() * 1000),
            "X509Certificate": _pem(cert),
            "CaCertChain": "".join(_pem(c) for c in self.chain()),
        }


@dataclass
class Issued:
    """One certificate the PCA issued."""

    identifier: str
    custom_identifier: str
    parent: Authority
    cert: x509.Certificate
    kind: str
    status: str = "ISSUE"

    def listing(self) -> dict[str, Any]:
        """As DescribeClientCertificate / ListClientCertificate report it."""
        leaf = self.cert
        common_name = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return {
            "Identifier": self.identifier,
            "CustomIdentifier": self.custom_identifier,
            "ParentIdentifier": self.parent.identifier,
            "CommonName": str(common_name[0].value) if common_name else "",
            "SerialNumber": f"{leaf.serial_number:x}",
            "CertificateType": "SERVER" if self.kind == "server" else "CLIENT",
            "Status": self.status,
            "BeforeDate": int(leaf.not_valid_before_utc.timestamp() * 1000),
            "AfterDate": int(leaf.not_valid_after_utc.timestamp() * 1000),
            "X509Certificate": _pem(leaf),
            "CertChain": "".join(_pem(c) for c in self.parent.chain()),
        }


@dataclass
class PcaAuthorities:
    """The PCA: CAs with their keys, and the certificates they issued."""

    authorities: dict[str, Authority] = field(default_factory=dict)
    issued: dict[str, Issued] = field(default_factory=dict)
    revocations: list[str] = field(default_factory=list)
    """Identifiers revoked, one entry per revocation done (a second revoke of one certificate is refused)."""
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    """The PCA's clock: tests set it an hour back to play certificates issued by an earlier `pulumi up`."""

    # -- CAs -------------------------------------------------------------------------------------

    def create_ca(
        self,
        certificate_type: str,
        common_name: str,
        *,
        parent_identifier: str | None = None,
        organization: str | None = None,
        organization_unit: str | None = None,
        country_code: str | None = None,
        state: str | None = None,
        locality: str | None = None,
        years: int = 10,
        algorithm: str = "ECC_256",
    ) -> Authority:
        """A ROOT (self-signed) or SUB_ROOT (signed by `parent_identifier`) CA."""
        parent = self.authority(parent_identifier) if certificate_type == "SUB_ROOT" else None
        attributes = [
            (NameOID.COUNTRY_NAME, country_code),
            (NameOID.STATE_OR_PROVINCE_NAME, state),
            (NameOID.LOCALITY_NAME, locality),
            (NameOID.ORGANIZATION_NAME, organization),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, organization_unit),
            (NameOID.COMMON_NAME, common_name),
        ]
        subject = x509.Name([x509.NameAttribute(oid, v) for oid, v in attributes if v])
        key = _key(algorithm)
        signer = parent.key if parent else key
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(parent.cert.subject if parent else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0 if parent else None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if parent:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False
            )
        identifier = secrets.token_hex(16)
        authority = Authority(identifier, builder.sign(signer, hashes.SHA256()), key, parent)
        self.authorities[identifier] = authority
        return authority

    def authority(self, identifier: str | None) -> Authority:
        if identifier not in self.authorities:
            raise LookupError(f"no CA with identifier {identifier!r}")
        return self.authorities[identifier]

    def issuing_ca(self, common_name: str = "fake PCA root", algorithm: str = "ECC_256") -> Authority:
        """A root and a sub-CA under it, as a purchased PCA holds them; returns the sub-CA."""
        root = self.create_ca("ROOT", common_name, organization="alb-mtls tests", algorithm=algorithm)
        return self.create_ca(
            "SUB_ROOT",
            f"{common_name} issuing CA",
            parent_identifier=root.identifier,
            organization="alb-mtls tests",
            algorithm=algorithm,
        )

    # -- issuing ---------------------------------------------------------------------------------

    def issue(
        self, parent_identifier: str, csr_pem: str, *, kind: str, days: int, custom_identifier: str, domain: str = ""
    ) -> Issued:
        """Sign `csr_pem` with the CA `parent_identifier` (its subject and key; the PCA's extensions)."""
        if any(i.custom_identifier == custom_identifier for i in self.issued.values()):
            raise ValueError(f"CustomIdentifier {custom_identifier!r} is already used")
        parent = self.authority(parent_identifier)
        csr = x509.load_pem_x509_csr(csr_pem.encode("utf-8"))
        if not csr.is_signature_valid:
            raise ValueError("the CSR's signature does not verify")
        public_key = csr.public_key()
        rsa_key = isinstance(public_key, rsa.RSAPublicKey)
        now = self.now().replace(microsecond=0)
        identifier = secrets.token_hex(16)
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(parent.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(min(now + dt.timedelta(days=days), parent.cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, rsa_key, False, False, False, False, False, False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if kind == "server" else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False)
            .add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(CRL_URL.format(identifier=parent.identifier))],
                            None,
                            None,
                            None,
                        )
                    ]
                ),
                critical=False,
            )
        )
        names = [n for n in domain.split(",") if n]
        if kind == "server" and names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        issued = Issued(identifier, custom_identifier, parent, builder.sign(parent.key, hashes.SHA256()), kind)
        self.issued[identifier] = issued
        return issued

    def revoke(self, identifier: str) -> None:
        issued = self.issued[identifier]
        if issued.status == "REVOKE":
            raise ValueError(f"certificate {identifier} is already revoked")
        issued.status = "REVOKE"
        self.revocations.append(identifier)

    def private_key_pems(self) -> list[bytes]:
        """Every CA private key held here (PEM, unencrypted), for tests that prove none leaked."""
        return [
            a.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            for a in self.authorities.values()
        ]

    # -- the program under mocks -----------------------------------------------------------------

    @staticmethod
    def handles(type_token: str, inputs: dict[str, Any]) -> bool:
        return type_token in (PCA_CERTIFICATE_TYPE, DEPRECATED_PCA_CERTIFICATE_TYPE) or (
            type_token == DYNAMIC_TYPE
            and (("csr_pem" in inputs and "parent_identifier" in inputs) or "issuer_identifier" in inputs)
        )

    def mock(self, type_token: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The id and outputs the real provider would report for a PCA resource."""
        if type_token in (PCA_CERTIFICATE_TYPE, DEPRECATED_PCA_CERTIFICATE_TYPE):
            parent = inputs.get("parentIdentifier")
            if parent and parent not in self.authorities:  # an existing root named in the configuration
                root = self.create_ca("ROOT", f"existing PCA root {parent[:8]}")
                self.authorities[parent] = root
            ca = self.create_ca(
                inputs.get("certificateType", "ROOT"),
                inputs["commonName"],
                parent_identifier=inputs.get("parentIdentifier"),
                organization=inputs.get("organization"),
                organization_unit=inputs.get("organizationUnit"),
                country_code=inputs.get("countryCode"),
                state=inputs.get("state"),
                locality=inputs.get("locality"),
                years=int(inputs["years"]),
                algorithm=inputs.get("algorithm") or "RSA_2048",
            )
            return ca.identifier, {**inputs, "status": "ISSUE"}
        if "issuer_identifier" in inputs:  # the trust anchor: DescribeCACertificate's chain, its root
            issuer = inputs["issuer_identifier"]
            if issuer not in self.authorities:  # an existing CA named in the configuration
                self.authorities[issuer] = self.issuing_ca(f"existing PCA {issuer[:8]}")
            return issuer, {**inputs, "root_pem": _pem(self.authorities[issuer].chain()[-1])}
        parent = inputs["parent_identifier"]
        if parent not in self.authorities:  # an existing CA named in the configuration
            self.authorities[parent] = self.issuing_ca(f"existing PCA {parent[:8]}")
        # As the provider does: the same request adopts the certificate issued for it (so turning `revoked`
        # on revokes the certificate already held, an update), unless that one is revoked.
        asked = "\n".join(str(inputs.get(k)) for k in ("owner", "name", "kind", "parent_identifier", "days", "csr_pem"))
        custom = "mock-" + hashlib.sha256(asked.encode()).hexdigest()[:32]
        same = [i for i in self.issued.values() if i.custom_identifier.startswith(custom)]
        live = [i for i in same if i.status != "REVOKE"]
        if live:
            issued = live[0]
        else:
            issued = self.issue(
                parent,
                inputs["csr_pem"],
                kind=inputs.get("kind", "client"),
                days=int(inputs["days"]),
                custom_identifier=f"{custom}-{len(same) + 1}",
                domain=_dns_names(inputs["csr_pem"]),
            )
        if inputs.get("revoked") and issued.status != "REVOKE":
            self.revoke(issued.identifier)
        listing = issued.listing()
        return issued.identifier, {
            **inputs,
            "identifier": issued.identifier,
            "cert_pem": listing["X509Certificate"],
            "chain_pem": listing["CertChain"],
            "serial_number": f"{issued.cert.serial_number:X}",
            "validity_start_time": issued.cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "validity_end_time": issued.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": issued.status,
        }


@dataclass
class FakePca(FakeCas):
    """The PCA's API (2020-06-30) on 127.0.0.1, over a `PcaAuthorities`; see `tests.fake_cas.FakeCas`.

    With `cas`, the same endpoint also answers Certificate Management's 2020-04-07 calls (the server
    certificate's upload) with that fake, by the request's API version: both SDKs (`alibabacloud-cas20200407`,
    `alibabacloud-cas20200630`) resolve a region to the same endpoint (identical endpoint maps, e.g.
    `cas.aliyuncs.com` for cn-hangzhou), and the program sends both APIs to the `cas` entry of
    `alicloud:endpoints`."""

    api_version: ClassVar[str] = "2020-06-30"
    pca: PcaAuthorities = field(default_factory=PcaAuthorities)
    cas: FakeCas | None = None
    """Answers the requests of its own API version (it need not be started); None: those are refused."""

    def _handle(self, handler: Any) -> None:
        # The version as the SDK's V3 signature sends it (a header), or the V2 style's query parameter.
        version = handler.headers.get("x-acs-version") or dict(parse_qsl(handler.path.partition("?")[2])).get("Version")
        if self.cas is not None and version == self.cas.api_version:
            return self.cas._handle(handler)
        return super()._handle(handler)

    def _create(self, params: dict[str, str], kind: str) -> dict[str, Any] | tuple[int, str, str]:
        for required in ("Csr", "ParentIdentifier"):
            if not params.get(required):
                return 400, "MissingParameter", f"{required} is mandatory for this action."
        if not (params.get("Days") or (params.get("BeforeTime") and params.get("AfterTime"))):
            return 400, "MissingParameter", "Days, or BeforeTime and AfterTime, must be given."
        if params["ParentIdentifier"] not in self.pca.authorities:
            return 404, "NotFound.ParentIdentifier", f"The CA {params['ParentIdentifier']} does not exist."
        try:
            issued = self.pca.issue(
                params["ParentIdentifier"],
                params["Csr"],
                kind=kind,
                days=int(params.get("Days") or 1),
                custom_identifier=params.get("CustomIdentifier") or secrets.token_hex(8),
                domain=params.get("Domain", ""),
            )
        except ValueError as error:
            code = "CustomIdentifier.Duplicate" if "CustomIdentifier" in str(error) else "InvalidParameter.Csr"
            return 400, code, str(error)
        listing = issued.listing()
        answer: dict[str, Any] = {"Identifier": issued.identifier, "SerialNumber": listing["SerialNumber"]}
        if params.get("Immediately") in ("1", "2"):
            answer["X509Certificate"] = listing["X509Certificate"]
        if params.get("Immediately") == "2":
            answer["CertificateChain"] = listing["CertChain"]
        return answer

    def _op_CreateClientCertificateWithCsr(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        return self._create(params, "client")

    def _op_CreateServerCertificateWithCsr(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        return self._create(params, "server")

    @staticmethod
    def _described(found: dict[str, Any], params: dict[str, str], what: str) -> dict[str, Any] | tuple[int, str, str]:
        """A Describe…Certificate answer: the listing of `found[Identifier]`, or the API's not-found error."""
        entry = found.get(params.get("Identifier", ""))
        if entry is None:
            return 404, "NotFound.Certificate", f"The {what} {params.get('Identifier')} does not exist."
        return {"Certificate": entry.listing()}

    def _op_DescribeClientCertificate(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        return self._described(self.pca.issued, params, "certificate")

    def _op_ListClientCertificate(self, params: dict[str, str]) -> dict[str, Any]:
        listed = [i.listing() for i in self.pca.issued.values()]
        page, size = int(params.get("CurrentPage") or 1), int(params.get("ShowSize") or 20)
        return {
            "CertificateList": listed[(page - 1) * size : page * size],
            "TotalCount": len(listed),
            "CurrentPage": page,
            "ShowSize": size,
        }

    # -- the CAs: what pulumi-alicloud's `sslcertificatesservice.PcaCertificate` calls (tests/engine/alicloud_plugin.py)

    CA_REQUIRED: ClassVar[tuple[str, ...]] = (
        "CommonName",
        "Organization",
        "OrganizationUnit",
        "Locality",
        "State",
        "Years",
    )
    """The parameters terraform-provider-alicloud's schema requires of a CA (the API reference's list is assumed
    to be the same)."""

    def _create_ca(self, params: dict[str, str], certificate_type: str) -> dict[str, Any] | tuple[int, str, str]:
        required = (*self.CA_REQUIRED, "ParentIdentifier") if certificate_type == "SUB_ROOT" else self.CA_REQUIRED
        for name in required:
            if not params.get(name):
                return 400, "MissingParameter", f"{name} is mandatory for this action."
        parent = params.get("ParentIdentifier")
        if parent is not None and (parent not in self.pca.authorities or self.pca.authorities[parent].parent):
            return 404, "NotFound.ParentIdentifier", f"The root CA {parent} does not exist."
        ca = self.pca.create_ca(
            certificate_type,
            params["CommonName"],
            parent_identifier=parent,
            organization=params["Organization"],
            organization_unit=params["OrganizationUnit"],
            country_code=params.get("CountryCode") or None,
            state=params["State"],
            locality=params["Locality"],
            years=int(params["Years"]),
            algorithm=params.get("Algorithm") or "RSA_2048",  # as the mock: the API's default is not documented
        )
        listing = ca.listing()
        return {
            "Identifier": ca.identifier,
            "Certificate": listing["X509Certificate"],
            "CertificateChain": listing["CaCertChain"],
        }

    def _op_CreateRootCACertificate(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        return self._create_ca(params, "ROOT")

    def _op_CreateSubCACertificate(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        return self._create_ca(params, "SUB_ROOT")

    def _op_DescribeCACertificate(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        return self._described(self.pca.authorities, params, "CA certificate")

    def _op_CreateRevokeClientCertificate(self, params: dict[str, str]) -> dict[str, Any] | tuple[int, str, str]:
        identifier = params.get("Identifier", "")
        if identifier not in self.pca.issued:
            return 404, "NotFound.Certificate", f"The certificate {identifier} does not exist."
        try:
            self.pca.revoke(identifier)
        except ValueError as error:
            return 400, "Certificate.AlreadyRevoked", str(error)
        return {}
