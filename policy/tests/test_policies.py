"""Each policy on inputs that pass and inputs that fail, handed over as the policy runtime does.

The failing cases run the whole pack, so they also show that a mistake trips exactly the policy meant
for it and that every other policy (other types, other concerns) stays quiet.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from alb_mtls_policies import (
    ALB_CONFIG,
    CA_MAX_HOURS,
    CLIENT_CERT_MAX_HOURS,
    LOCALLY_SIGNED_CERT,
    POLICIES,
    PRIVATE_KEY,
    RULES,
    SELF_SIGNED_CERT,
)
from policy_engine import UNKNOWN, run_pack, run_policy
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy
from pulumi_policy.proxy import UnknownValueError

DAY = 24
CA_ID = "5f1c1a0e9c6b4c1d8e2f3a4b5c6d7e8f"
REMOVE = object()

# --- what the program creates (see components/pki.py and components/listener.py) --------------------------------

HTTP = {"port": 80, "protocol": "HTTP"}
HTTPS = {
    "port": 443,
    "protocol": "HTTPS",
    "caEnabled": True,
    "caCertificates": [{"CertificateId": CA_ID}],
    "certificates": [{"CertificateId": "10812345-cn-hangzhou", "IsDefault": True}],
    "securityPolicyId": "tls_cipher_policy_1_2_strict",
}
ROOT_CA = {
    "privateKeyPem": "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
    "subject": {"commonName": "alb-mtls root CA", "organization": "alb-mtls"},
    "isCaCertificate": True,
    "setSubjectKeyId": True,
    "allowedUses": ["cert_signing", "crl_signing"],
    "validityPeriodHours": 3650 * DAY,
}
CLIENT = {
    "certRequestPem": "-----BEGIN CERTIFICATE REQUEST-----\n...\n-----END CERTIFICATE REQUEST-----\n",
    "caCertPem": "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
    "caPrivateKeyPem": "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n",
    "isCaCertificate": False,
    "setSubjectKeyId": True,
    "allowedUses": ["digital_signature", "key_encipherment", "client_auth"],
    "validityPeriodHours": 365 * DAY,
    "earlyRenewalHours": 30 * DAY,
}
SERVER = {**CLIENT, "allowedUses": ["digital_signature", "key_encipherment", "server_auth"]}


def alb_config(*listeners: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "alibabacloud.com/v1",
        "kind": "AlbConfig",
        "metadata": {"name": "alb-mtls"},
        "spec": {
            "config": {
                "name": "alb-mtls",
                "addressType": "Internet",
                "edition": "Standard",
                "zoneMappings": [{"vSwitchId": "vsw-aaaa"}, {"vSwitchId": "vsw-bbbb"}],
            },
            "listeners": list(listeners),
        },
    }


def changed(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of `base` with `changes` applied (`REMOVE` deletes the key)."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is REMOVE:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def key(algorithm: str, **props: Any) -> dict[str, Any]:
    return {"algorithm": algorithm, **props}


GOOD = [
    pytest.param(ALB_CONFIG, alb_config(HTTP, HTTPS), id="albconfig-http-and-mtls-https"),
    pytest.param(ALB_CONFIG, alb_config(HTTP), id="albconfig-http-only"),
    pytest.param(ALB_CONFIG, alb_config(changed(HTTPS, protocol="https")), id="albconfig-lowercase-https"),
    pytest.param(ALB_CONFIG, alb_config(HTTPS, changed(HTTPS, port=8443)), id="albconfig-two-mtls-listeners"),
    pytest.param(SELF_SIGNED_CERT, ROOT_CA, id="root-ca"),
    pytest.param(SELF_SIGNED_CERT, changed(ROOT_CA, validityPeriodHours=CA_MAX_HOURS), id="root-ca-20-years"),
    pytest.param(
        SELF_SIGNED_CERT,
        changed(ROOT_CA, isCaCertificate=False, allowedUses=["digital_signature"], validityPeriodHours=10**6),
        id="self-signed-non-ca-is-not-the-root",
    ),
    pytest.param(LOCALLY_SIGNED_CERT, CLIENT, id="client-cert"),
    pytest.param(LOCALLY_SIGNED_CERT, changed(CLIENT, isCaCertificate=REMOVE), id="client-cert-ca-unset"),
    pytest.param(
        LOCALLY_SIGNED_CERT, changed(CLIENT, validityPeriodHours=CLIENT_CERT_MAX_HOURS), id="client-cert-825-days"
    ),
    pytest.param(
        LOCALLY_SIGNED_CERT,
        changed(CLIENT, allowedUses=["digital_signature", "client_auth"]),
        id="client-cert-ecdsa-usages",
    ),
    pytest.param(LOCALLY_SIGNED_CERT, SERVER, id="server-cert"),
    pytest.param(LOCALLY_SIGNED_CERT, changed(SERVER, validityPeriodHours=3650 * DAY), id="server-cert-10-years"),
    pytest.param(PRIVATE_KEY, key("RSA", rsaBits=2048), id="rsa-2048"),
    pytest.param(PRIVATE_KEY, key("RSA", rsaBits=4096), id="rsa-4096"),
    pytest.param(PRIVATE_KEY, key("RSA"), id="rsa-default-2048"),
    pytest.param(PRIVATE_KEY, key("ECDSA", ecdsaCurve="P256"), id="ecdsa-p256"),
    pytest.param(PRIVATE_KEY, key("ECDSA", ecdsaCurve="P384"), id="ecdsa-p384"),
    pytest.param(PRIVATE_KEY, key("ECDSA", ecdsaCurve="P521"), id="ecdsa-p521"),
]


@pytest.mark.parametrize(("resource_type", "props"), GOOD)
def test_sound_resources_pass_every_policy(resource_type, props):
    assert run_pack(resource_type, props) == {}


# Each: the resource, the one policy it must violate, and what its single message must say: the property
# (with its path), the bad value, and what is accepted.
BAD = [
    # 1. AlbConfig
    pytest.param(
        ALB_CONFIG,
        alb_config(HTTP, changed(HTTPS, caEnabled=False)),
        "alb-https-listener-requires-client-ca",
        ["spec.listeners[1].caEnabled is false", "accepted: true"],
        id="ca-disabled",
    ),
    pytest.param(
        ALB_CONFIG,
        alb_config(changed(HTTPS, caEnabled=REMOVE)),
        "alb-https-listener-requires-client-ca",
        ["spec.listeners[0].caEnabled is not set", "accepted: true"],
        id="ca-enabled-unset",
    ),
    pytest.param(
        ALB_CONFIG,
        alb_config(changed(HTTPS, caEnabled="true")),
        "alb-https-listener-requires-client-ca",
        ['spec.listeners[0].caEnabled is "true"', "accepted: true"],
        id="ca-enabled-string",
    ),
    pytest.param(
        ALB_CONFIG,
        alb_config(changed(HTTPS, protocol="https", caEnabled=False)),
        "alb-https-listener-requires-client-ca",
        ["spec.listeners[0].caEnabled is false"],
        id="lowercase-https-is-https",
    ),
    pytest.param(
        ALB_CONFIG,
        alb_config(changed(HTTPS, caCertificates=REMOVE)),
        "alb-https-listener-requires-client-ca",
        ["spec.listeners[0].caCertificates is not set", "accepted: exactly one entry"],
        id="no-ca-certificates",
    ),
    pytest.param(
        ALB_CONFIG,
        alb_config(changed(HTTPS, caCertificates=[])),
        "alb-https-listener-requires-client-ca",
        ["spec.listeners[0].caCertificates is []", "accepted: exactly one entry"],
        id="empty-ca-certificates",
    ),
    pytest.param(
        ALB_CONFIG,
        alb_config(changed(HTTPS, caCertificates=[{"CertificateId": CA_ID}, {"CertificateId": "other"}])),
        "alb-https-listener-requires-client-ca",
        [f'caCertificates is [{{"CertificateId": "{CA_ID}"}}, {{"CertificateId": "other"}}]', "exactly one entry"],
        id="two-cas",
    ),
    pytest.param(
        ALB_CONFIG,
        alb_config(changed(HTTPS, caCertificates=[{"CertificateId": ""}])),
        "alb-https-listener-requires-client-ca",
        ['spec.listeners[0].caCertificates[0].CertificateId is ""', "accepted: the non-empty id"],
        id="empty-ca-id",
    ),
    pytest.param(
        ALB_CONFIG,
        alb_config(changed(HTTPS, caCertificates=[{"CertificateId": "  ", "IsDefault": True}])),
        "alb-https-listener-requires-client-ca",
        ['CertificateId is "  "', "accepted: the non-empty id"],
        id="blank-ca-id",
    ),
    pytest.param(
        ALB_CONFIG,
        alb_config(changed(HTTPS, caCertificates=[{"certificateId": CA_ID}])),
        "alb-https-listener-requires-client-ca",
        ["caCertificates[0].CertificateId is not set", "spelt CertificateId", "accepted: the non-empty id"],
        id="lowercase-key",
    ),
    # 2. purposes
    *[
        pytest.param(
            LOCALLY_SIGNED_CERT,
            changed(CLIENT, allowedUses=[*CLIENT["allowedUses"], use]),
            "tls-client-cert-client-auth-only",
            [f'"client_auth", "{use}"]', f"must not also have {use}", "accepted: client_auth"],
            id=f"client-with-{use}",
        )
        for use in ("server_auth", "any_extended", "cert_signing", "crl_signing")
    ],
    pytest.param(
        LOCALLY_SIGNED_CERT,
        changed(CLIENT, isCaCertificate=True),
        "tls-issued-cert-not-ca",
        ["isCaCertificate is true", "accepted: false or not set"],
        id="client-is-ca",
    ),
    pytest.param(
        LOCALLY_SIGNED_CERT,
        changed(SERVER, isCaCertificate=True),
        "tls-issued-cert-not-ca",
        ["isCaCertificate is true", "accepted: false or not set"],
        id="server-is-ca",
    ),
    pytest.param(
        LOCALLY_SIGNED_CERT,
        changed(CLIENT, allowedUses=["digital_signature", "key_encipherment"]),
        "tls-issued-cert-has-purpose",
        ['allowedUses is ["digital_signature", "key_encipherment"]', "accepted: a list with client_auth"],
        id="no-purpose",
    ),
    pytest.param(
        LOCALLY_SIGNED_CERT,
        changed(CLIENT, allowedUses=REMOVE),
        "tls-issued-cert-has-purpose",
        ["allowedUses is not set", "accepted: a list with client_auth"],
        id="no-allowed-uses",
    ),
    pytest.param(
        SELF_SIGNED_CERT,
        changed(ROOT_CA, allowedUses=["crl_signing", "digital_signature"]),
        "tls-root-ca-can-sign",
        ['allowedUses is ["crl_signing", "digital_signature"]', "accepted: a list that includes cert_signing"],
        id="ca-cannot-sign",
    ),
    # 3. keys
    pytest.param(
        PRIVATE_KEY,
        key("RSA", rsaBits=1024),
        "tls-private-key-strength",
        ["rsaBits is 1024;", "accepted: 2048 or more"],
        id="rsa-1024",
    ),
    pytest.param(
        PRIVATE_KEY,
        key("ECDSA"),
        "tls-private-key-strength",
        ["ecdsaCurve is not set", "default P224", "accepted: P256, P384 or P521"],
        id="ecdsa-default-p224",
    ),
    pytest.param(
        PRIVATE_KEY,
        key("ECDSA", ecdsaCurve="P224"),
        "tls-private-key-strength",
        ['ecdsaCurve is "P224"', "accepted: P256, P384 or P521"],
        id="ecdsa-p224",
    ),
    pytest.param(
        PRIVATE_KEY,
        key("ED25519"),
        "tls-private-key-strength",
        ['algorithm is "ED25519"', "ALB mutual TLS does not support", "accepted: RSA or ECDSA"],
        id="ed25519",
    ),
    pytest.param(
        PRIVATE_KEY,
        {"rsaBits": 4096},
        "tls-private-key-strength",
        ["algorithm is not set", "accepted: RSA or ECDSA"],
        id="no-algorithm",
    ),
    # 4. validity
    pytest.param(
        LOCALLY_SIGNED_CERT,
        changed(CLIENT, validityPeriodHours=CLIENT_CERT_MAX_HOURS + 1),
        "tls-client-cert-max-validity",
        ["validityPeriodHours is 19801 (825.042 days)", "accepted for a client certificate: 1 to 19800 hours"],
        id="client-825-days-and-an-hour",
    ),
    pytest.param(
        LOCALLY_SIGNED_CERT,
        changed(CLIENT, validityPeriodHours=0),
        "tls-client-cert-max-validity",
        ["validityPeriodHours is 0 (0 days)", "1 to 19800 hours (825 days x 24 h = 19800 h)"],
        id="client-zero-hours",
    ),
    pytest.param(
        SELF_SIGNED_CERT,
        changed(ROOT_CA, validityPeriodHours=CA_MAX_HOURS + 1),
        "tls-root-ca-max-validity",
        [
            "validityPeriodHours is 175321",
            "accepted for a CA certificate: 1 to 175320 hours",
            "20 x 365 days + 5 leap days = 7305 days; 7305 days x 24 h = 175320 h",
        ],
        id="ca-20-years-and-an-hour",
    ),
]


@pytest.mark.parametrize(("resource_type", "props", "policy", "fragments"), BAD)
def test_a_mistake_trips_exactly_its_policy_with_a_message_naming_property_value_and_accepted(
    resource_type, props, policy, fragments
):
    violations = run_pack(resource_type, props)
    assert list(violations) == [policy]
    [message] = violations[policy]
    for fragment in fragments:
        assert fragment in message
    assert "accepted" in message


def test_each_bad_https_listener_is_reported_with_its_own_path():
    props = alb_config(HTTP, changed(HTTPS, caEnabled=False), HTTPS, changed(HTTPS, caCertificates=[]))
    messages = run_policy("alb-https-listener-requires-client-ca", ALB_CONFIG, props)
    assert [m.split(" ", 1)[0] for m in messages] == ["spec.listeners[1].caEnabled", "spec.listeners[3].caCertificates"]


def test_a_client_certificate_with_several_faults_gets_one_message_per_policy():
    props = changed(
        CLIENT,
        isCaCertificate=True,
        allowedUses=["cert_signing", "client_auth", "server_auth"],
        validityPeriodHours=1e6,
    )
    assert sorted(run_pack(LOCALLY_SIGNED_CERT, props)) == [
        "tls-client-cert-client-auth-only",
        "tls-client-cert-max-validity",
        "tls-issued-cert-not-ca",
    ]
    [message] = run_policy("tls-client-cert-client-auth-only", LOCALLY_SIGNED_CERT, props)
    assert "must not also have cert_signing, server_auth;" in message


# --- preview: inputs that depend on other resources are unknown -----------------------------------------------


def test_unknown_ca_id_defers_the_listener_check_to_apply():
    """During preview the CA id comes from the CA registration; the engine then reports 'can't run'."""
    props = alb_config(changed(HTTPS, caCertificates=[{"CertificateId": UNKNOWN}]))
    messages: list[str] = []
    with pytest.raises(UnknownValueError):
        run_policy("alb-https-listener-requires-client-ca", ALB_CONFIG, props, into=messages)
    assert messages == []


