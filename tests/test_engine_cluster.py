"""The stack against a live Kubernetes API server, driven as a user drives it, and the whole request path.

What is real here: the `pulumi` CLI and the Kubernetes provider (built by `make engine`), and a Kubernetes
control plane built from Go modules (etcd, kube-apiserver, kube-controller-manager, kube-scheduler; kwok
plays the Node and the kubelet's pod status): every object is applied to the API server, awaited,
read back on refresh and deleted by the provider. What plays a part: the ALB Ingress controller and the
ALB (tests/alb_controller.py: nginx on 127.0.0.1 built only from the objects the API server holds and the
certificates Certificate Management holds), the pods' containers (the gate's nginx from its ConfigMap and an
app that echoes headers), Certificate Management (tests/fake_cas.py), and the plugins of the other engine
tests (tls, alicloud, the Python language host).
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch

from tests.alb_controller import AlbControllerStandIn, Refused
from tests.cluster import NODE_NAME, KubeCluster, missing_binaries
from tests.engine.workspace import ACCESS_KEY, ROOT, EngineWorkspace, require_built, require_engine
from tests.fake_cas import FakeCas
from tests.test_engine_lifecycle import hand_out, readme_stack, server_key
from tests.tls_listener import curl, free_port

pytestmark = pytest.mark.engine
NAMESPACE = "coffee"
DOMAIN = "coffee.example.com"  # the README's configuration example


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_engine()
    require_built("the test cluster", missing_binaries())
    with KubeCluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.fixture
def controller(cluster: KubeCluster, fake_cas: FakeCas, tmp_path: Path):
    with AlbControllerStandIn(
        cluster.kubeconfig, tmp_path / "alb", cas_endpoint=fake_cas.endpoint, access_key=ACCESS_KEY
    ) as running:
        yield running
    assert running.errors == [], "the controller stand-in failed to reconcile"


@pytest.fixture
def api(cluster: KubeCluster):
    return k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig))


def live_workspace(tmp_path: Path, cluster: KubeCluster, fake: FakeCas, **settings: str) -> EngineWorkspace:
    """A stack configured as the README says, with the cluster's kubeconfig (as a user's `KUBECONFIG`), the
    fake Certificate Management endpoint, free local ports for the listener, the gate and the app (the
    stand-ins bind them on 127.0.0.1), and `settings` (`--path` keys)."""
    ws = EngineWorkspace(tmp_path / "workspace", extra_env={"KUBECONFIG": str(cluster.kubeconfig)})
    readme_stack(ws, fake)
    values = {
        "namespace": NAMESPACE,
        "listener.port": str(free_port()),
        "gate.port": str(free_port()),
        "app.port": str(free_port()),
        "listener.readyTimeoutSeconds": "120",
        **settings,
    }
    for key, value in values.items():
        ws.pulumi("config", "set", "--path", key, value)
    return ws


def readme_revoke_commands(client: str) -> str:
    """The `pulumi config set` lines of the first revoke example of docs/revocation.md, for `client` instead of bob."""
    section = (ROOT / "docs" / "revocation.md").read_text().split("\n## Revoking a client", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "docs/revocation.md's 'Revoking a client' section has no ```bash block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.startswith("pulumi config")]
    assert lines, "docs/revocation.md's revoke example has no `pulumi config` command"
    return "\n".join(re.sub(r"\bbob\b", client, line) for line in lines)


def wait_for(what: str, check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.5)


def call(port: int, files: Path | None, name: str | None, cacert: Path):
    """curl https://<domain>:<port>/ through the stand-in ALB, as the README's curlCommand does."""
    cert = files / f"{name}.crt" if files and name else None
    key = files / f"{name}.key" if files and name else None
    return curl(f"https://{DOMAIN}:{port}/", port, cert=cert, key=key, cacert=cacert)


