"""The whole lifecycle through the real Pulumi engine, driven as a user drives it.

What is real here: the `pulumi` CLI (v3.274.0, built from Go modules by `make engine`), its local file
backend with passphrase-encrypted secrets, the policy pack, the program's dynamic provider (the CA
registration, run by the engine in its own process with the real `alibabacloud-cas20200407` SDK), the
real Kubernetes provider (render mode: no cluster), and the real `pulumi-language-python-exec`.
What plays a part: the Python language host (tests/engine/language_host.py, because the proxy does
not serve the Go module), pulumi-tls and pulumi-alicloud (Python plugins in tests/engine/, sharing
tests/fakes/tls_provider.py with the mock tests), and Certificate Management (tests/fake_cas.py on
127.0.0.1, reached through the alicloud provider's own `alicloud:endpoints` setting).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from alibabacloud_cas20200407 import models
from alibabacloud_cas20200407.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components import gate
from tests.engine.plugin import NOW_VARIABLE
from tests.engine.workspace import ACCESS_KEY, ROOT, EngineWorkspace
from tests.fake_cas import FakeCas
from tests.tls_listener import MutualTlsNginx

pytestmark = pytest.mark.engine
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "albconfig.schema.json").read_text())
KUBERNETES_VERSION = kubernetes_validate.utils.latest_version()
PRIVATE_KEY_PEM = re.compile(r"-----BEGIN (RSA |EC |ENCRYPTED |OPENSSH )?PRIVATE KEY-----")
CLIENT_CERT = ROOT / "scripts" / "client-cert"
RENDERED = "**kubernetes:**"
"""The README's `--exclude` pattern for the Kubernetes objects (and their provider) in render mode."""


def readme_config_commands() -> str:
    """The `pulumi config set` examples of the README's Configuration section, as written there."""
    section = (ROOT / "README.md").read_text().split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the README's Configuration section has no ```bash block of `pulumi config set` examples"
    lines = [line for line in block.group(1).splitlines() if line.startswith("pulumi config set")]
    assert lines, "the README's Configuration example block holds no `pulumi config set` command"
    return "\n".join(lines)


