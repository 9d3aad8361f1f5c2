"""MutualTlsListener under mocks: the AlbConfig spec, the registrations, and the dependency graph."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pulumi
import pytest

from components.alicloud_api import cas_region
from components.listener import MutualTlsListener, MutualTlsListenerArgs, listen_ports
from components.package import ComponentInputError
from tests.harness import BASE_CONFIG, StackMocks, reveal, run_program

ALBCONFIG = "kubernetes:alibabacloud.com/v1:AlbConfig"
INGRESS_CLASS = "kubernetes:networking.k8s.io/v1:IngressClass"
CA_REGISTRATION = "pulumi-python:dynamic:Resource"
SERVER_UPLOAD = "alicloud:cas/serviceCertificate:ServiceCertificate"
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "albconfig.schema.json").read_text())


def validate_albconfig(manifest: dict) -> None:
    jsonschema.validate(manifest, SCHEMA, format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def run():
    return run_program(BASE_CONFIG)


def albconfig(run):
    (resource,) = run.of_type(ALBCONFIG)
    return resource


def https_listener(run) -> dict:
    (https,) = [item for item in albconfig(run).inputs["spec"]["listeners"] if item["protocol"] == "HTTPS"]
    return https


def test_albconfig_spec_is_exactly_right(run):
    resource = albconfig(run)
    validate_albconfig(resource.inputs)
    (registration,) = run.of_type(CA_REGISTRATION)
    (server,) = run.of_type(SERVER_UPLOAD)
    assert resource.inputs == {
        "apiVersion": "alibabacloud.com/v1",
        "kind": "AlbConfig",
        "metadata": {
            "name": "alb-mtls",
            "annotations": {"pulumi.com/waitFor": "jsonpath={.status.loadBalancer.dnsname}"},
        },
        "spec": {
            "config": {
                "name": "alb-mtls",
                "addressType": "Internet",
                "edition": "Standard",
                "zoneMappings": [{"vSwitchId": v} for v in BASE_CONFIG["vswitchIds"]],
            },
            "listeners": [
                {"port": 80, "protocol": "HTTP"},
                {
                    "port": 443,
                    "protocol": "HTTPS",
                    "caEnabled": True,
                    "caCertificates": [{"CertificateId": registration.id}],
                    "certificates": [{"CertificateId": f"{server.id}-cn-hangzhou", "IsDefault": True}],
                    "securityPolicyId": "tls_cipher_policy_1_2_strict",
                    "xForwardedForConfig": {  # an explicit alias each: ALB sends a header only when it has one
                        "XForwardedForClientCertSubjectDNEnabled": True,
                        "XForwardedForClientCertSubjectDNAlias": "x-forwarded-clientcert-subjectdn",
                        "XForwardedForClientCertIssuerDNEnabled": True,
                        "XForwardedForClientCertIssuerDNAlias": "x-forwarded-clientcert-issuerdn",
                        "XForwardedForClientCertFingerprintEnabled": True,
                        "XForwardedForClientCertFingerprintAlias": "x-forwarded-clientcert-fingerprint",
                        "XForwardedForClientCertClientVerifyEnabled": True,
                        "XForwardedForClientCertClientVerifyAlias": "x-forwarded-clientcert-clientverify",
                    },
                },
            ],
        },
    }


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("spec", "listeners", 1, "caCertificates", 0), {"certificateId": "abc"}),  # key not capitalised
        (("spec", "listeners", 1, "caCertificates"), [{"CertificateId": "a"}, {"CertificateId": "b"}]),  # two CAs
        (("spec", "listeners", 1, "caEnabeld"), True),  # typo
        (("spec", "config", "zoneMappings"), [{"vSwitchId": "vsw-a"}]),  # one zone
        (("spec", "listeners", 1, "xForwardedForConfig", "XForwardedForClientCertSubjectDNAlias"), "not a header!"),
        (("spec", "listeners", 1, "xForwardedForConfig", "XForwardedForClientCertSubjectDNAlias"), "X-Client-DN"),
    ],
)
def test_schema_rejects_what_the_controller_would_ignore_or_refuse(run, path, bad):
    manifest = json.loads(json.dumps(albconfig(run).inputs))
    target = manifest
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        validate_albconfig(manifest)


def test_ca_registration_uploads_the_stack_ca_certificate_and_not_its_key(run):
    (registration,) = run.of_type(CA_REGISTRATION)
    assert registration.inputs["certificate_pem"] == run.outputs["caCertificatePem"]
    assert registration.inputs["region"] == "cn-hangzhou"
    assert "PRIVATE KEY" not in json.dumps(registration.inputs)


def test_server_certificate_is_uploaded_with_its_own_key(run):
    # That the key travels as a secret is pulumi-alicloud's doing (its SDK wraps `key` in Output.secret), so
    # it is not asserted here; what the program controls is which key goes, and that none comes back out.
    (server,) = run.of_type(SERVER_UPLOAD)
    assert server.inputs["cert"] == run.outputs["serverCertificatePem"]
    assert server.inputs["key"] == run.named("server-key").outputs["privateKeyPem"]


def test_listener_outputs_carry_no_private_key(run):
    """The component's registered outputs (stored in the state as they are) hold ids and names, no key."""
    (component,) = run.of_type("alb-mtls:index:MutualTlsListener")
    outputs = run.component_outputs[component.urn]
    assert outputs["alb_config_name"] == "alb-mtls"
    assert "PRIVATE KEY" not in json.dumps(reveal(outputs))


