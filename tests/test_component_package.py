"""The `alb-mtls` component package through the real engine (`make engine`; see tests/engine/).

- Moving the four components to the package's type tokens (`alb-mtls:index:<Class>`) leaves an existing
  stack alone: the program as it was (tokens `alb-mtls:components:<Class>`, no aliases) deploys a stack,
  and the program as it is now plans no replace and no delete on it; its `up` keeps every resource.
- examples/yaml (the YAML language host, the real one, built by `make engine`) previews and deploys with
  render mode and the local Certificate Management double: its AlbConfig and IngressClass equal the Python
  stack's for the same inputs, its client certificates pass `openssl verify -x509_strict`, and bad input
  fails with the message the Python component gives.
- `pulumi package get-schema package` serves every input and output of the four components with a type
  and a description.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.listener import _check, _resolved
from tests.engine.workspace import ACCESS_KEY, ROOT, EngineWorkspace, require_engine
from tests.fake_cas import FakeCas
from tests.test_engine_lifecycle import configure, managed, rendered

pytestmark = pytest.mark.engine
COMPONENTS = ("MutualTlsListener", "CertificateAuthority", "ClientCertificate", "ServerCertificate")
NEW_TOKEN = 'return f"{PACKAGE}:index:{type_name}", pulumi.ResourceOptions.merge(alias, opts)'
OLD_TOKEN = 'return f"{PACKAGE}:components:{type_name}", opts'
PLUGIN_VERSIONS = {"tls": "5.6.2", "alicloud": "4.0.0", "kubernetes": "4.34.2"}


def install_plugins(ws: EngineWorkspace) -> None:
    """The engine's providers in the workspace's plugin cache, at the versions the Python SDKs in .venv ask
    for: `pulumi package …` installs a package's dependencies from there (PATH alone does not do)."""
    for name, version in PLUGIN_VERSIONS.items():
        binary = ROOT / ".engine" / ("bin" if name == "kubernetes" else "fakes") / f"pulumi-resource-{name}"
        folder = ws.home / ".pulumi" / "plugins" / f"resource-{name}-v{version}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / binary.name).symlink_to(binary)


def ids(resources: dict[str, dict]) -> list[str]:
    return sorted(r["id"] for r in resources.values() if r.get("id"))


def test_old_stack_moves_to_package_tokens_without_replacement(
    workspace: EngineWorkspace, fake_cas: FakeCas, tmp_path: Path
):
    ws = workspace
    pki = ws.project / "components" / "pki.py"
    current = pki.read_text()
    assert current.count(NEW_TOKEN) == 1, "components/pki.py no longer names the package's type tokens this way"
    pki.write_text(current.replace(NEW_TOKEN, OLD_TOKEN))  # the program before the package: old tokens, no alias
    configure(ws, fake_cas, tmp_path / "rendered")
    ws.pulumi("up", "--yes", "--skip-preview")
    before = managed(ws)
    old_types = {r["type"] for r in before.values()}
    assert {f"alb-mtls:components:{c}" for c in COMPONENTS} <= old_types

    pki.write_text(current)
    planned = ws.changes(ws.pulumi("preview", "--json").stdout)
    moved = {urn: op for urn, op in planned.items() if op in ("replace", "create-replacement", "delete", "create")}
    assert not moved, f"the package's type tokens would recreate or delete resources of an existing stack: {moved}"

    ws.pulumi("up", "--yes", "--skip-preview")
    after = managed(ws)
    assert len(after) == len(before), "the move to the package's tokens changed the number of resources"
    new_types = {r["type"] for r in after.values()}
    assert {f"alb-mtls:index:{c}" for c in COMPONENTS} <= new_types
    assert not any(t.startswith("alb-mtls:components:") and t != "alb-mtls:components:WebApp" for t in new_types)
    assert ids(after) == ids(before), "a resource got a new id: it was re-created"


def test_schema_documents_every_input_and_output(workspace: EngineWorkspace):
    ws = workspace
    install_plugins(ws)
    done = ws.shell(f"pulumi package get-schema {ROOT / 'package'}")  # a command without --stack
    assert done.returncode == 0, done.stderr[-4000:]
    schema = json.loads(done.stdout)
    assert schema["name"] == "alb-mtls"
    assert sorted(schema["resources"]) == sorted(f"alb-mtls:index:{c}" for c in COMPONENTS)
    undocumented = []
    for token, resource in schema["resources"].items():
        assert resource.get("isComponent") and resource.get("description"), token
        for kind in ("inputProperties", "properties"):
            assert resource.get(kind), f"{token} has no {kind}"
            for name, spec in resource[kind].items():
                if not (spec.get("type") or spec.get("$ref")) or not spec.get("description"):
                    undocumented.append(f"{token}.{kind}.{name}")
    for token, typ in schema.get("types", {}).items():
        for name, spec in typ["properties"].items():
            if not (spec.get("type") or spec.get("$ref")) or not spec.get("description"):
                undocumented.append(f"{token}.{name}")
    assert not undocumented, f"schema properties without a type or a description: {undocumented}"
    listener = schema["resources"]["alb-mtls:index:MutualTlsListener"]
    assert set(listener["requiredInputs"]) == {"albConfigName", "ingressClassName", "vswitchIds"}
    assert listener["inputProperties"]["vswitchIds"]["items"]["type"] == "string"
    assert set(schema["resources"]["alb-mtls:index:ClientCertificate"]["properties"]) == {
        "certPem",
        "privateKeyPem",
        "validityEndTime",
        "validityStartTime",
    }


YAML_EXAMPLE = ROOT / "examples" / "yaml"
LISTENER_INPUTS = {  # what the README's configuration gives the Python stack's listener
    "alb_config_name": "alb-mtls",
    "ingress_class_name": "alb-mtls",
    "vswitch_ids": ["vsw-2zednnurkug2xl4aaaaaa", "vsw-2zeusdspvojoumxbbbbbb"],
}


