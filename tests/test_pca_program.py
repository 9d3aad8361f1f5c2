"""`ca.source: pca` under mocks: the PCA's CAs, certificates issued by it, the listener pointing at it.

The mocks play the PCA with `tests.fake_pca.PcaAuthorities` (real CA keys, held by the double only), so
the certificates the program exports are real ones a strict verifier can check.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import subprocess
import warnings

import pulumi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from components.gate import fingerprint_pattern
from components.issuer import certificate_identity
from components.pca_provider import PcaCertificateProvider
from tests.fake_pca import PCA_CERTIFICATE_TYPE
from tests.harness import BASE_CONFIG, PROJECT, ProgramFailed, StackMocks, reveal, run_program
from tests.stack_state import RememberingMocks
from tests.test_pki import private_keys_in, public_der

ALBCONFIG = "kubernetes:alibabacloud.com/v1:AlbConfig"
DYNAMIC = "pulumi-python:dynamic:Resource"
PCA_CA = {
    **BASE_CONFIG["ca"],
    "source": "pca",
    "organizationalUnit": "platform",
    "province": "Zhejiang",
    "locality": "Hangzhou",
    "algorithm": "ECDSA",
}
PCA = {**BASE_CONFIG, "ca": PCA_CA, "clientDefaults": {"algorithm": "ECDSA"}}
ISSUER = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"


@pytest.fixture(scope="module")
def mocks() -> StackMocks:
    return StackMocks()


@pytest.fixture(scope="module")
def run(mocks):
    return run_program(PCA, mocks=mocks)


def ca_ids(run) -> list[str]:
    (albconfig,) = run.of_type(ALBCONFIG)
    (https,) = [listener for listener in albconfig.inputs["spec"]["listeners"] if listener["protocol"] == "HTTPS"]
    return [c["CertificateId"] for c in https["caCertificates"]]


def test_the_stack_creates_a_protected_root_and_issuing_sub_ca_with_the_ca_subject(run):
    root, issuer = run.named("pca-root"), run.named("pca-issuer")
    assert root.type == issuer.type == PCA_CERTIFICATE_TYPE
    assert root.inputs["certificateType"] == "ROOT" and issuer.inputs["certificateType"] == "SUB_ROOT"
    assert issuer.inputs["parentIdentifier"] == root.id
    assert root.protect and issuer.protect
    for ca in (root, issuer):
        assert ca.inputs["organization"] == "alb-mtls" and ca.inputs["organizationUnit"] == "platform"
        assert (ca.inputs["state"], ca.inputs["locality"], ca.inputs["countryCode"]) == ("Zhejiang", "Hangzhou", "CN")
        assert ca.inputs["algorithm"] == "ECC_256"
    assert (root.inputs["years"], issuer.inputs["years"]) == (10, 9)  # ca.validityDays 3650; the sub-CA ends first
    assert root.inputs["commonName"] == "alb-mtls test root"


def test_the_albconfig_trusts_the_pcas_issuing_ca_and_nothing_is_uploaded(run):
    assert ca_ids(run) == [run.named("pca-issuer").id]
    uploads = [r for r in run.of_type(DYNAMIC) if "certificate_pem" in r.inputs]
    assert uploads == []  # no CA registration: the PCA's CA is referenced by its identifier


def test_nothing_is_signed_in_the_stack_but_the_key_rotation_clocks(run):
    assert not run.of_type("tls:index/locallySignedCert:LocallySignedCert")
    clocks = run.of_type("tls:index/selfSignedCert:SelfSignedCert")
    assert sorted(c.name for c in clocks) == ["client-alice-key-clock", "client-bob-key-clock", "server-key-clock"]
    for clock in clocks:  # not a CA, signs nothing but itself
        assert not clock.inputs.get("isCaCertificate") and clock.inputs["allowedUses"] == ["digital_signature"]
    keys = sorted(r.name for r in run.of_type("tls:index/privateKey:PrivateKey"))
    clock_keys = [f"{c.name}-key" for c in clocks]
    assert keys == sorted(["client-alice-key", "client-bob-key", "server-key", *clock_keys])  # no CA key


def test_no_ca_private_key_is_in_any_resource_or_output(run, mocks):
    """Key material, not text: every private key anywhere in the resources or the outputs is an end entity's."""
    ca_public = {public_der(a.key.public_key()) for a in mocks.pca.authorities.values()}
    assert len(ca_public) == 2  # the double does hold the root's and the sub-CA's keys ...
    everything = [[r.inputs, r.outputs] for r in run.resources] + [reveal(run.wire_outputs), run.component_outputs]
    clock_keys = {
        public_der(load_pem_private_key(k.outputs["privateKeyPem"].encode(), None).public_key())
        for k in run.of_type("tls:index/privateKey:PrivateKey")
        if k.name.endswith("-clock-key")
    }
    found = {key for _, key in private_keys_in(everything)} - clock_keys
    assert found and not found & ca_public  # ... and none of them reached the stack
    end_entities = {
        public_der(x509.load_pem_x509_certificates(pem.encode())[0].public_key())
        for pem in [*run.outputs["clientCertificates"].values(), run.outputs["serverCertificatePem"]]
    }
    assert found == end_entities


