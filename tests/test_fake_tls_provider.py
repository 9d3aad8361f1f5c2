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


# --- the lifecycle the engine plugin (tests/engine/tls_plugin.py) plays with the same double ------
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"


def ca_inputs(key, **overrides):
    return {
        "privateKeyPem": key["privateKeyPem"],
        "subject": {"commonName": "root"},
        "isCaCertificate": True,
        "validityPeriodHours": 240,
        "earlyRenewalHours": 48,
        "allowedUses": ["cert_signing"],
        **overrides,
    }


def test_diff_replaces_on_every_input_but_early_renewal(rsa_key):
    inputs = ca_inputs(rsa_key)
    state = fake.create(SELF_SIGNED, fake.check(SELF_SIGNED, inputs))
    assert fake.diff(SELF_SIGNED, state, inputs) == ([], []), "unchanged inputs (defaults filled in) plan nothing"
    assert fake.diff(SELF_SIGNED, state, {**inputs, "validityPeriodHours": 480}) == (
        ["validityPeriodHours"],
        ["validityPeriodHours"],
    )
    assert fake.diff(SELF_SIGNED, state, {**inputs, "earlyRenewalHours": 72}) == (["earlyRenewalHours"], [])
    key_state = fake.create(
        "tls:index/privateKey:PrivateKey", fake.check("tls:index/privateKey:PrivateKey", {"algorithm": "RSA"})
    )
    assert fake.diff("tls:index/privateKey:PrivateKey", key_state, {"algorithm": "RSA", "rsaBits": 4096})[1] == [
        "rsaBits"
    ]


def test_refresh_inside_the_renewal_window_marks_the_certificate_and_diff_replaces_it(rsa_key):
    issued_at = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    clock = {"now": issued_at}
    moving = FakeTlsProvider(now=lambda: clock["now"])
    inputs = ca_inputs(rsa_key)
    state = moving.create(SELF_SIGNED, moving.check(SELF_SIGNED, inputs))
    assert state["readyForRenewal"] is False
    clock["now"] = issued_at + dt.timedelta(hours=240 - 49)  # one hour before the window opens
    assert moving.read(SELF_SIGNED, state)["readyForRenewal"] is False
    clock["now"] = issued_at + dt.timedelta(hours=240 - 47)  # inside the 48-hour window
    refreshed = moving.read(SELF_SIGNED, state)
    assert refreshed["readyForRenewal"] is True
    assert moving.diff(SELF_SIGNED, refreshed, inputs) == (["readyForRenewal"], ["readyForRenewal"])
    # Widening the window in place is an update, and it is what makes the certificate ready.
    clock["now"] = issued_at + dt.timedelta(hours=240 - 60)
    assert moving.update(SELF_SIGNED, state, {**inputs, "earlyRenewalHours": 72})["readyForRenewal"] is True