def example_workspace(root: Path, example: Path) -> EngineWorkspace:
    """A workspace whose project is a copy of `example`, its `packages:` entry pointing at this checkout."""
    ws = EngineWorkspace(root)
    shutil.rmtree(ws.project)
    shutil.copytree(example, ws.project, ignore=shutil.ignore_patterns("node_modules", "sdks", "README.md"))
    project = ws.project / "Pulumi.yaml"
    text = project.read_text()
    assert "alb-mtls: ../../package" in text, "the example no longer names the package by its relative path"
    project.write_text(text.replace("alb-mtls: ../../package", f"alb-mtls: {ROOT / 'package'}"))
    install_plugins(ws)
    return ws


def require_yaml_host() -> None:
    require_engine()
    if not (ROOT / ".engine" / "bin" / "pulumi-language-yaml").exists():
        message = "the YAML language host is not built (.engine/bin/pulumi-language-yaml): run `make engine`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def configure_example(ws: EngineWorkspace, fake: FakeCas, render: Path, vswitches: list[str]) -> None:
    ws.pulumi("stack", "init", ws.stack)
    ws.pulumi("config", "set", "domain", "coffee.example.com")
    for index, vswitch in enumerate(vswitches):
        ws.pulumi("config", "set", "--path", f"vswitchIds[{index}]", vswitch)
    ws.pulumi("config", "set", "alicloud:region", "cn-hangzhou")
    ws.pulumi("config", "set", "--path", "alicloud:endpoints[0].cas", f"http://{fake.endpoint}")
    ws.pulumi("config", "set", "casEndpoint", f"http://{fake.endpoint}")
    ws.pulumi("config", "set", "renderDirectory", str(render))


def with_ca_placeholder(objects: dict[str, dict], fake: FakeCas, ca_pem: str) -> dict[str, dict]:
    """`objects` with the AlbConfig's CA certificate id (a random identifier Certificate Management gives each
    upload) checked to be that of this stack's CA, then replaced by a placeholder."""
    listener = objects["AlbConfig/alb-mtls"]["spec"]["listeners"][-1]
    (entry,) = listener["caCertificates"]
    registered = fake.certs[entry["CertificateId"]]["Cert"]
    assert registered.strip() == ca_pem.strip(), "the AlbConfig trusts a CA certificate other than the stack's CA"
    entry["CertificateId"] = "<the stack's CA>"
    return objects


def test_yaml_example_renders_the_python_stacks_albconfig_and_verifiable_clients(tmp_path: Path):
    require_yaml_host()
    with FakeCas(credentials={ACCESS_KEY[0]: ACCESS_KEY[1]}) as fake:
        python = EngineWorkspace(tmp_path / "python")
        configure(python, fake, tmp_path / "python-rendered")
        python.pulumi("up", "--yes", "--skip-preview")
        expected = with_ca_placeholder(
            rendered(tmp_path / "python-rendered"), fake, python.outputs()["caCertificatePem"]
        )

    with FakeCas(credentials={ACCESS_KEY[0]: ACCESS_KEY[1]}) as fake:  # a fresh one: the same certificate ids
        ws = example_workspace(tmp_path / "yaml", YAML_EXAMPLE)
        configure_example(ws, fake, tmp_path / "yaml-rendered", LISTENER_INPUTS["vswitch_ids"])
        planned = ws.changes(ws.pulumi("preview", "--json").stdout)
        assert any(urn.endswith("alb-mtls:index:MutualTlsListener::mtls") for urn in planned), planned
        ws.pulumi("up", "--yes", "--skip-preview")
        outputs = ws.outputs(show_secrets=True)
        got = with_ca_placeholder(rendered(tmp_path / "yaml-rendered"), fake, outputs["caCertificatePem"])
    for name in ("AlbConfig/alb-mtls", "IngressClass/alb-mtls"):
        assert got[name] == expected[name], f"{name} from YAML differs from the Python stack's"

    ca = tmp_path / "ca.pem"
    ca.write_text(outputs["caCertificatePem"])
    assert set(outputs["clientCertificates"]) == {"alice", "build-bot"}
    for client, pem in outputs["clientCertificates"].items():
        cert = tmp_path / f"{client}.pem"
        cert.write_text(pem)
        done = subprocess.run(
            ["openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", str(ca), str(cert)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{client}'s certificate fails openssl verify -x509_strict: {done.stderr}"
        assert "PRIVATE KEY" in outputs["clientPrivateKeys"][client]


def test_bad_input_from_yaml_fails_with_the_python_message(tmp_path: Path):
    require_yaml_host()
    args = {**LISTENER_INPUTS, "vswitch_ids": ["vsw-2zednnurkug2xl4aaaaaa"], "region": "cn-hangzhou"}
    with pytest.raises(ValueError) as python_error:  # the same inputs in Python: one vSwitch, no CA
        _check(_resolved(args))
    message = str(python_error.value)

    with FakeCas(credentials={ACCESS_KEY[0]: ACCESS_KEY[1]}) as fake:
        ws = example_workspace(tmp_path / "yaml", YAML_EXAMPLE)
        project = ws.project / "Pulumi.yaml"
        text = project.read_text()
        assert text.count("      caCertificatePem: ${ca.certPem}\n") == 1
        project.write_text(text.replace("      caCertificatePem: ${ca.certPem}\n", ""))
        configure_example(ws, fake, tmp_path / "rendered", args["vswitch_ids"])
        done = ws.pulumi("preview", check=False)
    assert done.returncode != 0, "a listener without a CA and with one vSwitch previewed"
    assert message in done.stdout + done.stderr, f"expected {message!r} in:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
