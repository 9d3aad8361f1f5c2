"""The gate for real: two nginx hops on 127.0.0.1 (tests/gate_hops.py), the stack's client certificates, curl.

Hop 1 plays the ALB listener, hop 2 runs the gate's `default.conf` exactly as the program renders it (ports
substituted), in front of an app that echoes the headers it got. The stack is updated three times under
`RememberingMocks` (every client active, bob revoked, bob restored), so bob's certificate is the same
throughout, issued an hour before the update that revokes it. partner brought its own key, with a subject
whose DN has commas and characters RFC 2253 escapes.

What ALB does with identity headers a caller sends itself is not documented, so every test of the hops runs
with hop 1 doing each of the three things it might (`ALB_HEADER_MODES`: overwrite, append a line, join into
one line); the two fingerprint formats of gate_hops run with each. The gate's stdout is kept: its identity log,
one JSON line per request.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from components import gate, headers
from tests.fakes.tls_provider import FakeTlsProvider
from tests.gate_hops import ALB_HEADER_MODES, EchoHeaders, Hops, aliases, echo_app, fingerprints, gate_conf
from tests.harness import BASE_CONFIG, run_program
from tests.stack_state import RememberingMocks
from tests.tls_listener import Nginx, free_port, nginx_joining_headers

NAME_HEADER = headers.DEFAULT_CLIENT_NAME_HEADER

PARTNER_KEY = ec.generate_private_key(ec.SECP256R1())
PARTNER_KEY_PEM = PARTNER_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PARTNER_O = 'Example, Inc. "West" + Sons; <R&D>'
PARTNER_CSR = (
    x509.CertificateSigningRequestBuilder()
    .subject_name(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, PARTNER_O),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "#1 lab, 2nd floor"),
                x509.NameAttribute(NameOID.COMMON_NAME, "partner"),
            ]
        )
    )
    .sign(PARTNER_KEY, hashes.SHA256())
    .public_bytes(serialization.Encoding.PEM)
    .decode()
)
PARTNER_DN = r"CN=partner,OU=\#1 lab\, 2nd floor,O=Example\, Inc. \"West\" \+ Sons\; \<R&D\>"
"""partner's subject as nginx's `$ssl_client_s_dn` (RFC 2253) writes it."""
PARTNER = {"name": "partner", "csr": PARTNER_CSR}
THREE = {**BASE_CONFIG, "clients": ["alice", "bob", "carol", PARTNER]}
BOB_REVOKED = {**BASE_CONFIG, "clients": ["alice", {"name": "bob", "revoked": True}, "carol", PARTNER]}
ACTIVE = ("alice", "carol", "partner")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One stack updated three times (all active, bob revoked, bob restored), and its files on disk."""
    mocks = RememberingMocks(tls=FakeTlsProvider(now=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    runs = SimpleNamespace(before=run_program(THREE, mocks=mocks))
    runs.revoked = run_program(BOB_REVOKED, mocks=mocks)
    runs.restored = run_program(THREE, mocks=mocks)
    files = tmp_path_factory.mktemp("clients")
    keys = {**runs.before.outputs["clientPrivateKeys"], "partner": PARTNER_KEY_PEM}
    for name in ("alice", "bob", "carol", "partner"):
        (files / f"{name}.crt").write_text(runs.before.outputs["clientCertificates"][name])
        (files / f"{name}.key").write_text(keys[name])
    (files / "ca.crt").write_text(runs.before.outputs["caCertificatePem"])
    assert runs.revoked.named("client-bob-cert").outputs["certPem"] == (files / "bob.crt").read_text()
    return SimpleNamespace(runs=runs, files=files, server_key=runs.before.named("server-key").outputs["privateKeyPem"])


@pytest.fixture(scope="module")
def app():
    with echo_app() as port:
        yield port


def hops(stack, run, app: int, fingerprint_format: str, workdir, alb_headers: str = "overwrite"):
    return Hops(
        workdir,
        run,
        app,
        fingerprint_format,
        certificates=stack.runs.before.outputs["clientCertificates"].values(),
        server_key_pem=stack.server_key,
        alb_headers=alb_headers,
    )


@pytest.fixture(
    scope="module",
    params=[(mode, form) for mode in ALB_HEADER_MODES for form in ("sha1", "sha256")],
    ids=lambda param: "-".join(param),
)
def revoked_hops(request, stack, app, tmp_path_factory):
    mode, form = request.param
    workdir = tmp_path_factory.mktemp(f"hops-{mode}-{form}")
    with hops(stack, stack.runs.revoked, app, form, workdir, alb_headers=mode) as running:
        yield SimpleNamespace(hops=running, format=form, mode=mode)


def fingerprint_of(stack, client: str, form: str) -> str:
    sha1, sha256 = fingerprints((stack.files / f"{client}.crt").read_text())
    return sha1 if form == "sha1" else sha256


def test_every_active_client_gets_200_and_the_app_sees_its_identity(revoked_hops, stack):
    names = aliases(stack.runs.revoked)
    for client in ACTIVE:
        response = revoked_hops.hops.curl(stack.files, client)
        assert response.status == 200, response
        seen = json.loads(response.body)
        assert seen[names["SubjectDN"]] == (PARTNER_DN if client == "partner" else f"CN={client}")
        assert seen[names["IssuerDN"]] == "CN=alb-mtls test root,O=alb-mtls,C=CN"
        assert seen[names["ClientVerify"]] == "SUCCESS"
        assert seen[names["Fingerprint"]] == fingerprint_of(stack, client, revoked_hops.format)


def test_a_subject_dn_with_commas_and_escaped_characters_passes_as_one_value(revoked_hops, stack):
    """partner's DN holds ", " twice (escaped commas inside its O and OU) and every character RFC 2253 escapes;
    it is one value, and the app gets it whole."""
    response = revoked_hops.hops.curl(stack.files, "partner")
    assert response.status == 200, response
    subject = json.loads(response.body)[aliases(stack.runs.revoked)["SubjectDN"]]
    assert subject == PARTNER_DN and ", " in subject
    assert (
        x509.load_pem_x509_certificate((stack.files / "partner.crt").read_bytes())
        .subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0]
        .value
        == PARTNER_O
    )


def test_a_revoked_client_gets_403_from_the_gate(revoked_hops, stack):
    EchoHeaders.seen.clear()
    response = revoked_hops.hops.curl(stack.files, "bob")
    assert response.status == 403, response
    assert response.body == gate.REVOKED_REASON + "\n"
    assert EchoHeaders.seen == []  # the app never saw the request


def test_a_revoked_client_sending_an_active_clients_fingerprint_is_refused(revoked_hops, stack):
    """Overwritten by ALB, bob's own fingerprint reaches the gate (403); appended or joined, the gate sees two
    values and refuses the request before it looks at either (400)."""
    names = aliases(stack.runs.revoked)
    for form in ("sha1", "sha256"):
        EchoHeaders.seen.clear()
        response = revoked_hops.hops.curl(
            stack.files, "bob", headers={names["Fingerprint"]: fingerprint_of(stack, "alice", form)}
        )
        if revoked_hops.mode == "overwrite":
            assert (response.status, response.body) == (403, gate.REVOKED_REASON + "\n"), response
        else:
            assert response.status == 400, response
            assert response.body == gate.several_values_reason(names["Fingerprint"]) + "\n"
        assert EchoHeaders.seen == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Fingerprint", None),  # carol's: another active client's
        ("Fingerprint", "00"),
        ("SubjectDN", "CN=admin"),
        ("SubjectDN", "CN=alice"),  # the very value ALB sends
        ("IssuerDN", "CN=another root,O=Example\\, Inc."),
        ("ClientVerify", "SUCCESS"),
    ],
)
def test_an_active_client_sending_an_identity_header_of_its_own(revoked_hops, stack, field, value):
    """Appended or joined, the header holds two values: 400, the app never sees an ambiguous identity.
    Overwritten, ALB's value replaced the caller's: 200, and the app sees ALB's."""
    names = aliases(stack.runs.revoked)
    value = value if value is not None else fingerprint_of(stack, "carol", revoked_hops.format)
    EchoHeaders.seen.clear()
    response = revoked_hops.hops.curl(stack.files, "alice", headers={names[field]: value})
    if revoked_hops.mode == "overwrite":
        assert response.status == 200, response
        seen = json.loads(response.body)
        assert seen[names["Fingerprint"]] == fingerprint_of(stack, "alice", revoked_hops.format)
        assert seen[names["SubjectDN"]] == "CN=alice"
        assert seen[names["IssuerDN"]] == "CN=alb-mtls test root,O=alb-mtls,C=CN"
        assert seen[names["ClientVerify"]] == "SUCCESS"
    else:
        assert (response.status, response.body) == (400, gate.several_values_reason(names[field]) + "\n"), response
        assert EchoHeaders.seen == []


