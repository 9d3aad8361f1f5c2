"""Revoking a client under mocks: what an update changes, what the stack exports, what it refuses.

The runs share `RememberingMocks`, so the second run is an update of the first (unchanged resources keep
their outputs, as in a stack's state). Certificates are issued an hour before the run that revokes them,
as they would have been by an earlier `pulumi up`: a revoked client's certificate must be one it holds.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import gc
import hashlib
import json
import subprocess
from types import SimpleNamespace

import kubernetes_validate
import pytest
from cryptography import x509
from pulumi.output import UNKNOWN

import stack_config
from components import gate
from components.issuer import RevocationError
from tests.fakes.tls_provider import FakeTlsProvider
from tests.harness import BASE_CONFIG, ProgramFailed, StackMocks, run_program
from tests.stack_state import RememberingMocks

CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"
KUBERNETES_VERSION = kubernetes_validate.utils.latest_version()
THREE = {**BASE_CONFIG, "clients": ["alice", "bob", "carol"]}
BOB_REVOKED = {**BASE_CONFIG, "clients": ["alice", {"name": "bob", "revoked": True}, "carol"]}
BOB_REVOKED_BY_NAME = {**THREE, "revokedClients": ["bob"]}


@pytest.fixture
def refused_revocation():
    """The program's outputs fail with the RevocationError the test expects. asyncio would report each such
    future as "exception was never retrieved" when it is collected, long after the test: retrieve them here."""
    yield
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled():
            obj.exception()


def issued_an_hour_ago() -> FakeTlsProvider:
    return FakeTlsProvider(now=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))


@pytest.fixture(scope="module")
def runs():
    """One stack updated four times: every client active, bob revoked in his entry, bob restored, bob revoked by
    name in `revokedClients` (his entry a plain name, as it was from the start)."""
    mocks = RememberingMocks(tls=issued_an_hour_ago())
    before = run_program(THREE, mocks=mocks)
    mocks.new_run()
    revoked = run_program(BOB_REVOKED, mocks=mocks)
    revoked_created = list(mocks.created)
    mocks.new_run()
    restored = run_program(THREE, mocks=mocks)
    restored_created = mocks.created
    mocks.new_run()
    by_name = run_program(BOB_REVOKED_BY_NAME, mocks=mocks)
    return SimpleNamespace(
        before=before,
        revoked=revoked,
        revoked_created=revoked_created,
        restored=restored,
        restored_created=restored_created,
        by_name=by_name,
        by_name_created=mocks.created,
    )


def without_gate_revision(deployment: dict) -> dict:
    """The Deployment without what names the gate's configuration: the checksum annotation and the name of
    the ConfigMap its volume mounts."""
    manifest = copy.deepcopy(deployment)
    del manifest["spec"]["template"]["metadata"]["annotations"][gate.CHECKSUM_ANNOTATION]
    for volume in manifest["spec"]["template"]["spec"]["volumes"]:
        if "configMap" in volume:
            del volume["configMap"]["name"]
    return manifest


def mounted_config_map(deployment: dict) -> str:
    (name,) = [v["configMap"]["name"] for v in deployment["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
    return name


def gate_config(run) -> str:
    (config_map,) = run.of_type(CONFIG_MAP)
    return config_map.inputs["data"][gate.CONFIG_KEY]


# --- what an update changes ------------------------------------------------------------------------
def test_revoking_changes_only_the_gate_config_and_the_deployments_reference_to_it(runs):
    assert sorted(runs.revoked_created) == sorted([(CONFIG_MAP, "app-gate-config"), (DEPLOYMENT, "app-deployment")])
    assert runs.revoked.urns() == runs.before.urns()
    for resource in runs.revoked.resources:
        before = runs.before.by_urn(resource.urn)
        if resource.type == DEPLOYMENT:
            assert without_gate_revision(resource.inputs) == without_gate_revision(before.inputs)
            annotations = resource.inputs["spec"]["template"]["metadata"]["annotations"]
            assert (
                annotations[gate.CHECKSUM_ANNOTATION]
                != before.inputs["spec"]["template"]["metadata"]["annotations"][gate.CHECKSUM_ANNOTATION]
            )
            # the pods mount the new ConfigMap, a new name: created before the old one is deleted
            (config_map,) = runs.revoked.of_type(CONFIG_MAP)
            assert mounted_config_map(resource.inputs) == config_map.inputs["metadata"]["name"]
            assert mounted_config_map(resource.inputs) != mounted_config_map(before.inputs)
        elif resource.type != CONFIG_MAP:
            assert resource.inputs == before.inputs, resource.urn
    # nothing is re-issued: bob keeps the very certificate he had
    assert runs.revoked.named("client-bob-cert").outputs["certPem"] == runs.before.outputs["clientCertificates"]["bob"]


def test_restoring_a_client_changes_the_gate_back_and_nothing_else(runs):
    assert sorted(runs.restored_created) == sorted([(CONFIG_MAP, "app-gate-config"), (DEPLOYMENT, "app-deployment")])
    assert gate_config(runs.restored) == gate_config(runs.before)
    assert runs.restored.outputs["clientCertificates"] == runs.before.outputs["clientCertificates"]
    assert runs.restored.outputs["revokedClients"] == {}


def test_revoking_by_name_is_the_same_update_as_revoking_in_the_entry(runs):
    """bob stays the plain name he was entered as; listing him in `revokedClients` changes what revoked: true in
    his entry changes, to the byte, and protects the same resources."""
    assert sorted(runs.by_name_created) == sorted([(CONFIG_MAP, "app-gate-config"), (DEPLOYMENT, "app-deployment")])
    assert gate_config(runs.by_name) == gate_config(runs.revoked)
    assert runs.by_name.outputs["revokedClients"] == runs.revoked.outputs["revokedClients"]
    assert runs.by_name.outputs["clientCertificates"] == runs.revoked.outputs["clientCertificates"]
    for name in ("client-bob-key", "client-bob-csr", "client-bob-cert"):
        assert runs.by_name.named(name).protect is True and runs.by_name.named(name).ignore_changes == ["*"]


def test_the_gate_checks_every_forwarded_header_for_more_than_one_value(runs):
    config = gate_config(runs.revoked)
    for header in stack_config.parse(BOB_REVOKED, region="cn-hangzhou").listener.client_cert_headers.values():
        assert f"map {gate.header_variable(header)} $alb_mtls_several_" in config, header
        assert f'return 400 "{gate.several_values_reason(header)}\\n";' in config, header


# --- what the stack exports -------------------------------------------------------------------------
def test_a_revoked_client_leaves_the_client_outputs(runs):
    outputs = runs.revoked.outputs
    assert sorted(outputs["clientCertificates"]) == ["alice", "carol"]
    assert sorted(outputs["clientPrivateKeys"]) == ["alice", "carol"]
    assert sorted(outputs["clientCertificateExpiry"]) == ["alice", "carol"]
    assert "bob" not in json.dumps(outputs["curlCommand"])
    assert sorted(outputs["revokedClients"]) == ["bob"]


def test_revoked_clients_names_the_certificate_bob_holds_as_openssl_shows_it(runs, tmp_path):
    (tmp_path / "bob.crt").write_text(runs.before.outputs["clientCertificates"]["bob"])
    shown = {}
    for digest in ("sha1", "sha256"):
        done = subprocess.run(
            ["openssl", "x509", "-in", str(tmp_path / "bob.crt"), "-noout", "-serial", "-enddate", "-fingerprint"]
            + [f"-{digest}"],
            capture_output=True,
            text=True,
            check=True,
        )
        shown.update(line.split("=", 1) for line in done.stdout.splitlines())
    bob = runs.revoked.outputs["revokedClients"]["bob"]
    assert bob["serialNumber"] == shown["serial"]
    assert bob["sha1Fingerprint"] == shown["sha1 Fingerprint"]
    assert bob["sha256Fingerprint"] == shown["sha256 Fingerprint"]
    not_after = x509.load_pem_x509_certificate(runs.before.outputs["clientCertificates"]["bob"].encode())
    assert dt.datetime.fromisoformat(bob["notAfter"]) == not_after.not_valid_after_utc
    assert bob["notAfter"] == runs.before.outputs["clientCertificateExpiry"]["bob"]


def test_curl_command_names_the_first_client_that_is_not_revoked():
    mocks = StackMocks(tls=issued_an_hour_ago())
    first_revoked = {**BASE_CONFIG, "clients": [{"name": "alice", "revoked": True}, "bob"]}
    assert "--cert bob.crt --key bob.key" in run_program(first_revoked, mocks=mocks).outputs["curlCommand"]
    everyone = {**BASE_CONFIG, "clients": [{"name": "alice", "revoked": True}]}
    assert run_program(everyone, mocks=StackMocks(tls=issued_an_hour_ago())).outputs["curlCommand"] is None


# --- a revoked certificate stays exactly as it is ----------------------------------------------------
def test_a_revoked_clients_resources_are_protected_and_ignore_every_change(runs):
    bob = {f"client-bob-{part}" for part in ("key-clock-key", "key-clock", "key", "csr", "cert")}
    for run, frozen in ((runs.before, set()), (runs.revoked, bob)):
        for resource in run.resources:
            if resource.name.startswith("client-") and resource.custom:
                expected = resource.name in frozen
                assert resource.protect is expected, resource.name
                assert resource.ignore_changes == (["*"] if expected else []), resource.name


# --- the gate's configuration -----------------------------------------------------------------------
def test_the_gate_config_is_one_key_and_its_checksum_rolls_the_pods(runs):
    (config_map,) = runs.revoked.of_type(CONFIG_MAP)
    (deployment,) = runs.revoked.of_type(DEPLOYMENT)
    assert list(config_map.inputs["data"]) == ["default.conf"]
    config = config_map.inputs["data"]["default.conf"]
    assert config_map.inputs["metadata"]["name"] == f"coffee-gate-{hashlib.sha256(config.encode()).hexdigest()[:10]}"
    annotations = deployment.inputs["spec"]["template"]["metadata"]["annotations"]
    assert annotations[gate.CHECKSUM_ANNOTATION] == hashlib.sha256(config.encode()).hexdigest()
    bob = runs.revoked.outputs["revokedClients"]["bob"]
    for fingerprint in (bob["sha1Fingerprint"], bob["sha256Fingerprint"]):
        assert gate.fingerprint_pattern(fingerprint) in config
    for name in ("alice", "carol"):
        identity = runs.revoked.named(f"client-{name}-cert").outputs["certPem"]
        assert name not in config and identity not in config


def test_the_pod_runs_the_gate_in_front_of_the_app(runs):
    (deployment,) = runs.revoked.of_type(DEPLOYMENT)
    (service,) = runs.revoked.of_type("kubernetes:core/v1:Service")
    pod = deployment.inputs["spec"]["template"]["spec"]
    gate_container, app = pod["containers"]
    assert gate_container["image"] == stack_config.GATE_IMAGE
    assert gate_container["ports"] == [{"name": "http", "containerPort": 8080}]
    assert service.inputs["spec"]["ports"][0]["targetPort"] == "http"  # the Service sends traffic to the gate
    assert app["ports"] == [{"name": "app", "containerPort": 80}]
    assert "proxy_pass http://127.0.0.1:80;" in gate_config(runs.revoked)
    mounts = {m["mountPath"]: m["name"] for m in gate_container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    (config_map,) = runs.revoked.of_type(CONFIG_MAP)
    assert volumes[mounts["/etc/nginx/conf.d"]]["configMap"]["name"] == config_map.inputs["metadata"]["name"]
    assert config_map.inputs["metadata"]["name"].startswith("coffee-gate-")
    assert gate_container["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("type_token", [CONFIG_MAP, DEPLOYMENT])
def test_the_gate_objects_validate_against_the_kubernetes_schema(runs, type_token):
    (resource,) = runs.revoked.of_type(type_token)
    kubernetes_validate.validate(resource.inputs, KUBERNETES_VERSION, strict=True)


def test_gate_image_and_port_come_from_the_config():
    run = run_program({**THREE, "gate": {"image": "registry.example.com/nginx-unprivileged:1.27", "port": 9000}})
    (deployment,) = run.of_type(DEPLOYMENT)
    gate_container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    assert gate_container["image"] == "registry.example.com/nginx-unprivileged:1.27"
    assert gate_container["ports"] == [{"name": "http", "containerPort": 9000}]
    assert "listen 9000;" in gate_config(run)


def test_without_the_verify_header_the_gate_does_not_check_it():
    run = run_program({**THREE, "listener": {"forwardClientCertHeaders": {"clientVerify": False}}})
    assert "$alb_mtls_unverified" not in gate_config(run)
    assert "x_forwarded_clientcert_fingerprint" in gate_config(run)


# --- what is refused --------------------------------------------------------------------------------
def with_listener_headers(headers, clients=BOB_REVOKED["clients"]):
    return {**BASE_CONFIG, "clients": clients, "listener": {"forwardClientCertHeaders": headers}}


BAD_INPUTS = [
    (
        "upper-case header alias (the README's old example)",
        with_listener_headers({"subjectDn": "X-Client-DN"}),
        "alb-mtls:listener.forwardClientCertHeaders.subjectDn",
        '"X-Client-DN"',
        "lower-case",
    ),
    (
        "header alias over 40 characters",
        with_listener_headers({"issuerDn": "x" * 41}),
        "alb-mtls:listener.forwardClientCertHeaders.issuerDn",
        "x" * 41,
        "1-40",
    ),
    (
        "two headers under one name",
        with_listener_headers({"subjectDn": "x-client", "issuerDn": "x-client"}),
        "alb-mtls:listener.forwardClientCertHeaders.subjectDn",
        '"x-client"',
        "issuerDn uses it too",
    ),
    (
        "a revoked client with the fingerprint header off",
        with_listener_headers({"fingerprint": False}),
        "alb-mtls:listener.forwardClientCertHeaders.fingerprint",
        "false",
        "alb-mtls:clients[1].revoked: bob",
    ),
    (
        "every header off while a client is revoked",
        with_listener_headers(False),
        "alb-mtls:listener.forwardClientCertHeaders.fingerprint",
        "false",
        "the gate refuses a revoked certificate by the fingerprint",
    ),
    (
        "a client revoked by name with the fingerprint header off",
        {**with_listener_headers({"fingerprint": False}, clients=THREE["clients"]), "revokedClients": ["bob"]},
        "alb-mtls:listener.forwardClientCertHeaders.fingerprint",
        "false",
        "alb-mtls:revokedClients[0]: bob",
    ),
    (
        "revoked that is not a boolean",
        {**BASE_CONFIG, "clients": ["alice", {"name": "bob", "revoked": "yes"}]},
        "alb-mtls:clients[1].revoked",
        '"yes"',
        "true or false",
    ),
    (
        "a revoked entry without a name",
        {**BASE_CONFIG, "clients": ["alice", {"revoked": True}]},
        "alb-mtls:clients[1]",
        '{"revoked": true}',
        "an object with a name",
    ),
    (
        "gate on the app's port",
        {**BASE_CONFIG, "gate": {"port": 8080}, "app": {"port": 8080}},
        "alb-mtls:gate.port",
        "8080",
        "other than alb-mtls:app.port",
    ),
]


@pytest.mark.parametrize(("case", "config", "key", "shown", "accepted"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_refused_before_any_resource_with_the_key_named(case, config, key, shown, accepted):
    with pytest.raises(ProgramFailed) as failed:
        run_program(config)
    message = str(failed.value.error)
    assert isinstance(failed.value.error, stack_config.ConfigError), repr(failed.value.error)
    assert message.startswith(key + ":"), message
    assert shown in message and accepted in message, message
    assert failed.value.run.resources == []


def test_lower_case_aliases_reach_the_albconfig_and_the_gate():
    config = with_listener_headers({"fingerprint": "x_client_fp", "clientVerify": "x-client-verify"})
    run = run_program(config, mocks=StackMocks(tls=issued_an_hour_ago()))
    (albconfig,) = run.of_type("kubernetes:alibabacloud.com/v1:AlbConfig")
    forwarded = albconfig.inputs["spec"]["listeners"][-1]["xForwardedForConfig"]
    assert forwarded["XForwardedForClientCertFingerprintAlias"] == "x_client_fp"
    assert forwarded["XForwardedForClientCertClientVerifyAlias"] == "x-client-verify"
    assert "map $http_x_client_fp $alb_mtls_revoked" in gate_config(run)
    assert "map $http_x_client_verify $alb_mtls_unverified" in gate_config(run)


def test_revoking_a_client_the_stack_never_issued_a_certificate_is_refused(refused_revocation):
    """A certificate issued by the very update that revokes it is not one the client holds: refused, naming
    the client's entry, and the gate's configuration is never registered with it."""
    with pytest.raises(ProgramFailed) as failed:
        run_program(BOB_REVOKED)  # a new stack: every certificate is issued now
    assert isinstance(failed.value.error, RevocationError), repr(failed.value.error)
    assert str(failed.value.error).startswith("alb-mtls:clients[1]: the client is revoked, but this update issues")
    assert not failed.value.run.of_type(CONFIG_MAP)
    assert not failed.value.run.of_type(DEPLOYMENT)


def test_a_preview_that_would_issue_a_revoked_clients_certificate_is_refused(refused_revocation):
    """In a preview, a certificate the update would (re-)issue is unknown, as the engine plans it; a revoked
    client's unknown certificate is refused there, before any update runs."""

    def planned(args):
        if args.name == "client-bob-cert":
            return "", {**args.inputs, "certPem": UNKNOWN, "validityStartTime": UNKNOWN, "validityEndTime": UNKNOWN}
        return f"{args.name}-id", issued_an_hour_ago().create(args.typ, args.inputs)

    mocks = StackMocks(tls=issued_an_hour_ago(), extra={LOCALLY_SIGNED_CERT: planned})
    with pytest.raises(ProgramFailed) as failed:
        run_program(BOB_REVOKED, mocks=mocks, preview=True)
    assert isinstance(failed.value.error, RevocationError), repr(failed.value.error)
    assert "alb-mtls:clients[1]" in str(failed.value.error) and "planned, not yet known" in str(failed.value.error)
    # the same preview with bob's certificate known from the state goes through
    mocks = StackMocks(tls=issued_an_hour_ago())
    assert sorted(run_program(BOB_REVOKED, mocks=mocks, preview=True).outputs["revokedClients"]) == ["bob"]