def test_each_client_certificate_verifies_strictly_against_the_pca_root(run, tmp_path):
    root = tmp_path / "root.crt"
    root.write_text(run.outputs["caCertificatePem"])
    assert (
        x509.load_pem_x509_certificate(root.read_bytes()).issuer
        == x509.load_pem_x509_certificate(root.read_bytes()).subject
    )
    for name, bundle in run.outputs["clientCertificates"].items():
        leaf, sub = x509.load_pem_x509_certificates(bundle.encode())  # the client presents leaf + issuing CA
        (tmp_path / "leaf.crt").write_bytes(leaf.public_bytes(serialization_pem()))
        (tmp_path / "sub.crt").write_bytes(sub.public_bytes(serialization_pem()))
        done = subprocess.run(
            ["openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", str(root),
             "-untrusted", str(tmp_path / "sub.crt"), str(tmp_path / "leaf.crt")],
            check=False, capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert leaf.subject.rfc4514_string() == f"CN={name}"
        assert run.outputs["clientCertificateExpiry"][name] == leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def serialization_pem():
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM


def test_the_server_certificate_comes_from_the_pca_for_the_domain(run):
    server = next(r for r in run.of_type(DYNAMIC) if r.name == "server-cert")
    assert server.inputs["kind"] == "server" and server.inputs["parent_identifier"] == run.named("pca-issuer").id
    leaf = x509.load_pem_x509_certificates(run.outputs["serverCertificatePem"].encode())[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["coffee.example.com"]
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    )


def test_existing_issuer_identifier_creates_no_ca():
    run = run_program({**PCA, "ca": {**PCA_CA, "pcaIssuerIdentifier": ISSUER}})
    assert run.of_type(PCA_CERTIFICATE_TYPE) == []
    assert ca_ids(run) == [ISSUER]
    issued = [r for r in run.of_type(DYNAMIC) if "csr_pem" in r.inputs]
    assert {r.inputs["parent_identifier"] for r in issued} == {ISSUER}


def test_existing_root_identifier_creates_only_the_sub_ca_under_it():
    run = run_program({**PCA, "ca": {**PCA_CA, "pcaRootIdentifier": ISSUER}}, mocks=StackMocks())
    (issuer,) = run.of_type(PCA_CERTIFICATE_TYPE)
    assert issuer.inputs["certificateType"] == "SUB_ROOT" and issuer.inputs["parentIdentifier"] == ISSUER


@pytest.fixture
def refused_revocation():
    yield
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled():
            obj.exception()


def test_revoking_a_client_revokes_it_once_in_the_pca_and_the_gate_refuses_it():
    mocks = RememberingMocks()
    mocks.pca.now = lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)  # issued by an earlier `pulumi up`
    before = run_program(PCA, mocks=mocks)
    bob = next(r for r in before.of_type(DYNAMIC) if r.name == "client-bob-cert")
    revoked_config = {**PCA, "clients": ["alice", {"name": "bob", "revoked": True}]}
    after = run_program(revoked_config, mocks=mocks)

    assert mocks.pca.revocations == [bob.id]  # revoked once, the certificate bob holds
    held = x509.load_pem_x509_certificates(before.outputs["clientCertificates"]["bob"].encode())[0]
    assert (
        after.outputs["revokedClients"]["bob"]["sha256Fingerprint"]
        == certificate_identity(held.public_bytes(serialization_pem()).decode())["sha256Fingerprint"]
    )
    assert "bob" not in after.outputs["clientCertificates"]
    cert = next(r for r in after.of_type(DYNAMIC) if r.name == "client-bob-cert")
    assert cert.inputs["revoked"] is True and cert.protect
    assert "revoked" not in cert.ignore_changes and "csr_pem" in cert.ignore_changes
    gate = next(r for r in after.resources if r.type == "kubernetes:core/v1:ConfigMap")
    (conf,) = gate.inputs["data"].values()
    fingerprint = certificate_identity(held.public_bytes(serialization_pem()).decode())["sha256Fingerprint"]
    assert f'"{fingerprint_pattern(fingerprint)}" "bob";' in conf  # the gate's map refuses it