def logged(log, request) -> dict:
    """Makes `request()`; the one identity line it wrote to `log(at_least)` (the gate's stdout), parsed."""
    before = len(log())
    response = request()
    lines = log(before + 1)
    time.sleep(0.2)  # a second line of the same request would be written right after the first
    lines = log(before + 1)
    assert len(lines) == before + 1, lines[before:]
    record = json.loads(lines[-1])
    assert list(record) == list(gate.IDENTITY_LOG_FIELDS)
    record["response"] = response
    return record


def test_each_request_writes_one_identity_line_with_its_name_fingerprint_and_status(revoked_hops, stack):
    for client in ACTIVE:
        record = logged(revoked_hops.hops.gate_log, lambda c=client: revoked_hops.hops.curl(stack.files, c))
        assert record["response"].status == 200
        assert record["client"] == client
        assert record["fingerprint"] == fingerprint_of(stack, client, revoked_hops.format)
        assert (record["status"], record["revoked"], record["verify"]) == (200, False, "SUCCESS")
        assert record["subjectDn"] == (PARTNER_DN if client == "partner" else f"CN={client}")
        assert record["issuerDn"] == "CN=alb-mtls test root,O=alb-mtls,C=CN"
        assert (record["method"], record["path"]) == ("GET", "/")
        assert record["host"] == stack.runs.revoked.named("app-ingress").inputs["spec"]["rules"][0]["host"]
        assert record["bytes"] == len(record["response"].body.encode()) and record["duration"] >= 0
        assert dt.datetime.fromisoformat(record["time"]) > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


