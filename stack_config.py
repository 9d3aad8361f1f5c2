"""The stack's configuration contract: every `alb-mtls:` key, read once and validated in one place.

`__main__.py` calls `load()` before it creates anything. Components never read `pulumi.Config`:
they receive the plain, validated values built here. `SETTINGS` is the single description of every
key; `Pulumi.yaml` and the README's configuration table are checked against it by the tests, and
`python stack_config.py --markdown` prints that table.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from components.alicloud_api import ApiEndpoint, ProviderSettingError, cas_endpoint
from components.gate import DEFAULT_CLIENT_NAME_HEADER, header_spellings
from components.listener import DEFAULT_CLIENT_CERT_HEADER_ALIASES, HEADER_ALIAS_PATTERN
from components.pki import KeySpec, Subject

NAMESPACE = "alb-mtls"
SEED_IMAGE = "registry.cn-hangzhou.aliyuncs.com/acs-sample/nginxdemos:latest"
# The gate: nginx built to run as a non-root user (uid 101), listening on 8080 by default.
GATE_IMAGE = "nginxinc/nginx-unprivileged:1.27-alpine"
SECURITY_POLICIES = (
    "tls_cipher_policy_1_0",
    "tls_cipher_policy_1_1",
    "tls_cipher_policy_1_2",
    "tls_cipher_policy_1_2_strict",
    "tls_cipher_policy_1_2_strict_with_1_3",
)
CLIENT_CERT_HEADERS = tuple(DEFAULT_CLIENT_CERT_HEADER_ALIASES)
SERVER_VALIDITY_DAYS = 365
SERVER_EARLY_RENEWAL_DAYS = 30
SERVER_KEY = KeySpec(algorithm="RSA", rsa_bits=2048, ecdsa_curve="P256")


def pca_server_key(ca_key: KeySpec) -> KeySpec:
    """The server key with `ca.source: pca`: the PCA issues only keys of its sub-CA's algorithm (`ca.algorithm`)."""
    algorithm = ca_key["algorithm"] if isinstance(ca_key, dict) else ca_key.algorithm  # dataclass or TypedDict
    return KeySpec(algorithm=algorithm, rsa_bits=2048, ecdsa_curve="P256")


_REQUIRED = object()
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_VSWITCH = re.compile(r"^vsw-[a-z0-9]{1,64}$")
_CUSTOM_POLICY = re.compile(r"^tls-[a-z0-9]{1,64}$")


class ConfigError(pulumi.RunError):
    """A configuration value breaks the contract; raised before any resource is registered."""


# ---------------------------------------------------------------------------------------------
# Value checks. Each takes the full key label (for the message) and the raw value, and returns
# the value to use or raises ConfigError naming the key, the bad value and what is accepted.
# ---------------------------------------------------------------------------------------------
Check = Callable[[str, Any], Any]


def _reject(label: str, value: Any, accepted: str) -> ConfigError:
    return ConfigError(f"{label}: {json.dumps(value)} is not accepted; expected {accepted}")


def _whole(minimum: int, maximum: int | None = None, unit: str = "") -> Check:
    upper = f" and at most {maximum}" if maximum is not None else ""
    accepted = f"a whole number{unit} of at least {minimum}{upper}"

    def check(label: str, value: Any) -> int:
        if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
            value_int = int(value)  # scalar config arrives as a string from the CLI
        elif isinstance(value, int) and not isinstance(value, bool):
            value_int = value
        else:
            raise _reject(label, value, accepted)
        if value_int < minimum or (maximum is not None and value_int > maximum):
            raise _reject(label, value, accepted)
        return value_int

    return check