def test_revoking_a_client_this_update_would_first_issue_is_refused(refused_revocation):
    with pytest.raises(ProgramFailed, match="the client is revoked, but this update issues its certificate"):
        run_program({**PCA, "clients": ["alice", {"name": "bob", "revoked": True}]})


class EnginePreviewMocks(RememberingMocks):
    """`RememberingMocks`, and in a preview the engine's answer for a PCA certificate, which it does not ask the
    dynamic provider for (that provider does not preview): one that changes in place (the provider's diff
    replaces nothing) keeps its id and gets its inputs as its state, so its outputs are unknown; one created
    gets no id. (pulumi `provider_plugin.go`: "If the provider does not support previews, return the inputs
    as the state"; `step.go`: an update always propagates the id.)"""

    def new_resource(self, args):
        certificate = args.custom and args.typ == DYNAMIC and self.pca.handles(args.typ, args.inputs)
        if not (certificate and pulumi.runtime.is_dry_run()):
            return super().new_resource(args)
        inputs = {k: v for k, v in reveal(args.inputs).items() if v is not None and k != "__provider"}
        known = self.state.get((args.typ, args.name))
        if known is None:
            return "", inputs
        old_id, outputs = known[1], known[2]
        if PcaCertificateProvider().diff(old_id, outputs, inputs).replaces:
            return "", inputs
        return old_id, inputs


def test_revoking_a_client_previews_as_the_engine_plays_it_and_then_revokes_it():
    """Revoking is an update of bob's certificate, whose outputs a preview does not know: its id says it is the
    one bob holds, so the preview plans the revocation instead of refusing it as a certificate to be issued."""
    mocks = EnginePreviewMocks()
    mocks.pca.now = lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)  # issued by an earlier `pulumi up`
    before = run_program(PCA, mocks=mocks)
    bob = next(r for r in before.of_type(DYNAMIC) if r.name == "client-bob-cert")
    revoked_config = {**PCA, "clients": ["alice", {"name": "bob", "revoked": True}]}
    run_program(revoked_config, mocks=mocks, preview=True)  # refused here before the fix, as by the engine
    assert mocks.pca.revocations == []  # a preview revokes nothing
    after = run_program(revoked_config, mocks=mocks)
    assert mocks.pca.revocations == [bob.id]
    held = x509.load_pem_x509_certificates(before.outputs["clientCertificates"]["bob"].encode())[0]
    assert (
        after.outputs["revokedClients"]["bob"]["sha256Fingerprint"]
        == certificate_identity(held.public_bytes(serialization_pem()).decode())["sha256Fingerprint"]
    )


