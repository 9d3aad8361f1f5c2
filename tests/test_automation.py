"""Integration test through the Automation API: the real program, a throwaway stack, a local state backend.

- preview, and up + destroy against test doubles: the engine that `make engine` builds (.engine/bin: the
  real CLI and Kubernetes provider in render mode; .engine/fakes: the tls and alicloud plugins), the
  fake Certificate Management endpoint on 127.0.0.1 (tests/fake_cas.py). A Pulumi CLI installed on PATH
  is used instead of the built one when there is one.
- up + destroy for real: needs ALB_MTLS_LIVE=1, the Pulumi CLI on PATH, ALICLOUD_ACCESS_KEY /
  ALICLOUD_SECRET_KEY and a kubeconfig (KUBECONFIG or ~/.kube/config). It creates real, billed
  resources in that account and cluster.

The stack's config is copied from Pulumi.dev.yaml, or from the stack file named by ALB_MTLS_CONFIG (use your own
domain and vSwitch ids for a live run). State lives in a temporary directory (file:// backend); the throwaway stack
is always destroyed and removed, which also deletes its Pulumi.<stack>.yaml from the project directory.
"""

import json
import os
import re
import secrets
import shutil
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from pulumi import automation as auto

from tests.engine.workspace import ACCESS_KEY, ENGINE_BIN, engine_env, require_engine
from tests.fake_cas import FakeCas

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "alb-mtls"
POLICY_PACK = ROOT / "policy"

TLS = "tls:index/"
PRIVATE_KEY = f"{TLS}privateKey:PrivateKey"
SELF_SIGNED = f"{TLS}selfSignedCert:SelfSignedCert"
CERT_REQUEST = f"{TLS}certRequest:CertRequest"
LOCALLY_SIGNED = f"{TLS}locallySignedCert:LocallySignedCert"

OUTPUTS = ("caCertificatePem", "clientCertificates", "clientPrivateKeys", "albConfigName", "endpoint")


# --- config: Pulumi.<stack>.yaml -> Automation API ------------------------------------------------------------------


def stack_file() -> Path:
    path = Path(os.environ.get("ALB_MTLS_CONFIG") or ROOT / "Pulumi.dev.yaml")
    return path if path.is_absolute() else ROOT / path


def read_stack_config(path: Path) -> dict:
    return (yaml.safe_load(path.read_text()) or {}).get("config") or {}


