"""The PKI the stack creates, checked with the tools a strict peer uses: openssl, pkilint, nginx and curl."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fakes.tls_provider import FakeTlsProvider
from tests.harness import BASE_CONFIG, conceal, is_secret, reveal, run_program
from tests.tls_listener import MutualTlsNginx

THREE_CLIENTS = {**BASE_CONFIG, "clients": ["alice", "bob", "carol"]}


@pytest.fixture(scope="module")
def run():
    return run_program(THREE_CLIENTS)


def client_names(run) -> list[str]:
    """The configured clients, once the stack is seen to export a certificate for each of them."""
    assert sorted(run.outputs["clientCertificates"]) == sorted(THREE_CLIENTS["clients"])
    return THREE_CLIENTS["clients"]


@pytest.fixture(scope="module")
def files(run, tmp_path_factory) -> Path:
    """The stack's certificates and keys written out as a client and the listener would get them."""
    root = tmp_path_factory.mktemp("pki")
    (root / "ca.crt").write_text(run.outputs["caCertificatePem"])
    (root / "server.crt").write_text(run.outputs["serverCertificatePem"])
    (root / "server.key").write_text(run.named("server-key").outputs["privateKeyPem"])
    for name in client_names(run):
        (root / f"{name}.crt").write_text(run.outputs["clientCertificates"][name])
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
    for name in client_names(run):
        client = cert(run.outputs["clientCertificates"][name])
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
    for name in client_names(run):
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
    assert sorted(run.outputs["clientCertificateExpiry"]) == sorted(client_names(run))
    for name in client_names(run):
        end = dt.datetime.fromisoformat(run.outputs["clientCertificateExpiry"][name])
        assert end == cert(run.outputs["clientCertificates"][name]).not_valid_after_utc


@pytest.mark.parametrize("which", ["ca.crt", "alice.crt", "server.crt"])
def test_pkilint_reports_nothing(files, which):
    done = pkilint(files / which)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_pkilint_would_flag_a_leaf_without_subject_key_identifier(run, tmp_path):
    """The lint is not a rubber stamp: the same leaf without `setSubjectKeyId` is reported, by name."""
    fake = FakeTlsProvider()
    for name, ski in (("no-ski.crt", False), ("ski.crt", True)):
        leaf = fake.locally_signed_cert(
            {
                "certRequestPem": run.named("client-alice-csr").outputs["certRequestPem"],
                "caCertPem": run.outputs["caCertificatePem"],
                "caPrivateKeyPem": run.named("root-ca-key").outputs["privateKeyPem"],
                "validityPeriodHours": 24,
                "allowedUses": ["digital_signature", "client_auth"],
                "setSubjectKeyId": ski,
            }
        )
        (tmp_path / name).write_text(leaf["certPem"])
    flagged = pkilint(tmp_path / "no-ski.crt")
    assert flagged.returncode != 0, flagged.stdout + flagged.stderr
    findings = re.findall(r"^\s+(\S+) \((?:WARNING|ERROR|FATAL)\)$", flagged.stdout, re.MULTILINE)
    assert findings == ["pkix.certificate_skid_end_entity_missing"], flagged.stdout
    clean = pkilint(tmp_path / "ski.crt")  # the same leaf with its SKI: the finding was about the SKI alone
    assert clean.returncode == 0 and clean.stdout.strip() == "", clean.stdout + clean.stderr


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
    for name in client_names(run):
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
    assert len(bob) == 6  # component, key, CSR, certificate, the key's rotation clock and its key
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


PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)