def test_revoking_a_client_this_update_would_first_issue_is_refused_by_the_preview(refused_revocation):
    with pytest.raises(ProgramFailed, match="the client is revoked, but this update issues its certificate"):
        run_program({**PCA, "clients": ["alice", {"name": "bob", "revoked": True}]}, mocks=EnginePreviewMocks(),
                    preview=True)  # fmt: skip


@pytest.mark.parametrize(
    ("ca", "extra", "key", "accepted"),
    [
        ({"source": "selfSigned", "pcaIssuerIdentifier": ISSUER}, {}, "alb-mtls:ca.pcaIssuerIdentifier", "pca"),
        ({"locality": None}, {}, "alb-mtls:ca.locality", "is required"),
        ({"pcaIssuerIdentifier": ISSUER, "pcaRootIdentifier": ISSUER}, {}, "alb-mtls:ca.pcaRootIdentifier", "unset"),
        ({}, {"caCertificateId": "abc"}, "alb-mtls:caCertificateId", "sub-CA"),
        ({"algorithm": "RSA", "rsaBits": 3072}, {"clientDefaults": {}}, "alb-mtls:ca.rsaBits", "2048 or 4096"),
        ({"algorithm": "RSA"}, {}, "alb-mtls:clientDefaults.algorithm", "RSA"),
        ({"source": "hsm"}, {}, "alb-mtls:ca.source", "selfSigned"),
    ],
)
def test_bad_pca_configuration_is_refused_before_any_resource(ca, extra, key, accepted):
    values = {k: v for k, v in {**PCA_CA, **ca}.items() if v is not None}
    with pytest.raises(ProgramFailed) as failure:
        run_program({**PCA, "ca": values, **extra})
    assert key in str(failure.value) and accepted in str(failure.value)
    assert not [r for r in failure.value.run.resources if r.custom]


def test_every_certificate_names_its_owner_the_project_and_stack(run):
    issued = [r for r in run.of_type(DYNAMIC) if "csr_pem" in r.inputs]
    assert issued and {r.inputs["owner"] for r in issued} == {f"{PROJECT}/dev"}
    assert {r.inputs["name"] for r in issued} == {r.name.removesuffix("-cert") for r in issued}


def test_the_cas_are_aliased_from_the_deprecated_type_and_nothing_deprecated_is_used(monkeypatch):
    """`sslcertificatesservicepca.Certificate` announced itself on every preview and `up` ("Certificate is
    deprecated: …"); its replacement takes the same inputs and carries the old type as an alias."""
    from tests.fake_pca import DEPRECATED_PCA_CERTIFICATE_TYPE

    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: said.append(str(message)))
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        fresh = run_program(PCA, mocks=StackMocks())
    assert [r.type for r in fresh.of_type(PCA_CERTIFICATE_TYPE)] == [PCA_CERTIFICATE_TYPE] * 2
    assert fresh.of_type(DEPRECATED_PCA_CERTIFICATE_TYPE) == []
    assert not [m for m in said if "deprecated" in m.lower()], said
    assert not [
        w for w in raised if issubclass(w.category, DeprecationWarning) and "pulumi_alicloud" in str(w.filename)
    ]


def test_the_trust_anchor_comes_from_the_issuing_ca_not_from_a_client(run, mocks):
    anchor = run.named("pca-trust-anchor")
    issuer = run.named("pca-issuer")
    assert anchor.inputs["issuer_identifier"] == issuer.id
    assert run.depends_on(anchor, issuer)
    assert not any(run.depends_on(anchor, r) for r in run.resources if r.name.startswith(("client-", "server")))
    root = mocks.pca.authority(issuer.id).chain()[-1]
    assert x509.load_pem_x509_certificate(run.outputs["caCertificatePem"].encode()) == root
