"""`ca.source: pca` through the real Pulumi engine: certificates issued by a private CA whose keys the stack
never holds.

The PCA is `tests/fake_pca.py` on 127.0.0.1 (real CA keys, held by the fake only). In the lifecycle it holds a
root and an issuing sub-CA, as a purchased PCA does, and the stack names the sub-CA by `ca.pcaIssuerIdentifier`;
in the second test the stack creates both (pulumi-alicloud played by tests/engine/alicloud_plugin.py). Its
endpoint answers Certificate Management's 2020-04-07 calls too (the server certificate's upload, through
`tests/fake_cas.py`), as the one real `cas` endpoint does, and the stack reaches both through
`alicloud:endpoints[0].cas`, the setting the README documents. The PCA certificates are the program's dynamic
provider (`components/pca.py`), run by the engine in its own process (`pulumi-resource-pulumi-python`) with the
real `alibabacloud-cas20200630` SDK and the credentials of the environment (ALICLOUD_ACCESS_KEY /
ALICLOUD_SECRET_KEY). What else is real and what plays a part: see tests/test_engine_lifecycle.py.

Found by the lifecycle and fixed in components/pca.py: revoking a client failed every preview (and so every
`up`), because the engine does not preview a dynamic provider's update and the revoked certificate's outputs
were unknown there.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.issuer import certificate_identity
from tests.engine.workspace import EngineWorkspace
from tests.fake_cas import FakeCas
from tests.fake_pca import FakePca
from tests.test_engine_lifecycle import configure, managed, operations, rendered
from tests.test_pki import private_keys_in, public_der

PCA_CERTIFICATE = "alicloud:sslcertificatesservice/pcaCertificate:PcaCertificate"
PCA_CREATES_CAS = (  # the README's "Private CA (PCA)" configuration, for CAs the stack creates
    "pulumi config set --path ca.source pca\n"
    "pulumi config set --path ca.organizationalUnit Platform\n"
    "pulumi config set --path ca.province Zhejiang\n"
    "pulumi config set --path ca.locality Hangzhou\n"
    "pulumi config set --path ca.algorithm ECDSA\n"
    "pulumi config set --path clientDefaults.algorithm ECDSA\n"
)
pytestmark = pytest.mark.engine
DYNAMIC = "pulumi-python:dynamic:Resource"
CLIENTS = ("alice", "build-bot", "carol")
"""The README's configuration example's two clients, and carol, who is removed at the end."""


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[1]


def pca_certificates(ws: EngineWorkspace) -> dict[str, dict]:
    """Resource name -> state of every PCA certificate (the dynamic resources issued from a CSR)."""
    return {
        name_of(urn): r for urn, r in managed(ws).items() if r["type"] == DYNAMIC and "csr_pem" in r.get("inputs", {})
    }


def verify(bundle: str, root_pem: str, sub_pem: str, directory: Path) -> subprocess.CompletedProcess:
    """`openssl verify -x509_strict -purpose sslclient` of the first certificate of `bundle` against the PCA's
    root (trusted) and sub-CA (untrusted), both as the fake holds them."""
    directory.mkdir(parents=True, exist_ok=True)
    leaf = x509.load_pem_x509_certificates(bundle.encode())[0]
    (directory / "leaf.crt").write_text(_pem(leaf))
    (directory / "root.crt").write_text(root_pem)
    (directory / "sub.crt").write_text(sub_pem)
    return subprocess.run(
        ["openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "root.crt"]
        + ["-untrusted", "sub.crt", "leaf.crt"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


def test_pca_lifecycle(workspace: EngineWorkspace, fake_pca: FakePca, fake_cas: FakeCas, tmp_path: Path):
    """An existing sub-CA named by identifier: preview, up, what ALB and the clients get, no CA key in the
    stack, an up that changes nothing, revoking a client, removing one, destroy."""
    ws, render, pca = workspace, tmp_path / "rendered", fake_pca.pca
    issuer = pca.issuing_ca("Example Corp PCA root", algorithm="ECC_256")  # bought and set up in the console
    root = issuer.parent
    assert root is not None
    configure(ws, fake_pca, render)  # the README's configuration commands; alicloud:endpoints -> the fake
    done = ws.shell(
        "pulumi config set --path ca.source pca\n"
        "pulumi config set --path ca.algorithm ECDSA\n"
        f"pulumi config set --path ca.pcaIssuerIdentifier {issuer.identifier}\n"
        "pulumi config set --path 'clients[2]' carol\n"
    )
    assert done.returncode == 0, done.stderr

    # -- preview: plans the certificates from the PCA, creates no CA, calls nothing that writes ----------
    steps = operations(ws, "--policy-pack", "policy")
    planned = {name_of(urn): op for urn, op in steps.items()}
    certs = {f"client-{c}-cert" for c in CLIENTS} | {"server-cert"}
    assert {name for name, op in planned.items() if op == "create"} >= certs | {"mtls-server-cert", "mtls-albconfig"}
    signing = ("sslcertificatesservicepca", "tls:index/selfSignedCert", "tls:index/locallySignedCert")
    signed = [urn for urn in steps if any(t in urn for t in signing)]
    # The only certificates made in the stack are the keys' rotation clocks: self-signed, signed by no CA.
    assert {name_of(urn) for urn in signed} == {
        f"{who}-key-clock" for who in [*(f"client-{c}" for c in CLIENTS), "server"]
    }
    assert "mtls-ca" not in planned, "the CA is registered in Certificate Management"
    assert pca.issued == {} and fake_cas.user_certificates() == []
    assert not list(render.rglob("*.yaml")), "preview wrote manifests"

    # -- up: every certificate issued by the named sub-CA ---------------------------------------------
    ws.pulumi("up", "--yes", "--policy-pack", "policy")
    state = pca_certificates(ws)
    assert set(state) == certs
    assert {state[n]["id"] for n in certs} == set(pca.issued), "the state's certificates are not the PCA's"
    assert {i.parent.identifier for i in pca.issued.values()} == {issuer.identifier}
    assert sorted(i.kind for i in pca.issued.values()) == ["client", "client", "client", "server"]

    # The listener trusts the sub-CA by its identifier (nothing uploaded for it); its own certificate is the
    # PCA's server certificate, uploaded to Certificate Management with its key.
    assert fake_cas.ca_certificates() == [], "a CA certificate was uploaded in PCA mode"
    (server_upload,) = fake_cas.user_certificates()
    assert server_upload["has_key"]
    server = pca.issued[state["server-cert"]["id"]]
    assert x509.load_pem_x509_certificate(server_upload["cert"].encode()) == server.cert
    alb = rendered(render)["AlbConfig/alb-mtls"]
    https = next(listener for listener in alb["spec"]["listeners"] if listener["protocol"] == "HTTPS")
    assert https["caCertificates"] == [{"CertificateId": issuer.identifier}]
    assert https["certificates"] == [{"CertificateId": f"{server_upload['cert_id']}-cn-hangzhou", "IsDefault": True}]

    # Each client's certificate verifies strictly against the PCA's root and sub-CA, as the fake holds them.
    outputs = ws.outputs(show_secrets=True)
    assert outputs["caCertificatePem"] == _pem(root.cert)
    assert set(outputs["clientCertificates"]) == set(CLIENTS)
    for name, bundle in outputs["clientCertificates"].items():
        presented = x509.load_pem_x509_certificates(bundle.encode())
        assert presented[1:] == [issuer.cert], f"{name} does not present its certificate and the sub-CA"
        assert presented[0].subject.rfc4514_string() == f"CN={name}"
        checked = verify(bundle, _pem(root.cert), _pem(issuer.cert), tmp_path / "verify" / name)
        assert checked.returncode == 0, f"{name}: {checked.stdout}{checked.stderr}"

    # No CA key anywhere: every private key in the state (secrets decrypted) or the outputs is an end entity's.
    ca_public = {public_der(a.key.public_key()) for a in pca.authorities.values()}
    everything = [ws.resources(show_secrets=True), outputs, ws.state_file()]
    found = {key for _, key in private_keys_in(everything)}
    assert not found & ca_public, "a PCA private key is in the stack"
    end_entities = {public_der(pca.issued[state[n]["id"]].cert.public_key()) for n in certs}
    clocks = {  # the keys' rotation clocks sign only themselves
        public_der(x509.load_pem_x509_certificate(r["outputs"]["certPem"].encode()).public_key())
        for r in ws.resources()
        if r["type"] == "tls:index/selfSignedCert:SelfSignedCert" and r["urn"].endswith("-key-clock")
    }
    assert len(clocks) == len(certs)
    assert found == end_entities | clocks, "the state holds keys other than the clients', the server's and clocks'"

    # -- a second up changes nothing and issues nothing ----------------------------------------------
    issues = len(fake_pca.calls("CreateClientCertificateWithCsr")) + len(
        fake_pca.calls("CreateServerCertificateWithCsr")
    )
    assert issues == 4
    ws.pulumi("up", "--yes", "--expect-no-changes")
    assert len(pca.issued) == 4
    assert (
        len(fake_pca.calls("CreateClientCertificateWithCsr")) + len(fake_pca.calls("CreateServerCertificateWithCsr"))
        == issues
    )

    # -- revoking build-bot (README "Revoking a client"): revoked once in the PCA, refused by the gate --------
    held = outputs["clientCertificates"]["build-bot"]
    build_bot = state["client-build-bot-cert"]["id"]
    ws.pulumi("config", "set", "--path", "clients[1].revoked", "true")
    planned = {name_of(urn): op for urn, op in operations(ws).items() if "pulumi:pulumi:Stack" not in urn}
    # The same certificate, revoked in place; only the gate changes besides: its ConfigMap under a new name
    # (created before the old one is deleted) and the Deployment updated to mount it, a rolling update.
    assert planned == {"client-build-bot-cert": "update", "app-gate-config": "replace", "app-deployment": "update"}
    ws.pulumi("up", "--yes")
    assert pca.revocations == [build_bot]
    assert pca.issued[build_bot].status == "REVOKE"
    assert [c.params["Identifier"] for c in fake_pca.calls("CreateRevokeClientCertificate")] == [build_bot]
    after = pca_certificates(ws)
    assert after["client-build-bot-cert"]["id"] == build_bot and after["client-build-bot-cert"]["protect"]
    revoked_outputs = ws.outputs(show_secrets=True)
    assert "build-bot" not in revoked_outputs["clientCertificates"]
    identity = certificate_identity(_pem(x509.load_pem_x509_certificates(held.encode())[0]))
    assert revoked_outputs["revokedClients"]["build-bot"]["sha256Fingerprint"] == identity["sha256Fingerprint"]
    gate = next(m for key, m in rendered(render).items() if key.startswith("ConfigMap/"))
    conf = "\n".join(gate["data"].values()).lower()
    assert identity["sha256Fingerprint"].lower().replace(":", ":?") in conf, "the gate does not refuse build-bot"

    # -- removing carol deletes only her resources (and revokes her certificate in the PCA) -------------
    before = managed(ws)
    carol = state["client-carol-cert"]["id"]
    ws.pulumi("config", "rm", "--path", "clients[2]")
    ws.pulumi("up", "--yes")
    after_removal = managed(ws)
    gone = {name_of(urn) for urn in set(before) - set(after_removal)}
    parts = ("key-clock-key", "key-clock", "key", "csr", "cert")
    assert gone == {"client-carol", *(f"client-carol-{part}" for part in parts)}, gone
    assert set(after_removal) <= set(before)
    for urn, resource in after_removal.items():
        assert resource.get("outputs") == before[urn].get("outputs"), f"{urn} changed when carol was removed"
    assert pca.revocations == [build_bot, carol]
    assert len(pca.issued) == 4

    # -- clean up: after unprotecting, destroy revokes every certificate the stack still holds -----------
    ws.pulumi("state", "unprotect", "--all", "--yes")
    ws.pulumi("destroy", "--yes")
    assert {i.status for i in pca.issued.values()} == {"REVOKE"}
    assert sorted(pca.revocations) == sorted(pca.issued)
    assert fake_cas.user_certificates() == []
    assert [r for r in ws.resources() if r["type"] != "pulumi:pulumi:Stack"] == []


def test_pca_root_and_sub_ca_created_by_the_stack(workspace: EngineWorkspace, fake_pca: FakePca, tmp_path: Path):
    """Without `ca.pcaIssuerIdentifier` the stack creates the root and the issuing sub-CA in the PCA
    (pulumi-alicloud's `sslcertificatesservicepca.Certificate`, played by tests/engine/alicloud_plugin.py over
    the real SDK), issues from the sub-CA it just made (its identifier unknown in the preview), and a second
    `up` finds the CAs as it left them."""
    ws, render, pca = workspace, tmp_path / "rendered", fake_pca.pca
    configure(ws, fake_pca, render)
    done = ws.shell(PCA_CREATES_CAS)
    assert done.returncode == 0, done.stderr

    planned = {name_of(urn): op for urn, op in operations(ws, "--policy-pack", "policy").items()}
    assert planned["pca-root"] == planned["pca-issuer"] == "create", planned
    assert pca.authorities == {} and pca.issued == {}

    ws.pulumi("up", "--yes", "--policy-pack", "policy")
    cas = {name_of(urn): r for urn, r in managed(ws).items() if r["type"] == PCA_CERTIFICATE}
    assert set(cas) == {"pca-root", "pca-issuer"} and all(r["protect"] for r in cas.values())
    root, issuer = pca.authorities[cas["pca-root"]["id"]], pca.authorities[cas["pca-issuer"]["id"]]
    assert set(pca.authorities) == {root.identifier, issuer.identifier}
    assert root.parent is None and issuer.parent is root
    listed = root.listing(), issuer.listing()
    subject = ("Organization", "OrganizationUnit", "CountryCode", "State", "Locality", "FullAlgorithm")
    for ca in listed:
        assert tuple(ca[k] for k in subject) == ("alb-mtls", "Platform", "CN", "Zhejiang", "Hangzhou", "ECC_256")
    assert (listed[0]["CommonName"], listed[1]["CommonName"]) == (
        "Example Corp root CA",
        "Example Corp root CA issuing CA",
    )
    assert (listed[0]["Years"], listed[1]["Years"]) == (10, 9)  # ca.validityDays 3650; the sub-CA ends first
    assert {i.parent.identifier for i in pca.issued.values()} == {issuer.identifier}

    alb = rendered(render)["AlbConfig/alb-mtls"]
    https = next(listener for listener in alb["spec"]["listeners"] if listener["protocol"] == "HTTPS")
    assert https["caCertificates"] == [{"CertificateId": issuer.identifier}]
    outputs = ws.outputs(show_secrets=True)
    assert outputs["caCertificatePem"] == _pem(root.cert)
    for name, bundle in outputs["clientCertificates"].items():
        checked = verify(bundle, _pem(root.cert), _pem(issuer.cert), tmp_path / "verify" / name)
        assert checked.returncode == 0, f"{name}: {checked.stdout}{checked.stderr}"
    ca_public = {public_der(a.key.public_key()) for a in pca.authorities.values()}
    found = {key for _, key in private_keys_in([ws.resources(show_secrets=True), outputs])}
    assert found and not found & ca_public, "a PCA private key is in the stack"

    ws.pulumi("up", "--yes", "--expect-no-changes")
    assert len(pca.authorities) == 2 and len(pca.issued) == 3


PREVIOUS_PROGRAM = "2efdfc9^"
"""The last revision of the program whose CAs were the deprecated `sslcertificatesservicepca.Certificate` and whose
certificates' CustomIdentifiers named no owner (and whose doubles took plain HTTP from an `http://` endpoint)."""