def readme_revoking_commands() -> tuple[str, str]:
    """The `pulumi config` commands of docs/revocation.md's Revoking a client section, as written there: (revoke, restore),
    from its first two ```bash blocks."""
    section = (ROOT / "docs" / "revocation.md").read_text().split("\n## Revoking a client", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    assert len(blocks) >= 2, "docs/revocation.md's Revoking a client section has no revoke and restore ```bash blocks"
    commands = []
    for block in blocks[:2]:
        lines = [line for line in block.splitlines() if line.startswith("pulumi config")]
        assert lines, f"a revoking block of docs/revocation.md holds no `pulumi config` command:\n{block}"
        commands.append("\n".join(lines))
    return commands[0], commands[1]


def readme_stack(ws: EngineWorkspace, fake: FakeCas) -> None:
    """`stack init` and the README's config commands, with Certificate Management at the fake (plain HTTP)."""
    ws.pulumi("stack", "init", ws.stack)
    done = ws.shell(readme_config_commands())
    assert done.returncode == 0, f"the README's config commands failed:\n{done.stderr}"
    ws.pulumi("config", "set", "alicloud:region", "cn-hangzhou")
    ws.pulumi("config", "set", "--path", "alicloud:endpoints[0].cas", fake.endpoint)
    ws.pulumi("config", "set", "alicloud:protocol", "HTTP")  # the fake speaks plain HTTP


def configure(ws: EngineWorkspace, fake: FakeCas, render: Path) -> None:
    readme_stack(ws, fake)
    ws.pulumi("config", "set", "renderDirectory", str(render))


def rendered(render: Path) -> dict[str, dict]:
    """kind/name -> object, for every manifest the Kubernetes provider wrote."""
    found = {}
    for path in sorted(render.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found[f"{document['kind']}/{document['metadata']['name']}"] = document
    return found


def server_key(fake: FakeCas, cert_id: int) -> str:
    """The server key as ALB gets it: from Certificate Management (GetUserCertificateDetail)."""
    config = Config(
        endpoint=fake.endpoint,
        protocol="http",
        region_id="cn-hangzhou",
        access_key_id=ACCESS_KEY[0],
        access_key_secret=ACCESS_KEY[1],
    )
    detail = Client(config).get_user_certificate_detail(models.GetUserCertificateDetailRequest(cert_id=cert_id))
    return detail.body.key


def operations(ws: EngineWorkspace, *args: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """URN -> planned operation (other than `same`) of `pulumi preview --json ARGS`."""
    return ws.changes(ws.pulumi("preview", "--json", *args, env=env).stdout)


def hand_out(ws: EngineWorkspace, client: str, directory: Path) -> Path:
    """`scripts/client-cert CLIENT DIRECTORY` in the project, reading `pulumi stack output` as a user's would."""
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(CLIENT_CERT), client, str(directory)],
        cwd=ws.project,
        env=ws.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return directory


def managed(ws: EngineWorkspace) -> dict[str, dict]:
    """URN -> state of every resource but the stack and the providers (which carry the stack's config)."""
    return {
        r["urn"]: r
        for r in ws.resources(show_secrets=True)
        if r["type"] != "pulumi:pulumi:Stack" and not r["type"].startswith("pulumi:providers:")
    }


def test_lifecycle(workspace: EngineWorkspace, fake_cas: FakeCas, tmp_path: Path):
    ws, render = workspace, tmp_path / "rendered"
    configure(ws, fake_cas, render)
    # A partner that brings its own key: key and CSR made outside the stack, the CSR set as the README says.
    partner = tmp_path / "partner-a"
    partner.mkdir()
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        + ["-keyout", "partner-a.key", "-out", "partner-a.csr", "-subj", "/CN=partner-a"],
        cwd=partner,
        check=True,
        capture_output=True,
    )
    done = ws.shell(
        f"pulumi config set --path 'clients[2].name' partner-a && "
        f"pulumi config set --path 'clients[2].csr' -- \"$(cat {partner}/partner-a.csr)\""
    )
    assert done.returncode == 0, done.stderr

    # -- preview with the policy pack: lists what it will create, writes nothing -------------------
    preview = ws.pulumi("preview", "--json", "--policy-pack", "policy")
    planned = ws.changes(preview.stdout)
    names = {urn.rsplit("::", 1)[1] for urn, op in planned.items() if op == "create"}
    for expected in ("root-ca-key", "root-ca-cert", "client-alice-cert", "client-build-bot-cert", "server-cert"):
        assert expected in names, f"preview does not plan {expected}: {sorted(names)}"
    assert {"mtls-ca", "mtls-server-cert", "mtls-albconfig", "mtls-ingress-class"} <= names
    assert not render.exists() or not list(render.rglob("*.yaml")), "preview wrote manifests"
    assert fake_cas.ca_certificates() == [] and fake_cas.user_certificates() == []

    # -- up ----------------------------------------------------------------------------------------
    ws.pulumi("up", "--yes", "--policy-pack", "policy")
    cas, users = fake_cas.ca_certificates(), fake_cas.user_certificates()
    assert len(cas) == 1 and len(users) == 1, f"CA certificates {len(cas)}, server certificates {len(users)}"
    assert PRIVATE_KEY_PEM.search(cas[0]["cert"]) is None, "the CA registration uploaded a private key"
    assert users[0]["has_key"]
    outputs = ws.outputs(show_secrets=True)
    assert x509.load_pem_x509_certificate(cas[0]["cert"].encode()) == x509.load_pem_x509_certificate(
        outputs["caCertificatePem"].encode()
    )

    manifests = rendered(render)
    for manifest in manifests.values():
        if manifest["kind"] == "AlbConfig":
            jsonschema.validate(manifest, SCHEMA)
        else:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    alb = manifests["AlbConfig/alb-mtls"]
    https = next(listener for listener in alb["spec"]["listeners"] if listener["protocol"] == "HTTPS")
    assert https["caCertificates"] == [{"CertificateId": cas[0]["identifier"]}]
    assert https["certificates"] == [{"CertificateId": f"{users[0]['cert_id']}-cn-hangzhou", "IsDefault": True}]
    assert {"IngressClass/alb-mtls", "Deployment/coffee", "Service/coffee-svc", "Ingress/coffee-ingress"} <= set(
        manifests
    )

    # -- the state holds no private key in plain text; the outputs say which are secret ------------
    state_text = json.dumps(ws.state_file())
    assert PRIVATE_KEY_PEM.search(state_text) is None, "a private key is stored in plain text in the state"
    plain_outputs = ws.outputs()
    assert plain_outputs["clientPrivateKeys"] == "[secret]"
    assert set(outputs["clientPrivateKeys"]) == {"alice", "build-bot"}, "partner-a's key is its own"
    assert set(outputs["clientCertificates"]) == {"alice", "build-bot", "partner-a"}

    # -- hand alice her certificate and call nginx requiring client certificates -------------------
    key = server_key(fake_cas, users[0]["cert_id"])
    with MutualTlsNginx(
        tmp_path / "nginx",
        ca_pem=outputs["caCertificatePem"],
        server_cert_pem=outputs["serverCertificatePem"],
        server_key_pem=key,
        domain="coffee.example.com",
    ) as nginx:
        alice = hand_out(ws, "alice", tmp_path / "alice")
        ok = nginx.curl(cert=alice / "alice.crt", key=alice / "alice.key", cacert=alice / "ca.crt")
        assert ok.status == 200, ok
        refused = nginx.curl(cacert=alice / "ca.crt")
        assert refused.status == 400 and "No required SSL certificate was sent" in refused.body, refused

        # The partner gets its certificate and the CA, no key, and calls with the key it kept.
        handed = hand_out(ws, "partner-a", tmp_path / "handed")
        assert sorted(p.name for p in handed.iterdir()) == ["ca.crt", "partner-a.crt"]
        ok = nginx.curl(cert=handed / "partner-a.crt", key=partner / "partner-a.key", cacert=handed / "ca.crt")
        assert ok.status == 200, ok

    # -- a second up changes nothing ---------------------------------------------------------------
    ws.pulumi("preview", "--expect-no-changes")
    ws.pulumi("up", "--yes", "--expect-no-changes")

    # -- adding a client (a plain name, as the README's configuration example adds alice) changes only that
    #    client's resources ---------------------------------------------------------------------------
    before = managed(ws)
    ws.pulumi("config", "set", "--path", "clients[3]", "bob")
    changed = {urn: op for urn, op in operations(ws).items() if "pulumi:pulumi:Stack" not in urn}
    bob = {"client-bob", *(f"client-bob-{part}" for part in ("key-clock-key", "key-clock", "key", "csr", "cert"))}
    assert {urn.rsplit("::", 1)[1] for urn in changed} == bob, changed
    assert set(changed.values()) == {"create"}, changed
    ws.pulumi("up", "--yes")
    after = managed(ws)
    assert {urn.rsplit("::", 1)[1] for urn in set(after) - set(before)} == bob
    for urn, resource in before.items():
        assert after[urn].get("outputs") == resource.get("outputs"), f"{urn} changed when bob was added"

    # -- revoking bob with the README's commands as written (his entry is the plain name "bob"): the gate's
    #    ConfigMap is replaced under a new name, created first, and the Deployment updated to mount it (a
    #    rolling update), not deleted and re-created -------------------------------------------------
    revoke, restore = readme_revoking_commands()
    done = ws.shell(revoke)
    assert done.returncode == 0, f"the README's revoke commands failed:\n{done.stderr}"
    planned = {urn.rsplit("::", 1)[1]: op for urn, op in operations(ws).items() if "Stack" not in urn}
    assert planned == {"app-gate-config": "replace", "app-deployment": "update"}, planned
    gate_before = {k for k in rendered(render) if k.startswith("ConfigMap/")}
    ws.pulumi("up", "--yes")
    manifests = rendered(render)
    (gate_after,) = {k for k in manifests if k.startswith("ConfigMap/")}
    assert gate_after not in gate_before and gate_after.startswith("ConfigMap/coffee-gate-"), (gate_before, gate_after)
    volumes = manifests["Deployment/coffee"]["spec"]["template"]["spec"]["volumes"]
    assert [v["configMap"]["name"] for v in volumes if "configMap" in v] == [gate_after.split("/", 1)[1]]
    revoked_outputs = ws.outputs()
    assert sorted(revoked_outputs["revokedClients"]) == ["bob"]
    assert "bob" not in revoked_outputs["clientCertificates"]
    fingerprint = revoked_outputs["revokedClients"]["bob"]["sha256Fingerprint"]
    assert gate.fingerprint_pattern(fingerprint) in manifests[gate_after]["data"][gate.CONFIG_KEY]
    done = ws.shell(restore)  # restored with the README's commands: the gate as it was
    assert done.returncode == 0, f"the README's restore commands failed:\n{done.stderr}"
    ws.pulumi("up", "--yes")
    assert {k for k in rendered(render) if k.startswith("ConfigMap/")} == gate_before
    assert "bob" in ws.outputs()["clientCertificates"] and ws.outputs()["revokedClients"] == {}

    # -- removing one deletes only its resources ----------------------------------------------------
    ws.pulumi("config", "rm", "--path", "clients[3]")
    changed = {urn: op for urn, op in operations(ws).items() if "pulumi:pulumi:Stack" not in urn}
    assert {urn.rsplit("::", 1)[1] for urn in changed} == bob, changed
    assert set(changed.values()) == {"delete"}, changed
    ws.pulumi("up", "--yes")

    # -- a refresh inside build-bot's early-renewal window re-issues only build-bot's key and certificate --
    # build-bot: 90 days, renewed 30 days before the end (clientDefaults); alice: 365 days.
    end = dt.datetime.strptime(outputs["clientCertificateExpiry"]["build-bot"], "%Y-%m-%dT%H:%M:%SZ")
    inside = {NOW_VARIABLE: (end - dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    old = ws.outputs(show_secrets=True)
    # In render mode there is no cluster to read the Kubernetes objects from: the README's renewal command
    # refreshes everything else.
    ws.pulumi("refresh", "--yes", "--exclude", RENDERED, env=inside)
    planned = {urn.rsplit("::", 1)[1]: op for urn, op in operations(ws, env=inside).items() if "Stack" not in urn}
    parts = ("key-clock", "key", "csr", "cert")  # a new key at renewal (rotateKeyOnRenewal, on by default)
    assert planned == {f"client-build-bot-{part}": "replace" for part in parts}, planned
    ws.pulumi("up", "--yes", env=inside)
    new = ws.outputs(show_secrets=True)
    assert new["clientCertificates"]["build-bot"] != old["clientCertificates"]["build-bot"]
    assert new["clientCertificates"]["alice"] == old["clientCertificates"]["alice"]
    assert new["clientPrivateKeys"]["build-bot"] != old["clientPrivateKeys"]["build-bot"]
    assert new["clientPrivateKeys"]["alice"] == old["clientPrivateKeys"]["alice"]
    assert new["caCertificatePem"] == old["caCertificatePem"]

    # -- destroy: refused while the CA is protected, complete after unprotecting ---------------------
    refused_destroy = ws.pulumi("destroy", "--yes", check=False)
    assert refused_destroy.returncode != 0
    assert "protected" in refused_destroy.stdout + refused_destroy.stderr
    assert len(fake_cas.ca_certificates()) == 1
    ws.pulumi("state", "unprotect", "--all", "--yes")
    ws.pulumi("destroy", "--yes")
    assert fake_cas.ca_certificates() == [] and fake_cas.user_certificates() == []
    assert list(render.rglob("*.yaml")) == [], "render directory not emptied by destroy"
    assert [r for r in ws.resources() if r["type"] != "pulumi:pulumi:Stack"] == []


def test_bad_config_fails_preview_naming_the_key(workspace: EngineWorkspace, fake_cas: FakeCas, tmp_path: Path):
    ws = workspace
    configure(ws, fake_cas, tmp_path / "rendered")
    ws.pulumi("config", "set", "--path", "listener.port", "70000")
    done = ws.pulumi("preview", check=False)
    assert done.returncode != 0
    assert "alb-mtls:listener.port" in done.stdout + done.stderr, done.stdout + done.stderr
    assert ws.resources() == []


def test_state_secrets_are_ciphertext(workspace: EngineWorkspace, fake_cas: FakeCas, tmp_path: Path):
    """A client key handed out with --show-secrets is in the state only as passphrase ciphertext."""
    ws = workspace
    configure(ws, fake_cas, tmp_path / "rendered")
    ws.pulumi("up", "--yes")
    keys = ws.outputs(show_secrets=True)["clientPrivateKeys"]
    state_text = json.dumps(ws.state_file())
    for name, pem in keys.items():
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        assert key is not None
        body = "".join(pem.strip().splitlines()[1:-1])
        assert body[:64] not in state_text, f"{name}'s key is readable in the state"
    assert '"ciphertext"' in state_text
    ws.pulumi("state", "unprotect", "--all", "--yes")
    ws.pulumi("destroy", "--yes")
