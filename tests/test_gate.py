"""The gate for real: two nginx hops on 127.0.0.1, the stack's client certificates, and curl.

Hop 1 plays the ALB listener: it requires a client certificate from the stack's CA and forwards the four
client-certificate headers under the aliases of the AlbConfig spec the program registered, overwriting
any the client sent. Hop 2 runs the gate's `default.conf` exactly as the program renders it, with only
its two ports substituted, in front of a backend that echoes the headers it got.

ALB's fingerprint format is undocumented, so hop 1 sends it in either of two formats: nginx's own
(SHA-1, lower case, no colons) or SHA-256 upper case with colons (nginx cannot compute that one, so hop 1
looks it up by the SHA-1 in a table of the stack's client certificates).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components import gate
from tests.fakes.tls_provider import FakeTlsProvider
from tests.harness import BASE_CONFIG, run_program
from tests.stack_state import RememberingMocks
from tests.tls_listener import MutualTlsNginx, Nginx

THREE = {**BASE_CONFIG, "clients": ["alice", "bob", "carol"]}
BOB_REVOKED = {**BASE_CONFIG, "clients": ["alice", {"name": "bob", "revoked": True}, "carol"]}
ALBCONFIG = "kubernetes:alibabacloud.com/v1:AlbConfig"
HEADER_VARIABLES = {  # what hop 1 forwards for each xForwardedForConfig alias
    "SubjectDN": "$ssl_client_s_dn",
    "IssuerDN": "$ssl_client_i_dn",
    "Fingerprint": "$alb_fingerprint",
    "ClientVerify": "$ssl_client_verify",
}


def fingerprints(pem: str) -> tuple[str, str]:
    """(SHA-1 lower case without colons, SHA-256 upper case with colons) of a PEM certificate."""
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    sha256 = hashlib.sha256(der).hexdigest().upper()
    return hashlib.sha1(der).hexdigest(), ":".join(sha256[i : i + 2] for i in range(0, len(sha256), 2))


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


class EchoHeaders(BaseHTTPRequestHandler):
    """The app: answers 200 with the request headers it received, as JSON (header names lower-cased)."""

    seen: ClassVar[list[dict[str, str]]] = []
    """The headers of every request that reached it."""

    def do_GET(self):
        headers = {k.lower(): v for k, v in self.headers.items()}
        EchoHeaders.seen.append(headers)
        body = json.dumps(headers).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def app():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHeaders)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def aliases(run) -> dict[str, str]:
    """What the AlbConfig names each forwarded header: `SubjectDN` → its alias, …"""
    (albconfig,) = run.of_type(ALBCONFIG)
    forwarded = albconfig.inputs["spec"]["listeners"][-1]["xForwardedForConfig"]
    prefix = "XForwardedForClientCert"
    return {key[len(prefix) : -len("Alias")]: alias for key, alias in forwarded.items() if key.endswith("Alias")}


def gate_conf(run) -> str:
    (config_map,) = run.of_type("kubernetes:core/v1:ConfigMap")
    return config_map.inputs["data"][gate.CONFIG_KEY]


class Hops:
    """Hop 1 (the ALB stand-in) → hop 2 (the gate, rendered by `run`) → the echoing app."""

    def __init__(self, workdir: Path, stack, run, app_port: int, fingerprint_format: str):
        conf = gate_conf(run)
        assert conf.count("listen 8080;") == 1 and conf.count("proxy_pass http://127.0.0.1:80;") == 1
        self.gate = Nginx(workdir / "gate", "")
        rendered = conf.replace("listen 8080;", f"listen 127.0.0.1:{self.gate.port};").replace(
            "proxy_pass http://127.0.0.1:80;", f"proxy_pass http://127.0.0.1:{app_port};"
        )
        self.gate = Nginx(workdir / "gate", rendered, port=self.gate.port)
        table = "\n".join(
            f"        {sha1} {sha256};"
            for sha1, sha256 in (fingerprints(pem) for pem in stack.runs.before.outputs["clientCertificates"].values())
        )
        lookup = "$ssl_client_fingerprint" if fingerprint_format == "sha1" else '""'
        http = f"    map $ssl_client_fingerprint $alb_fingerprint {{\n        default {lookup};\n"
        http += (table + "\n" if fingerprint_format == "sha256" else "") + "    }\n"
        location = "".join(
            f"            proxy_set_header {alias} {HEADER_VARIABLES[field]};\n"
            for field, alias in aliases(run).items()
        )
        location += f"            proxy_pass http://127.0.0.1:{self.gate.port};\n"
        self.alb = MutualTlsNginx(
            workdir / "alb",
            ca_pem=run.outputs["caCertificatePem"],
            server_cert_pem=run.outputs["serverCertificatePem"],
            server_key_pem=stack.server_key,
            domain=BASE_CONFIG["domain"],
            location=location,
            http=http,
        )

    def __enter__(self):
        self.gate.__enter__()
        try:
            self.alb.__enter__()
        except BaseException:
            self.gate.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        self.alb.__exit__(*exc)
        self.gate.__exit__(*exc)

    def curl(self, files: Path, name: str, headers: dict[str, str] | None = None):
        return self.alb.curl(
            cert=files / f"{name}.crt", key=files / f"{name}.key", cacert=files / "ca.crt", headers=headers
        )


@pytest.fixture(scope="module", params=["sha1", "sha256"])
def revoked_hops(request, stack, app, tmp_path_factory):
    with Hops(tmp_path_factory.mktemp(f"hops-{request.param}"), stack, stack.runs.revoked, app, request.param) as hops:
        yield SimpleNamespace(hops=hops, format=request.param)


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
    with Hops(tmp_path, stack, stack.runs.restored, app, "sha256") as hops:
        for client in THREE["clients"]:
            response = hops.curl(stack.files, client)
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
