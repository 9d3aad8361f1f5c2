"""The pack as the Pulumi CLI runs it: `python -m pulumi.policy <engine> .` in `policy/`, spoken to over gRPC.

This is what `pulumi-analyzer-policy-python` (the shim `pulumi preview --policy-pack policy` starts) does
once it has picked the virtualenv named in PulumiPolicy.yaml.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from alb_mtls_policies import ALB_CONFIG, LOCALLY_SIGNED_CERT, PACK_NAME, RULES
from google.protobuf import empty_pb2
from policy_engine import STACK_URN, UNKNOWN, to_struct
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

POLICY_DIR = Path(__file__).resolve().parent.parent
ROOT = POLICY_DIR.parent
START_TIMEOUT = 60


def _read_port(process: subprocess.Popen) -> int:
    """The first stdout line of the pack: the port its gRPC server listens on."""
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    if not line or not line[0].strip().isdigit():
        raise AssertionError(f"the policy pack did not print its port: {line!r}")
    return int(line[0])


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
            cwd=POLICY_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            try:
                port = _read_port(process)
            except AssertionError:
                process.kill()
                process.wait()
                stderr.seek(0)
                raise AssertionError(stderr.read().decode(errors="replace")) from None
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT)
                yield analyzer_pb2_grpc.AnalyzerStub(channel)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def analyze(stub: analyzer_pb2_grpc.AnalyzerStub, resource_type: str, props: dict) -> list:
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type, properties=to_struct(props), urn=f"{STACK_URN}::{resource_type}::r", name="r"
    )
    return list(stub.Analyze(request).diagnostics)


def test_the_pack_announces_its_name_and_every_policy_as_mandatory(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert [p.name for p in info.policies] == [rule.name for rule in RULES]
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}


def test_a_client_certificate_that_also_serves_is_stopped(analyzer):
    props = {
        "allowedUses": ["digital_signature", "key_encipherment", "client_auth", "server_auth"],
        "isCaCertificate": False,
        "validityPeriodHours": 8760,
    }
    [diagnostic] = analyze(analyzer, LOCALLY_SIGNED_CERT, props)
    assert diagnostic.policyName == "tls-client-cert-client-auth-only"
    assert diagnostic.policyPackName == PACK_NAME
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert "must not also have server_auth" in diagnostic.message


def test_a_compliant_listener_passes_and_an_unknown_ca_id_is_only_noted_during_preview(analyzer):
    listener = {"port": 443, "protocol": "HTTPS", "caEnabled": True, "caCertificates": [{"CertificateId": "0" * 32}]}
    assert analyze(analyzer, ALB_CONFIG, {"spec": {"listeners": [listener]}}) == []

    listener["caCertificates"] = [{"CertificateId": UNKNOWN}]
    [note] = analyze(analyzer, ALB_CONFIG, {"spec": {"listeners": [listener]}})
    assert note.enforcementLevel == analyzer_pb2.ADVISORY
    assert "can't run policy 'alb-https-listener-requires-client-ca'" in note.message
    assert "spec.listeners.0.caCertificates.0.CertificateId" in note.message


def test_policy_pack_project_runs_python_from_the_projects_virtualenv():
    pack = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert pack["runtime"]["name"] == "python"
    # The analyzer shim resolves a relative virtualenv against the policy pack's directory.
    pack_venv = (POLICY_DIR / pack["runtime"]["options"]["virtualenv"]).resolve()
    assert pack_venv == (ROOT / project["runtime"]["options"]["virtualenv"]).resolve()


def pins(path: Path) -> dict[str, str]:
    """name -> version of each `name==version` line; a compiled lock's `--hash` lines and comments are skipped."""
    return dict(
        match.groups() for line in path.read_text().splitlines() if (match := re.match(r"([\w.-]+)==([^\s;\\]+)", line))
    )


def test_requirements_pin_what_the_project_installs():
    # policy/requirements.in names the pack's two dependencies; `make lock` compiles it to requirements.txt.
    assert set(pins(POLICY_DIR / "requirements.in")) == {"pulumi-policy", "pulumi"}
    locked = pins(POLICY_DIR / "requirements.txt")
    import pulumi_policy.version

    assert locked["pulumi-policy"] == pulumi_policy.version.VERSION
    program = pins(ROOT / "requirements.txt")
    assert locked["pulumi"] == program["pulumi"], "the pack and the program share one virtualenv, so one pulumi"
