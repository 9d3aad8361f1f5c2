"""The stack's configuration as one pydantic model, `StackConfig`: every `alb-mtls:` key and the rules across keys.

The validated model is what the program reads: its sections, its clients resolved against `clientDefaults` and
`revokedClients`, and the alicloud provider's settings it was validated with, given as validation context
(`region`, `endpoints`, `protocol`). A rule across keys words its error itself, naming the keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from components.alicloud_api import ApiEndpoint, ProviderSettingError, cas_endpoint
from components.config_clients import ClientSettings, resolve_clients
from components.config_fields import (
    ClientName,
    DnsLabel,
    DnsName,
    accepts,
    label,
    matching,
    not_accepted,
    one_of,
    refused,
    rejection,
    text,
)
from components.config_sections import App, Ca, ClientDefaults, ClientEntry, Gate, Listener, Section, Server
from components.headers import header_spellings

DOMAIN = "DNS host name clients call; the server certificate's SAN"
VSWITCHES = "a list of at least two distinct vSwitch ids (vsw-…) in two zones"
CLIENTS = "a non-empty list of client names (DNS labels) or objects {" + ", ".join(ClientEntry.field_keys()) + "}"
MISSING = {
    "domain": f"{DOMAIN}. Set it with `pulumi config set domain …`",
    "vswitchIds": f"{VSWITCHES}. Set it with `pulumi config set --path 'vswitchIds[0]' vsw-…`",
    "clients": f"{CLIENTS}. Set it with `pulumi config set --path 'clients[0]' alice`",
}
"""What the error says when a required key is not set."""


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise not_accepted(VSWITCHES + " (a vSwitch is listed twice)")
    return values


def _entry(value: Any) -> Any:
    return value if isinstance(value, dict) else {"name": value}


VSwitchId = matching("^vsw-[a-z0-9]{1,64}$", "a vSwitch id: vsw- followed by lower-case letters and digits")
Entry = Annotated[ClientEntry, BeforeValidator(_entry, json_schema_input_type=ClientName | ClientEntry)]
AnyName = Annotated[Any, WithJsonSchema({"type": "string"})]  # checked against the clients' names, whatever it is


class StackConfig(Section):
    """Every `alb-mtls:` key of the stack."""

    domain: DnsName = Field(description=DOMAIN)
    vswitch_ids: Annotated[list[VSwitchId], Field(min_length=2), accepts(VSWITCHES), AfterValidator(_distinct)] = Field(
        description="vSwitch ids (`vsw-…`) in at least two zones, one ALB zone mapping each"
    )
    address_type: one_of("Internet", "Intranet") = Field(
        "Internet", description="`Internet` or `Intranet` load balancer"
    )
    edition: one_of("Standard", "StandardWithWaf") = Field(
        "Standard", description="ALB edition: `Standard` or `StandardWithWaf` (both support mutual TLS)"
    )
    client_entries: Annotated[list[Entry], Field(min_length=1), accepts(CLIENTS)] = Field(
        alias="clients",
        description=f"client names (DNS labels), or objects `{{{', '.join(ClientEntry.field_keys())}}}`; "
        "one certificate each; `revoked: true` keeps the certificate but the gate refuses it (or list the name in "
        "`revokedClients`); `csr` (PEM) signs the client's own certificate request instead of generating a key",
    )
    revoked_clients: Annotated[
        list[AnyName],
        accepts("a list of client names, set one at a time: pulumi config set --path 'revokedClients[0]' bob"),
    ] = Field(
        [],
        description="names of clients (each in `clients`, in whatever form) whose certificates the gate refuses; the "
        "certificate is kept, and removing the name restores it; the same as `revoked: true` in an object entry",
    )
    ca_certificate_id: text(128) | None = Field(
        None, description="existing CA certificate id in Certificate Management Service; skips the CA upload"
    )
    server_certificate_id: (
        matching("^[0-9]+-[a-z0-9-]+$", "a certificate id with its region, e.g. 12345678-cn-hangzhou") | None
    ) = Field(None, description="existing server certificate id `<id>-<region>`; no server certificate is generated")
    namespace: DnsLabel = Field("default", description="Kubernetes namespace of the workload; created unless `default`")
    render_directory: text(4096) | None = Field(
        None,
        description="render every Kubernetes object as YAML into this directory instead of applying it (GitOps); "
        "certificates are still registered in Certificate Management Service",
    )
    client_defaults: ClientDefaults = Field(
        default_factory=ClientDefaults, description="defaults for every client certificate"
    )
    ca: Ca = Field(default_factory=Ca, description="the root CA")
    server: Server = Field(
        default_factory=Server,
        description="the server certificate the stack issues (unless `serverCertificateId`)",
    )
    listener: Listener = Field(default_factory=Listener, description="the ALB listener that verifies clients")
    app: App = Field(default_factory=App, description="the workload behind the listener")
    gate: Gate = Field(
        default_factory=Gate,
        description="the nginx sidecar in front of the app that refuses revoked client certificates",
    )
    _clients: tuple[ClientSettings, ...] = PrivateAttr(())
    _region: str | None = PrivateAttr(None)
    _cas: ApiEndpoint | None = PrivateAttr(None)

    @classmethod
    def unknown(cls, key: str) -> PydanticCustomError:
        return refused(f"{label(key)} is not a key of this stack (typo?); the keys are " + ", ".join(cls.field_keys()))

    @classmethod
    def missing(cls, key: str) -> PydanticCustomError:
        return refused(f"{label(key)} is required: {MISSING[key]}")

    @model_validator(mode="after")
    def _across_keys(self, info: ValidationInfo) -> StackConfig:
        """The rules that span keys, in the order their errors are reported."""
        provider = info.context or {}
        _check_ports(self.app, self.gate)
        self._region = provider.get("region")
        if self._region is None and not (self.ca_certificate_id and self.server_certificate_id):
            raise refused(
                "alicloud:region is required to register certificates in Certificate Management Service: set it "
                "with `pulumi config set alicloud:region cn-hangzhou` or ALICLOUD_REGION (or set both "
                f"{label('caCertificateId')} and {label('serverCertificateId')} to reuse existing certificates)"
            )
        self._clients = resolve_clients(self.client_entries, self.client_defaults, self.revoked_clients)
        _check_headers(self.listener.client_cert_headers, self.gate.client_name_header, self._clients)
        _check_pca(self.ca, self.ca_certificate_id, self._clients)
        try:
            self._cas = cas_endpoint(provider.get("endpoints"), provider.get("protocol"))
        except ProviderSettingError as error:
            raise refused(rejection(error.key, error.value, error.accepted)) from None
        return self

    @property
    def clients(self) -> tuple[ClientSettings, ...]:
        return self._clients

    @property
    def rotate_server_key(self) -> bool:
        """Each renewal of the server certificate makes a new key."""
        return self.server.rotate_key_on_renewal

    @property
    def region(self) -> str | None:
        """`alicloud:region` (or ALICLOUD_REGION), as the alicloud provider reads it."""
        return self._region

    @property
    def cas_endpoint(self) -> str | None:
        """The Certificate Management endpoint of `alicloud:endpoints` (a host name), or None: the region's."""
        return self._cas.host

    @property
    def cas_protocol(self) -> str:
        """`alicloud:protocol`, lower-cased: https unless set."""
        return self._cas.protocol


