"""Key rotation at renewal, through the real engine and a live cluster, as the daily `pulumi up --refresh` does it.

The stack is first deployed with the plugins' clock 350 days in the past (`ALB_MTLS_FAKE_NOW`), so that on the
real clock its 365-day certificates are inside their 30-day early-renewal window and still valid: the renewal
then runs on the real clock, and every certificate it issues is valid for nginx and curl. What is real and what
plays a part: as in tests/test_engine_cluster.py.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s_client

from tests.alb_controller import AlbControllerStandIn
from tests.cluster import KubeCluster
from tests.engine.plugin import NOW_VARIABLE
from tests.engine.workspace import ROOT
from tests.fake_cas import FakeCas
from tests.test_engine_cluster import api, call, cluster, controller, live_workspace  # noqa: F401 (fixtures)
from tests.test_engine_lifecycle import hand_out, operations

pytestmark = pytest.mark.engine
RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
ROTATED = ("key-clock", "key", "csr", "cert")
"""What a renewal with key rotation replaces: the rotation clock, the key, the request and the certificate."""


def public_key(pem: str) -> bytes:
    """The DER public key of a PEM certificate or private key."""
    if "PRIVATE KEY" in pem:
        key = serialization.load_pem_private_key(pem.encode(), password=None).public_key()
    else:
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def partner_csr(name: str) -> tuple[str, bytes]:
    """A partner's own request (PEM) and its public key: the partner keeps the key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return request.public_bytes(serialization.Encoding.PEM).decode(), public


def readme_rotate_now_command() -> str:
    """The `pulumi up --replace` line of docs/renewal.md's Certificate renewal section, as written there."""
    section = (ROOT / "docs" / "renewal.md").read_text().split("\n## Certificate renewal", 1)[1].split("\n## ", 1)[0]
    (line,) = [line for line in section.splitlines() if line.startswith("pulumi up --replace")]
    return line


def step_order(event_log: Path) -> list[tuple[str, str]]:
    """(operation, resource name) of each step the engine finished, in order, from `--event-log`."""
    order = []
    for line in event_log.read_text().splitlines():
        event = json.loads(line).get("resOutputsEvent")
        if event:
            order.append((event["metadata"]["op"], event["metadata"]["urn"].rsplit("::", 1)[1]))
    return order