def partner_request(directory: Path) -> tuple[Path, str]:
    """A partner's key (kept in `directory`) and its CSR, as the README's `openssl req` makes them."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / "partner-a.key"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "partner-a")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return key_file, csr.public_bytes(serialization.Encoding.PEM).decode()


def test_two_stacks_on_one_sub_ca_never_share_a_certificate(fake_pca: FakePca, fake_cas: FakeCas, tmp_path: Path):
    """Staging and production, the same PCA and sub-CA, the same partner CSR in both: two certificates; destroying
    staging revokes exactly its own, and production's partner still gets 200 from nginx trusting the sub-CA."""
    from tests.engine.workspace import EngineWorkspace, require_engine
    from tests.tls_listener import MutualTlsNginx

    require_engine()
    pca = fake_pca.pca
    issuer = pca.issuing_ca("Example Corp PCA root", algorithm="ECC_256")
    key_file, csr = partner_request(tmp_path / "partner")
    csr_file = tmp_path / "partner" / "partner-a.csr"
    csr_file.write_text(csr)
    stacks = {}
    for name in ("staging", "production"):
        ws = EngineWorkspace(tmp_path / name, stack=name)
        configure(ws, fake_pca, tmp_path / name / "rendered")
        done = ws.shell(
            "pulumi config set --path ca.source pca\n"
            "pulumi config set --path ca.algorithm ECDSA\n"
            f"pulumi config set --path ca.pcaIssuerIdentifier {issuer.identifier}\n"
            "pulumi config set --path 'clients[2].name' partner-a\n"
            f"pulumi config set --path 'clients[2].csr' -- \"$(cat {csr_file})\"\n"
        )
        assert done.returncode == 0, done.stderr
        ws.pulumi("up", "--yes")
        stacks[name] = ws
    ids = {name: pca_certificates(ws)["client-partner-a-cert"]["id"] for name, ws in stacks.items()}
    assert ids["staging"] != ids["production"], "both stacks hold one certificate"
    assert len({pca.issued[i].custom_identifier for i in ids.values()}) == 2

    staging, production = stacks["staging"], stacks["production"]
    held_by_staging = {r["id"] for r in pca_certificates(staging).values()}
    staging.pulumi("state", "unprotect", "--all", "--yes")
    staging.pulumi("destroy", "--yes")
    assert set(pca.revocations) == held_by_staging, "staging's destroy revoked something it does not hold"
    assert pca.issued[ids["production"]].status == "ISSUE"
    assert {pca.issued[r["id"]].status for r in pca_certificates(production).values()} == {"ISSUE"}

    # production's partner, with its own key, through nginx trusting the sub-CA (and its root, the anchor).
    bundle = production.outputs(show_secrets=True)["clientCertificates"]["partner-a"]
    (tmp_path / "partner" / "partner-a.crt").write_text(bundle)
    server_key_file = tmp_path / "server.key"
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coffee.example.com")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("coffee.example.com")]), critical=False)
        .sign(server_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    server = pca.issue(issuer.identifier, server_csr, kind="server", days=30, custom_identifier="nginx-under-test",
                       domain="coffee.example.com")  # fmt: skip
    anchor = _pem(issuer.cert) + _pem(issuer.parent.cert)
    (tmp_path / "anchor.crt").write_text(anchor)
    with MutualTlsNginx(
        tmp_path / "nginx",
        ca_pem=anchor,
        server_cert_pem=_pem(server.cert) + _pem(issuer.cert),
        server_key_pem=server_key_file.read_text(),
        domain="coffee.example.com",
        verify_depth=2,
    ) as nginx:
        response = nginx.curl(cert=tmp_path / "partner" / "partner-a.crt", key=key_file, cacert=tmp_path / "anchor.crt")
        assert response.status == 200, response
        assert "CN=partner-a" in response.body


def test_a_stack_of_the_previous_program_moves_without_replacing_issuing_or_revoking(fake_pca: FakePca, tmp_path: Path):
    """Deployed by the previous program (deprecated CA type, identifiers without owner, its doubles), then `up`
    with this one: no replace, no delete, nothing issued or revoked, and no deprecation warning."""
    from tests.engine.workspace import EngineWorkspace, previous_doubles, require_engine

    require_engine()
    pca = fake_pca.pca
    ws = EngineWorkspace(tmp_path / "ws")
    ws.use_program(PREVIOUS_PROGRAM)
    configure(ws, fake_pca, tmp_path / "rendered")
    done = ws.shell(
        PCA_CREATES_CAS
        # the previous program took plain HTTP from an `http://` endpoint, and its doubles too
        + f"pulumi config set --path 'alicloud:endpoints[0].cas' http://{fake_pca.endpoint}\n"
        "pulumi config rm alicloud:protocol\n"
    )
    assert done.returncode == 0, done.stderr
    old_path = os.pathsep.join([str(previous_doubles(PREVIOUS_PROGRAM, tmp_path / "previous")), ws.env()["PATH"]])
    old_up = ws.pulumi("up", "--yes", env={"PATH": old_path})
    assert "deprecated" in old_up.stdout + old_up.stderr  # the previous program's CAs announced it
    before = {urn.rsplit("::", 1)[1]: r for urn, r in managed(ws).items()}
    assert {before["pca-root"]["type"], before["pca-issuer"]["type"]} == {
        "alicloud:sslcertificatesservicepca/certificate:Certificate"
    }
    issued, revoked = set(pca.issued), list(pca.revocations)

    ws.use_program()  # this program, its doubles, the provider settings as the provider reads them
    ws.pulumi("config", "set", "--path", "alicloud:endpoints[0].cas", fake_pca.endpoint)
    ws.pulumi("config", "set", "alicloud:protocol", "HTTP")
    preview = ws.pulumi("preview", "--json")
    planned = {name_of(urn): op for urn, op in ws.changes(preview.stdout).items()}
    # The gate's default.conf itself changed since that revision (it refuses identity headers holding more than
    # one value): a changed gate is rolled out as a new ConfigMap under a new name, as every gate change is.
    assert (
        planned.pop("app-gate-config", "replace") == "replace" and planned.pop("app-deployment", "update") == "update"
    )
    # Each generated key gets its rotation clock (and the clock its key), and the trust anchor is looked up from
    # the issuing CA: created, nothing else.
    clocks = {n for n in planned if n.endswith(("-key-clock", "-key-clock-key")) or n == "pca-trust-anchor"}
    assert clocks and {planned.pop(n) for n in clocks} == {"create"}, clocks
    assert not {n: op for n, op in planned.items() if op in ("create", "replace", "delete", "create-replacement",
                                                              "delete-replaced")}, planned  # fmt: skip
    assert "deprecated" not in (preview.stdout + preview.stderr).lower()
    up = ws.pulumi("up", "--yes")
    assert "deprecated" not in (up.stdout + up.stderr).lower()
    after = {urn.rsplit("::", 1)[1]: r for urn, r in managed(ws).items()}
    assert {after["pca-root"]["type"], after["pca-issuer"]["type"]} == {
        "alicloud:sslcertificatesservice/pcaCertificate:PcaCertificate"
    }
    assert (
        after["pca-root"]["id"] == before["pca-root"]["id"] and after["pca-issuer"]["id"] == before["pca-issuer"]["id"]
    )
    for name, resource in before.items():
        if "csr_pem" in resource.get("inputs", {}):
            assert after[name]["id"] == resource["id"], f"{name} was re-issued"
    assert set(pca.issued) == issued and pca.revocations == revoked
    ws.pulumi("up", "--yes", "--expect-no-changes")
    assert set(pca.issued) == issued and pca.revocations == revoked
