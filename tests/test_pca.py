"""The PCA certificate provider, driven with the real PCA SDK (`alibabacloud-cas20200630`) against a local fake.

The provider's check/diff/create/read/update/delete are called directly (no engine); the SDK client is
pointed at `tests/fake_pca.py` (127.0.0.1, protocol http), which verifies the request signature and signs
CSRs with the CA keys it holds, as the PCA does. What it issues is then checked with the tools a strict
peer uses: `openssl verify -x509_strict`, pkilint, and nginx requiring client certificates, called by curl.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from components.alicloud_api import CasApiError, RetryPolicy
from components.pca_anchor import PcaTrustAnchorProvider
from components.pca_provider import REVOKED, PcaCertificateProvider
from tests.fake_cas import LOST_ANSWER, THROTTLED, UNAVAILABLE, Fault
from tests.fake_pca import FakePca
from tests.tls_listener import MutualTlsNginx

ACCESS_KEY = "LTAI-test-access-key"
SECRET_KEY = "test-secret-key-never-in-state"
DOMAIN = "coffee.example.com"
LINT_PKIX_CERT = shutil.which("lint_pkix_cert", path=str(Path(sys.executable).parent)) or "lint_pkix_cert"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(PcaCertificateProvider, "RETRY", RetryPolicy(deadline=5.0, base=0.001, cap=0.01))


@pytest.fixture(autouse=True)
def new_provider_process():
    """Each test starts as a new provider process does: with no listing of the PCA."""
    PcaCertificateProvider.forget_listings()
    yield
    PcaCertificateProvider.forget_listings()


@pytest.fixture
def pca(monkeypatch):
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALICLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ALICLOUD_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("ALICLOUD_SECRET_KEY", SECRET_KEY)
    with FakePca(credentials={ACCESS_KEY: SECRET_KEY}) as fake:
        yield fake


@pytest.fixture
def issuer(pca) -> str:
    return pca.pca.issuing_ca("alb-mtls test PCA root").identifier


@pytest.fixture
def provider() -> PcaCertificateProvider:
    return PcaCertificateProvider()


def request_for(common_name: str, dns_names: list[str] | None = None) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """A CSR as pulumi-tls's CertRequest makes it (CN, optional DNS SANs), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    if dns_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode(), key


def key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def props(pca, issuer) -> dict:
    return {
        "owner": "alb-mtls/production",
        "name": "client-alice",
        "kind": "client",
        "csr_pem": request_for("alice")[0],
        "parent_identifier": issuer,
        "days": 90,
        "revoked": False,
        "region": "cn-hangzhou",
        "endpoint": pca.endpoint,
        "protocol": "http",
    }


# -- issuing -----------------------------------------------------------------------------------


def test_create_has_the_pca_sign_the_csr_with_the_chain(pca, provider, props, issuer):
    result = provider.create(props)

    (call,) = pca.calls("CreateClientCertificateWithCsr")
    assert call.params["Csr"] == props["csr_pem"]
    assert call.params["ParentIdentifier"] == issuer
    assert call.params["Days"] == "90"
    assert call.params["Immediately"] == "2"
    assert call.access_key_id == ACCESS_KEY  # and the fake checked the signature with SECRET_KEY
    assert result.id == result.outs["identifier"] and result.id in pca.pca.issued
    leaf = x509.load_pem_x509_certificate(result.outs["cert_pem"].encode())
    assert leaf.subject.rfc4514_string() == "CN=alice"
    assert leaf.issuer == pca.pca.authorities[issuer].cert.subject
    chain = x509.load_pem_x509_certificates(result.outs["chain_pem"].encode())
    assert chain == pca.pca.authorities[issuer].chain()  # issuing CA, then the root
    assert result.outs["status"] == "ISSUE"
    assert result.outs["validity_end_time"] == leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "PRIVATE KEY" not in repr(result.outs)


def test_server_certificate_is_issued_for_the_domain(pca, provider, props):
    csr, _ = request_for(DOMAIN, [DOMAIN])
    result = provider.create({**props, "name": "server", "kind": "server", "csr_pem": csr})

    (call,) = pca.calls("CreateServerCertificateWithCsr")
    assert call.params["Domain"] == DOMAIN
    leaf = x509.load_pem_x509_certificate(result.outs["cert_pem"].encode())
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == [DOMAIN]
    assert not pca.calls("CreateClientCertificateWithCsr")


