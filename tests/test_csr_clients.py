"""Clients that bring their own key: the stack signs a CSR made with `openssl req -new` outside it.

The partner's key never reaches the stack: it is made here with openssl, only its CSR goes into the
configuration, and the certificate the stack issues is then used with that key, as the partner would.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import stack_config
from components import gate
from tests.fakes.tls_provider import FakeTlsProvider
from tests.gate_hops import Hops, echo_app
from tests.harness import BASE_CONFIG, ProgramFailed, conceal, reveal, run_program
from tests.stack_state import RememberingMocks
from tests.test_pki import LINT_PKIX_CERT, private_keys_in, public_der
from tests.tls_listener import MutualTlsNginx

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "scripts" / "client-cert"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def openssl_request(directory: Path, name: str, *args: str, subject: str | None = None) -> tuple[str, Path]:
    """`openssl req -new` as the partner runs it: a new key (kept in `directory`) and its CSR (PEM)."""
    key, csr = directory / f"{name}.key", directory / f"{name}.csr"
    command = ["openssl", "req", "-new", "-nodes", "-keyout", str(key), "-out", str(csr)]
    subprocess.run([*command, "-subj", subject or f"/CN={name}", *args], check=True, capture_output=True)
    return csr.read_text(), key


@pytest.fixture(scope="module")
def partners(tmp_path_factory):
    """partner-a (RSA 3072, with an O in its subject) and device-7 (ECDSA P-256): keys and CSRs made by openssl."""
    directory = tmp_path_factory.mktemp("partners")
    rsa_csr, _ = openssl_request(directory, "partner-a", "-newkey", "rsa:3072", subject="/O=Partner A/CN=partner-a")
    ec_csr, _ = openssl_request(directory, "device-7", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
    return SimpleNamespace(directory=directory, csr={"partner-a": rsa_csr, "device-7": ec_csr})


def config_with(partners, **csrs) -> dict:
    csrs = csrs or partners.csr
    clients = ["alice"] + [{"name": name, "csr": csr} for name, csr in csrs.items()]
    return {**BASE_CONFIG, "clients": clients}


@pytest.fixture(scope="module")
def run(partners):
    return run_program(config_with(partners))


def cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def csr_public_der(csr_pem: str) -> bytes:
    return public_der(x509.load_pem_x509_csr(csr_pem.encode()).public_key())


# --- the certificate -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["partner-a", "device-7"])
def test_the_stack_signs_the_partners_own_key_with_the_client_profile(run, partners, name):
    issued = cert(run.outputs["clientCertificates"][name])
    assert public_der(issued.public_key()) == csr_public_der(partners.csr[name])
    assert issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
    assert list(issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert not issued.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = issued.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert usage.key_encipherment is (name == "partner-a")  # RSA enciphers (TLS 1.2 RSA key exchange), EC not
    issued.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    issued.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert (issued.not_valid_after_utc - issued.not_valid_before_utc).days == 365
    signing = run.named(f"client-{name}-cert").inputs
    assert signing["certRequestPem"] == partners.csr[name]  # the request itself: renewal signs it again
    assert signing["earlyRenewalHours"] == 30 * 24
    assert dt.datetime.fromisoformat(run.outputs["clientCertificateExpiry"][name]) == issued.not_valid_after_utc


@pytest.mark.parametrize("name", ["partner-a", "device-7"])
def test_openssl_verifies_it_strictly_as_a_client_certificate_and_pkilint_is_silent(run, partners, name, tmp_path):
    (tmp_path / "ca.crt").write_text(run.outputs["caCertificatePem"])
    (tmp_path / f"{name}.crt").write_text(run.outputs["clientCertificates"][name])
    verify = ["openssl", "verify", "-x509_strict", "-CAfile", str(tmp_path / "ca.crt")]
    ok = subprocess.run(
        [*verify, "-purpose", "sslclient", str(tmp_path / f"{name}.crt")], check=False, capture_output=True
    )
    assert ok.returncode == 0, ok.stderr
    refused = subprocess.run(
        [*verify, "-purpose", "sslserver", str(tmp_path / f"{name}.crt")], check=False, capture_output=True
    )
    assert refused.returncode != 0
    lint = subprocess.run(
        [LINT_PKIX_CERT, "lint", "-s", "WARNING", str(tmp_path / f"{name}.crt")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0 and lint.stdout.strip() == "", lint.stdout + lint.stderr


def test_curl_with_the_partners_own_key_gets_200(run, partners, tmp_path):
    (tmp_path / "partner-a.crt").write_text(run.outputs["clientCertificates"]["partner-a"])
    (tmp_path / "ca.crt").write_text(run.outputs["caCertificatePem"])
    with MutualTlsNginx(
        tmp_path / "nginx",
        ca_pem=run.outputs["caCertificatePem"],
        server_cert_pem=run.outputs["serverCertificatePem"],
        server_key_pem=run.named("server-key").outputs["privateKeyPem"],
        domain=BASE_CONFIG["domain"],
    ) as nginx:
        response = nginx.curl(
            cert=tmp_path / "partner-a.crt", key=partners.directory / "partner-a.key", cacert=tmp_path / "ca.crt"
        )
        assert response.status == 200, response
        assert "CN=partner-a,O=Partner A" in response.body
        # the same request signed by another stack (another CA) does not get in
        other = run_program({**BASE_CONFIG, "clients": [{"name": "partner-a", "csr": partners.csr["partner-a"]}]})
        (tmp_path / "other.crt").write_text(other.outputs["clientCertificates"]["partner-a"])
        refused = nginx.curl(
            cert=tmp_path / "other.crt", key=partners.directory / "partner-a.key", cacert=tmp_path / "ca.crt"
        )
        assert refused.status != 200


# --- no key here -----------------------------------------------------------------------------------
def test_the_stack_holds_no_private_key_for_the_partner(run, partners):
    assert [r.name for r in run.resources if "partner-a" in r.name] == ["client-partner-a", "client-partner-a-cert"]
    assert sorted(run.outputs["clientPrivateKeys"]) == ["alice"]
    assert sorted(run.outputs["clientCertificates"]) == ["alice", "device-7", "partner-a"]
    theirs = {csr_public_der(pem) for pem in partners.csr.values()}
    everything = [
        reveal(run.wire_outputs),
        list(run.component_outputs.values()),
        [(r.inputs, r.outputs) for r in run.resources],
    ]
    found = private_keys_in(everything)
    assert found, "the scan finds the keys the stack does hold (alice's, the CA's, the server's)"
    assert not [label for label, key in found if key in theirs]
    for name in partners.csr:
        key_text = (partners.directory / f"{name}.key").read_text().strip().splitlines()[1]
        assert key_text not in json.dumps(everything)
    assert "PRIVATE KEY" not in json.dumps(conceal(run.wire_outputs))


# --- renewal and a new request ------------------------------------------------------------------------
def test_renewal_signs_the_same_request_and_a_new_request_replaces_only_that_certificate(partners, tmp_path):
    mocks = RememberingMocks()
    first = run_program(config_with(partners), mocks=mocks)
    mocks.new_run()
    mocks.forget("client-partner-a-cert")  # what pulumi-tls's renewal does: a new certificate in its place
    renewed = run_program(config_with(partners), mocks=mocks)
    assert mocks.created == [("tls:index/locallySignedCert:LocallySignedCert", "client-partner-a-cert")]
    old, new = (cert(r.outputs["clientCertificates"]["partner-a"]) for r in (first, renewed))
    assert new.serial_number != old.serial_number
    assert public_der(new.public_key()) == public_der(old.public_key()) == csr_public_der(partners.csr["partner-a"])

    fresh_csr, _ = openssl_request(tmp_path, "partner-a", "-newkey", "rsa:2048")
    mocks.new_run()
    rekeyed = run_program(config_with(partners, **{**partners.csr, "partner-a": fresh_csr}), mocks=mocks)
    assert mocks.created == [("tls:index/locallySignedCert:LocallySignedCert", "client-partner-a-cert")]
    assert public_der(cert(rekeyed.outputs["clientCertificates"]["partner-a"]).public_key()) == csr_public_der(
        fresh_csr
    )
    for name in ("alice", "device-7"):
        assert rekeyed.outputs["clientCertificates"][name] == first.outputs["clientCertificates"][name]


def test_curl_command_for_a_partner_names_its_own_key_file(partners):
    config = {**BASE_CONFIG, "clients": [{"name": "partner-a", "csr": partners.csr["partner-a"]}, "alice"]}
    command = run_program(config).outputs["curlCommand"]
    assert command == "curl https://coffee.example.com/ --cert partner-a.crt --key partner-a.key --cacert ca.crt"


# --- revocation works the same --------------------------------------------------------------------
def test_revoking_a_partner_works_as_for_any_client(partners, tmp_path):
    mocks = RememberingMocks(tls=FakeTlsProvider(now=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    before = run_program(config_with(partners), mocks=mocks)
    mocks.new_run()
    revoked_config = config_with(partners)
    revoked_config["clients"][1]["revoked"] = True
    revoked = run_program(revoked_config, mocks=mocks)
    assert sorted(mocks.created) == [(DEPLOYMENT, "app-deployment"), (CONFIG_MAP, "app-gate-config")]
    assert sorted(revoked.outputs["revokedClients"]) == ["partner-a"]
    assert "partner-a" not in revoked.outputs["clientCertificates"]
    frozen = revoked.named("client-partner-a-cert")
    assert frozen.protect and frozen.ignore_changes == ["*"]
    files = tmp_path / "files"
    files.mkdir()
    (files / "partner-a.crt").write_text(before.outputs["clientCertificates"]["partner-a"])
    (files / "partner-a.key").write_text((partners.directory / "partner-a.key").read_text())
    (files / "ca.crt").write_text(before.outputs["caCertificatePem"])
    with (
        echo_app() as app,
        Hops(
            tmp_path / "hops",
            revoked,
            app,
            "sha256",
            certificates=before.outputs["clientCertificates"].values(),
            server_key_pem=before.named("server-key").outputs["privateKeyPem"],
        ) as hops,
    ):
        response = hops.curl(files, "partner-a")
        assert (response.status, response.body) == (403, gate.REVOKED_REASON + "\n")


# --- refused requests -----------------------------------------------------------------------------------
def tampered(csr_pem: str) -> str:
    """The same request with one bit of its signature flipped: it still parses, but does not verify."""
    der = bytearray(x509.load_pem_x509_csr(csr_pem.encode()).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()


BAD_REQUESTS = {
    "not PEM": (lambda d, p: "partner-a's request, pasted wrong", "it is not a PEM certificate request"),
    "a certificate, not a request": (
        lambda d, p: (
            subprocess.run(
                ["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", str(d / "x.key")]
                + ["-subj", "/CN=partner-a", "-days", "1"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        ),
        "it is not a PEM certificate request",
    ),
    "tampered signature": (lambda d, p: tampered(p.csr["partner-a"]), "its signature does not verify"),
    "RSA 1024": (lambda d, p: openssl_request(d, "partner-a", "-newkey", "rsa:1024")[0], "its key is RSA 1024 bits"),
    "ECDSA P-521": (
        lambda d, p: openssl_request(d, "partner-a", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521")[0],
        "its key is ECDSA on secp521r1",
    ),
    "Ed25519": (lambda d, p: openssl_request(d, "partner-a", "-newkey", "ed25519")[0], "its key is Ed25519"),
    "another CN": (
        lambda d, p: openssl_request(d, "partner-a", "-newkey", "rsa:2048", subject="/CN=partner-b")[0],
        "its subject CN is 'partner-b'",
    ),
    "a CA request": (
        lambda d, p: openssl_request(
            d, "partner-a", "-newkey", "rsa:2048", "-addext", "basicConstraints=critical,CA:TRUE"
        )[0],
        "it asks for a CA certificate",
    ),
    "a serverAuth request": (
        lambda d, p: openssl_request(d, "partner-a", "-newkey", "rsa:2048", "-addext", "extendedKeyUsage=serverAuth")[
            0
        ],
        "it asks for serverAuth",
    ),
    "alternative names": (
        lambda d, p: openssl_request(
            d, "partner-a", "-newkey", "rsa:2048", "-addext", "subjectAltName=DNS:coffee.example.com"
        )[0],
        "it asks for subject alternative names",
    ),
    # The certificate takes the whole subject: a second CN would be a second identity for whoever reads it.
    "a second CN": (
        lambda d, p: openssl_request(d, "partner-a", "-newkey", "rsa:2048", subject="/CN=partner-a/CN=admin")[0],
        "its subject CN is 'partner-a', 'admin'",
    ),
    # pulumi-tls copies IP and URI alternative names into the certificate as it does DNS names.
    "an IP alternative name": (
        lambda d, p: openssl_request(d, "partner-a", "-newkey", "rsa:2048", "-addext", "subjectAltName=IP:10.0.0.1")[0],
        "it asks for subject alternative names",
    ),
    "a URI alternative name": (
        lambda d, p: openssl_request(
            d, "partner-a", "-newkey", "rsa:2048", "-addext", "subjectAltName=URI:spiffe://partner-a.example/admin"
        )[0],
        "it asks for subject alternative names",
    ),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_a_bad_request_is_refused_before_any_resource_with_the_client_named(case, partners, tmp_path):
    make, problem = BAD_REQUESTS[case]
    csr = make(tmp_path, partners)
    with pytest.raises(ProgramFailed) as failed:
        run_program({**BASE_CONFIG, "clients": ["alice", {"name": "partner-a", "csr": csr}]})
    error = failed.value.error
    assert isinstance(error, stack_config.ConfigError), repr(error)
    assert str(error).startswith(
        "alb-mtls:clients[1].csr: the certificate request of client 'partner-a' is not accepted: " + problem
    ), str(error)
    assert "; expected " in str(error)
    assert failed.value.run.resources == []


# --- handing the certificate out ----------------------------------------------------------------------
def hand_out(outputs_file: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TOOL), *args, "--outputs-file", str(outputs_file)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_the_hand_out_tool_writes_the_certificate_and_ca_and_says_the_key_is_the_partners(run, tmp_path):
    (tmp_path / "outputs.json").write_text(json.dumps(run.outputs))
    out = tmp_path / "partner-a"
    done = hand_out(tmp_path / "outputs.json", "partner-a", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ca.crt", "partner-a.crt"]
    assert (out / "partner-a.crt").read_text() == run.outputs["clientCertificates"]["partner-a"]
    assert "private key is its own" in done.stdout
    assert f"--cert {out}/partner-a.crt --key partner-a.key --cacert {out}/ca.crt" in done.stdout
    p12 = hand_out(
        tmp_path / "outputs.json", "partner-a", str(tmp_path / "p12"), "--p12", env={"CLIENT_CERT_P12_PASSWORD": "x"}
    )
    assert p12.returncode == 2 and "openssl pkcs12 -export" in p12.stderr
    assert not (tmp_path / "p12").exists() or not list((tmp_path / "p12").iterdir())
    alice = hand_out(tmp_path / "outputs.json", "alice", str(tmp_path / "alice"))  # a key the stack made: as before
    assert alice.returncode == 0 and (tmp_path / "alice" / "alice.key").exists()


def test_the_hand_out_tool_refuses_a_revoked_client(run, tmp_path):
    outputs = {**run.outputs, "revokedClients": {"bob": {"serialNumber": "01"}}}
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    done = hand_out(tmp_path / "outputs.json", "bob", str(tmp_path / "bob"))
    assert done.returncode == 2 and "client 'bob' is revoked" in done.stderr
