"""The PCA trust anchor: the root above the issuing sub-CA, looked up with the real PCA SDK against the fake."""

from __future__ import annotations

import subprocess

import pytest
from cryptography import x509

from components.alicloud_api import CasApiError, RetryPolicy
from components.pca_anchor import PcaTrustAnchorProvider
from tests import test_pca
from tests.fake_cas import THROTTLED
from tests.fake_pca import FakePca
from tests.test_pca import request_for

pytestmark = pytest.mark.usefixtures("fast_retries")
pca = test_pca.pca  # the fake PCA on 127.0.0.1, as the provider tests start it


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr(PcaTrustAnchorProvider, "RETRY", RetryPolicy(deadline=5.0, base=0.001, cap=0.01))


def props(pca: FakePca, issuer: str) -> dict:
    return {"issuer_identifier": issuer, "region": "cn-hangzhou", "endpoint": pca.endpoint, "protocol": "http"}


def test_the_anchor_is_the_root_above_the_issuing_ca_and_a_certificate_it_issues_verifies(pca, tmp_path):
    issuer = pca.pca.issuing_ca("alb-mtls anchor test root")
    created = PcaTrustAnchorProvider().create(props(pca, issuer.identifier))
    assert created.id == issuer.identifier
    root = x509.load_pem_x509_certificate(created.outs["root_pem"].encode())
    assert root == issuer.parent.cert and root.subject == root.issuer
    # What a client trusts: with it, a certificate the sub-CA issued verifies strictly.
    csr, _ = request_for("alice")
    leaf = pca.pca.issue(issuer.identifier, csr, kind="client", days=30, custom_identifier="anchor-test")
    files = {"root.crt": created.outs["root_pem"], "sub.crt": _pem(issuer.cert), "leaf.crt": _pem(leaf.cert)}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    checked = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", "root.crt", "-untrusted", "sub.crt", "leaf.crt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # A refresh reads it again; nothing is ever deleted in the PCA.
    assert PcaTrustAnchorProvider().read(issuer.identifier, created.outs).outs["root_pem"] == created.outs["root_pem"]
    PcaTrustAnchorProvider().delete(issuer.identifier, created.outs)
    assert issuer.identifier in pca.pca.authorities


def test_an_unknown_ca_fails_naming_the_call_and_a_throttled_one_is_retried(pca):
    with pytest.raises(CasApiError, match="DescribeCACertificate"):
        PcaTrustAnchorProvider().create(props(pca, "0" * 32))
    issuer = pca.pca.issuing_ca()
    pca.script("DescribeCACertificate", THROTTLED, THROTTLED)
    assert PcaTrustAnchorProvider().create(props(pca, issuer.identifier)).outs["root_pem"]


def test_changing_the_issuer_replaces_the_anchor_and_bad_inputs_are_refused(pca):
    provider = PcaTrustAnchorProvider()
    olds = {**props(pca, "a" * 32), "root_pem": "..."}
    assert provider.diff("a" * 32, olds, props(pca, "b" * 32)).replaces == ["issuer_identifier"]
    assert not provider.diff("a" * 32, olds, props(pca, "a" * 32)).changes
    failures = provider.check({}, {**props(pca, ""), "endpoint": "https://x/"}).failures
    assert {f.property for f in failures} == {"issuer_identifier", "endpoint"}


def _pem(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM).decode()