def test_check_refuses_a_private_key_and_names_the_input(provider, props):
    _, key = request_for("alice")
    result = provider.check({}, {**props, "csr_pem": key_pem(key), "days": 0, "kind": "ca"})
    reasons = {f.property: f.reason for f in result.failures}
    assert "private key" in reasons["csr_pem"]
    assert "days" in reasons and "kind" in reasons


def test_unknown_issuer_fails_at_once_naming_the_call(pca, provider, props):
    with pytest.raises(CasApiError, match=r"CreateClientCertificateWithCsr failed: NotFound\.ParentIdentifier"):
        provider.create({**props, "parent_identifier": "0" * 32})
    assert len(pca.calls("CreateClientCertificateWithCsr")) == 1  # not retried


# -- retries and idempotence -------------------------------------------------------------------


def test_throttling_and_unavailability_are_retried(pca, provider, props):
    pca.script("CreateClientCertificateWithCsr", THROTTLED, UNAVAILABLE)
    result = provider.create(props)
    assert [c.fault for c in pca.calls("CreateClientCertificateWithCsr")] == [
        "400 Throttling.User",
        "503 ServiceUnavailable",
        None,
    ]
    assert list(pca.pca.issued) == [result.id]


def test_an_issue_whose_answer_was_lost_is_adopted_not_repeated(pca, provider, props):
    pca.script("CreateClientCertificateWithCsr", LOST_ANSWER)
    result = provider.create(props)
    assert len(pca.calls("CreateClientCertificateWithCsr")) == 1
    assert list(pca.pca.issued) == [result.id]  # one certificate, the one the lost answer was about


def test_the_same_csr_after_a_deletion_gets_a_new_certificate(pca, provider, props):
    first = provider.create(props)
    provider.delete(first.id, first.outs)
    second = provider.create(props)
    assert second.id != first.id
    assert pca.pca.issued[first.id].status == REVOKED and pca.pca.issued[second.id].status == "ISSUE"
    identifiers = [c.params["CustomIdentifier"] for c in pca.calls("CreateClientCertificateWithCsr")]
    assert identifiers[1] == identifiers[0] + "-2"  # a custom identifier is never sent twice


# -- ownership: one stack never touches another's certificates -----------------------------------


def public_der(pem: str) -> bytes:
    key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_two_stacks_with_the_same_csr_get_distinct_certificates_and_each_revokes_only_its_own(pca, provider, props):
    staging = provider.create({**props, "owner": "alb-mtls/staging"})
    production = provider.create({**props, "owner": "alb-mtls/production"})

    assert staging.id != production.id, "the second stack adopted the first stack's certificate"
    assert len(pca.calls("CreateClientCertificateWithCsr")) == 2
    provider.delete(staging.id, staging.outs)  # `pulumi destroy` of staging
    assert pca.pca.revocations == [staging.id]
    assert pca.pca.issued[production.id].status == "ISSUE"


def test_the_same_stack_and_csr_under_another_resource_name_is_another_certificate(provider, props):
    alice = provider.create(props)
    other = provider.create({**props, "name": "client-alice-2"})
    assert alice.id != other.id


def test_a_create_never_adopts_a_certificate_issued_for_another_stack(pca, provider, props):
    """A certificate another stack holds (issued under its identifier, found by the listing) is left alone, even
    when that stack is the previous program, whose identifiers named no owner."""
    from components.pca_index import IDENTIFIER_PREFIX

    legacy = "\n".join(str(props[k]) for k in ("name", "kind", "parent_identifier", "days", "csr_pem"))
    legacy_identifier = IDENTIFIER_PREFIX + hashlib.sha256(legacy.encode()).hexdigest()[:32]
    theirs = pca.pca.issue(props["parent_identifier"], props["csr_pem"], kind="client", days=90,
                           custom_identifier=legacy_identifier)  # fmt: skip
    other = {**props, "owner": "alb-mtls/staging"}
    pca.pca.issue(props["parent_identifier"], props["csr_pem"], kind="client", days=90,
                  custom_identifier=PcaCertificateProvider.custom_identifier(other))  # fmt: skip

    mine = provider.create(props)
    assert mine.id not in {i.identifier for i in pca.pca.issued.values() if i.identifier != mine.id}
    assert pca.pca.issued[mine.id].custom_identifier == PcaCertificateProvider.custom_identifier(props)
    provider.delete(mine.id, mine.outs)
    assert pca.pca.revocations == [mine.id] and theirs.status == "ISSUE"