def _check_ports(app: App, gate: Gate) -> None:
    if gate.port == app.port:
        raise refused(
            rejection(
                label("gate.port"),
                gate.port,
                f"a port other than {label('app.port')} ({app.port}): the gate and the app share the pod's network",
            )
        )


def _check_headers(
    headers: Mapping[str, str | None], client_name_header: str, clients: tuple[ClientSettings, ...]
) -> None:
    """Each forwarded header under its own name; the app's name header (set by the gate) none of them in any
    spelling; and the fingerprint forwarded while a client is revoked, since the gate refuses revoked
    certificates by it."""
    where = label("listener.forwardClientCertHeaders")
    for name, alias in headers.items():
        twin = next((other for other in headers if other != name and headers[other] == alias), None)
        if alias is not None and twin is not None:
            raise refused(
                rejection(f"{where}.{name}", alias, f"a header name no other header uses ({where}.{twin} uses it too)")
            )
    spellings = set(header_spellings(client_name_header))
    for name, alias in headers.items():
        if alias is not None and alias.lower() in spellings:
            raise refused(
                rejection(
                    label("gate.clientNameHeader"),
                    client_name_header,
                    f"a header other than {where}.{name} ({alias}): the gate reads that one from ALB and would "
                    "overwrite it",
                )
            )
    revoked = [c for c in clients if c.revoked]
    if revoked and headers["fingerprint"] is None:
        raise refused(
            f"{where}.fingerprint: false is not accepted while a client is revoked ({revoked[0].revoked_by}: "
            f"{revoked[0].name}); expected true or a header name, because the gate refuses a revoked certificate by "
            "the fingerprint ALB forwards, and without it nothing would"
        )


def _check_pca(ca: Ca, ca_certificate_id: str | None, clients: tuple[ClientSettings, ...]) -> None:
    """The `ca.pca*` keys: only with `ca.source: pca`, and what the PCA needs of the CAs it creates."""
    source = label("ca.source")
    if ca.source != "pca":
        for field, value in (
            ("pcaRootIdentifier", ca.pca_root_identifier),
            ("pcaIssuerIdentifier", ca.pca_issuer_identifier),
        ):
            if value is not None:
                raise refused(rejection(label(f"ca.{field}"), value, f"unset, or {source}: pca"))
        return
    if ca_certificate_id is not None:
        raise refused(
            rejection(
                label("caCertificateId"),
                ca_certificate_id,
                f"unset with {source}: pca (the listener trusts the PCA's issuing sub-CA)",
            )
        )
    if ca.pca_issuer_identifier is not None:
        if ca.pca_root_identifier is not None:
            raise refused(
                rejection(
                    label("ca.pcaRootIdentifier"),
                    ca.pca_root_identifier,
                    f"unset while {label('ca.pcaIssuerIdentifier')} is set (nothing is created under the root then)",
                )
            )
        return
    # The stack creates the sub-CA (and the root unless named): pulumi-alicloud requires the full subject,
    # and the PCA takes RSA_2048/RSA_4096 or ECC_256/ECC_384 keys.
    for name in ("organization", "organizational_unit", "province", "locality"):
        if getattr(ca, name) is None:
            raise refused(
                f"{label('ca.' + Ca.model_fields[name].alias)} is required with {source}: pca when the stack creates the PCA's CAs (the "
                f"PCA wants O, OU, ST and L); set it, or name existing CAs with {label('ca.pcaIssuerIdentifier')}"
            )
    if ca.algorithm == "RSA" and ca.rsa_bits not in (2048, 4096):
        raise refused(
            rejection(label("ca.rsaBits"), ca.rsa_bits, "2048 or 4096 with ca.source: pca (the PCA's RSA sizes)")
        )
    for client in clients:
        if client.key["algorithm"] != ca.algorithm:
            where = f"{client.config_key}.csr (its key)" if client.csr_pem else label("clientDefaults.algorithm")
            raise refused(
                rejection(
                    where,
                    client.key["algorithm"],
                    f"{ca.algorithm}: the PCA issues only keys of its sub-CA's algorithm ({label('ca.algorithm')})",
                )
            )
