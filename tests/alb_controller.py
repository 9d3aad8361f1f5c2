"""Test equipment: a stand-in for the ACK ALB Ingress controller, and the ALB it would create.

The real controller (github.com/alibaba/alibaba-load-balancer-controller) cannot be built here (its Go module
is not served), so this plays it against a live API server, reading only what the cluster and Certificate
Management hold:
- It watches AlbConfigs, IngressClasses and Ingresses (and the Services, EndpointSlices and ConfigMaps an
  Ingress's backend leads to), and reconciles on every change, as the controller's informers do.
- For an AlbConfig whose HTTPS listener it can build, it runs "the ALB": nginx on 127.0.0.1 at the listener's
  port, serving the server certificate and key fetched by id from Certificate Management
  (`GetUserCertificateDetail`, the id before `-<region>`), trusting the CA fetched by the id in
  `caCertificates` (`DescribeWarehouseCert`), requiring and verifying client certificates when `caEnabled`,
  and forwarding each enabled `xForwardedForConfig` field as a header under its alias. It writes the
  AlbConfig's `status.loadBalancer` (`id`, `dnsname`) and each bound Ingress's
  `status.loadBalancer.ingress[].hostname`.
- It refuses what the controller refuses, with a Warning event on the object and no status: an Ingress whose
  IngressClass points at no AlbConfig, a listen-ports annotation naming a listener the AlbConfig lacks, an
  HTTPS listener without a certificate, a certificate or CA id Certificate Management does not hold.
- Behind the ALB it plays the pods (what kubelet and the containers would do): for the newest ready pod behind
  the Ingress's Service (from the Service's EndpointSlices), an nginx container runs on 127.0.0.1 with the
  `default.conf` of the ConfigMap mounted at its `/etc/nginx/conf.d` (read from the API server; only
  `listen N` is bound to 127.0.0.1), and every other container is an app that echoes the headers it got
  (`tests.gate_hops.EchoHeaders`) on its container port. All replicas are one process pair here.

Not modelled, because nothing this project relies on depends on it (and the real behaviour is not
documented where we looked): the real event reasons and component name, finalizers, the HTTP :80 listener
(only HTTPS listeners are served), forwarding rules other than host + path prefix, TLS policies beyond the
protocol versions (`..._with_1_3` adds TLS 1.3), and what ALB does with a client's own copy of a forwarded
header (here: overwritten, `proxy_set_header`).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import urllib3
from alibabacloud_cas20200407 import models as cas_models
from alibabacloud_cas20200407.client import Client as CasClient
from alibabacloud_tea_openapi.utils_models import Config as CasConfig
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from Tea.exceptions import TeaException

from tests.gate_hops import EchoHeaders
from tests.tls_listener import Nginx, nginx_joining_headers

CONTROLLER = "ingress.k8s.alibabacloud/alb"
GROUP, VERSION, PLURAL = "alibabacloud.com", "v1", "albconfigs"
LISTEN_PORTS = "alb.ingress.kubernetes.io/listen-ports"
COMPONENT = "alb-ingress-controller (test stand-in)"
GATE_CONF_DIR = "/etc/nginx/conf.d"
# What the ALB forwards for each xForwardedForConfig field: the verified client certificate's values.
FORWARDED = {
    "XForwardedForClientCertSubjectDN": "$ssl_client_s_dn",
    "XForwardedForClientCertIssuerDN": "$ssl_client_i_dn",
    "XForwardedForClientCertFingerprint": "$ssl_client_fingerprint",
    "XForwardedForClientCertClientVerify": "$ssl_client_verify",
}
SERVER_CERT_ID = re.compile(r"^([0-9]+)-([a-z0-9-]+)$")


class Refused(Exception):
    """What the controller would refuse: becomes a Warning event on `obj`, and no status is written."""

    def __init__(self, obj: dict[str, Any], reason: str, message: str):
        super().__init__(message)
        self.obj, self.reason, self.message = obj, reason, message


@dataclass
class Backend:
    """One pod behind an Ingress path, as this machine runs it: the gate nginx and the app."""

    pod: str
    gate_port: int
    gate_conf: str
    config_map: str
    app_ports: tuple[int, ...]


@dataclass
class Route:
    host: str
    path: str
    exact: bool
    backend: Backend


@dataclass
class Alb:
    """What one AlbConfig's HTTPS listener is built from."""

    name: str
    uid: str
    """The AlbConfig's uid: the ALB instance's id and DNS name derive from it."""
    port: int
    ca_pem: str | None
    server_cert_pem: str
    server_key_pem: str
    headers: dict[str, str]
    tls13: bool
    routes: list[Route] = field(default_factory=list)

    def nginx_http(self, root: Path) -> str:
        """The `http {}` body of the ALB's nginx."""
        verify = (
            f"        ssl_client_certificate {root}/ca.crt;\n        ssl_verify_client on;\n        ssl_verify_depth 2;\n"
            if self.ca_pem is not None
            else ""
        )
        protocols = "TLSv1.2 TLSv1.3" if self.tls13 else "TLSv1.2"
        forwarded = "".join(
            f"            proxy_set_header {alias} {FORWARDED[f]};\n" for f, alias in self.headers.items()
        )
        servers = []
        for host in sorted({r.host for r in self.routes}) or ["_"]:
            locations = ""
            for route in sorted((r for r in self.routes if r.host == host), key=lambda r: -len(r.path)):
                modifier = "= " if route.exact else ""
                locations += (
                    f"        location {modifier}{route.path} {{\n{forwarded}"
                    "            proxy_set_header Host $http_host;\n"
                    f"            proxy_pass http://127.0.0.1:{route.backend.gate_port};\n        }}\n"
                )
            locations = locations or "        location / { return 503; }\n"  # no rule: no backend
            servers.append(
                f"    server {{\n        listen 127.0.0.1:{self.port} ssl;\n        server_name {host};\n"
                f"        ssl_certificate {root}/server.crt;\n        ssl_certificate_key {root}/server.key;\n"
                f"        ssl_protocols {protocols};\n{verify}{locations}    }}\n"
            )
        return "".join(servers)