def test_a_lost_answer_is_adopted_by_the_same_resource_of_the_same_stack(pca, provider, props):
    pca.script("CreateClientCertificateWithCsr", LOST_ANSWER)
    result = provider.create(props)
    assert len(pca.calls("CreateClientCertificateWithCsr")) == 1
    assert list(pca.pca.issued) == [result.id]
    assert result.outs["cert_pem"] == pca.pca.issued[result.id].listing()["X509Certificate"]


def test_an_interrupted_up_is_adopted_by_the_next_provider_process(pca, provider, props):
    """The answer was lost and the process ended (an interrupted `pulumi up`); the next `up` runs a new process."""
    PcaCertificateProvider.index(props).under(PcaCertificateProvider().client(props), "")  # the process's listing
    pca.script("CreateClientCertificateWithCsr", LOST_ANSWER)
    pca.script("ListClientCertificate", Fault.error("Forbidden.RAM", "User not authorized", 403))
    with pytest.raises(CasApiError, match="Forbidden"):
        provider.create(props)  # issued, the answer lost, and the look that follows refused: the `up` fails
    issued = list(pca.pca.issued)
    PcaCertificateProvider.forget_listings()
    pca.clear_faults()
    again = provider.create(props)
    assert again.id in issued
    assert len(pca.pca.issued) == len(issued)  # nothing new issued


def test_a_changed_csr_is_a_new_certificate_for_the_new_key(pca, provider, props):
    first = provider.create(props)
    new_csr, _ = request_for("alice")
    news = {**props, "csr_pem": new_csr}
    assert "csr_pem" in provider.diff(first.id, first.outs, news).replaces
    second = provider.create(news)  # the engine's replace: create the new one ...
    assert second.id != first.id
    assert public_der(second.outs["cert_pem"]) == public_der_of_csr(new_csr)
    assert public_der(second.outs["cert_pem"]) != public_der(first.outs["cert_pem"])
    provider.delete(first.id, first.outs)  # ... then delete the old one
    assert pca.pca.revocations == [first.id] and pca.pca.issued[second.id].status == "ISSUE"


def public_der_of_csr(csr_pem: str) -> bytes:
    key = x509.load_pem_x509_csr(csr_pem.encode()).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_a_certificate_issued_before_owners_were_named_is_kept(pca, provider, props):
    """State written by the previous program has no `owner`: no change, so no re-issue and no revocation, and
    refresh, revocation and deletion still find it by its identifier."""
    created = provider.create(props)
    legacy_state = {k: v for k, v in created.outs.items() if k != "owner"}
    diff = provider.diff(created.id, legacy_state, props)
    assert not diff.changes and not diff.replaces
    assert provider.read(created.id, legacy_state).id == created.id
    provider.update(created.id, legacy_state, {**props, "revoked": True})
    assert pca.pca.revocations == [created.id]


def test_another_owner_is_no_change(provider, props):
    created_outs = {**provider.DEFAULTS, **props, "identifier": "x", "validity_end_time": "2999-01-01T00:00:00Z"}
    diff = provider.diff("x", created_outs, {**props, "owner": "alb-mtls/renamed-stack"})
    assert not diff.changes and not diff.replaces


# -- cost: no listing per certificate ---------------------------------------------------------


def test_creates_in_one_process_share_one_listing(pca, provider, props):
    for n in range(6):
        provider.create({**props, "name": f"client-{n}", "csr_pem": request_for(f"c{n}")[0]})
    assert len(pca.calls("ListClientCertificate")) == 1
    assert len(pca.calls("CreateClientCertificateWithCsr")) == 6
    assert not pca.calls("DescribeClientCertificate")


def test_a_refused_issue_lists_again_and_the_refusal_stands_when_nothing_is_there(pca, provider, props):
    pca.script("CreateClientCertificateWithCsr", Fault.error("InvalidParameter", "The CSR is not accepted"))
    with pytest.raises(CasApiError, match="InvalidParameter"):
        provider.create(props)
    assert len(pca.calls("ListClientCertificate")) == 2 and pca.pca.issued == {}


# -- where the PCA is called -------------------------------------------------------------------

