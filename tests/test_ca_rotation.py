"""README's "Replacing the CA", run under mocks: unprotect, replace every key, one update, one cutover.

The stack is updated as the procedure says: the first run is the deployed stack; the second replaces the
CA key and every other private key (`pulumi up --replace` each, played by `RememberingMocks.forget`).
Everything else must follow from the dependency graph alone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.harness import BASE_CONFIG, run_program
from tests.stack_state import RememberingMocks

THREE = {**BASE_CONFIG, "clients": ["alice", "bob", "carol"]}
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
ALBCONFIG = "kubernetes:alibabacloud.com/v1:AlbConfig"
CA_REGISTRATION = "pulumi-python:dynamic:Resource"
SERVER_UPLOAD = "alicloud:cas/serviceCertificate:ServiceCertificate"


@pytest.fixture(scope="module")
def rotation():
    mocks = RememberingMocks()
    before = run_program(THREE, mocks=mocks)
    mocks.new_run()
    for key in before.of_type(PRIVATE_KEY):  # what `pulumi up --replace <every PrivateKey urn>` replaces
        mocks.forget(key.name)
    after = run_program(THREE, mocks=mocks)
    return before, after, set(mocks.created)


def public_key(pem: str) -> bytes:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def https_listener(run) -> dict:
    (albconfig,) = run.of_type(ALBCONFIG)
    return albconfig.inputs["spec"]["listeners"][-1]


def verifies(ca_pem: str, cert_pem: str, directory: Path) -> bool:
    (directory / "ca.pem").write_text(ca_pem)
    (directory / "cert.pem").write_text(cert_pem)
    done = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "ca.pem", "cert.pem"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def test_the_ca_is_new_and_protected_again(rotation):
    before, after, _ = rotation
    assert after.outputs["caCertificatePem"] != before.outputs["caCertificatePem"]
    assert after.named("root-ca-key").protect and after.named("root-ca-cert").protect


def test_every_client_gets_a_new_certificate_and_key_from_the_new_ca_only(rotation, tmp_path):
    before, after, _ = rotation
    assert sorted(after.outputs["clientCertificates"]) == sorted(THREE["clients"])
    for name in THREE["clients"]:
        old, new = before.outputs["clientCertificates"][name], after.outputs["clientCertificates"][name]
        assert new != old, name
        assert public_key(new) != public_key(old), f"{name} kept its key"
        assert after.outputs["clientPrivateKeys"][name] != before.outputs["clientPrivateKeys"][name]
        assert verifies(after.outputs["caCertificatePem"], new, tmp_path), name
        assert not verifies(after.outputs["caCertificatePem"], old, tmp_path), (
            f"{name}'s old certificate still verifies"
        )
        assert not verifies(before.outputs["caCertificatePem"], new, tmp_path), name


def test_the_listener_points_at_the_new_ca_and_server_certificate(rotation):
    before, after, created = rotation
    (old_registration,) = before.of_type(CA_REGISTRATION)
    (new_registration,) = after.of_type(CA_REGISTRATION)
    assert new_registration.inputs["certificate_pem"] == after.outputs["caCertificatePem"]
    assert new_registration.id != old_registration.id
    assert https_listener(after)["caCertificates"] == [{"CertificateId": new_registration.id}]
    assert https_listener(before)["caCertificates"] == [{"CertificateId": old_registration.id}]
    (server,) = after.of_type(SERVER_UPLOAD)
    assert https_listener(after)["certificates"] == [{"CertificateId": f"{server.id}-cn-hangzhou", "IsDefault": True}]
    assert (SERVER_UPLOAD, server.name) in created


def test_one_update_changes_the_pki_and_the_listener_and_leaves_the_workload(rotation):
    """The cutover is the AlbConfig update; the workload behind it is untouched."""
    _, _, created = rotation
    changed = {name for _, name in created}
    for name in THREE["clients"]:
        assert {f"client-{name}-key", f"client-{name}-csr", f"client-{name}-cert"} <= changed
    assert {"root-ca-key", "root-ca-cert", "server-key", "server-cert", "mtls-ca", "mtls-albconfig"} <= changed
    assert not changed & {"app-gate-config", "app-deployment", "app-service", "app-ingress", "mtls-ingress-class"}