def test_a_revoked_clients_line_says_revoked_with_403(revoked_hops, stack):
    record = logged(revoked_hops.hops.gate_log, lambda: revoked_hops.hops.curl(stack.files, "bob"))
    assert (record["response"].status, record["status"], record["revoked"]) == (403, 403, True)
    assert record["client"] == "bob"
    assert record["fingerprint"] == fingerprint_of(stack, "bob", revoked_hops.format)
    assert record["bytes"] == len(gate.REVOKED_REASON + "\n")


def test_a_revoked_client_refused_for_another_reason_is_not_logged_as_revoked(revoked_hops, stack):
    """bob sends a subject of his own: where ALB appends or joins, the gate sees two values and answers 400 before
    it looks at the fingerprint, so the line says not revoked, and names no one (the first CN is the caller's
    "alice"); where ALB overwrites, bob is refused as revoked."""
    names = aliases(stack.runs.revoked)
    record = logged(
        revoked_hops.hops.gate_log,
        lambda: revoked_hops.hops.curl(stack.files, "bob", headers={names["SubjectDN"]: "CN=alice"}),
    )
    if revoked_hops.mode == "overwrite":
        assert (record["response"].status, record["status"], record["revoked"], record["client"]) == (
            403,
            403,
            True,
            "bob",
        )
    else:
        assert (record["response"].status, record["status"], record["revoked"], record["client"]) == (
            400,
            400,
            False,
            "",
        )
        assert record["subjectDn"] == "CN=alice, CN=bob"


HOSTILE = 'say "hi" \\"},{"client":"admin\t\x01\x7f é'
"""Quotes, backslashes, a tab and control characters: what a caller could put in a header to break a JSON line."""


