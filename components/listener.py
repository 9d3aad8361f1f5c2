"""MutualTlsListener: everything the ALB needs to verify clients, as one component.

Children, in one dependency graph:
CA certificate → CA registration in Certificate Management Service (dynamic provider) ─┐
server certificate + key → `alicloud.cas.ServiceCertificate` ──────────────────────────┼→ AlbConfig → IngressClass
Either registration is skipped when an existing certificate id is given.
"""

import json
from collections.abc import Mapping
from importlib.metadata import version
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from components.alicloud_api import cas_region
from components.ca_registration import CaCertificateRegistration, CaCertificateRegistrationArgs
from components.headers import DEFAULT_CLIENT_CERT_HEADER_ALIASES, HEADER_ALIAS_PATTERN
from components.package import ComponentInputError, component_options

ALB_CONTROLLER = "ingress.k8s.alibabacloud/alb"
ALB_API_GROUP = "alibabacloud.com"
ALB_API_VERSION = f"{ALB_API_GROUP}/v1"
# AlbConfig xForwardedForConfig keys, by the name of the client-certificate header they forward.
CLIENT_CERT_HEADER_FIELDS = {
    "subjectDn": "XForwardedForClientCertSubjectDN",
    "issuerDn": "XForwardedForClientCertIssuerDN",
    "fingerprint": "XForwardedForClientCertFingerprint",
    "clientVerify": "XForwardedForClientCertClientVerify",
}
# The Kubernetes provider's generic await (pulumi-kubernetes v4): an update waits until the JSONPath is set on
# the live object, at most the resource's custom timeout. Only the controller writes the AlbConfig's status.
WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"
LOAD_BALANCER_READY = "jsonpath={.status.loadBalancer.dnsname}"


class MutualTlsListenerArgs(TypedDict):
    """Inputs of `MutualTlsListener`."""

    alb_config_name: str
    """Name of the AlbConfig and of the ALB instance the controller creates for it."""
    ingress_class_name: str
    """Name of the IngressClass that binds Ingresses to the AlbConfig."""
    vswitch_ids: list[str]
    """vSwitches in at least two zones: one zone mapping each."""
    address_type: NotRequired[str]
    """`Internet` (default) or `Intranet`."""
    edition: NotRequired[str]
    """`Standard` (default) or `StandardWithWaf` (mutual TLS needs one of them)."""
    region: NotRequired[str | None]
    """The ALB's Alibaba Cloud region; required when a certificate is uploaded (see `cas_region`)."""
    ca_certificate_pem: NotRequired[pulumi.Input[str] | None]
    """The CA certificate that signs client certificates (uploaded), or …"""
    ca_certificate_id: NotRequired[pulumi.Input[str] | None]
    """… the id of a CA certificate already in Certificate Management Service."""
    server_certificate_pem: NotRequired[pulumi.Input[str] | None]
    """The listener's certificate (uploaded with `server_private_key_pem`), or …"""
    server_private_key_pem: NotRequired[pulumi.Input[str] | None]
    """… its private key (secret), or …"""
    server_certificate_id: NotRequired[pulumi.Input[str] | None]
    """… the id (`<id>-<region>`) of a server certificate already in Certificate Management Service."""
    port: NotRequired[int]
    """HTTPS listener port (default 443)."""
    security_policy_id: NotRequired[str]
    """TLS security policy of the HTTPS listener (default `tls_cipher_policy_1_2_strict`)."""
    client_cert_headers: NotRequired[dict[str, str | None]]
    """Per header (`subjectDn`, `issuerDn`, `fingerprint`, `clientVerify`): its alias, or null to not forward it
    (default: every header, aliased `x-forwarded-clientcert-<header in lower case>`)."""
    http_redirect: NotRequired[bool]
    """Also listen on HTTP :80, for Ingresses that redirect to HTTPS (default true)."""
    ready_timeout_seconds: NotRequired[int]
    """How long an update waits for the ALB Ingress controller to write the AlbConfig's
    `status.loadBalancer.dnsname` before it fails (default 600); 0: do not wait (render mode, where no
    controller sees the object)."""
    cas_endpoint: NotRequired[str | None]
    """Certificate Management endpoint (`host[:port]`) for the CA registration (the `cas` entry of
    `alicloud:endpoints`, which the alicloud provider uses for the server certificate); unset: the region's
    public endpoint."""
    cas_protocol: NotRequired[str]
    """`https` (default) or `http`: `alicloud:protocol` as the SDK spells it, for the CA registration."""


DEFAULTS: MutualTlsListenerArgs = {
    "alb_config_name": "",
    "ingress_class_name": "",
    "vswitch_ids": [],
    "address_type": "Internet",
    "edition": "Standard",
    "port": 443,
    "security_policy_id": "tls_cipher_policy_1_2_strict",
    "http_redirect": True,
    "ready_timeout_seconds": 600,
    "cas_protocol": "https",
}
"""The values of the optional inputs that have a default (the rest default to None)."""


