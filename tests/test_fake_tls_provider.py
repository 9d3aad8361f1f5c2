"""The pulumi-tls double follows shared/reference/tls-provider.md: what the other tests prove rests on it."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.fakes.tls_provider import FakeTlsProvider, ProviderError

fake = FakeTlsProvider()


def cert(outputs) -> x509.Certificate:
    return x509.load_pem_x509_certificate(outputs["certPem"].encode())


def ext(certificate: x509.Certificate, kind):
    try:
        return certificate.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


@pytest.fixture(scope="module")
def rsa_key():
    return fake.private_key({"algorithm": "RSA"})


def test_private_key_formats_and_defaults(rsa_key):
    assert rsa_key["rsaBits"] == 2048
    assert rsa_key["privateKeyPem"].startswith("-----BEGIN RSA PRIVATE KEY-----")  # PKCS#1
    assert rsa_key["privateKeyPemPkcs8"].startswith("-----BEGIN PRIVATE KEY-----")
    assert rsa_key["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert all(rsa_key[k].endswith("\n") for k in ("privateKeyPem", "privateKeyPemPkcs8", "publicKeyPem"))
    ec_key = fake.private_key({"algorithm": "ECDSA"})
    assert ec_key["ecdsaCurve"] == "P224", "the provider's default curve is P224: the program must always set one"
    assert ec_key["privateKeyPem"].startswith("-----BEGIN EC PRIVATE KEY-----")  # SEC1
    assert fake.private_key({"algorithm": "ED25519"})["privateKeyPem"].startswith("-----BEGIN PRIVATE KEY-----")


def test_self_signed_adds_nothing_that_was_not_asked_for(rsa_key):
    outputs = fake.self_signed_cert(
        {
            "privateKeyPem": rsa_key["privateKeyPem"],
            "subject": {"commonName": "x"},
            "validityPeriodHours": 5,
            "allowedUses": [],
        }
    )
    certificate = cert(outputs)
    assert certificate.version == x509.Version.v3
    basic = ext(certificate, x509.BasicConstraints)
    assert basic.critical and basic.value.ca is False, "BasicConstraints is always there, critical"
    assert ext(certificate, x509.KeyUsage) is None and ext(certificate, x509.ExtendedKeyUsage) is None
    assert ext(certificate, x509.SubjectKeyIdentifier) is None, "no SKI unless a CA or setSubjectKeyId"
    assert ext(certificate, x509.AuthorityKeyIdentifier) is None
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == dt.timedelta(hours=5)
    assert certificate.serial_number < 2**128


def test_ca_gets_an_ski_but_no_key_usage_it_did_not_ask_for(rsa_key):
    outputs = fake.self_signed_cert(
        {
            "privateKeyPem": rsa_key["privateKeyPem"],
            "subject": {"commonName": "ca", "country": "CN", "organization": "o", "province": "p", "locality": "l"},
            "isCaCertificate": True,
            "validityPeriodHours": 24,
            "allowedUses": ["client_auth"],
        }
    )
    certificate = cert(outputs)
    assert ext(certificate, x509.BasicConstraints).value.ca
    assert ext(certificate, x509.SubjectKeyIdentifier) is not None
    assert ext(certificate, x509.KeyUsage) is None, "cert_signing is not added even for a CA"
    assert ext(certificate, x509.ExtendedKeyUsage).critical is False
    order = [attribute.oid for attribute in certificate.subject]
    assert order == [
        NameOID.COUNTRY_NAME,
        NameOID.STATE_OR_PROVINCE_NAME,
        NameOID.LOCALITY_NAME,
        NameOID.ORGANIZATION_NAME,
        NameOID.COMMON_NAME,
    ]


def test_a_ca_without_subject_is_an_error(rsa_key):
    with pytest.raises(ProviderError):
        fake.self_signed_cert(
            {
                "privateKeyPem": rsa_key["privateKeyPem"],
                "isCaCertificate": True,
                "validityPeriodHours": 1,
                "allowedUses": [],
            }
        )


def test_san_is_critical_only_when_the_subject_is_empty(rsa_key):
    base = {
        "privateKeyPem": rsa_key["privateKeyPem"],
        "validityPeriodHours": 1,
        "allowedUses": [],
        "dnsNames": ["a.example"],
    }
    assert ext(cert(fake.self_signed_cert(base)), x509.SubjectAlternativeName).critical
    named = fake.self_signed_cert({**base, "subject": {"commonName": "a.example"}})
    assert not ext(cert(named), x509.SubjectAlternativeName).critical


def test_locally_signed_copies_only_subject_and_sans_and_takes_the_ca_ski_as_aki(rsa_key):
    ca = fake.self_signed_cert(
        {
            "privateKeyPem": rsa_key["privateKeyPem"],
            "subject": {"commonName": "ca"},
            "isCaCertificate": True,
            "validityPeriodHours": 24,
            "allowedUses": ["cert_signing"],
        }
    )
    leaf_key = fake.private_key({"algorithm": "ECDSA", "ecdsaCurve": "P384"})
    csr = fake.cert_request(
        {
            "privateKeyPem": leaf_key["privateKeyPem"],
            "subject": {"commonName": "leaf", "emailAddress": "a@b.c"},
            "dnsNames": ["leaf.example"],
        }
    )
    signed = fake.locally_signed_cert(
        {
            "certRequestPem": csr["certRequestPem"],
            "caCertPem": ca["certPem"],
            "caPrivateKeyPem": rsa_key["privateKeyPem"],
            "validityPeriodHours": 2,
            "allowedUses": ["digital_signature", "server_auth"],
        }
    )
    certificate = cert(signed)
    assert certificate.subject.rfc4514_string() == "CN=leaf", "emailAddress from the CSR is lost"
    assert certificate.issuer == cert(ca).subject
    assert ext(certificate, x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == ["leaf.example"]
    assert ext(certificate, x509.SubjectKeyIdentifier) is None, "no setSubjectKeyId, no SKI"
    aki = ext(certificate, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(cert(ca), x509.SubjectKeyIdentifier).value.digest
    assert ext(certificate, x509.KeyUsage).critical
    assert list(ext(certificate, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA256), "the CA's RSA key signs with SHA-256"


def test_p384_signs_with_sha384_and_the_ca_key_must_match():
    key = fake.private_key({"algorithm": "ECDSA", "ecdsaCurve": "P384"})
    ca = fake.self_signed_cert(
        {
            "privateKeyPem": key["privateKeyPem"],
            "subject": {"commonName": "ca"},
            "isCaCertificate": True,
            "validityPeriodHours": 1,
            "allowedUses": [],
        }
    )
    assert isinstance(cert(ca).signature_hash_algorithm, hashes.SHA384)
    other = fake.private_key({"algorithm": "ECDSA", "ecdsaCurve": "P256"})
    csr = fake.cert_request({"privateKeyPem": other["privateKeyPem"], "subject": {"commonName": "x"}})
    with pytest.raises(ProviderError, match="does not match"):
        fake.locally_signed_cert(
            {
                "certRequestPem": csr["certRequestPem"],
                "caCertPem": ca["certPem"],
                "caPrivateKeyPem": other["privateKeyPem"],
                "validityPeriodHours": 1,
                "allowedUses": [],
            }
        )


def test_ready_for_renewal_follows_early_renewal_hours(rsa_key):
    base = {
        "privateKeyPem": rsa_key["privateKeyPem"],
        "subject": {"commonName": "x"},
        "validityPeriodHours": 48,
        "allowedUses": [],
    }
    assert fake.self_signed_cert({**base, "earlyRenewalHours": 24})["readyForRenewal"] is False
    assert fake.self_signed_cert({**base, "earlyRenewalHours": 48})["readyForRenewal"] is True