def test_values_with_quotes_and_newlines_stay_one_valid_json_line(revoked_hops, stack):
    """A header value cannot hold a newline (nginx ends the header at one), so the newline comes in the path,
    which the log has decoded (`%0A`); the quotes and control characters come in a header and in the path."""
    names = aliases(stack.runs.revoked)
    headers = {"X-Request-Id": HOSTILE, names["IssuerDN"]: HOSTILE}
    record = logged(
        revoked_hops.hops.gate_log,
        lambda: revoked_hops.hops.curl(stack.files, "alice", headers=headers, path="/a%0A%22b%22%0D%5C"),
    )
    assert record["requestId"] == HOSTILE
    assert record["path"] == '/a\n"b"\r\\'
    assert record["client"] == "alice"
    if revoked_hops.mode == "overwrite":
        assert record["issuerDn"] == "CN=alb-mtls test root,O=alb-mtls,C=CN" and record["status"] == 200
    else:  # the caller's value beside ALB's: refused, and logged whole
        assert record["issuerDn"].startswith(HOSTILE + ", ") and record["status"] == 400


@pytest.mark.parametrize(
    "spelling", [NAME_HEADER, NAME_HEADER.upper(), NAME_HEADER.replace("-", "_"), "x-client_name", "x_client-name"]
)
def test_a_callers_own_client_name_never_reaches_the_app(revoked_hops, stack, spelling):
    """Through both hops (hop 1, an nginx, drops the spellings with '_' itself; the gate on its own is tested
    with them below), the app gets one name header: the verified one."""
    EchoHeaders.seen_lines.clear()
    response = revoked_hops.hops.curl(stack.files, "alice", headers={spelling: "admin"})
    assert response.status == 200, response
    (lines,) = EchoHeaders.seen_lines
    named = [(name, value) for name, value in lines if name.lower().replace("_", "-") == NAME_HEADER]
    assert named == [(NAME_HEADER, "alice")], lines


def test_the_app_gets_each_clients_verified_name(revoked_hops, stack):
    for client in ACTIVE:
        response = revoked_hops.hops.curl(stack.files, client)
        assert json.loads(response.body)[NAME_HEADER] == client


def test_restoring_a_client_lets_its_same_certificate_in_again(stack, app, tmp_path):
    with hops(stack, stack.runs.restored, app, "sha256", tmp_path) as running:
        for client in ("alice", "bob", "carol"):
            response = running.curl(stack.files, client)
            assert response.status == 200, (client, response)
            assert json.loads(response.body)["x-forwarded-clientcert-subjectdn"] == f"CN={client}"