def _resolved(args: MutualTlsListenerArgs) -> dict[str, Any]:
    """`args` with every input present: defaults filled in, a copy of the default client-certificate headers."""
    optional = MutualTlsListenerArgs.__optional_keys__
    values = {key: DEFAULTS.get(key) for key in optional} | {
        "client_cert_headers": dict(DEFAULT_CLIENT_CERT_HEADER_ALIASES)
    }
    return values | {k: v for k, v in args.items() if k not in optional or v is not None}


class AlbConfig(pulumi.CustomResource):
    """An `alibabacloud.com/v1` AlbConfig whose `status` (written by the ALB Ingress controller) is an output.

    `kubernetes.apiextensions.CustomResource` exposes no `status`; this is the same custom resource
    (same type token, same kubernetes provider) with that one output declared.
    """

    metadata: pulumi.Output[Any]
    """Object metadata; `name` is the AlbConfig's name."""
    spec: pulumi.Output[Any]
    """The load balancer and its listeners."""
    status: pulumi.Output[Any]
    """`loadBalancer.dnsname` / `loadBalancer.id` once the controller has created the ALB."""

    def __init__(
        self, name: str, spec: pulumi.Input[Any], metadata: k8s.meta.v1.ObjectMetaArgs, opts: pulumi.ResourceOptions
    ):
        props = {"apiVersion": ALB_API_VERSION, "kind": "AlbConfig", "metadata": metadata, "spec": spec, "status": None}
        opts = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(version=version("pulumi_kubernetes")), opts)
        super().__init__(f"kubernetes:{ALB_API_VERSION}:AlbConfig", name, props, opts)


def listen_ports(port: int, http_redirect: bool) -> str:
    """The `alb.ingress.kubernetes.io/listen-ports` annotation for this listener."""
    ports = ([{"HTTP": 80}] if http_redirect else []) + [{"HTTPS": port}]
    return json.dumps(ports, separators=(",", ":"))


def await_annotations(timeout_seconds: int) -> dict[str, str] | None:
    """The AlbConfig's annotation that makes an update wait for the controller's status (None: no wait)."""
    return {WAIT_FOR_ANNOTATION: LOAD_BALANCER_READY} if timeout_seconds else None


def await_timeouts(timeout_seconds: int) -> pulumi.CustomTimeouts | None:
    """How long creating or updating the AlbConfig waits for that status (the provider's await timeout)."""
    seconds = f"{timeout_seconds}s"
    return pulumi.CustomTimeouts(create=seconds, update=seconds) if timeout_seconds else None


def forwarded_headers(headers: Mapping[str, str | None]) -> dict[str, Any]:
    """`xForwardedForConfig`: forward each client-certificate header that is on, always with its alias."""
    config: dict[str, Any] = {}
    for name, prefix in CLIENT_CERT_HEADER_FIELDS.items():
        alias = headers[name]
        config[f"{prefix}Enabled"] = alias is not None
        if alias is not None:
            config[f"{prefix}Alias"] = alias
    return config