def _boolean(label: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _reject(label, value, "true or false")


def _one_of(*options: str) -> Check:
    def check(label: str, value: Any) -> str:
        if value not in options:
            raise _reject(label, value, "one of " + ", ".join(options))
        return value

    return check


def _matching(pattern: re.Pattern[str], accepted: str) -> Check:
    def check(label: str, value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise _reject(label, value, accepted)
        return value

    return check


def _text(max_length: int = 64) -> Check:
    def check(label: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            raise _reject(label, value, f"non-empty text of at most {max_length} characters")
        return value

    return check


def _dns_name(label: str, value: Any) -> str:
    accepted = "a lower-case DNS host name: labels of a-z, 0-9 and '-', at most 63 characters each, 253 in all"
    if not isinstance(value, str) or len(value) > 253 or "." not in value:
        raise _reject(label, value, accepted)
    if not all(_DNS_LABEL.fullmatch(part) for part in value.split(".")):
        raise _reject(label, value, accepted)
    return value


def _security_policy(label: str, value: Any) -> str:
    if value in SECURITY_POLICIES or (isinstance(value, str) and _CUSTOM_POLICY.fullmatch(value)):
        return value
    raise _reject(label, value, "one of " + ", ".join(SECURITY_POLICIES) + ", or a custom policy id tls-…")


def _header_alias(name: str) -> Check:
    """A forwarded client-certificate header: true (its default name), false (not forwarded), or a header name.

    Returns the header name ALB is given as the alias, or None. ALB accepts only 1-40 lower-case letters,
    digits, '-' and '_', so `X-Client-DN` is refused here rather than by ALB.
    """

    def check(label: str, value: Any) -> str | None:
        if value is True or value == "true":
            return DEFAULT_CLIENT_CERT_HEADER_ALIASES[name]
        if value is False or value == "false":
            return None
        if isinstance(value, str) and HEADER_ALIAS_PATTERN.fullmatch(value):
            return value
        raise _reject(
            label,
            value,
            "true, false, or a header name of 1-40 lower-case letters, digits, '-' and '_' (ALB's rule for "
            f"an alias), e.g. {DEFAULT_CLIENT_CERT_HEADER_ALIASES[name]}",
        )

    return check


@dataclass(frozen=True)
class Setting:
    """One configuration key: where it lives, its type, its default and what it means."""

    key: str
    type: str
    default: Any
    meaning: str
    check: Check | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


_PCA_IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_CLIENT_NAME_HEADER = re.compile(r"^(?=.{1,40}$)[a-z0-9]+(-[a-z0-9]+){0,4}$")


def _key_settings(prefix: str, rsa_bits: int) -> tuple[Setting, ...]:
    """The key fields every certificate owner (`ca`, `clientDefaults`) has."""
    return (
        Setting(f"{prefix}.algorithm", "string", "RSA", "key algorithm: RSA or ECDSA", _one_of("RSA", "ECDSA")),
        Setting(f"{prefix}.rsaBits", "integer", rsa_bits, "RSA key size, bits", _whole(2048, 8192)),
        Setting(f"{prefix}.ecdsaCurve", "string", "P256", "ECDSA curve: P256 or P384", _one_of("P256", "P384")),
    )


# Top-level keys, then the fields of each structured key (`object.field`).
SETTINGS: tuple[Setting, ...] = (
    Setting("domain", "string", _REQUIRED, "DNS host name clients call; the server certificate's SAN", _dns_name),
    Setting(
        "vswitchIds",
        "list of strings",
        _REQUIRED,
        "vSwitch ids (`vsw-…`) in at least two zones, one ALB zone mapping each",
    ),
    Setting(
        "addressType", "string", "Internet", "`Internet` or `Intranet` load balancer", _one_of("Internet", "Intranet")
    ),
    Setting(
        "edition",
        "string",
        "Standard",
        "ALB edition: `Standard` or `StandardWithWaf` (both support mutual TLS)",
        _one_of("Standard", "StandardWithWaf"),
    ),
    Setting(
        "clients",
        "list",
        _REQUIRED,
        "client names (DNS labels), or objects `{name, validityDays, revoked, csr, rotateKeyOnRenewal}`; one "
        "certificate each; "
        "`revoked: true` keeps the certificate but the gate refuses it (or list the name in `revokedClients`); "
        "`csr` (PEM) signs the client's own certificate request instead of generating a key",
    ),
    Setting(
        "revokedClients",
        "list of strings",
        [],
        "names of clients (each in `clients`, in whatever form) whose certificates the gate refuses; the "
        "certificate is kept, and removing the name restores it; the same as `revoked: true` in an object entry",
    ),
    Setting(
        "caCertificateId",
        "string",
        None,
        "existing CA certificate id in Certificate Management Service; skips the CA upload",
        _text(128),
    ),
    Setting(
        "serverCertificateId",
        "string",
        None,
        "existing server certificate id `<id>-<region>`; no server certificate is generated",
        _matching(re.compile(r"^[0-9]+-[a-z0-9-]+$"), "a certificate id with its region, e.g. 12345678-cn-hangzhou"),
    ),
    Setting(
        "namespace",
        "string",
        "default",
        "Kubernetes namespace of the workload; created unless `default`",
        _matching(_DNS_LABEL, "a DNS label: a-z, 0-9 and '-', at most 63 characters"),
    ),
    Setting(
        "renderDirectory",
        "string",
        None,
        "render every Kubernetes object as YAML into this directory instead of applying it (GitOps); "
        "certificates are still registered in Certificate Management Service",
        _text(4096),
    ),
    Setting("clientDefaults", "object", {}, "defaults for every client certificate"),
    Setting(
        "clientDefaults.validityDays", "integer", 365, "client certificate validity, days", _whole(1, unit=" of days")
    ),
    Setting(
        "clientDefaults.earlyRenewalDays",
        "integer",
        30,
        "re-issue this many days before expiry (on `pulumi up --refresh`); less than the validity",
        _whole(0, unit=" of days"),
    ),
    Setting(
        "clientDefaults.rotateKeyOnRenewal",
        "boolean",
        True,
        "make a new key (and CSR) each time a client certificate is renewed, not only a new certificate; never for "
        "a client that sent its own `csr`",
        _boolean,
    ),
    *_key_settings("clientDefaults", rsa_bits=2048),
    Setting("ca", "object", {}, "the root CA"),
    Setting("ca.commonName", "string", "alb-mtls root CA", "CA subject CN", _text()),
    Setting("ca.organization", "string", "alb-mtls", "CA subject O", _text()),
    Setting("ca.organizationalUnit", "string", None, "CA subject OU", _text()),
    Setting(
        "ca.country",
        "string",
        None,
        "CA subject C: two upper-case letters (ISO 3166-1), e.g. `CN`",
        _matching(re.compile(r"^[A-Z]{2}$"), "two upper-case letters (ISO 3166-1 alpha-2), e.g. CN"),
    ),
    Setting("ca.province", "string", None, "CA subject ST", _text()),
    Setting("ca.locality", "string", None, "CA subject L", _text()),
    Setting("ca.validityDays", "integer", 3650, "CA validity, days", _whole(1, unit=" of days")),
    *_key_settings("ca", rsa_bits=4096),
    Setting(
        "ca.source",
        "string",
        "selfSigned",
        "where the CA lives: `selfSigned` (its key in this stack) or `pca` (a private CA in Certificate Management "
        "Service that issues every certificate from a CSR; no CA key in the stack; see README, 'Private CA (PCA)')",
        _one_of("selfSigned", "pca"),
    ),
    Setting(
        "ca.pcaRootIdentifier",
        "string",
        None,
        "with `pca`: an existing PCA root to create the issuing sub-CA under (unset: the stack creates the root)",
        _matching(_PCA_IDENTIFIER, "a PCA certificate identifier, e.g. 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"),
    ),
    Setting(
        "ca.pcaIssuerIdentifier",
        "string",
        None,
        "with `pca`: an existing PCA sub-CA that issues the certificates (unset: the stack creates it)",
        _matching(_PCA_IDENTIFIER, "a PCA certificate identifier, e.g. 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"),
    ),
    Setting("server", "object", {}, "the server certificate the stack issues (unless `serverCertificateId`)"),
    Setting(
        "server.rotateKeyOnRenewal",
        "boolean",
        True,
        "make a new key each time the server certificate is renewed, not only a new certificate",
        _boolean,
    ),
    Setting("listener", "object", {}, "the ALB listener that verifies clients"),
    Setting("listener.port", "integer", 443, "HTTPS listener port", _whole(1, 65535)),
    Setting(
        "listener.securityPolicyId",
        "string",
        "tls_cipher_policy_1_2_strict",
        "TLS security policy of the HTTPS listener",
        _security_policy,
    ),
    Setting(
        "listener.forwardClientCertHeaders",
        "boolean or object",
        True,
        "forward the client certificate's subject DN, issuer DN, fingerprint and verify result as headers "
        "(named `x-forwarded-clientcert-subjectdn`, `-issuerdn`, `-fingerprint`, `-clientverify`); an object "
        "`{subjectDn, issuerDn, fingerprint, clientVerify}` turns each on/off or names its header "
        "(1-40 of a-z, 0-9, `-`, `_`)",
    ),
    Setting("listener.httpRedirect", "boolean", True, "add an HTTP :80 listener that redirects to HTTPS", _boolean),
    Setting(
        "listener.albConfigName",
        "string",
        "alb-mtls",
        "name of the AlbConfig and of the ALB instance",
        _matching(_DNS_LABEL, "a DNS label: a-z, 0-9 and '-', at most 63 characters"),
    ),
    Setting(
        "listener.ingressClassName",
        "string",
        "alb-mtls",
        "name of the IngressClass bound to the AlbConfig",
        _matching(_DNS_LABEL, "a DNS label: a-z, 0-9 and '-', at most 63 characters"),
    ),
    Setting(
        "listener.readyTimeoutSeconds",
        "integer",
        600,
        "how long `pulumi up` waits for the ALB Ingress controller to write the AlbConfig's status (the ALB's "
        "DNS name) before it fails; not used in render mode",
        _whole(10, 3600, unit=" of seconds"),
    ),
    Setting("app", "object", {}, "the workload behind the listener"),
    Setting(
        "app.name",
        "string",
        "coffee",
        "Deployment name (the Service is `<name>-svc`)",
        _matching(_DNS_LABEL, "a DNS label: a-z, 0-9 and '-', at most 63 characters"),
    ),
    Setting("app.image", "string", SEED_IMAGE, "container image", _text(512)),
    Setting("app.replicas", "integer", 2, "Deployment replicas", _whole(1, 100)),
    Setting(
        "app.port", "integer", 80, "port the app container serves HTTP on (the gate proxies to it)", _whole(1, 65535)
    ),
    Setting("gate", "object", {}, "the nginx sidecar in front of the app that refuses revoked client certificates"),
    Setting(
        "gate.image", "string", GATE_IMAGE, "gate container image (nginx that runs as a non-root user)", _text(512)
    ),
    Setting("gate.port", "integer", 8080, "port the gate listens on (the Service's target port)", _whole(1024, 65535)),
    Setting(
        "gate.clientNameHeader",
        "string",
        DEFAULT_CLIENT_NAME_HEADER,
        "header the gate passes the verified client's name (its certificate's CN) to the app in; a caller's own "
        "header of that name, in any spelling, is removed",
        _matching(
            _CLIENT_NAME_HEADER,
            "a header name of lower-case letters and digits in at most 5 parts joined by '-', 40 characters at most, "
            f"e.g. {DEFAULT_CLIENT_NAME_HEADER}",
        ),
    ),
)
_BY_KEY = {s.key: s for s in SETTINGS}
CLIENT_FIELDS = ("name", "validityDays", "revoked", "csr", "rotateKeyOnRenewal")
OBJECT_KEYS = tuple(s.key for s in SETTINGS if s.type == "object")
TOP_LEVEL_KEYS = tuple(s.key for s in SETTINGS if "." not in s.key)


# ---------------------------------------------------------------------------------------------
# The validated configuration handed to the components.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientSettings:
    """One client certificate to issue."""

    name: str
    validity_days: int
    early_renewal_days: int
    key: KeySpec
    revoked: bool = False
    """The certificate is kept (never re-issued while revoked) and the gate refuses it."""
    csr_pem: str | None = None
    """The client's own certificate request (PEM), checked: signed instead of generating a key. `key` then
    describes the request's key."""
    rotate_key: bool = True
    """Each renewal makes a new key and CSR (never for a client with its own CSR)."""
    config_key: str = f"{NAMESPACE}:clients"
    """Where the client is configured (`alb-mtls:clients[1]`), for messages."""
    revoked_by: str | None = None
    """Where the revocation is configured (`alb-mtls:revokedClients[0]`, `alb-mtls:clients[1].revoked`), for
    messages; None when the client is not revoked."""


@dataclass(frozen=True)
class CaSettings:
    """The root CA."""

    subject: Subject
    validity_days: int
    key: KeySpec
    source: str = "selfSigned"
    """`selfSigned` (pulumi-tls, key in the stack) or `pca` (a private CA in Certificate Management Service)."""
    pca_root_identifier: str | None = None
    """With `pca`: an existing root to create the issuing sub-CA under."""
    pca_issuer_identifier: str | None = None
    """With `pca`: an existing issuing sub-CA."""


@dataclass(frozen=True)
class ListenerSettings:
    """The verifying HTTPS listener."""

    port: int
    security_policy_id: str
    client_cert_headers: dict[str, str | None]
    """Per header (`subjectDn`, …): the header name ALB forwards it as, or None when it is not forwarded."""
    http_redirect: bool
    alb_config_name: str
    ingress_class_name: str
    ready_timeout_seconds: int = 600
    """How long an `up` waits for the controller to write the AlbConfig's status."""


@dataclass(frozen=True)
class AppSettings:
    """The workload behind the listener."""

    name: str
    image: str
    replicas: int
    port: int


@dataclass(frozen=True)
class GateSettings:
    """The nginx sidecar that refuses revoked client certificates."""

    image: str
    port: int
    client_name_header: str = DEFAULT_CLIENT_NAME_HEADER
    """The header the app gets the verified client's name in."""


@dataclass(frozen=True)
class StackConfig:
    """Everything `__main__.py` needs, validated."""

    domain: str
    vswitch_ids: tuple[str, ...]
    address_type: str
    edition: str
    clients: tuple[ClientSettings, ...]
    ca: CaSettings
    ca_certificate_id: str | None
    server_certificate_id: str | None
    listener: ListenerSettings
    namespace: str
    app: AppSettings
    gate: GateSettings
    region: str | None
    render_directory: str | None = None
    rotate_server_key: bool = True
    """Each renewal of the server certificate makes a new key."""
    cas_endpoint: str | None = None
    cas_protocol: str = "https"


def _label(key: str) -> str:
    return f"{NAMESPACE}:{key}"


def _scalar(key: str, raw: Any) -> Any:
    """Apply the default and the check of one declared key."""
    setting = _BY_KEY[key]
    if raw == "" and setting.default is None:
        raw = None  # Pulumi.yaml declares optional ids with an empty default
    if raw is None:
        if setting.required:
            raise ConfigError(f"{_label(key)} is required: {setting.meaning}. Set it with `pulumi config set {key} …`")
        return setting.default
    return setting.check(_label(key), raw) if setting.check else raw


def _object(key: str, raw: Any) -> dict[str, Any]:
    """Validate a structured key: unknown fields are errors, every field gets its default and check."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _reject(_label(key), raw, "an object with the fields " + ", ".join(_fields(key)))
    unknown = sorted(set(raw) - set(_fields(key)))
    if unknown:
        raise _reject(
            _label(f"{key}.{unknown[0]}"),
            raw[unknown[0]],
            f"no such field (typo?); the fields of {_label(key)} are " + ", ".join(_fields(key)),
        )
    return {name: _scalar(f"{key}.{name}", raw.get(name)) for name in _fields(key)}


def _fields(key: str) -> list[str]:
    return [s.key.split(".", 1)[1] for s in SETTINGS if s.key.startswith(key + ".")]


def _key_spec(values: Mapping[str, Any]) -> KeySpec:
    return KeySpec(algorithm=values["algorithm"], rsa_bits=values["rsaBits"], ecdsa_curve=values["ecdsaCurve"])


def _vswitches(raw: Any) -> tuple[str, ...]:
    label = _label("vswitchIds")
    accepted = "a list of at least two distinct vSwitch ids (vsw-…) in two zones"
    if raw is None:
        raise ConfigError(
            f"{label} is required: {accepted}. Set it with `pulumi config set --path 'vswitchIds[0]' vsw-…`"
        )
    if not isinstance(raw, list) or len(raw) < 2:
        raise _reject(label, raw, accepted)
    for i, item in enumerate(raw):
        _matching(_VSWITCH, "a vSwitch id: vsw- followed by lower-case letters and digits")(f"{label}[{i}]", item)
    if len(set(raw)) != len(raw):
        raise _reject(label, raw, accepted + " (a vSwitch is listed twice)")
    return tuple(raw)


def _clients(raw: Any, defaults: Mapping[str, Any]) -> tuple[ClientSettings, ...]:
    label = _label("clients")
    accepted = "a non-empty list of client names (DNS labels) or objects {name, validityDays, revoked, csr, rotateKeyOnRenewal}"
    if raw is None:
        raise ConfigError(f"{label} is required: {accepted}. Set it with `pulumi config set --path 'clients[0]' alice`")
    if not isinstance(raw, list) or not raw:
        raise _reject(label, raw, accepted)
    clients: list[ClientSettings] = []
    for i, entry in enumerate(raw):
        item = f"{label}[{i}]"
        key = _key_spec(defaults)
        revoked, revoked_by, csr_pem, rotate = False, None, None, defaults["rotateKeyOnRenewal"]
        if isinstance(entry, dict):
            unknown = sorted(set(entry) - set(CLIENT_FIELDS))
            if unknown or "name" not in entry:
                raise _reject(item, entry, "an object with a name and, optionally, " + ", ".join(CLIENT_FIELDS[1:]))
            name = entry["name"]
            validity = _whole(1, unit=" of days")(
                f"{item}.validityDays", entry.get("validityDays", defaults["validityDays"])
            )
            revoked = _boolean(f"{item}.revoked", entry.get("revoked", False))
            if revoked:
                revoked_by = f"{item}.revoked"
            rotate = _boolean(f"{item}.rotateKeyOnRenewal", entry.get("rotateKeyOnRenewal", rotate))
        else:
            name, validity = entry, defaults["validityDays"]
        _matching(_DNS_LABEL, "a client name that is a DNS label: a-z, 0-9 and '-', at most 63 characters")(
            f"{item}.name" if isinstance(entry, dict) else item, name
        )
        if any(c.name == name for c in clients):
            raise _reject(item, name, "unique client names (this one is listed twice)")
        if isinstance(entry, dict) and entry.get("csr") is not None:
            csr_pem = entry["csr"]
            key = check_csr(f"{item}.csr", name, csr_pem)
            if entry.get("rotateKeyOnRenewal") is True:
                raise _reject(
                    f"{item}.rotateKeyOnRenewal",
                    True,
                    "false or not set for a client that sent its own csr: its key is the client's; to rotate it, "
                    "the client sends a new CSR",
                )
            rotate = False
        if defaults["earlyRenewalDays"] >= validity:
            raise ConfigError(
                f"{_label('clientDefaults.earlyRenewalDays')}: {defaults['earlyRenewalDays']} is not accepted; "
                f"expected fewer days than the validity of client {name!r} ({validity} days)"
            )
        clients.append(
            ClientSettings(
                name=name,
                validity_days=validity,
                early_renewal_days=defaults["earlyRenewalDays"],
                key=key,
                revoked=revoked,
                csr_pem=csr_pem,
                rotate_key=rotate,
                config_key=item,
                revoked_by=revoked_by,
            )
        )
    return tuple(clients)


def _revoked_clients(raw: Any, clients: tuple[ClientSettings, ...], entries: Any) -> tuple[ClientSettings, ...]:
    """Apply `revokedClients` (a list of client names) to the clients: each named client is revoked."""
    label = _label("revokedClients")
    names = ", ".join(c.name for c in clients)
    if raw is None:
        return clients
    if not isinstance(raw, list):
        raise _reject(
            label, raw, "a list of client names, set one at a time: pulumi config set --path 'revokedClients[0]' bob"
        )
    listed: dict[str, str] = {}
    for i, name in enumerate(raw):
        item = f"{label}[{i}]"
        client = next((c for c in clients if c.name == name), None)
        if client is None:
            raise _reject(item, name, f"the name of a client in {_label('clients')} ({names})")
        if name in listed:
            raise _reject(item, name, f"each name once (it is also {listed[name]})")
        index = clients.index(client)
        entry = entries[index] if isinstance(entries, list) else None
        if isinstance(entry, dict) and not client.revoked and "revoked" in entry:
            raise _reject(
                item,
                name,
                f"a client whose entry does not say otherwise ({client.config_key}.revoked is false): remove the "
                "name from the list to restore the client, or drop that field",
            )
        listed[name] = item
    return tuple(
        replace(c, revoked=True, revoked_by=c.revoked_by or listed[c.name]) if c.name in listed else c for c in clients
    )


_CSR_CURVES = {"secp256r1": "P256", "secp384r1": "P384"}


def check_csr(label: str, client: str, pem: Any) -> KeySpec:
    """Check a client's own certificate request before anything is signed; return its key's description.

    pulumi-tls's LocallySignedCert copies the request's subject and DNS/IP/URI names into the certificate and
    drops every other requested extension, so a request is refused when what it asks for could not be what
    the client gets: no CA, no serverAuth, no alternative names, CN = the client's name.
    """

    def refuse(problem: str, accepted: str) -> ConfigError:
        return ConfigError(
            f"{label}: the certificate request of client {client!r} is not accepted: {problem}; expected {accepted}"
        )

    if not isinstance(pem, str) or "-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        shown = pem.strip().splitlines()[0] if isinstance(pem, str) and pem.strip() else json.dumps(pem)
        raise refuse(
            f"it is not a PEM certificate request (it begins {shown[:64]!r})",
            "the PEM `-----BEGIN CERTIFICATE REQUEST-----` block `openssl req -new` writes",
        )
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as error:
        raise refuse(f"it cannot be read ({error})", "an unaltered PEM certificate request") from None
    if not csr.is_signature_valid:
        raise refuse(
            "its signature does not verify (the request was altered after it was signed)",
            "the request exactly as `openssl req -new` wrote it",
        )
    public_key = csr.public_key()
    strength = "an RSA key of 2048 to 8192 bits or an ECDSA key on P-256 or P-384 (ALB takes RSA and ECC)"
    if isinstance(public_key, rsa.RSAPublicKey):
        if not 2048 <= public_key.key_size <= 8192:
            raise refuse(f"its key is RSA {public_key.key_size} bits", strength)
        key = KeySpec(algorithm="RSA", rsa_bits=public_key.key_size)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _CSR_CURVES:
            raise refuse(f"its key is ECDSA on {public_key.curve.name}", strength)
        key = KeySpec(algorithm="ECDSA", ecdsa_curve=_CSR_CURVES[public_key.curve.name])
    else:
        raise refuse(f"its key is {type(public_key).__name__.removeprefix('_')}", strength)
    names = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [client]:
        raise refuse(
            f"its subject CN is {', '.join(map(repr, names)) or 'missing'}",
            f"CN={client}: the certificate takes the request's subject, and the client's CN is its name",
        )
    extensions = {extension.oid: extension.value for extension in csr.extensions}
    basic = extensions.get(x509.BasicConstraints.oid)
    usage = extensions.get(x509.KeyUsage.oid)
    if (basic is not None and basic.ca) or (usage is not None and (usage.key_cert_sign or usage.crl_sign)):
        raise refuse("it asks for a CA certificate", "a request for a client certificate (CA:FALSE, no keyCertSign)")
    purposes = extensions.get(x509.ExtendedKeyUsage.oid) or []
    if ExtendedKeyUsageOID.SERVER_AUTH in purposes or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in purposes:
        raise refuse(
            "it asks for serverAuth", "a request for clientAuth only (or no extendedKeyUsage: the stack sets it)"
        )
    alternative = extensions.get(x509.SubjectAlternativeName.oid)
    copied = (x509.DNSName, x509.IPAddress, x509.UniformResourceIdentifier)
    if alternative is not None and any(isinstance(name, copied) for name in alternative):
        raise refuse(
            "it asks for subject alternative names, which would be copied into the certificate",
            "no DNS, IP or URI names: a client certificate here is identified by its CN",
        )
    return key


def _client_cert_headers(raw: Any) -> dict[str, str | None]:
    label = _label("listener.forwardClientCertHeaders")
    if isinstance(raw, bool):
        raw = dict.fromkeys(CLIENT_CERT_HEADERS, raw)
    if not isinstance(raw, dict):
        raise _reject(label, raw, "true, false, or an object with the fields " + ", ".join(CLIENT_CERT_HEADERS))
    unknown = sorted(set(raw) - set(CLIENT_CERT_HEADERS))
    if unknown:
        raise _reject(
            f"{label}.{unknown[0]}",
            raw[unknown[0]],
            "no such field (typo?); the fields are " + ", ".join(CLIENT_CERT_HEADERS),
        )
    headers = {name: _header_alias(name)(f"{label}.{name}", raw.get(name, True)) for name in CLIENT_CERT_HEADERS}
    for name, alias in headers.items():
        twin = next((other for other in CLIENT_CERT_HEADERS if other != name and headers[other] == alias), None)
        if alias is not None and twin is not None:
            raise _reject(f"{label}.{name}", alias, f"a header name no other header uses ({label}.{twin} uses it too)")
    return headers


def _check_client_name_header(header: str, forwarded: Mapping[str, str | None]) -> None:
    """The app's name header is set by the gate: it must not be (in any spelling) a header ALB forwards."""
    spellings = set(header_spellings(header))
    for field, alias in forwarded.items():
        if alias is not None and alias.lower() in spellings:
            raise _reject(
                _label("gate.clientNameHeader"),
                header,
                f"a header other than {_label(f'listener.forwardClientCertHeaders.{field}')} ({alias}): the gate "
                "reads that one from ALB and would overwrite it",
            )


def _check_revocation(clients: tuple[ClientSettings, ...], headers: Mapping[str, str | None]) -> None:
    """A revoked client needs the fingerprint header: the gate refuses revoked certificates by it."""
    revoked = [c for c in clients if c.revoked]
    if revoked and headers["fingerprint"] is None:
        raise ConfigError(
            f"{_label('listener.forwardClientCertHeaders.fingerprint')}: false is not accepted while a client is "
            f"revoked ({revoked[0].revoked_by}: {revoked[0].name}); expected true or a header name, because "
            "the gate refuses a revoked certificate by the fingerprint ALB forwards, and without it nothing would"
        )


def _check_pca(ca: Mapping[str, Any], ca_certificate_id: str | None, clients: tuple[ClientSettings, ...]) -> None:
    """The `ca.pca*` keys: only with `ca.source: pca`, and what the PCA needs of the CAs it creates."""
    if ca["source"] != "pca":
        for field in ("pcaRootIdentifier", "pcaIssuerIdentifier"):
            if ca[field] is not None:
                raise _reject(_label(f"ca.{field}"), ca[field], f"unset, or {_label('ca.source')}: pca")
        return
    if ca_certificate_id is not None:
        raise _reject(
            _label("caCertificateId"),
            ca_certificate_id,
            f"unset with {_label('ca.source')}: pca (the listener trusts the PCA's issuing sub-CA)",
        )
    if ca["pcaIssuerIdentifier"] is not None:
        if ca["pcaRootIdentifier"] is not None:
            raise _reject(
                _label("ca.pcaRootIdentifier"),
                ca["pcaRootIdentifier"],
                f"unset while {_label('ca.pcaIssuerIdentifier')} is set (nothing is created under the root then)",
            )
        return
    # The stack creates the sub-CA (and the root unless named): pulumi-alicloud requires the full subject,
    # and the PCA takes RSA_2048/RSA_4096 or ECC_256/ECC_384 keys.
    for field in ("organization", "organizationalUnit", "province", "locality"):
        if ca[field] is None:
            raise ConfigError(
                f"{_label(f'ca.{field}')} is required with {_label('ca.source')}: pca when the stack creates the "
                "PCA's CAs (the PCA wants O, OU, ST and L); set it, or name existing CAs with "
                f"{_label('ca.pcaIssuerIdentifier')}"
            )
    if ca["algorithm"] == "RSA" and ca["rsaBits"] not in (2048, 4096):
        raise _reject(_label("ca.rsaBits"), ca["rsaBits"], "2048 or 4096 with ca.source: pca (the PCA's RSA sizes)")
    for client in clients:
        key = client.key  # a dataclass, or a TypedDict once the components are a package (issue 13)
        algorithm = key["algorithm"] if isinstance(key, dict) else key.algorithm
        if algorithm != ca["algorithm"]:
            where = f"{client.config_key}.csr (its key)" if client.csr_pem else _label("clientDefaults.algorithm")
            raise _reject(
                where,
                algorithm,
                f"{ca['algorithm']}: the PCA issues only keys of its sub-CA's algorithm ({_label('ca.algorithm')})",
            )


def parse(
    raw: Mapping[str, Any], region: str | None = None, endpoints: Any = None, protocol: Any = None
) -> StackConfig:
    """Validate raw configuration values (as `pulumi.Config` returns them) into a `StackConfig`."""
    unknown = sorted(set(raw) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(
            f"{_label(unknown[0])} is not a key of this stack (typo?); the keys are " + ", ".join(TOP_LEVEL_KEYS)
        )
    objects = {key: _object(key, raw.get(key)) for key in OBJECT_KEYS}
    ca_values, client_defaults, listener, app, gate, server = (
        objects["ca"],
        objects["clientDefaults"],
        objects["listener"],
        objects["app"],
        objects["gate"],
        objects["server"],
    )
    if gate["port"] == app["port"]:
        raise _reject(
            _label("gate.port"),
            gate["port"],
            f"a port other than {_label('app.port')} ({app['port']}): the gate and the app share the pod's network",
        )
    ca_certificate_id = _scalar("caCertificateId", raw.get("caCertificateId"))
    server_certificate_id = _scalar("serverCertificateId", raw.get("serverCertificateId"))
    if region is None and not (ca_certificate_id and server_certificate_id):
        raise ConfigError(
            "alicloud:region is required to register certificates in Certificate Management Service: "
            "set it with `pulumi config set alicloud:region cn-hangzhou` or ALICLOUD_REGION (or set both "
            f"{_label('caCertificateId')} and {_label('serverCertificateId')} to reuse existing certificates)"
        )
    domain = _scalar("domain", raw.get("domain"))
    vswitch_ids = _vswitches(raw.get("vswitchIds"))
    clients = _clients(raw.get("clients"), client_defaults)
    clients = _revoked_clients(raw.get("revokedClients"), clients, raw.get("clients"))
    client_cert_headers = _client_cert_headers(listener["forwardClientCertHeaders"])
    _check_client_name_header(gate["clientNameHeader"], client_cert_headers)
    _check_revocation(clients, client_cert_headers)
    _check_pca(ca_values, ca_certificate_id, clients)
    cas = _cas_api(endpoints, protocol)
    return StackConfig(
        domain=domain,
        vswitch_ids=vswitch_ids,
        address_type=_scalar("addressType", raw.get("addressType")),
        edition=_scalar("edition", raw.get("edition")),
        clients=clients,
        ca=CaSettings(
            subject=Subject(
                common_name=ca_values["commonName"],
                organization=ca_values["organization"],
                organizational_unit=ca_values["organizationalUnit"],
                country=ca_values["country"],
                province=ca_values["province"],
                locality=ca_values["locality"],
            ),
            validity_days=ca_values["validityDays"],
            key=_key_spec(ca_values),
            source=ca_values["source"],
            pca_root_identifier=ca_values["pcaRootIdentifier"],
            pca_issuer_identifier=ca_values["pcaIssuerIdentifier"],
        ),
        ca_certificate_id=ca_certificate_id,
        server_certificate_id=server_certificate_id,
        listener=ListenerSettings(
            port=listener["port"],
            security_policy_id=listener["securityPolicyId"],
            client_cert_headers=client_cert_headers,
            http_redirect=listener["httpRedirect"],
            alb_config_name=listener["albConfigName"],
            ingress_class_name=listener["ingressClassName"],
            ready_timeout_seconds=listener["readyTimeoutSeconds"],
        ),
        namespace=_scalar("namespace", raw.get("namespace")),
        app=AppSettings(name=app["name"], image=app["image"], replicas=app["replicas"], port=app["port"]),
        gate=GateSettings(image=gate["image"], port=gate["port"], client_name_header=gate["clientNameHeader"]),
        region=region,
        render_directory=_scalar("renderDirectory", raw.get("renderDirectory")),
        rotate_server_key=server["rotateKeyOnRenewal"],
        cas_endpoint=cas.host,
        cas_protocol=cas.protocol,
    )


def _cas_api(endpoints: Any, protocol: Any) -> ApiEndpoint:
    """The Certificate Management endpoint of the alicloud provider's `alicloud:endpoints` (its `cas` entry, a
    host name) and `alicloud:protocol` (HTTP or HTTPS), read as the provider reads them."""
    try:
        return cas_endpoint(endpoints, protocol)
    except ProviderSettingError as error:
        raise _reject(error.key, error.value, error.accepted) from None


def _read_object(config: pulumi.Config, key: str) -> Any:
    try:
        return config.get_object(key)
    except pulumi.config.ConfigTypeError as error:  # the value is not JSON
        raise ConfigError(
            f"{_label(key)}: {config.get(key)!r} is not accepted; expected a JSON/YAML value ({error})"
        ) from None


def load() -> StackConfig:
    """Read every `alb-mtls:` key and the region from the stack and validate them.

    The region is the alicloud provider's: `alicloud:region`, else the `ALICLOUD_REGION` variable. So is
    the Certificate Management endpoint: the `cas` entry of `alicloud:endpoints`, when set.
    """
    config = pulumi.Config(NAMESPACE)
    structured = {"vswitchIds", "clients", "revokedClients", *OBJECT_KEYS}
    raw = {key: (_read_object(config, key) if key in structured else config.get(key)) for key in TOP_LEVEL_KEYS}
    raw = {key: value for key, value in raw.items() if value is not None}
    raw.update(_stray_keys())
    alicloud = pulumi.Config("alicloud")
    try:
        endpoints = alicloud.get_object("endpoints")
    except pulumi.config.ConfigTypeError:
        raise _reject("alicloud:endpoints", alicloud.get("endpoints"), "a JSON/YAML list of objects") from None
    return parse(
        raw,
        region=alicloud.get("region") or os.environ.get("ALICLOUD_REGION") or None,
        endpoints=endpoints,
        protocol=alicloud.get("protocol"),
    )


def _stray_keys() -> dict[str, Any]:
    """Keys set under `alb-mtls:` that the contract does not know (usually typos)."""
    from pulumi.runtime.config import CONFIG

    prefix = NAMESPACE + ":"
    return {
        k[len(prefix) :]: v
        for k, v in CONFIG.get().items()
        if k.startswith(prefix) and k[len(prefix) :] not in TOP_LEVEL_KEYS
    }


def markdown_table() -> str:
    """The README's configuration table, generated from `SETTINGS`."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        if s.required:
            default = "**required**"
        elif s.default is None:
            default = "unset"
        elif s.type == "object":
            default = "see fields"
        else:
            default = f"`{json.dumps(s.default).strip(chr(34))}`"
        rows.append(f"| `{s.key}` | {s.type} | {default} | {s.meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown_table())
    else:
        sys.exit("usage: python stack_config.py --markdown")