def strings_in(value) -> list[str]:
    """Every string inside `value` (dict keys too), with JSON-escaped newlines unescaped."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings_in(k), *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return [value.replace("\\n", "\n")] if isinstance(value, str) else []


def private_keys_in(value) -> list[tuple[str, bytes]]:
    """Each PEM private key anywhere in `value` (PKCS#1, PKCS#8, SEC1 or OpenSSH): its label and the DER of
    its public key. A private key that cannot be read (e.g. encrypted) fails the test rather than pass unseen."""
    found = []
    for text in strings_in(value):
        for block in PEM_BLOCK.finditer(text):
            label, pem = block.group(1), block.group(0).encode()
            if "PRIVATE KEY" not in label:
                continue
            if label == "OPENSSH PRIVATE KEY":
                key = serialization.load_ssh_private_key(pem, password=None)
            else:
                key = serialization.load_pem_private_key(pem, password=None)
            found.append((label, public_der(key.public_key())))
    return found


def public_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_private_key_scan_reads_every_pem_encoding(run):
    """The scan below finds a key in each encoding pulumi-tls offers, however deep in an output it sits."""
    ca_key = run.named("root-ca-key").outputs
    openssh = serialization.load_pem_private_key(ca_key["privateKeyPem"].encode(), password=None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    ec_key = FakeTlsProvider().create("tls:index/privateKey:PrivateKey", {"algorithm": "ECDSA", "ecdsaCurve": "P256"})
    encodings = {
        "RSA PRIVATE KEY": ca_key["privateKeyPem"],  # PKCS#1
        "PRIVATE KEY": ca_key["privateKeyPemPkcs8"],
        "OPENSSH PRIVATE KEY": openssh.decode(),  # as pulumi-tls's privateKeyOpenssh
        "EC PRIVATE KEY": ec_key["privateKeyPem"],  # SEC1
    }
    for label, pem in encodings.items():
        nested = {"outer": [{"inner": json.dumps({"escaped": pem})}]}
        assert [found for found, _ in private_keys_in(nested)] == [label], label
    ca_public = public_der(cert(run.named("root-ca-cert").outputs["certPem"]).public_key())
    assert {key for _, key in private_keys_in(list(encodings.values())[:3])} == {ca_public}


def test_ca_private_key_is_in_no_output_in_any_encoding(run):
    """Key material, not text: the CA's key as PKCS#1, PKCS#8, SEC1 or OpenSSH, secret or not, fails."""
    ca_public = public_der(cert(run.named("root-ca-cert").outputs["certPem"]).public_key())
    found = private_keys_in(reveal(run.wire_outputs))
    leaked = [label for label, key in found if key == ca_public]
    assert not leaked, f"the CA's private key is in the stack outputs as {leaked}"
    clients = {public_der(cert(run.outputs["clientCertificates"][name]).public_key()) for name in client_names(run)}
    assert sorted(key for _, key in found) == sorted(clients), "the only private keys exported are the clients'"


def test_client_private_keys_are_one_secret_map(run):
    """`clientPrivateKeys` is recorded as one secret (the map as a whole), as the README promises: a map whose
    values are each secret is stored and shown differently (`pulumi stack output` lists its client names).
    tests/test_engine_lifecycle.py checks the same through the real CLI (`pulumi stack output` shows "[secret]")."""
    value = run.wire_outputs["clientPrivateKeys"]
    shape = (
        {k: "[secret]" if is_secret(v) else "<plain>" for k, v in value.items()} if isinstance(value, dict) else value
    )
    assert is_secret(value), f"clientPrivateKeys is not one secret; the engine would record {shape}"
    assert "clientPrivateKeys" in run.secret_outputs
    keys = reveal(value)
    assert sorted(keys) == sorted(client_names(run))
    for name in client_names(run):
        certificate = cert(run.outputs["clientCertificates"][name])
        assert private_keys_in(keys[name]) == [("RSA PRIVATE KEY", public_der(certificate.public_key()))], name


def test_no_private_key_is_visible_without_show_secrets(run):
    """Nothing the engine records as the program's outputs (stack outputs and every component's registered
    outputs) shows a private key once secrets are hidden, as `pulumi stack output` hides them.
    tests/test_engine_lifecycle.py checks the real state file for plain-text private keys after `pulumi up`."""
    assert "PRIVATE KEY" in json.dumps(reveal(run.wire_outputs))  # the client keys are there, as secrets
    assert "PRIVATE KEY" not in json.dumps(conceal(run.wire_outputs))
    alice = run.named("client-alice").urn
    assert "PRIVATE KEY" in json.dumps(reveal(run.component_outputs[alice]))  # a component output, secret
    for urn, outputs in run.component_outputs.items():
        assert "PRIVATE KEY" not in json.dumps(conceal(outputs)), urn


def test_existing_server_certificate_id_generates_no_server_certificate():
    run = run_program({**BASE_CONFIG, "serverCertificateId": "12345678-cn-hangzhou"})
    assert "serverCertificatePem" not in run.outputs
    assert not [r for r in run.resources if r.name.startswith("server")]