SITES = {"ap-southeast-1": "cas.ap-southeast-1.aliyuncs.com", "cn-hangzhou": "cas.aliyuncs.com"}


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("eu-central-1", SITES["ap-southeast-1"]),
        ("ap-southeast-1", SITES["ap-southeast-1"]),
        ("cn-shanghai", SITES["cn-hangzhou"]),
    ],
)
def test_the_pca_is_called_at_the_site_of_the_region(monkeypatch, issuer, pca, provider, props, region, host):
    """No endpoint set: the SDK resolves the site's endpoint itself; the fake, reached as the HTTP proxy the SDK
    honours, answers only for the host the international or the mainland site has."""
    pca.hosts = frozenset({host})
    monkeypatch.setenv("HTTP_PROXY", f"http://{pca.endpoint}")
    monkeypatch.setenv("http_proxy", f"http://{pca.endpoint}")
    site_props = {**props, "region": region, "endpoint": None}
    created = provider.create(site_props)
    provider.delete(created.id, created.outs)
    assert {c.headers["host"] for c in pca.requests} == {host}
    assert pca.pca.revocations == [created.id]


@pytest.mark.parametrize(("new", "replaced"), [("cn-beijing", False), ("eu-central-1", True)])
def test_a_new_region_replaces_the_certificate_only_on_another_site(provider, props, new, replaced):
    olds = {**provider.DEFAULTS, **props, "identifier": "x", "validity_end_time": "2999-01-01T00:00:00Z"}
    diff = provider.diff("x", olds, {**props, "region": new})
    assert diff.changes and ("region" in diff.replaces) is replaced


# -- console changes ----------------------------------------------------------------------------


def test_removing_a_client_revoked_in_the_console_succeeds_and_revokes_nothing(pca, provider, props):
    created = provider.create(props)
    pca.pca.revoke(created.id)  # revoked in the console
    provider.delete(created.id, created.outs)
    assert pca.pca.revocations == [created.id] and not pca.calls("CreateRevokeClientCertificate")


def test_removing_a_client_deleted_in_the_console_succeeds(pca, provider, props):
    created = provider.create(props)
    del pca.pca.issued[created.id]  # deleted in the console
    provider.delete(created.id, created.outs)
    assert not pca.calls("CreateRevokeClientCertificate")


# -- revocation and deletion -------------------------------------------------------------------


def test_revoking_is_an_update_that_calls_revoke_once(pca, provider, props):
    created = provider.create(props)
    news = {**props, "revoked": True}

    diff = provider.diff(created.id, created.outs, news)
    assert diff.changes and not diff.replaces
    updated = provider.update(created.id, created.outs, news)
    assert updated.outs["status"] == REVOKED
    assert updated.outs["cert_pem"] == created.outs["cert_pem"]  # the same certificate, now revoked
    assert [c.params["Identifier"] for c in pca.calls("CreateRevokeClientCertificate")] == [created.id]

    provider.delete(created.id, updated.outs)  # removing a revoked client: nothing more to revoke
    assert pca.pca.revocations == [created.id]


def test_a_revocation_whose_answer_was_lost_is_not_repeated(pca, provider, props):
    created = provider.create(props)
    pca.script("CreateRevokeClientCertificate", LOST_ANSWER)
    provider.update(created.id, created.outs, {**props, "revoked": True})
    assert pca.pca.revocations == [created.id]
    assert len(pca.calls("CreateRevokeClientCertificate")) == 1


def test_deleting_revokes(pca, provider, props):
    created = provider.create(props)
    provider.delete(created.id, created.outs)
    assert pca.pca.revocations == [created.id]


def test_unrevoking_issues_a_new_certificate(provider, props):
    olds = {**props, "revoked": True, "identifier": "x"}
    assert "revoked" in provider.diff("x", olds, {**props, "revoked": False}).replaces


def test_read_reports_status_and_a_certificate_gone_out_of_band(pca, provider, props):
    created = provider.create(props)
    pca.pca.revoke(created.id)  # revoked in the console
    assert provider.read(created.id, created.outs).outs["status"] == REVOKED
    del pca.pca.issued[created.id]
    assert provider.read(created.id, created.outs).id == ""


def test_forbidden_revocation_fails_naming_the_call(pca, provider, props):
    created = provider.create(props)
    pca.script("CreateRevokeClientCertificate", Fault.error("Forbidden.RAM", "User not authorized", 403))
    with pytest.raises(CasApiError, match=r"CreateRevokeClientCertificate failed: Forbidden\.RAM"):
        provider.delete(created.id, created.outs)


# -- early renewal -----------------------------------------------------------------------------


def ends_in(days: float) -> str:
    end = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    return end.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("ends", "window", "revoked", "renewed"),
    [(10, 30, False, True), (-1, 0, False, True), (40, 30, False, False), (10, 30, True, False)],
)
def test_inside_the_early_renewal_window_a_certificate_is_replaced(provider, props, ends, window, revoked, renewed):
    news = {**props, "early_renewal_days": window, "revoked": revoked}
    olds = {**news, "identifier": "x", "validity_end_time": ends_in(ends)}
    diff = provider.diff("x", olds, news)
    assert (diff.replaces == ["validity_end_time"]) is renewed and diff.changes is renewed
    assert not diff.delete_before_replace  # the new one is issued before the old one is revoked


