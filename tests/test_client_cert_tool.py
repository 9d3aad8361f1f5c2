"""scripts/client-cert end to end: mocked stack outputs → the tool → files → a curl handshake with them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.harness import BASE_CONFIG, run_program
from tests.tls_listener import MutualTlsNginx

TOOL = Path(__file__).resolve().parent.parent / "scripts" / "client-cert"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A mocked run's outputs saved as `pulumi stack output --json --show-secrets` prints them."""
    run = run_program(BASE_CONFIG)
    root = tmp_path_factory.mktemp("stack")
    (root / "outputs.json").write_text(json.dumps(run.outputs))
    (root / "server.key").write_text(run.named("server-key").outputs["privateKeyPem"])
    return run, root


def hand_out(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_with_the_right_modes_complete_a_handshake(stack, tmp_path):
    run, root = stack
    out = tmp_path / "alice"
    done = hand_out("alice", str(out), "--outputs-file", str(root / "outputs.json"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["alice.crt", "alice.key", "ca.crt"]
    assert mode(out / "alice.key") == 0o600
    assert mode(out / "alice.crt") == 0o644
    assert (out / "alice.crt").read_text() == run.outputs["clientCertificates"]["alice"]
    expected = (
        f"try: curl https://coffee.example.com/ --cert {out}/alice.crt --key {out}/alice.key --cacert {out}/ca.crt"
    )
    assert expected in done.stdout
    with MutualTlsNginx(
        tmp_path / "nginx",
        ca_pem=run.outputs["caCertificatePem"],
        server_cert_pem=run.outputs["serverCertificatePem"],
        server_key_pem=(root / "server.key").read_text(),
        domain="coffee.example.com",
    ) as nginx:
        response = nginx.curl(cert=out / "alice.crt", key=out / "alice.key", cacert=out / "ca.crt")
    assert response.status == 200, response
    assert "CN=alice" in response.body


def test_pkcs12_with_password_from_the_environment(stack, tmp_path):
    _, root = stack
    out = tmp_path / "bob"
    done = hand_out(
        "bob",
        str(out),
        "--outputs-file",
        str(root / "outputs.json"),
        "--p12",
        env={"CLIENT_CERT_P12_PASSWORD": "s3cret"},
    )
    assert done.returncode == 0, done.stderr
    assert mode(out / "bob.p12") == 0o600
    key, cert, extra = pkcs12.load_key_and_certificates((out / "bob.p12").read_bytes(), b"s3cret")
    assert key is not None and cert.subject.rfc4514_string() == "CN=bob"
    assert len(extra) == 1  # the CA
    check = subprocess.run(
        ["openssl", "pkcs12", "-in", str(out / "bob.p12"), "-noout", "-passin", "env:P"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "P": "s3cret"},
    )
    assert check.returncode == 0, check.stderr
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates((out / "bob.p12").read_bytes(), b"wrong")


def test_pkcs12_without_a_password_source_writes_nothing(stack, tmp_path):
    _, root = stack
    env = {k: v for k, v in os.environ.items() if k != "CLIENT_CERT_P12_PASSWORD"}
    done = subprocess.run(
        [
            sys.executable,
            str(TOOL),
            "bob",
            str(tmp_path / "out"),
            "--outputs-file",
            str(root / "outputs.json"),
            "--p12",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "CLIENT_CERT_P12_PASSWORD" in done.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_unknown_client_is_a_clear_error(stack, tmp_path):
    _, root = stack
    done = hand_out("mallory", str(tmp_path / "m"), "--outputs-file", str(root / "outputs.json"))
    assert done.returncode == 2
    assert "no client named 'mallory'" in done.stderr and "alice, bob" in done.stderr
    assert not (tmp_path / "m").exists()


def test_missing_output_is_a_clear_error(stack, tmp_path):
    run, _ = stack
    partial = {k: v for k, v in run.outputs.items() if k != "clientPrivateKeys"}
    (tmp_path / "partial.json").write_text(json.dumps(partial))
    done = hand_out("alice", str(tmp_path / "a"), "--outputs-file", str(tmp_path / "partial.json"))
    assert done.returncode == 2
    assert "lack clientPrivateKeys" in done.stderr


def test_existing_file_is_kept_unless_forced_and_nothing_is_half_written(stack, tmp_path):
    _, root = stack
    out = tmp_path / "alice"
    out.mkdir()
    (out / "ca.crt").write_text("mine")
    done = hand_out("alice", str(out), "--outputs-file", str(root / "outputs.json"))
    assert done.returncode == 2 and "--force" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["ca.crt"]
    assert (out / "ca.crt").read_text() == "mine"
    forced = hand_out("alice", str(out), "--outputs-file", str(root / "outputs.json"), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (out / "ca.crt").read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_without_the_pulumi_cli_the_error_says_to_use_an_outputs_file(tmp_path):
    done = hand_out("alice", str(tmp_path / "a"), env={"PATH": str(tmp_path)})
    assert done.returncode == 2
    assert "--outputs-file" in done.stderr
