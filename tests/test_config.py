"""The configuration contract: bad input stops the program with a clear error before anything is created."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import stack_config
from tests.harness import BASE_CONFIG, ProgramFailed, run_program

ROOT = Path(__file__).resolve().parent.parent


def with_(key: str, value: Any) -> dict[str, Any]:
    """BASE_CONFIG with one key (or `object.field`) changed; None removes it."""
    config = json.loads(json.dumps(BASE_CONFIG))
    top, _, field = key.partition(".")
    if field:
        config.setdefault(top, {})[field] = value
    elif value is None:
        config.pop(top, None)
    else:
        config[top] = value
    return config


# (case, config, the key the error must name, the bad value it must show before saying what is expected,
# words of what is accepted)
BAD_INPUTS = [
    ("missing domain", with_("domain", None), "alb-mtls:domain", "required", "DNS host name"),
    (
        "upper-case domain",
        with_("domain", "Coffee.Example.com"),
        "alb-mtls:domain",
        '"Coffee.Example.com"',
        "lower-case DNS host name",
    ),
    ("domain label over 63", with_("domain", "a" * 64 + ".example.com"), "alb-mtls:domain", "a" * 64, "63 characters"),
    ("one vSwitch", with_("vswitchIds", ["vsw-abc123"]), "alb-mtls:vswitchIds", '["vsw-abc123"]', "at least two"),
    (
        "duplicate vSwitches",
        with_("vswitchIds", ["vsw-abc123", "vsw-abc123"]),
        "alb-mtls:vswitchIds",
        "vsw-abc123",
        "listed twice",
    ),
    (
        "malformed vSwitch",
        with_("vswitchIds", ["vsw-abc123", "subnet-1"]),
        "alb-mtls:vswitchIds[1]",
        '"subnet-1"',
        "vsw-",
    ),
    ("address type", with_("addressType", "Public"), "alb-mtls:addressType", '"Public"', "Internet, Intranet"),
    ("edition", with_("edition", "Basic"), "alb-mtls:edition", '"Basic"', "Standard, StandardWithWaf"),
    ("no clients", with_("clients", []), "alb-mtls:clients", "[]", "non-empty list"),
    ("missing clients", with_("clients", None), "alb-mtls:clients", "required", "client names"),
    ("duplicate client", with_("clients", ["alice", "alice"]), "alb-mtls:clients[1]", '"alice"', "unique client names"),
    (
        "malformed client name",
        with_("clients", ["alice", "Bob_Smith"]),
        "alb-mtls:clients[1]",
        '"Bob_Smith"',
        "DNS label",
    ),
    (
        "client object without name",
        with_("clients", [{"validityDays": 30}]),
        "alb-mtls:clients[0]",
        "validityDays",
        "an object with a name",
    ),
    (
        "negative client validity",
        with_("clients", [{"name": "alice", "validityDays": -5}]),
        "alb-mtls:clients[0].validityDays",
        "-5",
        "whole number",
    ),
    (
        "fractional validity",
        with_("clientDefaults.validityDays", 36.5),
        "alb-mtls:clientDefaults.validityDays",
        "36.5",
        "whole number",
    ),
    ("zero CA validity", with_("ca.validityDays", 0), "alb-mtls:ca.validityDays", "0", "at least 1"),
    (
        "early renewal not below validity",
        with_("clientDefaults.earlyRenewalDays", 365),
        "alb-mtls:clientDefaults.earlyRenewalDays",
        "365",
        "fewer days than the validity",
    ),
    ("small RSA CA key", with_("ca.rsaBits", 1024), "alb-mtls:ca.rsaBits", "1024", "at least 2048"),
    (
        "small RSA client key",
        with_("clientDefaults.rsaBits", 1024),
        "alb-mtls:clientDefaults.rsaBits",
        "1024",
        "at least 2048",
    ),
    ("unknown algorithm", with_("ca.algorithm", "ED25519"), "alb-mtls:ca.algorithm", '"ED25519"', "RSA, ECDSA"),
    (
        "unknown curve",
        with_("clientDefaults.ecdsaCurve", "P224"),
        "alb-mtls:clientDefaults.ecdsaCurve",
        '"P224"',
        "P256, P384",
    ),
    ("three-letter country", with_("ca.country", "CHN"), "alb-mtls:ca.country", '"CHN"', "two upper-case letters"),
    ("lower-case country", with_("ca.country", "cn"), "alb-mtls:ca.country", '"cn"', "two upper-case letters"),
    ("unknown CA field", with_("ca.commonname", "root"), "alb-mtls:ca.commonname", '"root"', "no such field"),
    ("unknown listener field", with_("listener.prot", 443), "alb-mtls:listener.prot", "443", "no such field"),
    ("listener port", with_("listener.port", 70000), "alb-mtls:listener.port", "70000", "at most 65535"),
    (
        "security policy",
        with_("listener.securityPolicyId", "tls_everything"),
        "alb-mtls:listener.securityPolicyId",
        '"tls_everything"',
        "tls_cipher_policy_1_2_strict",
    ),
    (
        "header alias",
        with_("listener.forwardClientCertHeaders", {"subjectDn": "X Client DN"}),
        "alb-mtls:listener.forwardClientCertHeaders.subjectDn",
        '"X Client DN"',
        "header name",
    ),
    ("zero replicas", with_("app.replicas", 0), "alb-mtls:app.replicas", "0", "at least 1"),
    (
        "client name header with upper case",
        with_("gate.clientNameHeader", "X-Client-Name"),
        "alb-mtls:gate.clientNameHeader",
        '"X-Client-Name"',
        "lower-case letters and digits",
    ),
    (
        "client name header with an underscore",  # nginx and CGI read x_client_name as x-client-name
        with_("gate.clientNameHeader", "x_client_name"),
        "alb-mtls:gate.clientNameHeader",
        '"x_client_name"',
        "joined by '-'",
    ),
    (
        "client name header that ALB forwards",
        with_("gate.clientNameHeader", "x-forwarded-clientcert-subjectdn"),
        "alb-mtls:gate.clientNameHeader",
        '"x-forwarded-clientcert-subjectdn"',
        "other than alb-mtls:listener.forwardClientCertHeaders.subjectDn",
    ),
    (
        "client name header spelling an alias given with underscores",
        {
            **with_("gate.clientNameHeader", "client-dn"),
            "listener": {"forwardClientCertHeaders": {"subjectDn": "client_dn"}},
        },
        "alb-mtls:gate.clientNameHeader",
        '"client-dn"',
        "(client_dn): the gate reads that one from ALB",
    ),
    ("namespace", with_("namespace", "Coffee Shop"), "alb-mtls:namespace", '"Coffee Shop"', "DNS label"),
    (
        "unknown top-level key",  # the bad input is the key's name; what is accepted is the list of keys
        with_("domian", "coffee.example.com"),
        "alb-mtls:domian",
        "domian is not a key of this stack",
        "the keys are domain, vswitchIds",
    ),
    ("object that is not an object", with_("ca", ["root"]), "alb-mtls:ca", '["root"]', "an object with the fields"),
    (
        "revoking a name that is not a client",
        with_("revokedClients", ["dave"]),
        "alb-mtls:revokedClients[0]",
        '"dave"',
        "the name of a client in alb-mtls:clients (alice, bob)",
    ),
    (
        "revoked clients that are not a list",
        with_("revokedClients", {"name": "bob"}),
        "alb-mtls:revokedClients",
        '{"name": "bob"}',
        "a list of client names, set one at a time: pulumi config set --path 'revokedClients[0]' bob",
    ),
    (
        "a client revoked twice by name",
        with_("revokedClients", ["bob", "bob"]),
        "alb-mtls:revokedClients[1]",
        '"bob"',
        "each name once (it is also alb-mtls:revokedClients[0])",
    ),
    (
        "a client listed as revoked whose entry says revoked: false",
        {**with_("revokedClients", ["bob"]), "clients": ["alice", {"name": "bob", "revoked": False}]},
        "alb-mtls:revokedClients[0]",
        '"bob"',
        "alb-mtls:clients[1].revoked is false",
    ),
    (
        "server certificate id",
        with_("serverCertificateId", "cert-123"),
        "alb-mtls:serverCertificateId",
        '"cert-123"',
        "with its region",
    ),
]


@pytest.mark.parametrize(("case", "config", "key", "shown", "accepted"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_a_clear_error_and_nothing_is_created(case, config, key, shown, accepted):
    with pytest.raises(ProgramFailed) as failed:
        run_program(config)
    error = failed.value.error
    assert isinstance(error, stack_config.ConfigError), repr(error)
    message = str(error)
    assert message.startswith(key), message
    assert shown, "a row must say which bad value the error shows"
    stated = message.partition("; expected")[0]  # the value is shown, not merely part of what is accepted
    assert shown in stated, message
    assert accepted in message, message
    assert failed.value.run.resources == [], "a resource was registered before the configuration was validated"


def test_region_falls_back_to_the_alicloud_providers_environment_variable(monkeypatch):
    monkeypatch.setenv("ALICLOUD_REGION", "cn-beijing")
    run = run_program(BASE_CONFIG, region=None)
    (server,) = run.of_type("alicloud:cas/serviceCertificate:ServiceCertificate")
    (albconfig,) = run.of_type("kubernetes:alibabacloud.com/v1:AlbConfig")
    https = albconfig.inputs["spec"]["listeners"][-1]
    assert https["certificates"][0]["CertificateId"] == f"{server.id}-cn-hangzhou"  # cn-beijing's CAS site


def test_missing_region_is_named_when_certificates_must_be_uploaded(monkeypatch):
    monkeypatch.delenv("ALICLOUD_REGION", raising=False)
    with pytest.raises(ProgramFailed) as failed:
        run_program(BASE_CONFIG, region=None)
    assert "alicloud:region" in str(failed.value.error)
    assert failed.value.run.resources == []


def test_malformed_json_in_a_structured_key_names_the_key():
    from tests import harness

    original = harness.stack_config
    harness.stack_config = lambda config, region: {**original(config, region), "alb-mtls:ca": "{not json"}
    try:
        with pytest.raises(ProgramFailed) as failed:
            run_program(BASE_CONFIG)
    finally:
        harness.stack_config = original
    assert str(failed.value.error).startswith("alb-mtls:ca: '{not json'")


def test_defaults_apply_when_objects_are_omitted():
    parsed = stack_config.parse(
        {"domain": "a.example.com", "vswitchIds": ["vsw-a1", "vsw-b2"], "clients": ["alice"]}, region="cn-hangzhou"
    )
    assert parsed.ca.key["algorithm"] == "RSA" and parsed.ca.key["rsa_bits"] == 4096 and parsed.ca.validity_days == 3650
    assert parsed.clients[0].validity_days == 365 and parsed.clients[0].early_renewal_days == 30
    assert parsed.clients[0].key["rsa_bits"] == 2048
    assert parsed.listener.port == 443 and parsed.listener.security_policy_id == "tls_cipher_policy_1_2_strict"
    assert parsed.listener.client_cert_headers == {  # ALB's documented names, lower-cased, as explicit aliases
        "subjectDn": "x-forwarded-clientcert-subjectdn",
        "issuerDn": "x-forwarded-clientcert-issuerdn",
        "fingerprint": "x-forwarded-clientcert-fingerprint",
        "clientVerify": "x-forwarded-clientcert-clientverify",
    }
    assert parsed.listener.http_redirect is True
    assert parsed.app.image == stack_config.SEED_IMAGE and parsed.app.replicas == 2 and parsed.app.port == 80
    assert parsed.namespace == "default" and parsed.address_type == "Internet" and parsed.edition == "Standard"
    assert parsed.gate.client_name_header == "x-client-name"


def test_revoked_clients_revokes_a_client_whatever_the_form_of_its_entry():
    parsed = stack_config.parse(
        {
            "domain": "a.example.com",
            "vswitchIds": ["vsw-a1", "vsw-b2"],
            "clients": ["alice", "bob", {"name": "carol", "validityDays": 90}, {"name": "dave", "revoked": True}],
            "revokedClients": ["bob", "carol", "dave"],
        },
        region="cn-hangzhou",
    )
    revoked = {c.name: (c.revoked, c.revoked_by) for c in parsed.clients}
    assert revoked == {
        "alice": (False, None),
        "bob": (True, "alb-mtls:revokedClients[0]"),
        "carol": (True, "alb-mtls:revokedClients[1]"),
        "dave": (True, "alb-mtls:clients[3].revoked"),  # revoked either way: its entry is named first
    }
    assert parsed.clients[2].validity_days == 90  # the entry's own settings stay
    for listed in ([], None):  # Pulumi.yaml's default, and the key absent
        raw = {"domain": "a.example.com", "vswitchIds": ["vsw-a1", "vsw-b2"], "clients": ["alice", "bob"]}
        if listed is not None:
            raw["revokedClients"] = listed
        assert not any(c.revoked for c in stack_config.parse(raw, region="cn-hangzhou").clients)


def test_values_as_the_cli_passes_them_are_accepted():
    """The CLI hands typed scalars over as strings, and Pulumi.yaml's empty defaults as ''."""
    parsed = stack_config.parse(
        {
            "domain": "a.example.com",
            "vswitchIds": ["vsw-a1", "vsw-b2"],
            "clients": ["alice", {"name": "bob", "validityDays": "90"}],
            "listener": {"port": "8443", "httpRedirect": "false"},
            "caCertificateId": "",
            "serverCertificateId": "",
        },
        region="cn-hangzhou",
    )
    assert parsed.clients[1].validity_days == 90
    assert parsed.listener.port == 8443 and parsed.listener.http_redirect is False
    assert parsed.ca_certificate_id is None and parsed.server_certificate_id is None