class MutualTlsListener(pulumi.ComponentResource):
    """An ALB HTTPS listener that requires client certificates signed by the given CA."""

    alb_config_name: pulumi.Output[str]
    """Name of the AlbConfig."""
    ingress_class_name: pulumi.Output[str]
    """Name of the IngressClass Ingresses use (`ingressClassName`)."""
    listen_ports: pulumi.Output[str]
    """Value of the `alb.ingress.kubernetes.io/listen-ports` annotation an Ingress needs."""
    http_redirect: pulumi.Output[bool]
    """Whether there is an HTTP listener that Ingresses can redirect to HTTPS."""
    ca_certificate_id: pulumi.Output[str]
    """The CA certificate id the listener verifies clients against."""
    server_certificate_id: pulumi.Output[str]
    """The server certificate id (`<id>-<region>`) the listener presents."""
    load_balancer_dns_name: pulumi.Output[str | None]
    """The ALB's DNS name from the AlbConfig status, once the controller has written it (else None)."""

    def __init__(self, name: str, args: MutualTlsListenerArgs, opts: pulumi.ResourceOptions | None = None):
        type_name, opts = component_options("MutualTlsListener", opts)
        super().__init__(type_name, name, None, opts)
        args = _resolved(args)
        _check(args)
        child = pulumi.ResourceOptions(parent=self)

        if args["ca_certificate_id"] is not None:
            ca_certificate_id = pulumi.Output.from_input(args["ca_certificate_id"])
        else:
            registration = CaCertificateRegistration(
                f"{name}-ca",
                CaCertificateRegistrationArgs(
                    certificate_pem=args["ca_certificate_pem"],
                    name=f"{args['alb_config_name']}-client-ca",
                    region=cas_region(args["region"]),
                    endpoint=args["cas_endpoint"],
                    protocol=args["cas_protocol"],
                ),
                opts=child,
            )
            ca_certificate_id = registration.identifier

        if args["server_certificate_id"] is not None:
            server_certificate_id = pulumi.Output.from_input(args["server_certificate_id"])
        else:
            server = alicloud.cas.ServiceCertificate(
                f"{name}-server-cert",
                certificate_name=f"{args['alb_config_name']}-server",
                cert=args["server_certificate_pem"],
                key=pulumi.Output.secret(args["server_private_key_pem"]),
                opts=child,
            )
            server_certificate_id = pulumi.Output.concat(server.id, "-", cas_region(args["region"]))

        https = {
            "port": args["port"],
            "protocol": "HTTPS",
            "caEnabled": True,
            "caCertificates": [{"CertificateId": ca_certificate_id}],
            "certificates": [{"CertificateId": server_certificate_id, "IsDefault": True}],
            "securityPolicyId": args["security_policy_id"],
            "xForwardedForConfig": forwarded_headers(args["client_cert_headers"]),
        }
        listeners = ([{"port": 80, "protocol": "HTTP"}] if args["http_redirect"] else []) + [https]
        alb_config = AlbConfig(
            f"{name}-albconfig",
            spec={
                "config": {
                    "name": args["alb_config_name"],
                    "addressType": args["address_type"],
                    "edition": args["edition"],
                    "zoneMappings": [{"vSwitchId": v} for v in args["vswitch_ids"]],
                },
                "listeners": listeners,
            },
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args["alb_config_name"], annotations=await_annotations(args["ready_timeout_seconds"])
            ),
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(custom_timeouts=await_timeouts(args["ready_timeout_seconds"]))
            ),
        )
        self.alb_config_name = alb_config.metadata.apply(lambda m: m["name"])
        ingress_class = k8s.networking.v1.IngressClass(
            f"{name}-ingress-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args["ingress_class_name"]),
            spec=k8s.networking.v1.IngressClassSpecArgs(
                controller=ALB_CONTROLLER,
                parameters=k8s.networking.v1.IngressClassParametersReferenceArgs(
                    api_group=ALB_API_GROUP, kind="AlbConfig", name=self.alb_config_name
                ),
            ),
            opts=child,
        )
        self.ingress_class_name = ingress_class.metadata.apply(lambda m: m.name)
        self.listen_ports = pulumi.Output.from_input(listen_ports(args["port"], args["http_redirect"]))
        self.http_redirect = pulumi.Output.from_input(args["http_redirect"])
        self.ca_certificate_id = ca_certificate_id
        self.server_certificate_id = server_certificate_id
        self.load_balancer_dns_name = alb_config.status.apply(
            lambda s: ((s or {}).get("loadBalancer") or {}).get("dnsname")
        )
        self.register_outputs(
            {
                "alb_config_name": self.alb_config_name,
                "ingress_class_name": self.ingress_class_name,
                "listen_ports": self.listen_ports,
                "http_redirect": self.http_redirect,
                "ca_certificate_id": self.ca_certificate_id,
                "server_certificate_id": self.server_certificate_id,
                "load_balancer_dns_name": self.load_balancer_dns_name,
            }
        )


def _check(args: dict[str, Any]) -> None:
    """Exactly one source for each certificate, and a region wherever one is uploaded."""
    if (args["ca_certificate_pem"] is None) == (args["ca_certificate_id"] is None):
        raise ComponentInputError("MutualTlsListener needs exactly one of ca_certificate_pem and ca_certificate_id")
    if args["server_certificate_id"] is None and (
        args["server_certificate_pem"] is None or args["server_private_key_pem"] is None
    ):
        raise ComponentInputError(
            "MutualTlsListener needs server_certificate_pem and server_private_key_pem, or server_certificate_id"
        )
    if args["server_certificate_id"] is not None and args["server_certificate_pem"] is not None:
        raise ComponentInputError("MutualTlsListener takes server_certificate_pem or server_certificate_id, not both")
    uploads = args["ca_certificate_id"] is None or args["server_certificate_id"] is None
    if uploads and not args["region"]:
        raise ComponentInputError("MutualTlsListener needs a region to upload certificates")
    timeout = args["ready_timeout_seconds"]
    # Another language's program sends a number, which arrives as a float: a whole one is taken.
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0 or timeout != int(timeout):
        raise ComponentInputError(
            f"MutualTlsListener needs ready_timeout_seconds of 0 (do not wait) or more seconds (got {timeout!r})"
        )
    args["ready_timeout_seconds"] = int(timeout)
    if len(args["vswitch_ids"]) < 2:
        raise ComponentInputError("MutualTlsListener needs vSwitches in at least two zones")
    bad = {
        k: v for k, v in args["client_cert_headers"].items() if v is not None and not HEADER_ALIAS_PATTERN.fullmatch(v)
    }
    if set(args["client_cert_headers"]) != set(CLIENT_CERT_HEADER_FIELDS) or bad:
        raise ComponentInputError(
            "MutualTlsListener needs client_cert_headers for exactly "
            + ", ".join(CLIENT_CERT_HEADER_FIELDS)
            + f", each None or an alias of 1-40 characters of a-z, 0-9, '-' and '_' (got {dict(args['client_cert_headers'])})"
        )
