"""The fake CAS endpoint (`tests/fake_cas.py`) plays the calls `alicloud.cas.ServiceCertificate` makes.

Driven with the official SDK client (`alibabacloud_cas20200407`), signed with real credentials the fake
verifies: UploadUserCertificate, GetUserCertificateDetail, DeleteUserCertificate, and that user
certificates are kept apart from uploaded CA certificates.
"""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fake_cas import FakeCas

ACCESS_KEY = "LTAI-fake-cas-test"
SECRET_KEY = "fake-cas-test-secret"


def _issue(common_name: str, *, ca: bool, dns: str | None = None) -> tuple[str, str]:
    """A self-signed certificate and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


@pytest.fixture(scope="module")
def server() -> tuple[str, str]:
    return _issue("coffee.example.com", ca=False, dns="coffee.example.com")


@pytest.fixture
def cas(monkeypatch):
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    with FakeCas(credentials={ACCESS_KEY: SECRET_KEY}) as fake:
        yield fake


@pytest.fixture
def client(cas):
    from alibabacloud_cas20200407.client import Client
    from alibabacloud_tea_openapi.utils_models import Config

    return Client(
        Config(
            access_key_id=ACCESS_KEY,
            access_key_secret=SECRET_KEY,
            region_id="cn-hangzhou",
            endpoint=cas.endpoint,
            protocol="http",
        )
    )


def _upload(client, name: str, cert: str, key: str) -> int:
    from alibabacloud_cas20200407 import models

    request = models.UploadUserCertificateRequest(name=name, cert=cert, key=key)
    return client.upload_user_certificate(request).body.cert_id


def test_upload_returns_an_integer_cert_id_and_is_held_apart_from_ca_certificates(cas, client, server):
    cert, key = server

    cert_id = _upload(client, "coffee-server", cert, key)

    assert isinstance(cert_id, int)
    assert cas.user_certificates() == [{"cert_id": cert_id, "name": "coffee-server", "cert": cert, "has_key": True}]
    assert cas.ca_certificates() == []
    assert cas.calls("UploadUserCertificate")[0].access_key_id == ACCESS_KEY  # signature checked with SECRET_KEY


def test_detail_answers_name_certificate_and_id(cas, client, server):
    from alibabacloud_cas20200407 import models

    cert, key = server
    cert_id = _upload(client, "coffee-server", cert, key)

    body = client.get_user_certificate_detail(models.GetUserCertificateDetailRequest(cert_id=cert_id)).body
    filtered = client.get_user_certificate_detail(
        models.GetUserCertificateDetailRequest(cert_id=cert_id, cert_filter=True)
    ).body

    assert (body.id, body.name, body.cert, body.key) == (cert_id, "coffee-server", cert, key)
    assert body.common == "coffee.example.com"
    assert body.sans == "coffee.example.com"
    assert body.algorithm == "ECC"
    assert body.expired is False
    assert body.fingerprint == x509.load_pem_x509_certificate(cert.encode()).fingerprint(hashes.SHA1()).hex().upper()
    assert (filtered.id, filtered.name, filtered.cert, filtered.key) == (cert_id, "coffee-server", None, None)


def test_delete_removes_it_and_an_unknown_cert_id_is_not_found(cas, client, server):
    from alibabacloud_cas20200407 import models
    from Tea.exceptions import TeaException

    cert, key = server
    kept = _upload(client, "kept", cert, key)
    cert_id = _upload(client, "coffee-server", cert, key)

    client.delete_user_certificate(models.DeleteUserCertificateRequest(cert_id=cert_id))

    assert [c["cert_id"] for c in cas.user_certificates()] == [kept]
    with pytest.raises(TeaException) as detail:
        client.get_user_certificate_detail(models.GetUserCertificateDetailRequest(cert_id=cert_id))
    assert detail.value.code == "NotFound"
    with pytest.raises(TeaException) as again:
        client.delete_user_certificate(models.DeleteUserCertificateRequest(cert_id=cert_id))
    assert again.value.code == "NotFound"


def test_upload_refuses_a_key_that_does_not_belong_to_the_certificate(cas, client, server):
    from Tea.exceptions import TeaException

    cert, _ = server
    _, other_key = _issue("other", ca=False)

    with pytest.raises(TeaException) as refused:
        _upload(client, "coffee-server", cert, other_key)

    assert refused.value.code == "InvalidParameter.KeyMismatch"
    assert cas.user_certificates() == []


def test_ca_upload_is_listed_with_ca_certificates_only(cas, client):
    from alibabacloud_cas20200407 import models

    ca_cert, _ = _issue("alb-mtls test root", ca=True)
    wh_id = cas.add_warehouse("alb-mtls", "uploadCA")

    identifier = client.upload_pcacert(
        models.UploadPCACertRequest(warehouse_id=wh_id, name="client-ca", cert=ca_cert)
    ).body.identifier

    assert cas.ca_certificates() == [
        {"identifier": identifier, "name": "client-ca", "cert": ca_cert, "warehouse_id": wh_id}
    ]
    assert cas.user_certificates() == []