def test_a_renewal_issues_anew_instead_of_adopting_the_certificate_it_renews(pca, provider, props):
    first = provider.create({**props, "days": 10})
    renewal = provider.create({**props, "days": 10, "early_renewal_days": 30})  # the engine's replace: create ...
    assert renewal.id != first.id
    provider.delete(first.id, first.outs)  # ... then delete the old one: revoked
    assert pca.pca.issued[renewal.id].status == "ISSUE" and pca.pca.revocations == [first.id]
    again = provider.create({**props, "days": 10, "early_renewal_days": 5})  # a retry outside the window adopts
    assert again.id == renewal.id


# -- what a strict peer makes of it ------------------------------------------------------------


@pytest.fixture
def issued(pca, provider, props, tmp_path) -> Path:
    """alice's and the server's certificates as files: leaf, chain, key, root."""
    alice_csr, alice_key = request_for("alice")
    server_csr, server_key = request_for(DOMAIN, [DOMAIN])
    alice = provider.create({**props, "csr_pem": alice_csr}).outs
    server = provider.create({**props, "name": "server", "kind": "server", "csr_pem": server_csr}).outs
    anchor = {k: props[k] for k in ("region", "endpoint", "protocol")} | {
        "issuer_identifier": props["parent_identifier"]
    }
    (tmp_path / "root.crt").write_text(PcaTrustAnchorProvider().create(anchor).outs["root_pem"])
    (tmp_path / "sub.crt").write_text(
        alice["chain_pem"].split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    )
    for name, outs, key in (("alice", alice, alice_key), ("server", server, server_key)):
        (tmp_path / f"{name}.leaf.crt").write_text(outs["cert_pem"])
        (tmp_path / f"{name}.crt").write_text(outs["cert_pem"] + (tmp_path / "sub.crt").read_text())
        (tmp_path / f"{name}.key").write_text(key_pem(key))
    return tmp_path


@pytest.mark.parametrize(("name", "purpose"), [("alice", "sslclient"), ("server", "sslserver")])
def test_issued_certificates_verify_strictly_against_the_chain(issued, name, purpose):
    done = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-purpose", purpose, "-CAfile", str(issued / "root.crt"),
         "-untrusted", str(issued / "sub.crt"), str(issued / f"{name}.leaf.crt")],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["alice.leaf", "server.leaf", "sub", "root"])
def test_pkilint_reports_nothing(issued, name):
    done = subprocess.run(
        [LINT_PKIX_CERT, "lint", "-s", "WARNING", str(issued / f"{name}.crt")],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_curl_through_nginx_trusting_the_pca_root_gets_200(issued, tmp_path_factory):
    with MutualTlsNginx(
        tmp_path_factory.mktemp("nginx"),
        ca_pem=(issued / "root.crt").read_text(),
        server_cert_pem=(issued / "server.crt").read_text(),
        server_key_pem=(issued / "server.key").read_text(),
        domain=DOMAIN,
        verify_depth=2,
    ) as nginx:
        response = nginx.curl(cert=issued / "alice.crt", key=issued / "alice.key", cacert=issued / "root.crt")
        assert response.status == 200, response
        assert "CN=alice" in response.body
        assert nginx.curl(cacert=issued / "root.crt").status != 200  # no client certificate: refused


def test_the_serialized_provider_holds_no_credentials_and_loads_in_the_provider_process(pca, props, monkeypatch):
    """`pulumi.dynamic` pickles the provider into the state: a reference to this module, no key, no secret."""
    import base64
    import json
    import os

    from pulumi.dynamic.dynamic import serialize_provider

    serialized = serialize_provider(PcaCertificateProvider())
    payload = base64.b64decode(serialized)
    assert ACCESS_KEY.encode() not in payload and SECRET_KEY.encode() not in payload
    script = (
        "import base64, json, sys, dill\n"
        "job = json.load(sys.stdin)\n"
        "provider = dill.loads(base64.b64decode(job['provider']))\n"
        "result = provider.check({}, job['inputs'])\n"
        "print(json.dumps([type(provider).__name__, [f.property for f in result.failures]]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    job = json.dumps({"provider": serialized, "inputs": {**props, "days": 0}})
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=job, cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["PcaCertificateProvider", ["days"]]