def test_renewal_rotates_the_keys_the_stack_makes(
    cluster: KubeCluster,  # noqa: F811
    fake_cas: FakeCas,
    controller: AlbControllerStandIn,  # noqa: F811
    api,  # noqa: F811
    tmp_path: Path,
):
    csr, dave_public = partner_csr("dave")
    ws = live_workspace(
        tmp_path,
        cluster,
        fake_cas,
        **{"clients[1].validityDays": "365", "clients[2].name": "carol", "clients[2].rotateKeyOnRenewal": "false"},
    )
    ws.pulumi("config", "set", "--path", "clients[3].name", "dave")
    (tmp_path / "dave.csr").write_text(csr)
    done = ws.shell(f"pulumi config set --path 'clients[3].csr' -- \"$(cat {tmp_path / 'dave.csr'})\"")
    assert done.returncode == 0, done.stderr
    ws.pulumi("config", "set", "--path", "clients[4].name", "erin")
    ws.pulumi("config", "set", "--path", "clients[4].validityDays", "825")
    issued = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=350)
    ws.pulumi("up", "--yes", env={NOW_VARIABLE: issued.strftime(RFC3339)})
    before = ws.outputs(show_secrets=True)
    assert sorted(before["clientKeyCreated"]) == ["alice", "build-bot", "erin"]  # not carol's, not dave's
    old_alice = hand_out(ws, "alice", tmp_path / "alice-old")

    # -- the daily renewal, on the real clock: what it plans ------------------------------------------------
    planned = {
        urn.rsplit("::", 1)[1]: op
        for urn, op in operations(ws, "--refresh").items()
        if "Stack" not in urn and op != "refresh"  # every resource is read back first
    }
    rotated = {f"{who}-{part}" for who in ("client-alice", "client-build-bot", "server") for part in ROTATED}
    renewed = {"client-carol-cert", "client-dave-cert"}
    uploads = {name for name, op in planned.items() if op == "replace"} - rotated - renewed
    assert planned == {**dict.fromkeys(rotated | renewed | uploads, "replace"), "mtls-albconfig": "update"}, planned
    assert len(uploads) == 1, f"the server certificate's upload is replaced, nothing else: {uploads}"

    events = tmp_path / "events.jsonl"
    # --event-log is a debug flag: PULUMI_DEBUG_COMMANDS shows it.
    ws.pulumi("up", "--refresh", "--yes", "--event-log", str(events), env={"PULUMI_DEBUG_COMMANDS": "true"})
    after = ws.outputs(show_secrets=True)

    # -- each new key, request and certificate exists before the old one is deleted ---------------------------
    order = step_order(events)
    for name in sorted(rotated | renewed):
        created, deleted = order.index(("create-replacement", name)), order.index(("delete-replaced", name))
        assert created < deleted, (name, order)
    replaced_last = max(order.index(("create-replacement", name)) for name in rotated | renewed)
    first_delete = min(i for i, (op, _) in enumerate(order) if op == "delete-replaced")
    assert replaced_last < first_delete, "an old key or certificate was deleted before every new one existed"

    # -- rotated: a new key; not rotated: the same key, a new certificate ---------------------------------------
    certs, keys = after["clientCertificates"], after["clientPrivateKeys"]
    for name in ("alice", "build-bot"):
        assert public_key(keys[name]) != public_key(before["clientPrivateKeys"][name]), name
        assert public_key(certs[name]) == public_key(keys[name]), name
        created = dt.datetime.strptime(after["clientKeyCreated"][name], RFC3339).replace(tzinfo=dt.UTC)
        assert created > issued + dt.timedelta(days=349), (name, after["clientKeyCreated"][name])
    assert (
        keys["carol"] == before["clientPrivateKeys"]["carol"]
        and certs["carol"] != before["clientCertificates"]["carol"]
    )
    assert public_key(certs["carol"]) == public_key(keys["carol"])
    assert certs["dave"] != before["clientCertificates"]["dave"] and public_key(certs["dave"]) == dave_public
    assert "dave" not in keys and "dave" not in after["clientKeyCreated"]
    assert certs["erin"] == before["clientCertificates"]["erin"]
    assert after["clientKeyCreated"]["erin"] == before["clientKeyCreated"]["erin"]
    assert after["caCertificatePem"] == before["caCertificatePem"]
    for name in certs:
        assert after["clientCertificateExpiry"][name] > before["clientCertificateExpiry"][name] or name == "erin"

    # -- the server key rotates and the listener follows: the AlbConfig names the new upload -----------------------
    assert public_key(after["serverCertificatePem"]) != public_key(before["serverCertificatePem"])
    (uploaded,) = fake_cas.user_certificates()
    custom = k8s_client.CustomObjectsApi(api)
    albconfig = custom.get_cluster_custom_object("alibabacloud.com", "v1", "albconfigs", "alb-mtls")
    (https,) = [listener for listener in albconfig["spec"]["listeners"] if listener["protocol"] == "HTTPS"]
    assert [c["CertificateId"] for c in https["certificates"]] == [f"{uploaded['cert_id']}-cn-hangzhou"], https

    # -- what a client is handed works through the ALB; the old certificate is superseded, not revoked -------------
    port = controller.alb_port("alb-mtls")
    new_alice = hand_out(ws, "alice", tmp_path / "alice-new")
    assert public_key((new_alice / "alice.key").read_text()) == public_key(keys["alice"])
    answer = call(port, new_alice, "alice", new_alice / "ca.crt")
    assert answer.status == 200, (answer, controller.refusals[-5:], controller.errors)
    served = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "coffee.example.com"],
        input="",
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert public_key(served[served.index("-----BEGIN CERTIFICATE-----") :]) == public_key(
        after["serverCertificatePem"]
    ), "the ALB does not serve the new server certificate"
    verified = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", str(old_alice / "ca.crt"), str(old_alice / "alice.crt")],
        check=False,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0 and verified.stdout.strip().endswith(": OK"), verified

    # -- nothing left behind: a second renewal run plans nothing ----------------------------------------------------
    ws.pulumi("preview", "--refresh", "--expect-no-changes")

    # -- the README's "rotate a key now", for erin (outside its window): erin's key, CSR and certificate only -------
    command = readme_rotate_now_command().replace("pulumi:dev::", f"pulumi:{ws.stack}::").replace("alice", "erin")
    urn = command.split("'")[1]
    planned = {urn.rsplit("::", 1)[1]: op for urn, op in operations(ws, "--replace", urn).items() if "Stack" not in urn}
    assert planned == dict.fromkeys((f"client-erin-{part}" for part in ROTATED), "replace"), planned
    done = ws.shell(command.replace("pulumi up", "pulumi up --yes", 1))
    assert done.returncode == 0, done.stderr
    rotated_now = ws.outputs(show_secrets=True)
    assert public_key(rotated_now["clientPrivateKeys"]["erin"]) != public_key(keys["erin"])
    assert rotated_now["clientKeyCreated"]["erin"] > after["clientKeyCreated"]["erin"]
    assert rotated_now["clientPrivateKeys"]["alice"] == keys["alice"]
    ws.pulumi("state", "unprotect", "--all", "--yes")
    ws.pulumi("destroy", "--yes")