def identity(pem: str) -> tuple[str, str]:
    """(subject DN as nginx forwards it — RFC 2253 —, SHA-1 fingerprint as nginx forwards it) of a certificate."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    return cert.subject.rfc4514_string(), cert.fingerprint(hashes.SHA1()).hex()


class ConfigMapEvents:
    """Records the order of ConfigMap ADDED/DELETED events in a namespace while it runs."""

    def __init__(self, api, namespace: str):
        self.core, self.namespace, self.seen = k8s_client.CoreV1Api(api), namespace, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        version = self.core.list_namespaced_config_map(self.namespace).metadata.resource_version
        while not self._stop.is_set():
            stream = k8s_watch.Watch().stream(
                self.core.list_namespaced_config_map, self.namespace, resource_version=version, timeout_seconds=2
            )
            for event in stream:
                version = event["object"].metadata.resource_version
                if event["type"] in ("ADDED", "DELETED"):
                    self.seen.append((event["type"], event["object"].metadata.name))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(3)  # the last events reach the watch
        self._stop.set()
        self._thread.join(timeout=10)


def test_stack_on_a_live_cluster(
    cluster: KubeCluster, fake_cas: FakeCas, controller: AlbControllerStandIn, api, tmp_path: Path
):
    ws = live_workspace(tmp_path, cluster, fake_cas)
    apps, core = k8s_client.AppsV1Api(api), k8s_client.CoreV1Api(api)
    networking, custom = k8s_client.NetworkingV1Api(api), k8s_client.CustomObjectsApi(api)
    discovery = k8s_client.DiscoveryV1Api(api)

    # -- preview with the policy pack, then up: it returns once the controller has built the ALB ---------
    ws.pulumi("preview", "--policy-pack", "policy")
    assert core.list_namespace(field_selector=f"metadata.name={NAMESPACE}").items == [], "preview applied"
    ws.pulumi("up", "--yes", "--policy-pack", "policy")
    outputs = ws.outputs(show_secrets=True)

    # -- read back from the API server ------------------------------------------------------------------
    deployment = apps.read_namespaced_deployment("coffee", NAMESPACE)
    replicas = deployment.spec.replicas
    assert replicas == 3, "the README's example sets app.replicas 3"
    assert deployment.status.available_replicas == replicas, deployment.status
    pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=coffee").items
    assert len(pods) == replicas
    for pod in pods:
        ready = {c.type: c.status for c in pod.status.conditions}
        assert pod.spec.node_name == NODE_NAME and pod.status.phase == "Running" and ready["Ready"] == "True"
    slices = discovery.list_namespaced_endpoint_slice(
        NAMESPACE, label_selector="kubernetes.io/service-name=coffee-svc"
    ).items
    assert sum(1 for s in slices for e in s.endpoints or [] if e.conditions.ready) == replicas
    albconfig = custom.get_cluster_custom_object("alibabacloud.com", "v1", "albconfigs", "alb-mtls")
    dns = albconfig["status"]["loadBalancer"]["dnsname"]
    ingress = networking.read_namespaced_ingress("coffee-ingress", NAMESPACE)
    assert [i.hostname for i in ingress.status.load_balancer.ingress] == [dns]
    assert outputs["loadBalancerDnsName"] == dns, "the first up returns the ALB's DNS name"
    # What the API server kept is what the program applied: the CRD schema pruned no misspelt field.
    (applied,) = [r for r in ws.resources() if r["type"] == "kubernetes:alibabacloud.com/v1:AlbConfig"]
    assert albconfig["spec"] == applied["inputs"]["spec"]

    # -- the request path: the stand-in ALB (from the AlbConfig) → the gate (from the ConfigMap) → the app -
    port = controller.alb_port("alb-mtls")
    assert port == int(ws.pulumi("config", "get", "--path", "listener.port").stdout.strip())
    files = {name: hand_out(ws, name, tmp_path / name) for name in outputs["clientCertificates"]}
    assert set(files) == {"alice", "build-bot"}
    for name, directory in files.items():
        answer = call(port, directory, name, directory / "ca.crt")
        assert answer.status == 200, (answer, controller.refusals[-5:], controller.errors)
        echoed = json.loads(answer.body)
        subject, fingerprint = identity(outputs["clientCertificates"][name])
        # The README's example forwards the subject DN as x-client-subject; the others keep ALB's names.
        assert echoed["x-client-subject"] == subject, echoed
        assert echoed["x-forwarded-clientcert-fingerprint"] == fingerprint, echoed
        assert echoed["x-forwarded-clientcert-clientverify"] == "SUCCESS", echoed
    ca_file = files["alice"] / "ca.crt"
    bare = call(port, None, None, ca_file)
    assert bare.status == 400 and "No required SSL certificate was sent" in bare.body, bare
    (uploaded,) = fake_cas.user_certificates()
    server_files = tmp_path / "server-as-client"
    server_files.mkdir()
    (server_files / "server.crt").write_text(outputs["serverCertificatePem"])
    (server_files / "server.key").write_text(server_key(fake_cas, uploaded["cert_id"]))
    as_client = call(port, server_files, "server", ca_file)
    assert as_client.status == 400 and "SSL certificate error" in as_client.body, as_client

    # -- revoke alice (a plain-string entry) with the README's commands: a rolling update -------------------
    uid = deployment.metadata.uid
    checksum = deployment.spec.template.metadata.annotations
    (old_map,) = [
        m.metadata.name for m in core.list_namespaced_config_map(NAMESPACE, label_selector="app=coffee").items
    ]
    done = ws.shell(readme_revoke_commands("alice"))
    assert done.returncode == 0, f"the README's revoke commands failed:\n{done.stderr}"
    with ConfigMapEvents(api, NAMESPACE) as events:
        ws.pulumi("up", "--yes")
    after = apps.read_namespaced_deployment("coffee", NAMESPACE)
    assert after.metadata.uid == uid, "revoking replaced the Deployment"
    assert after.spec.template.metadata.annotations != checksum
    (new_map,) = [
        m.metadata.name for m in core.list_namespaced_config_map(NAMESPACE, label_selector="app=coffee").items
    ]
    assert new_map != old_map
    assert ("ADDED", new_map) in events.seen and ("DELETED", old_map) in events.seen, events.seen
    assert events.seen.index(("ADDED", new_map)) < events.seen.index(("DELETED", old_map)), events.seen
    new_conf = core.read_namespaced_config_map(new_map, NAMESPACE).data["default.conf"]
    wait_for("the stand-in serving the new gate", lambda: controller.gate_configs() == {new_conf})
    revoked = call(port, files["alice"], "alice", ca_file)
    assert revoked.status == 403 and "revoked" in revoked.body, revoked
    assert call(port, files["build-bot"], "build-bot", ca_file).status == 200

    # -- refresh finds no drift; a Service deleted out of band is noticed and recreated ----------------------
    ws.pulumi("refresh", "--yes", "--expect-no-changes")
    core.delete_namespaced_service("coffee-svc", NAMESPACE)
    ws.pulumi("refresh", "--yes")
    assert not [r for r in ws.resources() if r["type"] == "kubernetes:core/v1:Service"], "refresh kept the Service"
    ws.pulumi("up", "--yes")
    assert core.read_namespaced_service("coffee-svc", NAMESPACE).spec.selector == {"app": "coffee"}
    wait_for(
        "build-bot through the recreated Service",
        lambda: call(port, files["build-bot"], "build-bot", ca_file).status == 200,
    )

    # -- destroy: nothing of the stack left in the API server, nor in Certificate Management ---------------
    ws.pulumi("state", "unprotect", "--all", "--yes")
    ws.pulumi("destroy", "--yes")
    assert core.list_namespace(field_selector=f"metadata.name={NAMESPACE}").items == []
    assert custom.list_cluster_custom_object("alibabacloud.com", "v1", "albconfigs")["items"] == []
    assert [c.metadata.name for c in networking.list_ingress_class().items] == []
    assert fake_cas.ca_certificates() == [] and fake_cas.user_certificates() == []


def test_refused_albconfig_fails_up_within_the_timeout(
    cluster: KubeCluster, fake_cas: FakeCas, controller: AlbControllerStandIn, api, tmp_path: Path
):
    timeout = 30
    unknown = "0123456789abcdef0123456789abcdef"
    ws = live_workspace(
        tmp_path,
        cluster,
        fake_cas,
        caCertificateId=unknown,
        namespace="refused",
        **{
            "listener.albConfigName": "alb-refused",
            "listener.ingressClassName": "alb-refused",
            "listener.readyTimeoutSeconds": str(timeout),
        },
    )
    started = time.monotonic()
    done = ws.pulumi("up", "--yes", check=False, timeout=timeout + 300)
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert took < timeout + 240, f"up took {took:.0f} s: it did not stop at the {timeout} s await timeout"
    assert "alb-refused" in output and ".status.loadBalancer.dnsname" in output, output[-3000:]
    assert any(unknown in message for message in controller.events("alb-refused")), controller.events("alb-refused")
    custom = k8s_client.CustomObjectsApi(api)
    refused = custom.get_cluster_custom_object("alibabacloud.com", "v1", "albconfigs", "alb-refused")
    assert "status" not in refused or not refused["status"], refused.get("status")

    ws.pulumi("state", "unprotect", "--all", "--yes")
    ws.pulumi("destroy", "--yes")
    assert custom.list_cluster_custom_object("alibabacloud.com", "v1", "albconfigs")["items"] == []


LISTENER = {
    "port": 443,
    "protocol": "HTTPS",
    "caEnabled": True,
    "caCertificates": [{"CertificateId": "ca"}],
    "certificates": [{"CertificateId": "1-cn-hangzhou", "IsDefault": True}],
}
BAD_SPECS = {
    "two CAs": {"listeners": [LISTENER | {"caCertificates": [{"CertificateId": "a"}, {"CertificateId": "b"}]}]},
    "caEnabled on HTTP": {"listeners": [LISTENER | {"protocol": "HTTP"}]},
    "HTTPS without a certificate": {"listeners": [{k: v for k, v in LISTENER.items() if k != "certificates"}]},
    "port out of range": {"listeners": [LISTENER | {"port": 70000}]},
    "an alias ALB refuses": {
        "listeners": [LISTENER | {"xForwardedForConfig": {"XForwardedForClientCertSubjectDNAlias": "X-DN"}}]
    },
    "one zone": {"config": {"zoneMappings": [{"vSwitchId": "vsw-a"}]}},
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_the_crd_refuses_what_the_schema_refuses(cluster: KubeCluster, api, case: str):
    """The AlbConfig CRD installed in the cluster and tests/schemas/albconfig.schema.json refuse the same specs."""
    config = {
        "name": "alb-bad",
        "addressType": "Internet",
        "zoneMappings": [{"vSwitchId": "vsw-a"}, {"vSwitchId": "vsw-b"}],
    }
    spec = {"config": config, "listeners": [LISTENER]}
    good = {"apiVersion": "alibabacloud.com/v1", "kind": "AlbConfig", "metadata": {"name": "alb-bad"}, "spec": spec}
    schema = json.loads((ROOT / "tests" / "schemas" / "albconfig.schema.json").read_text())
    jsonschema.validate(good, schema)  # the control: both take the good one
    bad = json.loads(json.dumps(good))
    for key, value in BAD_SPECS[case].items():
        bad["spec"][key] = config | value if key == "config" else value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    custom = k8s_client.CustomObjectsApi(api)
    with pytest.raises(k8s_client.ApiException) as refused:
        custom.create_cluster_custom_object("alibabacloud.com", "v1", "albconfigs", bad, dry_run="All")
    assert refused.value.status == 422, refused.value.body
    custom.create_cluster_custom_object("alibabacloud.com", "v1", "albconfigs", good, dry_run="All")


def test_the_controller_refuses_an_https_listener_without_a_certificate(controller: AlbControllerStandIn):
    """What the CRD already refuses, the controller refuses too (as the real one, whose CRD may be laxer)."""
    albconfig = {
        "apiVersion": "alibabacloud.com/v1",
        "kind": "AlbConfig",
        "metadata": {"name": "alb-nocert", "uid": "u"},
        "spec": {"listeners": [{"port": 443, "protocol": "HTTPS", "certificates": []}]},
    }
    with pytest.raises(Refused, match="has no certificate"):
        controller.build(albconfig)