def test_dev_stack_file_is_a_complete_working_example():
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config = {k.split(":", 1)[1]: v for k, v in dev.items() if k.startswith("alb-mtls:")}
    run = run_program(config, region=dev["alicloud:region"])
    assert set(run.outputs["clientCertificates"]) == {c if isinstance(c, str) else c["name"] for c in config["clients"]}


def test_pulumi_yaml_declares_every_scalar_key_as_the_code_reads_it():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    scalars = [s for s in stack_config.settings() if "." not in s.key and s.type in ("string", "list of strings")]
    assert set(declared) == {s.key for s in scalars}
    for setting in scalars:
        entry = declared[setting.key]
        assert entry["type"] == ("array" if setting.type == "list of strings" else "string")
        assert entry["description"]
        if setting.required:
            assert "default" not in entry, f"{setting.key} is required, so Pulumi.yaml must not give it a default"
        else:
            assert entry["default"] == (setting.default if setting.default is not None else ""), setting.key


def test_the_configuration_reference_is_the_generated_table():
    reference = (ROOT / "docs" / "configuration.md").read_text()
    assert stack_config.markdown_table() in reference, "regenerate it with `python stack_config.py --markdown`"
    for setting in stack_config.settings():
        assert f"| `{setting.key}` |" in reference


def test_reading_the_configuration_loads_no_kubernetes_or_alibaba_cloud_sdk():
    """The configuration is validated before anything else happens: it needs neither SDK, nor their import time."""
    code = "import sys, stack_config, components.headers; print(*sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    sdks = [m for m in loaded.split() if m.startswith(("pulumi_kubernetes", "pulumi_alicloud", "alibabacloud_"))]
    assert sdks == []
    assert "components.listener" not in loaded.split() and "components.gate" not in loaded.split()


def test_the_docs_show_a_config_set_for_each_structured_key():
    docs = "\n".join(page.read_text() for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
    objects = [s.key for s in stack_config.settings() if s.type == "object"]
    for key in ("clients", "vswitchIds", "revokedClients", *objects):
        assert re.search(rf"pulumi config set (--path )?'?{key}[.\[]", docs), key