def test_dependency_graph_runs_from_ca_to_ingress_class(run):
    (registration,) = run.of_type(CA_REGISTRATION)
    (server,) = run.of_type(SERVER_UPLOAD)
    (ingress_class,) = run.of_type(INGRESS_CLASS)
    resource = albconfig(run)
    assert run.depends_on(registration, run.named("root-ca-cert"))
    assert run.depends_on(resource, registration)
    assert run.depends_on(resource, server)
    assert run.depends_on(server, run.named("server-cert"))
    assert run.depends_on(ingress_class, resource)


def test_ingress_class_points_at_the_albconfig(run):
    (ingress_class,) = run.of_type(INGRESS_CLASS)
    assert ingress_class.inputs["spec"] == {
        "controller": "ingress.k8s.alibabacloud/alb",
        "parameters": {"apiGroup": "alibabacloud.com", "kind": "AlbConfig", "name": "alb-mtls"},
    }
    assert ingress_class.inputs["metadata"]["name"] == run.outputs["ingressClassName"] == "alb-mtls"
    assert run.outputs["albConfigName"] == "alb-mtls"


def test_all_children_are_parented_to_the_component(run):
    (component,) = run.of_type("alb-mtls:index:MutualTlsListener")
    children = [r for r in run.resources if r.parent == component.urn]
    assert {r.type for r in children} == {CA_REGISTRATION, SERVER_UPLOAD, ALBCONFIG, INGRESS_CLASS}


def test_existing_certificate_ids_skip_both_uploads():
    run = run_program(
        {
            **BASE_CONFIG,
            "caCertificateId": "0e40dda998174723af39d37fcaf12345",
            "serverCertificateId": "10812345-cn-hangzhou",
        },
        region=None,
    )
    assert not run.of_type(CA_REGISTRATION) and not run.of_type(SERVER_UPLOAD)
    https = https_listener(run)
    assert https["caCertificates"] == [{"CertificateId": "0e40dda998174723af39d37fcaf12345"}]
    assert https["certificates"] == [{"CertificateId": "10812345-cn-hangzhou", "IsDefault": True}]
    validate_albconfig(albconfig(run).inputs)


def test_headers_can_be_turned_off_and_renamed_and_http_listener_dropped():
    listener = {
        "forwardClientCertHeaders": {"subjectDn": "x-client-dn", "fingerprint": False},
        "httpRedirect": False,
        "port": 8443,
        "securityPolicyId": "tls_cipher_policy_1_2_strict_with_1_3",
    }
    run = run_program({**BASE_CONFIG, "listener": listener, "addressType": "Intranet", "edition": "StandardWithWaf"})
    resource = albconfig(run)
    validate_albconfig(resource.inputs)
    assert [item["protocol"] for item in resource.inputs["spec"]["listeners"]] == ["HTTPS"]
    https = https_listener(run)
    assert https["port"] == 8443 and https["securityPolicyId"] == "tls_cipher_policy_1_2_strict_with_1_3"
    assert https["xForwardedForConfig"] == {
        "XForwardedForClientCertSubjectDNEnabled": True,
        "XForwardedForClientCertSubjectDNAlias": "x-client-dn",
        "XForwardedForClientCertIssuerDNEnabled": True,
        "XForwardedForClientCertIssuerDNAlias": "x-forwarded-clientcert-issuerdn",
        "XForwardedForClientCertFingerprintEnabled": False,
        "XForwardedForClientCertClientVerifyEnabled": True,
        "XForwardedForClientCertClientVerifyAlias": "x-forwarded-clientcert-clientverify",
    }
    assert resource.inputs["spec"]["config"]["addressType"] == "Intranet"
    assert resource.inputs["spec"]["config"]["edition"] == "StandardWithWaf"