def test_the_hops_run_an_nginx_that_joins_a_repeated_header(tmp_path):
    """What the append mode rests on, as the gate's image (nginx 1.27) does it: a header sent on two lines is one
    `$http_…` value, "first, second". nginx before 1.23 answers "first" here, and the hops would not do."""
    port = free_port()
    conf = f'server {{ listen 127.0.0.1:{port}; location / {{ return 200 "$http_x_probe"; }} }}'
    with Nginx(tmp_path, conf, port=port, binary=nginx_joining_headers()):
        done = subprocess.run(
            ["curl", "--silent", "-H", "X-Probe: first", "-H", "x-probe: second", f"http://127.0.0.1:{port}/"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    assert done.stdout == "first, second"


# --- the gate on its own: every fingerprint spelling, the verify result, what one value may hold --------
@pytest.fixture(scope="module")
def gate_only(stack, app, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("gate")
    port = Nginx(workdir, "").port
    conf = gate_conf(stack.runs.revoked).replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("127.0.0.1:80;", f"127.0.0.1:{app};")
    with Nginx(workdir, conf, port=port, binary=nginx_joining_headers(), capture_stdout=True) as nginx:
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
    for fingerprint in (alice_sha1, alice_sha256, sha1[:-2], sha1 + "00", "00" + sha1, sha1[2:]):
        assert get(gate_only.port, {"x-forwarded-clientcert-fingerprint": fingerprint})[0] == 200, fingerprint


def test_the_gate_refuses_a_revoked_fingerprint_wherever_it_stands_in_the_value(gate_only, stack):
    """Independently of the several-values rule (none of these has a comma): a revoked fingerprint anywhere."""
    sha1, sha256 = fingerprints((stack.files / "bob.crt").read_text())
    alice_sha1, _ = fingerprints((stack.files / "alice.crt").read_text())
    for value in (f"{alice_sha1} {sha1}", f"{sha256};{alice_sha1}", f"sha256={sha256}", f"{sha1}\t"):
        status, body = get(gate_only.port, {"x-forwarded-clientcert-fingerprint": value})
        assert (status, body) == (403, gate.REVOKED_REASON + "\n"), value


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


ONE_OR_SEVERAL = [
    # (header, value, status): 400 = more than one value, as two lines joined by nginx ("a, b") would read
    ("fingerprint", "00ff, 11ee", 400),
    ("fingerprint", ", 11ee", 400),  # an empty line of the caller's, then ALB's
    ("fingerprint", "00:FF:11:EE", 200),
    ("clientverify", "SUCCESS, SUCCESS", 400),
    ("clientverify", "NONE, SUCCESS", 400),
    ("clientverify", "SUCCESS, FAILED:unable to get local issuer certificate", 400),
    ("clientverify", "anything, SUCCESS", 400),
    ("clientverify", ", SUCCESS", 400),
    # one FAILED result whose OpenSSL reason has a comma: one value, not a success
    ("clientverify", "FAILED:Certificate Transparency required, but no valid SCTs found", 403),
    ("subjectdn", "CN=partner,O=Example\\, Inc.", 200),  # an escaped comma and a space: one DN
    ("subjectdn", PARTNER_DN, 200),
    ("subjectdn", "CN=admin, CN=alice", 400),
    ("subjectdn", "CN=alice,O=x, CN=alice,O=x", 400),
    ("subjectdn", "anything, CN=alice", 400),
    ("subjectdn", ", CN=alice", 400),
    ("subjectdn", "CN=admin, 2.5.4.3=#0c05616c696365", 400),  # an attribute by its OID
    ("subjectdn", "/CN=admin, /CN=alice", 400),  # OpenSSL's legacy form
    ("subjectdn", "/O=Example, Inc./CN=alice", 200),  # one legacy DN with a comma inside
    ("subjectdn", "CN=x\\, CN=alice", 400),  # a caller's trailing backslash does not hide the second DN
    # the documented limits: a value holding ", X=" is taken for two DNs; OpenSSL's oneline form is not split
    ("subjectdn", "O=Acme\\, OU=Sales,CN=alice", 400),
    ("subjectdn", "C = CN, O = alb-mtls, CN = alice", 200),
    ("issuerdn", "CN=alb-mtls test root,O=alb-mtls,C=CN, CN=alb-mtls test root,O=alb-mtls,C=CN", 400),
    ("issuerdn", "CN=alb-mtls test root,O=alb-mtls,C=CN", 200),
]


@pytest.mark.parametrize(("field", "value", "status"), ONE_OR_SEVERAL)
def test_what_one_value_of_each_header_may_hold(gate_only, field, value, status):
    header = f"x-forwarded-clientcert-{field}"
    got, body = get(gate_only.port, {header: value})
    assert got == status, (value, body)
    if status == 400:
        assert body == gate.several_values_reason(header) + "\n"


def test_the_same_header_spelled_with_underscores_is_another_value(gate_only, stack):
    """A proxy that replaces `x-forwarded-clientcert-fingerprint` by its exact name would pass a caller's
    `x_forwarded_clientcert_fingerprint`; to the gate (and to nginx's `$http_…`) both are one header."""
    sha1, _ = fingerprints((stack.files / "bob.crt").read_text())
    alice_sha1, _ = fingerprints((stack.files / "alice.crt").read_text())
    headers = {"x-forwarded-clientcert-fingerprint": sha1, "x_forwarded_clientcert_fingerprint": alice_sha1}
    assert get(gate_only.port, headers) == (
        400,
        gate.several_values_reason("x-forwarded-clientcert-fingerprint") + "\n",
    )


def test_more_than_one_value_is_refused_before_anything_else(gate_only, stack):
    """A revoked fingerprint and a failed verify result, with a subject of two DNs: 400, not 403."""
    sha1, _ = fingerprints((stack.files / "bob.crt").read_text())
    headers = {
        "x-forwarded-clientcert-fingerprint": sha1,
        "x-forwarded-clientcert-clientverify": "NONE",
        "x-forwarded-clientcert-subjectdn": "CN=admin, CN=bob",
    }
    assert get(gate_only.port, headers) == (400, gate.several_values_reason("x-forwarded-clientcert-subjectdn") + "\n")


def test_the_gate_passes_the_request_on_unchanged(gate_only):
    status, body = get(gate_only.port, {"X-Request-Id": "abc-123", "x_underscored": "kept", "Host": "coffee.example"})
    assert status == 200
    seen = json.loads(body)
    assert seen["x-request-id"] == "abc-123" and seen["x_underscored"] == "kept" and seen["host"] == "coffee.example"


@pytest.mark.parametrize(
    ("subject", "name"),
    [
        ("CN=alice", "alice"),
        (PARTNER_DN, "partner"),  # escaped ',', '+', ';', '"', '<', '#' in the other attributes
        ("O=Example\\, Inc.,CN=dave", "dave"),
        ("C=CN,O=alb-mtls,CN=erin", "erin"),  # "CN" as a value is not the CN
        ("O=x\\,CN=admin,CN=alice", "alice"),  # "x,CN=admin" is O's value: its comma is escaped
        ("OU=a\\+CN=admin,CN=bob", "bob"),  # likewise an escaped '+'
        ("O=CN=admin,CN=carol", "carol"),  # '=' needs no escape in a value
        ("CN=carol+O=x", "carol"),  # a multi-valued attribute
        ("cn=frank", "frank"),  # attribute types are case-insensitive
        ("O=x", None),  # no CN
        ("2.5.4.3=#0c05616c696365", None),  # a CN by its OID, hex-encoded: not decoded
        ("CN=x\\", None),  # a trailing escape: not a valid DN
    ],
)
def test_the_client_name_is_the_subjects_cn(gate_only, subject, name):
    EchoHeaders.seen.clear()
    record = logged(
        gate_only.stdout_lines,
        lambda: get(gate_only.port, {"x-forwarded-clientcert-subjectdn": subject, NAME_HEADER: "admin"}),
    )
    assert record["response"][0] == 200
    (seen,) = EchoHeaders.seen
    assert seen.get(NAME_HEADER) == name
    assert record["client"] == (name or "") and record["subjectDn"] == subject


def test_a_request_without_a_subject_gets_no_name(gate_only):
    """No subject forwarded: no name, and the caller's own is still removed."""
    EchoHeaders.seen.clear()
    assert get(gate_only.port, {NAME_HEADER: "admin"})[0] == 200
    (seen,) = EchoHeaders.seen
    assert NAME_HEADER not in seen


def test_the_gate_removes_every_spelling_of_a_callers_name_header(gate_only):
    """Whatever ALB does with headers whose names hold '_', the gate drops each spelling of the name header: an
    app on a CGI-style framework reads `x_client_name` as `HTTP_X_CLIENT_NAME`, as it does `x-client-name`."""
    spellings = gate.header_spellings(NAME_HEADER)
    assert len(spellings) == 4
    for spelling in [*spellings, NAME_HEADER.upper()]:
        EchoHeaders.seen_lines.clear()
        headers = {"x-forwarded-clientcert-subjectdn": "CN=alice", spelling: "admin"}
        assert get(gate_only.port, headers)[0] == 200
        (lines,) = EchoHeaders.seen_lines
        named = [(name, value) for name, value in lines if name.lower().replace("_", "-") == NAME_HEADER]
        assert named == [(NAME_HEADER, "alice")], (spelling, lines)


def test_the_configured_name_header_is_the_one_the_app_gets(app, tmp_path):
    """`gate.clientNameHeader` set: the program's gate passes the name in that header, drops a caller's own of
    that name in any spelling, and no longer touches `x-client-name`."""
    run = run_program({**BASE_CONFIG, "gate": {"clientNameHeader": "x-partner-id"}})
    port = free_port()
    conf = (
        gate_conf(run)
        .replace("listen 8080;", f"listen 127.0.0.1:{port};")
        .replace("127.0.0.1:80;", f"127.0.0.1:{app};")
    )
    with Nginx(tmp_path, conf, port=port, binary=nginx_joining_headers()):
        EchoHeaders.seen_lines.clear()
        headers = {"x-forwarded-clientcert-subjectdn": "CN=alice", "x_partner_id": "admin", NAME_HEADER: "kept"}
        assert get(port, headers)[0] == 200
    (lines,) = EchoHeaders.seen_lines
    assert [(n.lower(), v) for n, v in lines if n.lower().replace("_", "-") == "x-partner-id"] == [
        ("x-partner-id", "alice")
    ]
    assert [v for n, v in lines if n.lower() == NAME_HEADER] == ["kept"]  # an ordinary header under this setting
