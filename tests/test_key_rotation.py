"""Key rotation at renewal, as the program declares it (what the engine does with it: test_engine_rotation.py).

Each key the stack makes and rotates has a rotation clock: a self-signed certificate with the certificate's
validity and early-renewal window, registered before the key, which names it in `replace_with`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

import stack_config
from tests.harness import BASE_CONFIG, ProgramFailed, ProgramRun, run_program
from tests.test_csr_clients import openssl_request

SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"


@pytest.fixture(scope="module")
def partner_csr(tmp_path_factory) -> str:
    csr, _ = openssl_request(
        tmp_path_factory.mktemp("partner"), "dave", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"
    )
    return csr


@pytest.fixture(scope="module")
def run(partner_csr) -> ProgramRun:
    clients = [
        "alice",
        {"name": "build-bot", "validityDays": 90},
        {"name": "carol", "rotateKeyOnRenewal": False},
        {"name": "dave", "csr": partner_csr},
    ]
    return run_program({**BASE_CONFIG, "clients": clients, "clientDefaults": {"earlyRenewalDays": 20}})


def clock_of(run: ProgramRun, owner: str):
    return run.named(f"{owner}-key-clock")


def test_each_rotated_key_is_replaced_with_its_clock_which_has_the_certificates_window(run):
    for owner, days, early in (("client-alice", 365, 20), ("client-build-bot", 90, 20), ("server", 365, 30)):
        clock, key, cert = clock_of(run, owner), run.named(f"{owner}-key"), run.named(f"{owner}-cert")
        assert key.replace_with == [clock.urn], owner
        assert clock.inputs["validityPeriodHours"] == cert.inputs["validityPeriodHours"] == days * 24, owner
        assert clock.inputs["earlyRenewalHours"] == cert.inputs["earlyRenewalHours"] == early * 24, owner
        assert not clock.inputs.get("isCaCertificate") and clock.inputs["allowedUses"] == ["digital_signature"]
        assert run.named(f"{owner}-key-clock-key").replace_with == []  # the clock's own key is never rotated
        assert run.depends_on(cert, key) and not run.depends_on(clock, key)


def test_a_key_not_rotated_and_a_clients_own_csr_have_no_clock(run):
    names = {r.name for r in run.of_type(SELF_SIGNED)}
    assert names == {"root-ca-cert", "client-alice-key-clock", "client-build-bot-key-clock", "server-key-clock"}
    assert run.named("client-carol-key").replace_with == []
    assert not [r for r in run.resources if r.name.startswith("client-dave-key")]


def test_client_key_created_is_each_rotated_keys_clock_start(run):
    created = run.outputs["clientKeyCreated"]
    assert sorted(created) == ["alice", "build-bot"]  # carol's key is not rotated, dave's is his own
    for name, value in created.items():
        clock = clock_of(run, f"client-{name}")
        assert value == clock.outputs["validityStartTime"]
        start = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        assert abs(dt.datetime.now(dt.UTC) - start) < dt.timedelta(minutes=5)


def test_the_clock_names_the_kind_of_key_so_a_new_kind_is_a_new_clock(run):
    ecdsa = run_program({**BASE_CONFIG, "clientDefaults": {"algorithm": "ECDSA"}})
    for current, other in ((run, "RSA-2048"), (ecdsa, "ECDSA-P256")):
        subject = clock_of(current, "client-alice").inputs["subject"]
        assert subject == {"commonName": "alice key rotation clock", "organizationalUnit": other}
    # The clock's certificate says so too: not a CA, no purpose but its own signature.
    cert = x509.load_pem_x509_certificate(clock_of(run, "client-alice").outputs["certPem"].encode())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_rotation_can_be_turned_off_for_every_client_and_for_the_server(run):
    off = run_program(
        {**BASE_CONFIG, "clientDefaults": {"rotateKeyOnRenewal": False}, "server": {"rotateKeyOnRenewal": False}}
    )
    assert {r.name for r in off.of_type(SELF_SIGNED)} == {"root-ca-cert"}
    assert all(k.replace_with == [] for k in off.of_type("tls:index/privateKey:PrivateKey"))
    assert off.outputs["clientKeyCreated"] == {}
    # A client can still ask for it when the default is off.
    one = run_program(
        {
            **BASE_CONFIG,
            "clients": [{"name": "alice", "rotateKeyOnRenewal": True}],
            "clientDefaults": {"rotateKeyOnRenewal": False},
        }
    )
    assert sorted(one.outputs["clientKeyCreated"]) == ["alice"]


@pytest.mark.parametrize(
    ("config_key", "value", "accepted"),
    [
        ("clientDefaults", {"rotateKeyOnRenewal": "yes"}, "true or false"),
        ("server", {"rotateKeyOnRenewal": 1}, "true or false"),
        ("server", {"rotateKeys": True}, "no such field"),
    ],
)
def test_bad_rotation_settings_are_clear_errors(config_key, value, accepted):
    with pytest.raises(ProgramFailed) as failed:
        run_program({**BASE_CONFIG, config_key: value})
    assert isinstance(failed.value.error, stack_config.ConfigError)
    assert str(failed.value.error).startswith(f"alb-mtls:{config_key}."), failed.value.error
    assert accepted in str(failed.value.error)


def test_a_client_with_its_own_csr_cannot_ask_for_rotation(partner_csr):
    clients = [{"name": "dave", "csr": partner_csr, "rotateKeyOnRenewal": True}]
    with pytest.raises(ProgramFailed) as failed:
        run_program({**BASE_CONFIG, "clients": clients})
    message = str(failed.value.error)
    assert message.startswith("alb-mtls:clients[0].rotateKeyOnRenewal: true is not accepted"), message
    assert "the client sends a new CSR" in message
    # false (or the default) is fine: the certificate is renewed from the same request.
    clients[0]["rotateKeyOnRenewal"] = False
    assert "dave" in run_program({**BASE_CONFIG, "clients": clients}).outputs["clientCertificates"]


def test_the_docs_show_how_rotation_is_turned_off_and_what_renewal_keeps():
    readme = (Path(__file__).resolve().parent.parent / "docs" / "renewal.md").read_text()
    section = readme.split("\n## Certificate renewal", 1)[1].split("\n## ", 1)[0]
    for needed in ("clientKeyCreated", "rotateKeyOnRenewal", "superseded", "--replace", "new CSR"):
        assert needed in section, needed