def test_listen_ports_annotation_matches_the_listeners():
    assert json.loads(listen_ports(443, True)) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert json.loads(listen_ports(8443, False)) == [{"HTTPS": 8443}]


def test_load_balancer_dns_name_comes_from_the_albconfig_status():
    def controller_wrote_status(args):
        return f"{args.name}-id", {
            **args.inputs,
            "status": {"loadBalancer": {"dnsname": "alb-abc.cn-hangzhou.alb.aliyuncs.com", "id": "alb-abc"}},
        }

    run = run_program(BASE_CONFIG, mocks=StackMocks(extra={ALBCONFIG: controller_wrote_status}))
    assert run.outputs["loadBalancerDnsName"] == "alb-abc.cn-hangzhou.alb.aliyuncs.com"


def test_load_balancer_dns_name_is_empty_until_the_controller_writes_it(run):
    assert run.outputs["loadBalancerDnsName"] is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ca_certificate_pem": None}, "exactly one of ca_certificate_pem and ca_certificate_id"),
        ({"ca_certificate_id": "abc"}, "exactly one of ca_certificate_pem and ca_certificate_id"),
        ({"server_certificate_pem": None}, "server_certificate_pem and server_private_key_pem"),
        ({"server_certificate_id": "1-cn-hangzhou"}, "not both"),
        ({"region": None}, "needs a region"),
        ({"vswitch_ids": ["vsw-a"]}, "at least two zones"),
        ({"ready_timeout_seconds": -1}, "ready_timeout_seconds of 0"),
        ({"ready_timeout_seconds": 1.5}, "ready_timeout_seconds of 0"),
        ({"ready_timeout_seconds": "600"}, "ready_timeout_seconds of 0"),
    ],
)
def test_component_refuses_inconsistent_args(changes, message):
    args = {
        "alb_config_name": "alb",
        "ingress_class_name": "alb",
        "vswitch_ids": ["vsw-a", "vsw-b"],
        "region": "cn-hangzhou",
        "ca_certificate_pem": "CA",
        "server_certificate_pem": "CERT",
        "server_private_key_pem": "KEY",
        **changes,
    }
    with pytest.raises(ComponentInputError, match=message) as refused:
        MutualTlsListener("x", MutualTlsListenerArgs(**args))
    # A RunError: the Pulumi program stops with this message alone, no traceback.
    assert isinstance(refused.value, pulumi.RunError) and isinstance(refused.value, ValueError)


def test_certificates_go_to_the_cas_site_of_the_region():
    assert cas_region("cn-hangzhou") == cas_region("cn-beijing") == "cn-hangzhou"
    assert cas_region("ap-southeast-1") == cas_region("eu-central-1") == "ap-southeast-1"
    run = run_program(BASE_CONFIG, region="eu-central-1")
    (registration,) = run.of_type(CA_REGISTRATION)
    (server,) = run.of_type(SERVER_UPLOAD)
    assert registration.inputs["region"] == "ap-southeast-1"
    assert https_listener(run)["certificates"] == [{"CertificateId": f"{server.id}-ap-southeast-1", "IsDefault": True}]


def test_up_waits_for_the_controller_to_write_the_albconfig_status(run):
    """The Kubernetes provider's generic await: the AlbConfig is ready once the controller has written the ALB's
    DNS name, at most `listener.readyTimeoutSeconds` (600 by default)."""
    assert albconfig(run).inputs["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "jsonpath={.status.loadBalancer.dnsname}"
    }
    assert albconfig(run).custom_timeouts == {"create": "600s", "update": "600s"}
    timed = run_program(BASE_CONFIG | {"listener": {"readyTimeoutSeconds": 90}})
    (resource,) = timed.of_type(ALBCONFIG)
    assert resource.custom_timeouts == {"create": "90s", "update": "90s"}


def test_render_mode_waits_for_nothing(tmp_path):
    """Rendered objects meet no controller: the AlbConfig carries no await annotations there."""
    rendered = run_program(BASE_CONFIG | {"renderDirectory": str(tmp_path)})
    (resource,) = rendered.of_type(ALBCONFIG)
    assert "annotations" not in resource.inputs["metadata"] and resource.custom_timeouts == {}
