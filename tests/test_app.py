"""The workload behind the listener, validated against real Kubernetes schemas, and wired into one graph."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from tests.harness import BASE_CONFIG, run_program

KUBERNETES_VERSION = kubernetes_validate.utils.latest_version()
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
INGRESS_CLASS = "kubernetes:networking.k8s.io/v1:IngressClass"
NAMESPACE = "kubernetes:core/v1:Namespace"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


@pytest.fixture(scope="module")
def run():
    return run_program({**BASE_CONFIG, "namespace": "coffee"})


def one(run, type_token):
    (resource,) = run.of_type(type_token)
    return resource.inputs


@pytest.mark.parametrize("type_token", [NAMESPACE, CONFIG_MAP, DEPLOYMENT, SERVICE, INGRESS, INGRESS_CLASS])
def test_objects_validate_against_the_kubernetes_schema_strictly(run, type_token):
    manifest = one(run, type_token)
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_strict_validation_is_not_a_rubber_stamp(run):
    manifest = json.loads(json.dumps(one(run, DEPLOYMENT)))
    manifest["spec"]["template"]["spec"]["containers"][1]["readinessProbe"]["httpGet"]["paht"] = "/"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_deployment_is_the_seed_coffee_with_probes_and_resources(run):
    deployment = one(run, DEPLOYMENT)
    assert deployment["metadata"]["name"] == "coffee"
    assert deployment["spec"]["replicas"] == 2
    gate, container = deployment["spec"]["template"]["spec"]["containers"]  # the gate in front of the app
    assert gate["name"] == "gate"
    assert container["image"] == "registry.cn-hangzhou.aliyuncs.com/acs-sample/nginxdemos:latest"
    assert container["ports"] == [{"name": "app", "containerPort": 80}]
    assert container["readinessProbe"]["httpGet"]["port"] == "app"
    assert container["livenessProbe"]["httpGet"]["port"] == "app"
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}


def test_service_selects_the_deployments_pods(run):
    deployment, service = one(run, DEPLOYMENT), one(run, SERVICE)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    assert selector == deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert service["metadata"]["name"] == "coffee-svc"
    assert service["spec"]["type"] == "ClusterIP"
    (port,) = service["spec"]["ports"]
    assert port["port"] == 80
    gate = deployment["spec"]["template"]["spec"]["containers"][0]
    assert gate["name"] == "gate"
    assert port["targetPort"] in {p["name"] for p in gate["ports"]}  # the Service sends traffic to the gate


def test_ingress_routes_the_domain_to_the_service_through_the_listener(run):
    ingress, service, ingress_class = one(run, INGRESS), one(run, SERVICE), one(run, INGRESS_CLASS)
    assert ingress["spec"]["ingressClassName"] == ingress_class["metadata"]["name"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == BASE_CONFIG["domain"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/", "Prefix")
    assert path["backend"]["service"] == {"name": service["metadata"]["name"], "port": {"number": 80}}
    annotations = ingress["metadata"]["annotations"]
    assert json.loads(annotations["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "true"


def test_ingress_depends_on_the_listener(run):
    (ingress,) = run.of_type(INGRESS)
    (ingress_class,) = run.of_type(INGRESS_CLASS)
    (albconfig,) = run.of_type("kubernetes:alibabacloud.com/v1:AlbConfig")
    assert run.depends_on(ingress, ingress_class)
    assert run.depends_on(ingress, albconfig)
    assert run.depends_on(ingress, run.named("root-ca-cert"))


def test_namespace_is_created_and_used(run):
    assert one(run, NAMESPACE)["metadata"]["name"] == "coffee"
    for type_token in (CONFIG_MAP, DEPLOYMENT, SERVICE, INGRESS):
        assert one(run, type_token)["metadata"]["namespace"] == "coffee"
        (resource,) = run.of_type(type_token)
        assert run.depends_on(resource, run.of_type(NAMESPACE)[0])


def test_default_namespace_is_not_created_and_redirect_follows_the_listener():
    run = run_program(
        {**BASE_CONFIG, "listener": {"httpRedirect": False}, "app": {"replicas": 3, "image": "nginx:1.27"}}
    )
    assert not run.of_type(NAMESPACE)
    assert one(run, DEPLOYMENT)["metadata"]["namespace"] == "default"
    assert one(run, DEPLOYMENT)["spec"]["replicas"] == 3
    annotations = one(run, INGRESS)["metadata"]["annotations"]
    assert "alb.ingress.kubernetes.io/ssl-redirect" not in annotations
    assert json.loads(annotations["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTPS": 443}]


def test_endpoint_and_curl_command_outputs(run):
    assert run.outputs["endpoint"] == "https://coffee.example.com/"
    assert (
        run.outputs["curlCommand"]
        == "curl https://coffee.example.com/ --cert alice.crt --key alice.key --cacert ca.crt"
    )


def test_curl_command_without_cacert_when_the_server_certificate_is_not_the_stacks():
    run = run_program({**BASE_CONFIG, "serverCertificateId": "10812345-cn-hangzhou", "listener": {"port": 8443}})
    assert run.outputs["endpoint"] == "https://coffee.example.com:8443/"
    assert run.outputs["curlCommand"] == "curl https://coffee.example.com:8443/ --cert alice.crt --key alice.key"
