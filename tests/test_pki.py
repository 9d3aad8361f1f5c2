"""The PKI the stack creates, checked with the tools a strict peer uses: openssl, pkilint, nginx and curl."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fakes.tls_provider import FakeTlsProvider
from tests.harness import BASE_CONFIG, run_program
from tests.tls_listener import MutualTlsNginx

THREE_CLIENTS = {**BASE_CONFIG, "clients": ["alice", "bob", "carol"]}


@pytest.fixture(scope="module")
def run():
    return run_program(THREE_CLIENTS)


@pytest.fixture(scope="module")
def files(run, tmp_path_factory) -> Path:
    """The stack's certificates and keys written out as a client and the listener would get them."""
    root = tmp_path_factory.mktemp("pki")
    (root / "ca.crt").write_text(run.outputs["caCertificatePem"])
    (root / "server.crt").write_text(run.outputs["serverCertificatePem"])
    (root / "server.key").write_text(run.named("server-key").outputs["privateKeyPem"])
    for name, pem in run.outputs["clientCertificates"].items():
        (root / f"{name}.crt").write_text(pem)
        (root / f"{name}.key").write_text(run.outputs["clientPrivateKeys"][name])
    return root


def cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def openssl_verify(ca: Path, leaf: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["openssl", "verify", "-x509_strict", *extra, "-CAfile", str(ca), str(leaf)],
        check=False,
        capture_output=True,
        text=True,
    )


# pkilint's command, from the virtualenv running the tests even when that venv is not activated.
LINT_PKIX_CERT = shutil.which("lint_pkix_cert", path=str(Path(sys.executable).parent)) or "lint_pkix_cert"


def pkilint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_PKIX_CERT, "lint", "-s", "WARNING", str(path)], check=False, capture_output=True, text=True
    )


# --- the root CA ---------------------------------------------------------------------------------
def test_root_ca_is_a_real_v3_ca(run):
    ca = cert(run.outputs["caCertificatePem"])
    assert ca.version == x509.Version.v3
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert ca.issuer == ca.subject
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alb-mtls test root"
    assert ca.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "CN"
    assert ca.public_key().key_size == 4096  # the seed's `openssl genrsa 4096`, the default
    days = (ca.not_valid_after_utc - ca.not_valid_before_utc).days
    assert days == 3650


def test_root_ca_key_and_certificate_are_protected(run):
    assert run.named("root-ca-key").protect
    assert run.named("root-ca-cert").protect
    assert not any(r.protect for r in run.resources if r.name.startswith("client-"))


def test_ecdsa_ca_and_clients_from_config():
    run = run_program(
        {
            **BASE_CONFIG,
            "ca": {"commonName": "ec root", "algorithm": "ECDSA", "ecdsaCurve": "P384"},
            "clientDefaults": {"algorithm": "ECDSA", "ecdsaCurve": "P256", "validityDays": 30, "earlyRenewalDays": 7},
        }
    )
    ca = cert(run.outputs["caCertificatePem"])
    assert ca.public_key().curve.name == "secp384r1"
    alice = cert(run.outputs["clientCertificates"]["alice"])
    assert alice.public_key().curve.name == "secp256r1"
    assert (alice.not_valid_after_utc - alice.not_valid_before_utc).days == 30
    assert run.named("client-alice-cert").inputs["earlyRenewalHours"] == 7 * 24


# --- client certificates ---------------------------------------------------------------------------
def test_client_certificates_are_for_client_auth_only(run):
    for name, pem in run.outputs["clientCertificates"].items():
        client = cert(pem)
        assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
        assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
            ExtendedKeyUsageOID.CLIENT_AUTH
        ]
        assert not client.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert not client.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
        client.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        assert client.public_key().key_size == 2048
        days = (client.not_valid_after_utc - client.not_valid_before_utc).days
        assert days == 365
        assert run.named(f"client-{name}-cert").inputs["earlyRenewalHours"] == 30 * 24


def test_each_client_verifies_strictly_as_ssl_client(files, run):
    for name in run.outputs["clientCertificates"]:
        done = openssl_verify(files / "ca.crt", files / f"{name}.crt", "-purpose", "sslclient")
        assert done.returncode == 0, done.stderr
        refused = openssl_verify(files / "ca.crt", files / f"{name}.crt", "-purpose", "sslserver")
        assert refused.returncode != 0, "a client certificate must not pass as a server certificate"


def test_server_certificate_verifies_strictly_for_the_domain(files):
    ok = openssl_verify(
        files / "ca.crt", files / "server.crt", "-purpose", "sslserver", "-verify_hostname", "coffee.example.com"
    )
    assert ok.returncode == 0, ok.stderr
    wrong_host = openssl_verify(
        files / "ca.crt", files / "server.crt", "-purpose", "sslserver", "-verify_hostname", "tea.example.com"
    )
    assert wrong_host.returncode != 0
    server = cert(files.joinpath("server.crt").read_text())
    assert server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ["coffee.example.com"]


def test_client_expiry_output_is_the_certificates_end_of_validity(run):
    for name, pem in run.outputs["clientCertificates"].items():
        end = dt.datetime.fromisoformat(run.outputs["clientCertificateExpiry"][name])
        assert end == cert(pem).not_valid_after_utc


