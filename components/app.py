"""WebApp: the workload behind the listener — Deployment, Service and Ingress (the seed's `coffee`).

Each pod runs the gate (nginx, `components/gate.py`) in front of the app container: the Service targets
the gate, the gate refuses revoked client certificates and proxies the rest to the app on 127.0.0.1 with the
client's name in one header, and logs every request's identity on its stdout (`kubectl logs … -c gate`).
The gate's configuration is one ConfigMap key, and its checksum is a pod template annotation, so a
change (a client revoked or restored) rolls the pods. The ConfigMap's name carries that checksum
(`<app>-gate-<10 hex digits>`, as kustomize's configMapGenerator names them): the Kubernetes provider replaces
a ConfigMap whose data changes, and under a fixed name it would have to delete it first and the Deployment
with it (the engine replaces the dependents of a delete-before-replace); under a new name it creates the
new ConfigMap, updates the Deployment (a rolling update) and then deletes the old one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import gate

LISTEN_PORTS_ANNOTATION = "alb.ingress.kubernetes.io/listen-ports"
SSL_REDIRECT_ANNOTATION = "alb.ingress.kubernetes.io/ssl-redirect"


@dataclass
class WebAppArgs:
    """Inputs of `WebApp`."""

    app_name: str
    """Deployment name and `app` label; the Service is `<app_name>-svc`, the Ingress `<app_name>-ingress`."""
    image: str
    """Container image."""
    replicas: int
    """Number of pods."""
    container_port: int
    """Port the app container serves HTTP on; the gate proxies to it on 127.0.0.1."""
    namespace: str
    """Kubernetes namespace; created unless `default`."""
    host: str
    """Host name the Ingress routes to the Service."""
    ingress_class_name: pulumi.Input[str]
    """IngressClass bound to the verifying listener (the listener's output, so the Ingress follows it)."""
    listen_ports: pulumi.Input[str]
    """The listener's `alb.ingress.kubernetes.io/listen-ports` annotation value."""
    http_redirect: pulumi.Input[bool]
    """Whether the listener has an HTTP listener to redirect to HTTPS."""
    gate_image: str
    """Image of the gate container (nginx that runs as a non-root user and includes conf.d/*.conf)."""
    gate_port: int
    """Port the gate listens on: the Service's target port."""
    fingerprint_header: str | None
    """Header ALB forwards the client certificate's fingerprint in (None: not forwarded)."""
    verify_header: str | None
    """Header ALB forwards the verify result in (None: not forwarded)."""
    subject_header: str | None
    """Header ALB forwards the client certificate's subject DN in (None: not forwarded)."""
    issuer_header: str | None
    """Header ALB forwards the client certificate's issuer DN in (None: not forwarded)."""
    client_name_header: str
    """Header the gate passes the verified client's name (its certificate's CN) to the app in, in place of any
    header of that name the caller sent."""
    revoked_fingerprints: pulumi.Input[Mapping[str, Sequence[str]]]
    """Revoked client name → its certificate's fingerprints (SHA-1 and SHA-256, hex): the gate refuses them."""
    cpu_request: str = "50m"
    """CPU request per pod."""
    memory_request: str = "64Mi"
    """Memory request per pod."""
    cpu_limit: str = "250m"
    """CPU limit per pod."""
    memory_limit: str = "128Mi"
    """Memory limit per pod."""
    gate_cpu_request: str = "10m"
    """CPU request of the gate container."""
    gate_memory_request: str = "16Mi"
    """Memory request of the gate container."""
    gate_cpu_limit: str = "100m"
    """CPU limit of the gate container."""
    gate_memory_limit: str = "64Mi"
    """Memory limit of the gate container."""


def ingress_annotations(listen_ports: str, http_redirect: bool) -> dict[str, str]:
    """The ALB annotations of the Ingress: which listener, and the redirect when there is an HTTP one."""
    annotations = {LISTEN_PORTS_ANNOTATION: listen_ports}
    if http_redirect:
        annotations[SSL_REDIRECT_ANNOTATION] = "true"
    return annotations


class WebApp(pulumi.ComponentResource):
    """A Deployment, its ClusterIP Service, and an Ingress on the mutual-TLS listener."""

    namespace: pulumi.Output[str]
    """Namespace of the objects."""
    deployment_name: pulumi.Output[str]
    """Name of the Deployment."""
    service_name: pulumi.Output[str]
    """Name of the Service."""
    ingress_name: pulumi.Output[str]
    """Name of the Ingress."""
    gate_config: pulumi.Output[str]
    """The gate's nginx configuration (`default.conf` of its ConfigMap)."""

    def __init__(self, name: str, args: WebAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("alb-mtls:components:WebApp", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app": args.app_name}

        namespace: pulumi.Input[str] = args.namespace
        if args.namespace != "default":
            created = k8s.core.v1.Namespace(
                f"{name}-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace), opts=child
            )
            namespace = created.metadata.name

        gate_config = pulumi.Output.from_input(args.revoked_fingerprints).apply(
            lambda revoked: gate.render_default_conf(
                listen_port=args.gate_port,
                app_port=args.container_port,
                fingerprint_header=args.fingerprint_header,
                verify_header=args.verify_header,
                subject_header=args.subject_header,
                issuer_header=args.issuer_header,
                client_name_header=args.client_name_header,
                revoked=revoked,
            )
        )
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-gate-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=gate_config.apply(lambda config: gate.config_map_name(args.app_name, config)),
                namespace=namespace,
                labels=labels,
            ),
            data={gate.CONFIG_KEY: gate_config},
            opts=child,
        )
        probe = k8s.core.v1.HTTPGetActionArgs(path="/", port="app")
        gate_container = k8s.core.v1.ContainerArgs(
            name="gate",
            image=args.gate_image,
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=args.gate_port)],
            # Ready when it answers through to the app; alive as long as it accepts connections.
            readiness_probe=k8s.core.v1.ProbeArgs(
                http_get=k8s.core.v1.HTTPGetActionArgs(path="/", port="http"), period_seconds=5
            ),
            liveness_probe=k8s.core.v1.ProbeArgs(
                tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="http"), initial_delay_seconds=5, period_seconds=10
            ),
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": args.gate_cpu_request, "memory": args.gate_memory_request},
                limits={"cpu": args.gate_cpu_limit, "memory": args.gate_memory_limit},
            ),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False, run_as_non_root=True, read_only_root_filesystem=True
            ),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="gate-config", mount_path="/etc/nginx/conf.d", read_only=True),
                k8s.core.v1.VolumeMountArgs(name="gate-tmp", mount_path="/tmp"),
            ],
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.app_name, namespace=namespace, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=labels, annotations={gate.CHECKSUM_ANNOTATION: gate_config.apply(gate.checksum)}
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        containers=[
                            gate_container,
                            k8s.core.v1.ContainerArgs(
                                name=args.app_name,
                                image=args.image,
                                ports=[k8s.core.v1.ContainerPortArgs(name="app", container_port=args.container_port)],
                                readiness_probe=k8s.core.v1.ProbeArgs(http_get=probe, period_seconds=5),
                                liveness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=probe, initial_delay_seconds=10, period_seconds=10
                                ),
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": args.cpu_request, "memory": args.memory_request},
                                    limits={"cpu": args.cpu_limit, "memory": args.memory_limit},
                                ),
                                security_context=k8s.core.v1.SecurityContextArgs(allow_privilege_escalation=False),
                            ),
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="gate-config",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=config_map.metadata.name),
                            ),
                            k8s.core.v1.VolumeArgs(name="gate-tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
                        ],
                    ),
                ),
            ),
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{args.app_name}-svc", namespace=namespace, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=deployment.spec.selector.match_labels,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http", protocol="TCP")],
            ),
            opts=child,
        )
        ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{args.app_name}-ingress",
                namespace=namespace,
                labels=labels,
                annotations=pulumi.Output.all(args.listen_ports, args.http_redirect).apply(
                    lambda values: ingress_annotations(*values)
                ),
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=args.ingress_class_name,
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=args.host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path="/",
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name=service.metadata.name,
                                            port=k8s.networking.v1.ServiceBackendPortArgs(number=80),
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
            ),
            opts=child,
        )
        self.namespace = pulumi.Output.from_input(namespace)
        self.deployment_name = deployment.metadata.name
        self.service_name = service.metadata.name
        self.ingress_name = ingress.metadata.name
        self.gate_config = config_map.data.apply(lambda data: data[gate.CONFIG_KEY])
        self.register_outputs(
            {
                "namespace": self.namespace,
                "deployment_name": self.deployment_name,
                "service_name": self.service_name,
                "ingress_name": self.ingress_name,
                "gate_config": self.gate_config,
            }
        )


def endpoint(host: str, port: int) -> str:
    """The URL clients call."""
    return f"https://{host}/" if port == 443 else f"https://{host}:{port}/"


def curl_command(url: str, client: str | None, with_ca: bool) -> str | None:
    """The seed's step-4 command for one client, with the files `scripts/client-cert` writes (None: no client)."""
    if client is None:
        return None
    command = f"curl {url} --cert {client}.crt --key {client}.key"
    return command + " --cacert ca.crt" if with_ca else command