def test_what_is_known_is_still_reported_when_the_ca_id_is_unknown():
    props = alb_config(
        changed(HTTPS, caEnabled=False, caCertificates=[{"CertificateId": UNKNOWN}]),
        changed(HTTPS, port=8443, caEnabled=False),
    )
    messages: list[str] = []
    with pytest.raises(UnknownValueError):
        run_policy("alb-https-listener-requires-client-ca", ALB_CONFIG, props, into=messages)
    assert [m.split(" ", 1)[0] for m in messages] == ["spec.listeners[0].caEnabled", "spec.listeners[1].caEnabled"]


def test_a_count_violation_shows_unknown_entries_as_unknown():
    props = alb_config(changed(HTTPS, caCertificates=[{"CertificateId": UNKNOWN}, {"CertificateId": CA_ID}]))
    [message] = run_policy("alb-https-listener-requires-client-ca", ALB_CONFIG, props)
    assert '[{"CertificateId": "<unknown until apply>"}, {"CertificateId": "' in message


def test_unknown_values_elsewhere_in_a_resource_do_not_matter():
    """The PEM inputs are outputs of other resources; the policies never read them."""
    props = changed(CLIENT, certRequestPem=UNKNOWN, caCertPem=UNKNOWN, caPrivateKeyPem=UNKNOWN)
    assert run_pack(LOCALLY_SIGNED_CERT, props) == {}


# --- the pack -------------------------------------------------------------------------------------------------


def test_policies_are_mandatory_resource_policies_with_unique_names_and_descriptions():
    names = [policy.name for policy in POLICIES]
    assert len(names) == len(set(names))
    assert names == [rule.name for rule in RULES]
    for policy in POLICIES:
        assert isinstance(policy, ResourceValidationPolicy)
        assert policy.enforcement_level is EnforcementLevel.MANDATORY
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy.name), policy.name
        assert policy.description.strip().endswith("."), policy.name


def test_every_policy_has_a_passing_and_a_failing_case_here():
    """Adding a policy without tests for both outcomes fails here."""
    failing = {case.values[2] for case in BAD}
    assert failing == {rule.name for rule in RULES}
    passing_types = {case.values[0] for case in GOOD}
    assert {rule.resource_type for rule in RULES} <= passing_types