@pytest.mark.parametrize("which", ["ca.crt", "alice.crt", "server.crt"])
def test_pkilint_reports_nothing(files, which):
    done = pkilint(files / which)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_pkilint_would_flag_a_leaf_without_subject_key_identifier(run, tmp_path):
    """The lint is not a rubber stamp: the same leaf without `setSubjectKeyId` is reported."""
    fake = FakeTlsProvider()
    ca_key = run.named("root-ca-key").outputs["privateKeyPem"]
    leaf = fake.locally_signed_cert(
        {
            "certRequestPem": run.named("client-alice-csr").outputs["certRequestPem"],
            "caCertPem": run.outputs["caCertificatePem"],
            "caPrivateKeyPem": ca_key,
            "validityPeriodHours": 24,
            "allowedUses": ["digital_signature", "client_auth"],
        }
    )
    (tmp_path / "no-ski.crt").write_text(leaf["certPem"])
    done = pkilint(tmp_path / "no-ski.crt")
    assert "subject_key_identifier" in done.stdout.lower() or done.returncode != 0, done.stdout


# --- a real handshake ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def listener(files, run, tmp_path_factory):
    with MutualTlsNginx(
        tmp_path_factory.mktemp("nginx"),
        ca_pem=run.outputs["caCertificatePem"],
        server_cert_pem=run.outputs["serverCertificatePem"],
        server_key_pem=files.joinpath("server.key").read_text(),
        domain="coffee.example.com",
    ) as nginx:
        yield nginx


def test_every_client_gets_200(listener, files, run):
    for name in run.outputs["clientCertificates"]:
        response = listener.curl(cert=files / f"{name}.crt", key=files / f"{name}.key", cacert=files / "ca.crt")
        assert response.status == 200, response
        assert f"CN={name}" in response.body


def test_no_client_certificate_is_refused(listener, files):
    response = listener.curl(cacert=files / "ca.crt")
    assert response.status != 200
    assert "No required SSL certificate was sent" in response.body


def test_certificate_from_another_ca_is_refused(listener, files, tmp_path):
    other = run_program(BASE_CONFIG)  # a second stack: its own CA
    (tmp_path / "other.crt").write_text(other.outputs["clientCertificates"]["alice"])
    (tmp_path / "other.key").write_text(other.outputs["clientPrivateKeys"]["alice"])
    response = listener.curl(cert=tmp_path / "other.crt", key=tmp_path / "other.key", cacert=files / "ca.crt")
    assert response.status != 200
    assert "The SSL certificate error" in response.body
    assert "unable to verify the first certificate" in listener.error_log()


def test_expired_certificate_from_this_ca_is_refused(listener, files, run, tmp_path):
    issued_last_week = FakeTlsProvider(now=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(days=7))
    expired = issued_last_week.locally_signed_cert(
        {
            "certRequestPem": run.named("client-alice-csr").outputs["certRequestPem"],
            "caCertPem": run.outputs["caCertificatePem"],
            "caPrivateKeyPem": run.named("root-ca-key").outputs["privateKeyPem"],
            "validityPeriodHours": 24,
            "allowedUses": ["digital_signature", "client_auth"],
            "setSubjectKeyId": True,
        }
    )
    (tmp_path / "expired.crt").write_text(expired["certPem"])
    assert openssl_verify(files / "ca.crt", tmp_path / "expired.crt", "-purpose", "sslclient").returncode != 0
    response = listener.curl(cert=tmp_path / "expired.crt", key=files / "alice.key", cacert=files / "ca.crt")
    assert response.status != 200
    assert "certificate has expired" in listener.error_log()


def test_server_certificate_presented_as_client_certificate_is_refused(listener, files):
    response = listener.curl(cert=files / "server.crt", key=files / "server.key", cacert=files / "ca.crt")
    assert response.status != 200
    assert "unsuitable certificate purpose" in listener.error_log()


# --- stable names and secrets ----------------------------------------------------------------------
def test_removing_a_client_leaves_every_other_resource_untouched(run):
    without_bob = run_program({**THREE_CLIENTS, "clients": ["alice", "carol"]})
    bob = {r.urn for r in run.resources if "client-bob" in r.urn}
    assert len(bob) == 4  # component, key, CSR, certificate
    assert without_bob.urns() == run.urns() - bob
    for resource in without_bob.resources:
        before = run.by_urn(resource.urn)
        assert masked(resource.inputs, without_bob) == masked(before.inputs, run), resource.urn


def masked(value, run):
    """Inputs with what differs between any two runs (keys, certificates, provider ids) blanked out."""
    if isinstance(value, dict):
        return {k: masked(v, run) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, run) for v in value]
    if isinstance(value, str):
        if "-----BEGIN" in value:
            return "<pem>"
        for resource in run.resources:
            if resource.id and resource.id in value:
                value = value.replace(resource.id, "<id>")
    return value


def test_client_private_keys_are_secret_and_no_private_key_is_in_a_plain_output(run):
    assert "clientPrivateKeys" in run.secret_outputs
    assert set(run.outputs["clientPrivateKeys"]) == {"alice", "bob", "carol"}
    plain = {k: v for k, v in run.outputs.items() if k not in run.secret_outputs}
    assert "PRIVATE KEY" not in json.dumps(plain)


def test_ca_private_key_is_in_no_output(run):
    ca_key = run.named("root-ca-key").outputs["privateKeyPem"]
    assert ca_key.strip().splitlines()[1] not in json.dumps(run.outputs)


def test_private_keys_reach_signing_resources_only_as_secrets(run):
    for resource in run.of_type("tls:index/certRequest:CertRequest") + run.of_type(
        "tls:index/selfSignedCert:SelfSignedCert"
    ):
        assert "privateKeyPem" in resource.secret_inputs, resource.name
    for resource in run.of_type("tls:index/locallySignedCert:LocallySignedCert"):
        assert "caPrivateKeyPem" in resource.secret_inputs, resource.name


def test_existing_server_certificate_id_generates_no_server_certificate():
    run = run_program({**BASE_CONFIG, "serverCertificateId": "12345678-cn-hangzhou"})
    assert "serverCertificatePem" not in run.outputs
    assert not [r for r in run.resources if r.name.startswith("server")]