def _segment(key) -> str:
    return f".{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(key)) else f"[{json.dumps(str(key))}]"


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_paths(config: dict) -> dict[str, auto.ConfigValue]:
    """Flatten stack config into `set_all_config(..., path=True)` paths: `ns:key.sub[0].name` -> scalar.

    With path=True the CLI rebuilds the objects and lists (so `type: array` keys of Pulumi.yaml stay arrays) and
    stores `true`/`false` and integers as booleans and numbers.
    """
    flat: dict[str, auto.ConfigValue] = {}

    def walk(path: str, value) -> None:
        if isinstance(value, dict) and set(value) == {"secure"}:
            raise ValueError(f"{path} is encrypted with another stack's secrets provider; set it in plain text")
        if isinstance(value, dict):
            for key, item in value.items():
                walk(path + _segment(key), item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(f"{path}[{index}]", item)
        else:
            flat[path] = auto.ConfigValue(value=_scalar(value))

    for key, value in config.items():
        walk(key, value)
    return flat


def unflatten(flat: dict[str, auto.ConfigValue]) -> dict:
    """The inverse of config_paths (what the CLI does with path=True), with every scalar a string."""
    token = re.compile(r'\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')
    result: dict = {}
    for path, config_value in flat.items():
        head, rest = re.fullmatch(r"([^.\[]+:[^.\[]+)(.*)", path).groups()
        keys: list = [head] + [
            name or (int(index) if index else json.loads(quoted)) for name, index, quoted in token.findall(rest)
        ]
        node = result
        for key, following in pairwise(keys):
            child = [] if isinstance(following, int) else {}
            if isinstance(node, list):
                if key == len(node):
                    node.append(child)
            else:
                node.setdefault(key, child)
            node = node[key]
        if isinstance(node, list):
            node.append(config_value.value)
        else:
            node[keys[-1]] = config_value.value
    return result


def _stringify(value):
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return _scalar(value)


def test_config_paths_round_trip_the_dev_stack():
    """Runs everywhere: the copied config is exactly Pulumi.dev.yaml's, keys, nesting and values."""
    config = read_stack_config(ROOT / "Pulumi.dev.yaml")
    flat = config_paths(config)
    assert "alb-mtls:vswitchIds[0]" in flat
    assert flat["alb-mtls:listener.httpRedirect"].value == "true"
    assert unflatten(flat) == _stringify(config)


# --- the throwaway stack --------------------------------------------------------------------------------------------


def missing_for_live() -> list[str]:
    missing = [] if shutil.which("pulumi") else ["the Pulumi CLI on PATH (https://www.pulumi.com/docs/install/)"]
    if os.environ.get("ALB_MTLS_LIVE") != "1":
        missing.append("ALB_MTLS_LIVE=1 (up/destroy create billed resources)")
    missing += [f"${name}" for name in ("ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY") if not os.environ.get(name)]
    kubeconfig = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    if not any(Path(p).is_file() for p in kubeconfig.split(os.pathsep) if p):
        missing.append("a kubeconfig (KUBECONFIG or ~/.kube/config)")
    return missing


def skip_unless_ready(missing: list[str], what: str) -> None:
    if missing:
        pytest.skip(f"{what} not run; missing: {', '.join(missing)}")


def policy_packs() -> list[str]:
    return [str(POLICY_PACK)] if (POLICY_PACK / "PulumiPolicy.yaml").is_file() else []


@dataclass
class Doubles:
    """The engine test doubles a throwaway stack runs against (no cloud, no cluster)."""

    fake_cas: FakeCas
    render: Path


@pytest.fixture
def doubles(tmp_path) -> Iterator[Doubles]:
    require_engine()
    with FakeCas(credentials={ACCESS_KEY[0]: ACCESS_KEY[1]}) as fake:
        yield Doubles(fake, tmp_path / "rendered")


@contextmanager
def throwaway_stack(tmp_path: Path, doubles: Doubles | None = None) -> Iterator[auto.Stack]:
    """A new stack with the dev stack's config; with `doubles`, on the built engine against them."""
    state = tmp_path / "state"
    state.mkdir()
    env = {
        "PULUMI_BACKEND_URL": state.as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": secrets.token_urlsafe(24),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    command = None
    if doubles is not None:
        env |= engine_env(tmp_path / "pulumi-home") | {"KUBECONFIG": str(tmp_path / "no-kubeconfig")}
        installed = shutil.which("pulumi")
        command = auto.PulumiCommand(root=str(Path(installed).parent.parent if installed else ENGINE_BIN.parent))
    name = f"it-{secrets.token_hex(4)}"
    stack = auto.create_or_select_stack(
        stack_name=name,
        work_dir=str(ROOT),
        opts=auto.LocalWorkspaceOptions(env_vars=env, secrets_provider="passphrase", pulumi_command=command),
    )
    try:
        config = config_paths(read_stack_config(stack_file()))
        if doubles is not None:
            config |= {
                "alicloud:endpoints[0].cas": auto.ConfigValue(doubles.fake_cas.endpoint),
                "alicloud:protocol": auto.ConfigValue("HTTP"),  # the fake speaks plain HTTP
                f"{PROJECT}:renderDirectory": auto.ConfigValue(str(doubles.render)),
            }
        stack.set_all_config(config, path=True)
        yield stack
    finally:
        left = [r["urn"] for r in (stack.export_stack().deployment or {}).get("resources") or [] if "urn" in r]
        if any(not urn.split("::")[2].startswith("pulumi:") for urn in left):
            # destroy failed: keep the state (and Pulumi.<name>.yaml) so the leftovers can still be destroyed.
            (tmp_path / "passphrase").write_text(env["PULUMI_CONFIG_PASSPHRASE"])
            warnings.warn(
                f"stack {name} still holds {len(left)} resources; clean up with: cd {ROOT} && "
                f"PULUMI_BACKEND_URL={env['PULUMI_BACKEND_URL']} PULUMI_CONFIG_PASSPHRASE_FILE={tmp_path / 'passphrase'} "
                f"pulumi destroy --stack {name} --remove",
                stacklevel=1,
            )
        else:
            stack.workspace.remove_stack(name, force=True)  # also deletes Pulumi.<name>.yaml


def unprotect_all(stack: auto.Stack) -> None:
    """The CA key and certificate are protected; a throwaway stack must be able to delete them."""
    exported = stack.export_stack()
    resources = (exported.deployment or {}).get("resources") or []
    if any(resource.get("protect") for resource in resources):
        for resource in resources:
            resource["protect"] = False
        stack.import_stack(exported)


def expected_pki(config: dict) -> Counter:
    """How many of each pulumi-tls resource the program creates for this config."""
    clients = config.get(f"{PROJECT}:clients") or []
    rotate = (config.get(f"{PROJECT}:clientDefaults") or {}).get("rotateKeyOnRenewal", True)
    own_csr = sum(1 for c in clients if isinstance(c, dict) and c.get("csr"))
    rotated = sum(
        1 for c in clients if not (isinstance(c, dict) and c.get("csr")) and (c.get("rotateKeyOnRenewal", rotate)
                                                                               if isinstance(c, dict) else rotate)
    )  # fmt: skip
    server = 0 if config.get(f"{PROJECT}:serverCertificateId") else 1
    rotated += server and (config.get(f"{PROJECT}:server") or {}).get("rotateKeyOnRenewal", True)
    issued = len(clients) + server
    keys = issued - own_csr
    # Each key the stack rotates has a rotation clock: a self-signed certificate with its own key.
    return Counter(
        {PRIVATE_KEY: 1 + keys + rotated, SELF_SIGNED: 1 + rotated, CERT_REQUEST: keys, LOCALLY_SIGNED: issued}
    )


# --- preview (Pulumi CLI) and up/destroy (a real account) -----------------------------------------------------------


@pytest.mark.engine
def test_preview_creates_the_pki(tmp_path, doubles):
    config = read_stack_config(stack_file())
    creates: Counter = Counter()

    def on_event(event: auto.EngineEvent) -> None:
        if event.resource_pre_event and event.resource_pre_event.metadata.op == auto.OpType.CREATE:
            creates[event.resource_pre_event.metadata.type] += 1

    with throwaway_stack(tmp_path, doubles) as stack:
        result = stack.preview(on_event=on_event, policy_packs=policy_packs(), color="never")

    expected = expected_pki(config)
    assert result.change_summary.get(auto.OpType.CREATE.value, 0) >= expected.total(), result.change_summary
    for resource_type, count in expected.items():
        assert creates[resource_type] == count, f"{resource_type}: {creates[resource_type]} creates, want {count}"


def up_exports_certificates_and_endpoint_then_destroy(tmp_path: Path, doubles: Doubles | None) -> None:
    config = read_stack_config(stack_file())
    clients = {c if isinstance(c, str) else c["name"] for c in config[f"{PROJECT}:clients"]}

    with throwaway_stack(tmp_path, doubles) as stack:
        try:
            result = stack.up(policy_packs=policy_packs(), color="never", on_output=print)
            outputs = result.outputs
            for name in OUTPUTS:
                assert name in outputs, f"missing stack output {name}"

            assert outputs["caCertificatePem"].value.startswith("-----BEGIN CERTIFICATE-----")
            assert set(outputs["clientCertificates"].value) == clients
            assert outputs["clientPrivateKeys"].secret, "clientPrivateKeys must be a secret output"
            assert not outputs["caCertificatePem"].secret
            assert set(outputs["clientPrivateKeys"].value) == clients
            assert all("PRIVATE KEY-----" in pem for pem in outputs["clientPrivateKeys"].value.values())
            assert outputs["albConfigName"].value
            assert outputs["endpoint"].value.startswith(f"https://{config[f'{PROJECT}:domain']}")
        finally:
            unprotect_all(stack)
            stack.destroy(color="never", on_output=print)


@pytest.mark.engine
def test_up_then_destroy_on_the_engine(tmp_path, doubles):
    up_exports_certificates_and_endpoint_then_destroy(tmp_path, doubles)
    assert doubles.fake_cas.ca_certificates() == [] and doubles.fake_cas.user_certificates() == []
    assert list(doubles.render.rglob("*.yaml")) == [], "destroy left rendered manifests behind"


@pytest.mark.integration
def test_up_exports_certificates_and_endpoint_then_destroy(tmp_path):
    skip_unless_ready(missing_for_live(), "up/destroy against a real account")
    up_exports_certificates_and_endpoint_then_destroy(tmp_path, None)