def load_balancer_id(uid: str) -> str:
    """A stable ALB instance id for an AlbConfig (`alb-` and 18 characters, as ALB's ids look)."""
    return "alb-" + hashlib.sha256(uid.encode()).hexdigest()[:18]


def dns_name(lb_id: str, region: str) -> str:
    """The ALB's DNS name, in the form ALB gives them (`<id>.<region>.alb.aliyuncs.com`)."""
    return f"{lb_id}.{region}.alb.aliyuncs.com"


class AlbControllerStandIn:
    """Run with `with AlbControllerStandIn(...) as controller:`; `controller.alb_port(name)` and
    `controller.serving()` tell the tests what it serves."""

    def __init__(
        self,
        kubeconfig: Path,
        workdir: Path,
        *,
        cas_endpoint: str,
        access_key: tuple[str, str],
        region: str = "cn-hangzhou",
    ):
        self.workdir = workdir
        self.region = region
        self.api = k8s_config.new_client_from_config(config_file=str(kubeconfig))
        self.custom = k8s_client.CustomObjectsApi(self.api)
        self.core = k8s_client.CoreV1Api(self.api)
        self.networking = k8s_client.NetworkingV1Api(self.api)
        self.discovery = k8s_client.DiscoveryV1Api(self.api)
        self.cas = CasClient(
            CasConfig(
                endpoint=cas_endpoint,
                protocol="http",
                region_id=region,
                access_key_id=access_key[0],
                access_key_secret=access_key[1],
            )
        )
        self.nginx = nginx_joining_headers()  # the gate's image runs nginx 1.27
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._albs: dict[str, tuple[str, Nginx]] = {}  # AlbConfig name -> (its nginx.conf body, nginx)
        self._gates: dict[tuple[int, str], Nginx] = {}  # (port, conf) -> nginx
        self._apps: dict[int, ThreadingHTTPServer] = {}
        self._events: set[tuple[str, str, str]] = set()
        self.refusals: list[str] = []
        """Every refusal, in order (also when its event was already written)."""
        self.errors: list[str] = []
        """Unexpected errors of a reconcile (the tests assert there are none)."""

    # Life cycle -----------------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        watched = {
            "albconfigs": lambda **kw: self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kw),
            "ingressclasses": self.networking.list_ingress_class,
            "ingresses": self.networking.list_ingress_for_all_namespaces,
            "services": self.core.list_service_for_all_namespaces,
            "endpointslices": self.discovery.list_endpoint_slice_for_all_namespaces,
            "configmaps": self.core.list_config_map_for_all_namespaces,
        }
        for name, lister in watched.items():
            thread = threading.Thread(target=self._watch, args=(name, lister), daemon=True, name=f"watch-{name}")
            thread.start()
            self._threads.append(thread)
        worker = threading.Thread(target=self._work, daemon=True, name="reconcile")
        worker.start()
        self._threads.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._dirty.set()
        for thread in self._threads:
            thread.join(timeout=10)
        with self._lock:
            for _, server in self._albs.values():
                server.__exit__(None, None, None)
            for server in self._gates.values():
                server.__exit__(None, None, None)
            for app in self._apps.values():
                app.shutdown()
                app.server_close()
            self._albs.clear()
            self._gates.clear()
            self._apps.clear()

    def _watch(self, name: str, lister) -> None:
        """Watches one kind; every event marks the world dirty (level-triggered, as informers are)."""
        while not self._stop.is_set():
            try:
                for _ in k8s_watch.Watch().stream(lister, timeout_seconds=5):
                    self._dirty.set()
                    if self._stop.is_set():
                        return
            except (k8s_client.ApiException, urllib3.exceptions.HTTPError, OSError):  # a restart, an expiry: again
                time.sleep(0.5)

    def _work(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(timeout=2)  # and a periodic resync, as informers have
            self._dirty.clear()
            if self._stop.is_set():
                return
            try:
                self.reconcile()
            except k8s_client.ApiException as error:
                if error.status not in (404, 409):
                    self.errors.append(f"ApiException {error.status}: {error.reason} {error.body}")
                # An object gone or changed since it was listed (a pod of a finished rollout, a delete):
                # the world moved on, so reconcile again, as the controller's requeue does.
                self._dirty.set()
            except Exception as error:  # noqa: BLE001 - recorded for the tests, then tried again
                self.errors.append(f"{type(error).__name__}: {error}")

    # Reconcile ------------------------------------------------------------------------------------------
    def reconcile(self) -> None:
        with self._lock:
            albconfigs = self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
            classes = {c.metadata.name: c for c in self.networking.list_ingress_class().items}
            ingresses = self.networking.list_ingress_for_all_namespaces().items
            wanted: dict[str, Alb] = {}
            for albconfig in albconfigs:
                if albconfig["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    wanted[albconfig["metadata"]["name"]] = self.build(albconfig)
                except Refused as refused:
                    self._event(refused)
            bound: list[tuple[Any, Alb]] = []
            for ingress in ingresses:
                try:
                    existing = {a["metadata"]["name"] for a in albconfigs}
                    alb = self._ingress_alb(ingress, classes, existing, wanted)
                    if alb is not None:
                        alb.routes += self._routes(ingress, alb)
                        bound.append((ingress, alb))
                except Refused as refused:
                    self._event(refused)
            self._run(wanted)
            for albconfig in albconfigs:
                name = albconfig["metadata"]["name"]
                if name in wanted and name in self._albs:
                    self._write_albconfig_status(albconfig)
            for ingress, alb in bound:
                if alb.name in self._albs:
                    self._write_ingress_status(ingress, alb)

    def build(self, albconfig: dict[str, Any]) -> Alb:
        name = albconfig["metadata"]["name"]
        https = [listener for listener in albconfig["spec"].get("listeners", []) if listener["protocol"] == "HTTPS"]
        if not https:
            raise Refused(albconfig, "NoHttpsListener", f"AlbConfig {name} has no HTTPS listener")
        listener = https[0]
        certificates = listener.get("certificates") or []
        if not certificates:
            raise Refused(
                albconfig,
                "MissingCertificate",
                f"AlbConfig {name}: HTTPS listener {listener['port']} has no certificate",
            )
        default = next((c for c in certificates if c.get("IsDefault")), certificates[0])
        cert_pem, key_pem = self._server_certificate(albconfig, default["CertificateId"])
        ca_pem = None
        if listener.get("caEnabled"):
            (ca,) = listener["caCertificates"]
            ca_pem = self._ca_certificate(albconfig, ca["CertificateId"])
        forwarding = listener.get("xForwardedForConfig") or {}
        headers = {
            prefix: forwarding[f"{prefix}Alias"]
            for prefix in FORWARDED
            if forwarding.get(f"{prefix}Enabled") and forwarding.get(f"{prefix}Alias")
        }
        return Alb(
            name=name,
            uid=albconfig["metadata"]["uid"],
            port=listener["port"],
            ca_pem=ca_pem,
            server_cert_pem=cert_pem,
            server_key_pem=key_pem,
            headers=headers,
            tls13=listener.get("securityPolicyId", "").endswith("_with_1_3"),
        )

    def _server_certificate(self, albconfig: dict[str, Any], certificate_id: str) -> tuple[str, str]:
        found = SERVER_CERT_ID.fullmatch(certificate_id)
        if found is None:
            raise Refused(albconfig, "InvalidCertificate", f"certificate id {certificate_id!r} is not <id>-<region>")
        try:
            detail = self.cas.get_user_certificate_detail(
                cas_models.GetUserCertificateDetailRequest(cert_id=int(found.group(1)))
            ).body
        except TeaException as error:  # an error answer
            raise Refused(
                albconfig, "CertificateNotFound", f"server certificate {certificate_id}: {_sdk_message(error)}"
            ) from None
        return detail.cert, detail.key

    def _ca_certificate(self, albconfig: dict[str, Any], identifier: str) -> str:
        try:
            detail = self.cas.describe_warehouse_cert(
                cas_models.DescribeWarehouseCertRequest(cert_identifier=identifier)
            ).body
        except TeaException as error:
            raise Refused(
                albconfig, "CACertificateNotFound", f"CA certificate {identifier}: {_sdk_message(error)}"
            ) from None
        return detail.content

    def _ingress_alb(
        self, ingress: Any, classes: dict[str, Any], albconfigs: set[str], wanted: dict[str, Alb]
    ) -> Alb | None:
        """The ALB an Ingress is bound to (None: not this controller's Ingress)."""
        obj = _ref(ingress, "Ingress", "networking.k8s.io/v1")
        ingress_class = classes.get(ingress.spec.ingress_class_name or "")
        if ingress_class is None or ingress_class.spec.controller != CONTROLLER:
            return None
        parameters = ingress_class.spec.parameters
        if parameters is None or parameters.kind != "AlbConfig" or parameters.api_group != GROUP:
            raise Refused(obj, "InvalidIngressClass", f"IngressClass {ingress_class.metadata.name} names no AlbConfig")
        if parameters.name not in albconfigs:
            raise Refused(
                obj,
                "AlbConfigNotFound",
                f"IngressClass {ingress_class.metadata.name} points at AlbConfig {parameters.name}, which does not exist",
            )
        alb = wanted.get(parameters.name)
        if alb is None:
            return None  # its AlbConfig was refused (that event says why)
        ports = json.loads((ingress.metadata.annotations or {}).get(LISTEN_PORTS, '[{"HTTP": 80}]'))
        https = [p["HTTPS"] for p in ports if "HTTPS" in p]
        if alb.port not in https:
            raise Refused(
                obj,
                "ListenerNotFound",
                f"{LISTEN_PORTS} {json.dumps(ports)} names no HTTPS listener on {alb.port} of AlbConfig {alb.name}",
            )
        return alb

    def _routes(self, ingress: Any, alb: Alb) -> list[Route]:
        namespace = ingress.metadata.namespace
        routes = []
        for rule in ingress.spec.rules or []:
            for path in (rule.http.paths if rule.http else []) or []:
                service = path.backend.service
                backend = self._backend(ingress, namespace, service.name, service.port)
                routes.append(Route(rule.host or "_", path.path or "/", path.path_type == "Exact", backend))
        return routes

    def _backend(self, ingress: Any, namespace: str, service_name: str, port: Any) -> Backend:
        """Service port → target port → the newest ready pod of its EndpointSlices → its containers."""
        obj = _ref(ingress, "Ingress", "networking.k8s.io/v1")
        try:
            service = self.core.read_namespaced_service(service_name, namespace)
        except k8s_client.ApiException:
            raise Refused(obj, "ServiceNotFound", f"Service {namespace}/{service_name} does not exist") from None
        service_port = next(
            (p for p in service.spec.ports if p.port == port.number or (port.name and p.name == port.name)), None
        )
        if service_port is None:
            raise Refused(obj, "ServicePortNotFound", f"Service {service_name} has no port {port.number or port.name}")
        slices = self.discovery.list_namespaced_endpoint_slice(
            namespace, label_selector=f"kubernetes.io/service-name={service_name}"
        ).items
        pods = [
            e.target_ref.name
            for s in slices
            for e in s.endpoints or []
            if e.target_ref is not None and e.conditions is not None and e.conditions.ready
        ]
        if not pods:
            raise Refused(obj, "NoReadyEndpoints", f"Service {service_name} has no ready endpoints")
        newest = max(
            (self.core.read_namespaced_pod(p, namespace) for p in set(pods)),
            key=lambda p: (p.metadata.creation_timestamp, p.metadata.name),
        )
        return self._pod_backend(obj, newest, service_port.target_port)

    def _pod_backend(self, obj: dict[str, Any], pod: Any, target_port: Any) -> Backend:
        def serves(container) -> bool:
            return any(p.container_port == target_port or p.name == target_port for p in container.ports or [])

        gate = next((c for c in pod.spec.containers if serves(c)), None)
        if gate is None:
            raise Refused(obj, "TargetPortNotFound", f"pod {pod.metadata.name} exposes no port {target_port}")
        gate_port = next(
            p.container_port for p in gate.ports if p.container_port == target_port or p.name == target_port
        )
        mount = next((m for m in gate.volume_mounts or [] if m.mount_path == GATE_CONF_DIR), None)
        volume = next((v for v in pod.spec.volumes or [] if mount is not None and v.name == mount.name), None)
        if volume is None or volume.config_map is None:
            raise Refused(obj, "GateNotRunnable", f"container {gate.name} mounts no ConfigMap at {GATE_CONF_DIR}")
        config_map = self.core.read_namespaced_config_map(volume.config_map.name, pod.metadata.namespace)
        conf = (config_map.data or {}).get("default.conf")
        if conf is None:
            raise Refused(obj, "GateNotRunnable", f"ConfigMap {config_map.metadata.name} has no default.conf")
        apps = tuple(p.container_port for c in pod.spec.containers if c is not gate for p in c.ports or [])
        return Backend(pod.metadata.name, gate_port, conf, config_map.metadata.name, apps)

    # Processes ------------------------------------------------------------------------------------------
    def _run(self, wanted: dict[str, Alb]) -> None:
        """Starts, restarts and stops the ALBs, gates and apps so that exactly `wanted` is served."""
        backends = {(r.backend.gate_port, r.backend.gate_conf): r.backend for a in wanted.values() for r in a.routes}
        for key in set(self._gates) - set(backends):
            self._gates.pop(key).__exit__(None, None, None)
        for key, backend in backends.items():
            if key not in self._gates:
                for other in [k for k in self._gates if k[0] == backend.gate_port]:
                    self._gates.pop(other).__exit__(None, None, None)
                conf = re.sub(r"(?m)^(\s*listen\s+)([0-9]+);", r"\g<1>127.0.0.1:\2;", backend.gate_conf)
                directory = self.workdir / f"gate-{backend.gate_port}-{hashlib.sha256(conf.encode()).hexdigest()[:8]}"
                self._gates[key] = Nginx(directory, conf, port=backend.gate_port, binary=self.nginx).__enter__()
        app_ports = {port for b in backends.values() for port in b.app_ports}
        for port in set(self._apps) - app_ports:
            app = self._apps.pop(port)
            app.shutdown()
            app.server_close()
        for port in app_ports - set(self._apps):
            server = ThreadingHTTPServer(("127.0.0.1", port), EchoHeaders)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._apps[port] = server
        for name in set(self._albs) - set(wanted):
            self._albs.pop(name)[1].__exit__(None, None, None)
        for name, alb in wanted.items():
            root = self.workdir / f"alb-{name}"
            http = alb.nginx_http(root)
            files = {"server.crt": alb.server_cert_pem, "server.key": alb.server_key_pem, "ca.crt": alb.ca_pem or ""}
            fingerprint = http + json.dumps(files, sort_keys=True)
            if name in self._albs and self._albs[name][0] == fingerprint:
                continue
            if name in self._albs:
                self._albs.pop(name)[1].__exit__(None, None, None)
            root.mkdir(parents=True, exist_ok=True)
            for file, content in files.items():
                (root / file).write_text(content)
            (root / "server.key").chmod(0o600)
            self._albs[name] = (fingerprint, Nginx(root, http, port=alb.port, binary=self.nginx).__enter__())

    # Status and events --------------------------------------------------------------------------------
    def _write_albconfig_status(self, albconfig: dict[str, Any]) -> None:
        lb_id = load_balancer_id(albconfig["metadata"]["uid"])
        status = {"loadBalancer": {"id": lb_id, "dnsname": dns_name(lb_id, self.region)}}
        if (albconfig.get("status") or {}).get("loadBalancer") != status["loadBalancer"]:
            self.custom.patch_cluster_custom_object_status(
                GROUP, VERSION, PLURAL, albconfig["metadata"]["name"], {"status": status}
            )

    def _write_ingress_status(self, ingress: Any, alb: Alb) -> None:
        hostname = dns_name(load_balancer_id(alb.uid), self.region)
        current = ingress.status.load_balancer.ingress if ingress.status and ingress.status.load_balancer else None
        if [i.hostname for i in current or []] != [hostname]:
            self.networking.patch_namespaced_ingress_status(
                ingress.metadata.name,
                ingress.metadata.namespace,
                {"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}},
            )

    def _event(self, refused: Refused) -> None:
        """A Warning event on the refused object (once per object, reason and message)."""
        obj = refused.obj
        self.refusals.append(f"{obj['kind']} {obj['metadata']['name']}: {refused.reason}: {refused.message}")
        key = (obj["metadata"]["uid"], refused.reason, refused.message)
        if key in self._events:
            return
        self._events.add(key)
        namespace = obj["metadata"].get("namespace") or "default"  # cluster-scoped objects: as kubectl does
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.core.create_namespaced_event(
            namespace,
            {
                "metadata": {"generateName": f"{obj['metadata']['name']}."},
                "involvedObject": {
                    "apiVersion": obj["apiVersion"],
                    "kind": obj["kind"],
                    "name": obj["metadata"]["name"],
                    "namespace": obj["metadata"].get("namespace"),
                    "uid": obj["metadata"]["uid"],
                },
                "reason": refused.reason,
                "message": refused.message,
                "type": "Warning",
                "source": {"component": COMPONENT},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            },
        )

    # What the tests ask ---------------------------------------------------------------------------------
    def alb_port(self, name: str) -> int | None:
        """The port the ALB of AlbConfig `name` listens on, once it runs."""
        with self._lock:
            found = self._albs.get(name)
            return found[1].port if found else None

    def gate_configs(self) -> set[str]:
        """The `default.conf` of every gate it runs."""
        with self._lock:
            return {conf for _, conf in self._gates}

    def events(self, name: str) -> list[str]:
        """The messages of the Warning events it wrote about objects named `name`."""
        found = self.core.list_event_for_all_namespaces(field_selector=f"involvedObject.name={name}").items
        return [e.message for e in found if e.source and e.source.component == COMPONENT]


def _ref(obj: Any, kind: str, api_version: str) -> dict[str, Any]:
    """An API object of the typed client as the plain dict `Refused` takes."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": obj.metadata.name, "namespace": obj.metadata.namespace, "uid": obj.metadata.uid},
    }


def _sdk_message(error: Exception) -> str:
    return getattr(error, "message", None) or str(error)
