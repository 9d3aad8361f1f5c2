"""The alb-mtls policy pack's policies: plain functions over resource inputs, wired into `POLICIES`.

Each `check_*` function takes a resource's inputs (as the engine hands them to a policy pack: camelCase
keys, numbers as floats, secrets revealed, unknown values behind a proxy that raises
`UnknownValueError`) and yields one message per violation. Each message names the property, its bad
value and what is accepted. `POLICIES` binds each check to the type token it applies to; `__main__.py`
only builds the pack from it.

During `pulumi preview` an input that depends on another resource's output is unknown. A check reports
what it can decide first; when something it needs is unknown it lets `UnknownValueError` through, and
the engine then notes (advisory) that the policy could not finish during preview. `pulumi up` runs
every policy again with the values known.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy
from pulumi_policy.proxy import UnknownValueError

PACK_NAME = "alb-mtls-security"

ALB_CONFIG = "kubernetes:alibabacloud.com/v1:AlbConfig"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"

HOURS_PER_DAY = 24
CLIENT_CERT_MAX_DAYS = 825
CLIENT_CERT_MAX_HOURS = CLIENT_CERT_MAX_DAYS * HOURS_PER_DAY  # 19800
CA_MAX_YEARS = 20
CA_MAX_DAYS = CA_MAX_YEARS * 365 + 5  # 7305: 20 years hold at most 5 leap days
CA_MAX_HOURS = CA_MAX_DAYS * HOURS_PER_DAY  # 175320

MIN_RSA_BITS = 2048
PROVIDER_DEFAULT_RSA_BITS = 2048
PROVIDER_DEFAULT_ECDSA_CURVE = "P224"
ACCEPTED_ECDSA_CURVES = ("P256", "P384", "P521")

CLIENT_AUTH = "client_auth"
SERVER_AUTH = "server_auth"
CERT_SIGNING = "cert_signing"
CLIENT_CERT_FORBIDDEN_USES = (SERVER_AUTH, "any_extended", CERT_SIGNING, "crl_signing")

Check = Callable[[Mapping[str, Any]], Iterator[str]]

_UNKNOWN = "<unknown until apply>"


# --- rendering values in messages ------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """`value` with the engine's proxies unwrapped into dicts and lists; unknown parts shown as such."""
    if isinstance(value, Mapping):
        return {key: _plain_item(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain_item(value, index) for index in range(len(value))]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _plain_item(container: Any, key: Any) -> Any:
    try:
        return _plain(container[key])
    except UnknownValueError:
        return _UNKNOWN


def _show(value: Any) -> str:
    """A value as a user would write it in JSON or YAML; "not set" for a missing one."""
    if value is None:
        return "not set"
    return json.dumps(_plain(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _uses(props: Mapping[str, Any]) -> list[str]:
    """`allowedUses` as a list of strings (empty when not set)."""
    uses = props.get("allowedUses")
    if not isinstance(uses, Sequence) or isinstance(uses, str):
        return []
    return [use for use in uses if isinstance(use, str)]


def _is_client_certificate(props: Mapping[str, Any]) -> bool:
    return CLIENT_AUTH in _uses(props)


# --- 1. AlbConfig: every HTTPS listener verifies clients against exactly one CA ----------------------------------


def check_https_listeners_verify_clients(props: Mapping[str, Any]) -> Iterator[str]:
    """Every HTTPS listener of an AlbConfig has `caEnabled: true` and exactly one CA certificate id."""
    spec = props.get("spec")
    listeners = spec.get("listeners") if isinstance(spec, Mapping) else None
    if not isinstance(listeners, Sequence) or isinstance(listeners, str):
        return
    pending: UnknownValueError | None = None
    for index in range(len(listeners)):
        try:
            yield from _https_listener_violations(f"spec.listeners[{index}]", listeners[index])
        except UnknownValueError as error:  # check the other listeners, then say what could not be checked
            pending = pending or error
    if pending is not None:
        raise pending


def _https_listener_violations(path: str, listener: Any) -> Iterator[str]:
    if not isinstance(listener, Mapping):
        return
    protocol = listener.get("protocol")
    if not (isinstance(protocol, str) and protocol.upper() == "HTTPS"):
        return
    ca_enabled = listener.get("caEnabled")
    if ca_enabled is not True:
        yield (
            f"{path}.caEnabled is {_show(ca_enabled)} on an HTTPS listener; accepted: true "
            "(without it the ALB accepts clients that present no certificate)"
        )
    ca_certificates = listener.get("caCertificates")
    if not isinstance(ca_certificates, Sequence) or isinstance(ca_certificates, str) or len(ca_certificates) != 1:
        yield (
            f"{path}.caCertificates is {_show(ca_certificates)}; accepted: exactly one entry "
            '[{"CertificateId": "<CA certificate id>"}] (an ALB listener verifies clients against one CA)'
        )
        return
    entry = ca_certificates[0]
    certificate_id = entry.get("CertificateId") if isinstance(entry, Mapping) else None
    if not (isinstance(certificate_id, str) and certificate_id.strip()):
        misspelt = isinstance(entry, Mapping) and any(
            isinstance(key, str) and key.lower() == "certificateid" and key != "CertificateId" for key in entry
        )
        hint = " (the key is spelt CertificateId, capital C and I)" if misspelt else ""
        yield (
            f"{path}.caCertificates[0].CertificateId is {_show(certificate_id)}{hint}; accepted: the non-empty id "
            "of the CA certificate in Certificate Management Service"
        )


# --- 2. certificate purposes: clients authenticate clients, only the root is a CA -----------------------------


def check_client_certificate_is_client_only(props: Mapping[str, Any]) -> Iterator[str]:
    """A LocallySignedCert with client_auth has none of server_auth, any_extended, cert_signing, crl_signing."""
    uses = _uses(props)
    if CLIENT_AUTH not in uses:
        return
    extra = [use for use in uses if use in CLIENT_CERT_FORBIDDEN_USES]
    if extra:
        yield (
            f"allowedUses is {_show(uses)}: a client certificate (it has client_auth) must not also have "
            f"{', '.join(extra)}; accepted: client_auth plus key usages such as digital_signature and "
            f"key_encipherment, and none of {', '.join(CLIENT_CERT_FORBIDDEN_USES)}"
        )


def check_issued_certificate_is_not_ca(props: Mapping[str, Any]) -> Iterator[str]:
    """No LocallySignedCert is a CA: the self-signed root is the only CA."""
    is_ca = props.get("isCaCertificate")
    if is_ca is not None and is_ca is not False:
        yield (
            f"isCaCertificate is {_show(is_ca)}; accepted: false or not set. Only the root CA (a SelfSignedCert) "
            "may be a CA; a certificate it issues must not be able to issue certificates itself"
        )


def check_issued_certificate_has_purpose(props: Mapping[str, Any]) -> Iterator[str]:
    """A LocallySignedCert names its purpose: client_auth or server_auth."""
    uses = _uses(props)
    if CLIENT_AUTH not in uses and SERVER_AUTH not in uses:
        yield (
            f"allowedUses is {_show(props.get('allowedUses'))}, with neither client_auth nor server_auth; "
            "accepted: a list with client_auth (a client certificate) or server_auth (the listener's server "
            "certificate)"
        )


def check_root_ca_can_sign(props: Mapping[str, Any]) -> Iterator[str]:
    """A SelfSignedCert with isCaCertificate has cert_signing in allowedUses."""
    if props.get("isCaCertificate") is not True:
        return
    uses = _uses(props)
    if CERT_SIGNING not in uses:
        yield (
            f"allowedUses is {_show(props.get('allowedUses'))} on a CA certificate (isCaCertificate: true); "
            "accepted: a list that includes cert_signing (keyCertSign), without which verifiers reject every "
            "certificate this CA signs"
        )


# --- 3. keys: algorithms ALB accepts for mutual TLS, sizes that hold ----------------------------------------


def check_private_key_strength(props: Mapping[str, Any]) -> Iterator[str]:
    """RSA keys have at least 2048 bits, ECDSA keys use P256/P384/P521, ED25519 is refused."""
    algorithm = props.get("algorithm")
    if algorithm == "RSA":
        bits = props.get("rsaBits")
        if bits is None:
            bits = PROVIDER_DEFAULT_RSA_BITS  # the provider's default, which is enough
        if not _is_number(bits) or bits < MIN_RSA_BITS:
            yield f"rsaBits is {_show(bits)}; accepted: {MIN_RSA_BITS} or more (for example 2048, 3072 or 4096)"
    elif algorithm == "ECDSA":
        curve = props.get("ecdsaCurve")
        accepted = f"accepted: {', '.join(ACCEPTED_ECDSA_CURVES[:-1])} or {ACCEPTED_ECDSA_CURVES[-1]}"
        if curve is None:
            yield (
                f"ecdsaCurve is not set, so pulumi-tls uses its default {PROVIDER_DEFAULT_ECDSA_CURVE}; "
                f"{accepted}, set explicitly"
            )
        elif curve not in ACCEPTED_ECDSA_CURVES:
            yield f"ecdsaCurve is {_show(curve)}; {accepted}"
    elif algorithm == "ED25519":
        yield (
            'algorithm is "ED25519", which ALB mutual TLS does not support (it accepts RSA and ECC certificates '
            "only); accepted: RSA or ECDSA"
        )
    else:
        yield f"algorithm is {_show(algorithm)}; accepted: RSA or ECDSA"


# --- 4. validity: short-lived clients, a bounded root ---------------------------------------------------------


def _validity_violation(hours: Any, max_hours: int, what: str, arithmetic: str) -> Iterator[str]:
    if _is_number(hours) and 0 < hours <= max_hours:
        return
    days = f" ({hours / HOURS_PER_DAY:g} days)" if _is_number(hours) else ""
    yield (f"validityPeriodHours is {_show(hours)}{days}; accepted for {what}: 1 to {max_hours} hours ({arithmetic})")


def check_client_certificate_validity(props: Mapping[str, Any]) -> Iterator[str]:
    """A client LocallySignedCert is valid for at most 825 days (19800 hours)."""
    if not _is_client_certificate(props):
        return
    yield from _validity_violation(
        props.get("validityPeriodHours"),
        CLIENT_CERT_MAX_HOURS,
        "a client certificate",
        f"{CLIENT_CERT_MAX_DAYS} days x {HOURS_PER_DAY} h = {CLIENT_CERT_MAX_HOURS} h",
    )


def check_root_ca_validity(props: Mapping[str, Any]) -> Iterator[str]:
    """A CA SelfSignedCert is valid for at most 20 years (175320 hours)."""
    if props.get("isCaCertificate") is not True:
        return
    yield from _validity_violation(
        props.get("validityPeriodHours"),
        CA_MAX_HOURS,
        "a CA certificate",
        f"{CA_MAX_YEARS} years = {CA_MAX_YEARS} x 365 days + 5 leap days = {CA_MAX_DAYS} days; "
        f"{CA_MAX_DAYS} days x {HOURS_PER_DAY} h = {CA_MAX_HOURS} h",
    )


# --- wiring ----------------------------------------------------------------------------------------------------


def validate_type(resource_type: str, check: Check) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    """A resource validation that runs `check` on the inputs of resources of `resource_type` only."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type != resource_type:
            return
        for message in check(args.props):
            report_violation(message, None)

    validate.__name__ = f"validate_{check.__name__.removeprefix('check_')}"
    return validate


@dataclass(frozen=True)
class Rule:
    """One policy of the pack: its name and description, the type token it inspects and its check."""

    name: str
    """The policy's name, unique in the pack; shown with every violation."""
    description: str
    """One sentence: what the policy demands. The engine prefixes each violation message with it."""
    resource_type: str
    """The type token of the resources it inspects."""
    check: Check
    """Yields a message per violation found in a resource's inputs."""

    def policy(self) -> ResourceValidationPolicy:
        return ResourceValidationPolicy(
            name=self.name,
            description=self.description,
            validate=validate_type(self.resource_type, self.check),
            enforcement_level=EnforcementLevel.MANDATORY,
        )


RULES: list[Rule] = [
    Rule(
        "alb-https-listener-requires-client-ca",
        "Every HTTPS listener of an AlbConfig verifies client certificates: caEnabled true and exactly one CA "
        "certificate id.",
        ALB_CONFIG,
        check_https_listeners_verify_clients,
    ),
    Rule(
        "tls-client-cert-client-auth-only",
        "A client certificate (client_auth) has neither server_auth, any_extended, cert_signing nor crl_signing.",
        LOCALLY_SIGNED_CERT,
        check_client_certificate_is_client_only,
    ),
    Rule(
        "tls-issued-cert-not-ca",
        "Certificates the CA issues (LocallySignedCert) are not CAs; only the self-signed root is.",
        LOCALLY_SIGNED_CERT,
        check_issued_certificate_is_not_ca,
    ),
    Rule(
        "tls-issued-cert-has-purpose",
        "Certificates the CA issues (LocallySignedCert) carry client_auth or server_auth.",
        LOCALLY_SIGNED_CERT,
        check_issued_certificate_has_purpose,
    ),
    Rule(
        "tls-root-ca-can-sign",
        "A CA certificate (SelfSignedCert with isCaCertificate) has cert_signing in allowedUses.",
        SELF_SIGNED_CERT,
        check_root_ca_can_sign,
    ),
    Rule(
        "tls-private-key-strength",
        "Private keys are RSA of 2048 bits or more, or ECDSA on P256, P384 or P521 (ALB mutual TLS takes RSA or "
        "ECC only).",
        PRIVATE_KEY,
        check_private_key_strength,
    ),
    Rule(
        "tls-client-cert-max-validity",
        f"A client certificate is valid for at most {CLIENT_CERT_MAX_DAYS} days ({CLIENT_CERT_MAX_HOURS} hours).",
        LOCALLY_SIGNED_CERT,
        check_client_certificate_validity,
    ),
    Rule(
        "tls-root-ca-max-validity",
        f"A CA certificate is valid for at most {CA_MAX_YEARS} years ({CA_MAX_HOURS} hours).",
        SELF_SIGNED_CERT,
        check_root_ca_validity,
    ),
]
"""What the pack enforces, in the order the engine runs it."""

POLICIES: list[ResourceValidationPolicy] = [rule.policy() for rule in RULES]
"""Every policy of the pack, each mandatory: a violation stops `pulumi preview` and `pulumi up`."""
