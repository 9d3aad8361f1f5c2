"""The gate for real: two nginx hops on 127.0.0.1 (tests/gate_hops.py), the stack's client certificates, curl.

Hop 1 plays the ALB listener, hop 2 runs the gate's `default.conf` exactly as the program renders it (ports
substituted), in front of an app that echoes the headers it got. The stack is updated three times under
`RememberingMocks` (every client active, bob revoked, bob restored), so bob's certificate is the same
throughout, issued an hour before the update that revokes it.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from components import gate
from tests.fakes.tls_provider import FakeTlsProvider
from tests.gate_hops import EchoHeaders, Hops, aliases, echo_app, fingerprints, gate_conf
from tests.harness import BASE_CONFIG, run_program
from tests.stack_state import RememberingMocks
from tests.tls_listener import Nginx

THREE = {**BASE_CONFIG, "clients": ["alice", "bob", "carol"]}
BOB_REVOKED = {**BASE_CONFIG, "clients": ["alice", {"name": "bob", "revoked": True}, "carol"]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One stack updated three times (all active, bob revoked, bob restored), and its files on disk."""
    mocks = RememberingMocks(tls=FakeTlsProvider(now=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    runs = SimpleNamespace(before=run_program(THREE, mocks=mocks))
    runs.revoked = run_program(BOB_REVOKED, mocks=mocks)
    runs.restored = run_program(THREE, mocks=mocks)
    files = tmp_path_factory.mktemp("clients")
    for name in THREE["clients"]:
        (files / f"{name}.crt").write_text(runs.before.outputs["clientCertificates"][name])
        (files / f"{name}.key").write_text(runs.before.outputs["clientPrivateKeys"][name])
    (files / "ca.crt").write_text(runs.before.outputs["caCertificatePem"])
    assert runs.revoked.named("client-bob-cert").outputs["certPem"] == (files / "bob.crt").read_text()
    return SimpleNamespace(runs=runs, files=files, server_key=runs.before.named("server-key").outputs["privateKeyPem"])


@pytest.fixture(scope="module")
def app():
    with echo_app() as port:
        yield port


def hops(stack, run, app: int, fingerprint_format: str, workdir):
    return Hops(
        workdir,
        run,
        app,
        fingerprint_format,
        certificates=stack.runs.before.outputs["clientCertificates"].values(),
        server_key_pem=stack.server_key,
    )


@pytest.fixture(scope="module", params=["sha1", "sha256"])
def revoked_hops(request, stack, app, tmp_path_factory):
    workdir = tmp_path_factory.mktemp(f"hops-{request.param}")
    with hops(stack, stack.runs.revoked, app, request.param, workdir) as running:
        yield SimpleNamespace(hops=running, format=request.param)


def test_every_active_client_gets_200_and_the_app_sees_its_identity(revoked_hops, stack):
    names = aliases(stack.runs.revoked)
    for client in ("alice", "carol"):
        response = revoked_hops.hops.curl(stack.files, client)
        assert response.status == 200, response
        seen = json.loads(response.body)
        assert seen[names["SubjectDN"]] == f"CN={client}"
        assert seen[names["IssuerDN"]] == "CN=alb-mtls test root,O=alb-mtls,C=CN"
        assert seen[names["ClientVerify"]] == "SUCCESS"
        sha1, sha256 = fingerprints((stack.files / f"{client}.crt").read_text())
        assert seen[names["Fingerprint"]] == (sha1 if revoked_hops.format == "sha1" else sha256)


def test_a_revoked_client_gets_403_from_the_gate(revoked_hops, stack):
    EchoHeaders.seen.clear()
    response = revoked_hops.hops.curl(stack.files, "bob")
    assert response.status == 403, response
    assert response.body == gate.REVOKED_REASON + "\n"
    assert EchoHeaders.seen == []  # the app never saw the request


def test_a_forged_fingerprint_header_is_overwritten_by_the_real_one(revoked_hops, stack):
    names = aliases(stack.runs.revoked)
    alice_sha1, alice_sha256 = fingerprints((stack.files / "alice.crt").read_text())
    bob_sha1, _ = fingerprints((stack.files / "bob.crt").read_text())
    as_alice = revoked_hops.hops.curl(stack.files, "bob", headers={names["Fingerprint"]: alice_sha1})
    assert as_alice.status == 403, as_alice
    as_bob = revoked_hops.hops.curl(
        stack.files, "alice", headers={names["Fingerprint"]: bob_sha1, names["ClientVerify"]: "FAILED:forged"}
    )
    assert as_bob.status == 200, as_bob
    seen = json.loads(as_bob.body)
    assert seen[names["Fingerprint"]] == (alice_sha1 if revoked_hops.format == "sha1" else alice_sha256)
    assert seen[names["ClientVerify"]] == "SUCCESS"


def test_restoring_a_client_lets_its_same_certificate_in_again(stack, app, tmp_path):
    with hops(stack, stack.runs.restored, app, "sha256", tmp_path) as running:
        for client in THREE["clients"]:
            response = running.curl(stack.files, client)
            assert response.status == 200, (client, response)
            assert json.loads(response.body)["x-forwarded-clientcert-subjectdn"] == f"CN={client}"


# --- the gate on its own: every fingerprint spelling, the verify result --------------------------------
@pytest.fixture(scope="module")
def gate_only(stack, app, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gate")
    port = Nginx(workdir, "").port
    conf = gate_conf(stack.runs.revoked).replace("listen 8080;", f"listen 127.0.0.1:{port};")
    with Nginx(workdir, conf.replace("127.0.0.1:80;", f"127.0.0.1:{app};"), port=port) as nginx:
        yield nginx


def get(port: int, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def spellings(digits: str) -> list[str]:
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    return [form for joined in ("".join(pairs), ":".join(pairs)) for form in (joined.lower(), joined.upper())]


def test_the_gate_refuses_either_fingerprint_in_any_spelling(gate_only, stack):
    sha1, sha256 = fingerprints((stack.files / "bob.crt").read_text())
    for fingerprint in spellings(sha1) + spellings(sha256.replace(":", "")):
        status, body = get(gate_only.port, {"x-forwarded-clientcert-fingerprint": fingerprint})
        assert (status, body) == (403, gate.REVOKED_REASON + "\n"), fingerprint
    alice_sha1, alice_sha256 = fingerprints((stack.files / "alice.crt").read_text())
    for fingerprint in (alice_sha1, alice_sha256, sha1[:-2], sha1 + "00"):  # another certificate, or not bob's
        assert get(gate_only.port, {"x-forwarded-clientcert-fingerprint": fingerprint})[0] == 200, fingerprint


@pytest.mark.parametrize(
    ("verify", "status"),
    [(None, 200), ("SUCCESS", 200), ("success", 200), ("FAILED:certificate has expired", 403), ("NONE", 403)],
)
def test_the_gate_refuses_a_verify_result_that_is_not_a_success(gate_only, verify, status):
    headers = {} if verify is None else {"x-forwarded-clientcert-clientverify": verify}
    got, body = get(gate_only.port, headers)
    assert got == status, (verify, body)
    if status == 403:
        assert body == gate.UNVERIFIED_REASON + "\n"


def test_the_gate_passes_the_request_on_unchanged(gate_only):
    status, body = get(gate_only.port, {"X-Request-Id": "abc-123", "x_underscored": "kept", "Host": "coffee.example"})
    assert status == 200
    seen = json.loads(body)
    assert seen["x-request-id"] == "abc-123" and seen["x_underscored"] == "kept" and seen["host"] == "coffee.example"
