"""Test equipment: a real Kubernetes control plane on 127.0.0.1 for the live-cluster tests.

`KubeCluster` runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (which plays the
nodes: pods bound to its Node become Running and Ready), all built from Go modules by `make engine`
(engine/cluster.sh) into .engine/bin. It makes the certificates (one CA; one certificate with
`O=system:masters` that is both the API server's serving certificate and every client's), a kubeconfig,
one kwok Node, and installs the AlbConfig CRD with an OpenAPI schema derived from
tests/schemas/albconfig.schema.json. Every process it starts is in its own process group, stopped on
`stop()` (the context manager and an atexit hook call it), also when a test fails.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import datetime as dt
import ipaddress
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.tls_listener import free_port

ROOT = Path(__file__).resolve().parents[1]
ENGINE_BIN = ROOT / ".engine" / "bin"
KWOK_STAGES = ROOT / ".engine" / "kwok" / "stages"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
ALBCONFIG_SCHEMA = ROOT / "tests" / "schemas" / "albconfig.schema.json"
NODE_NAME = "kwok-node-0"
POD_CIDR = "10.244.0.0/16"
"""kwok hands pods IPs from here: data only, nothing connects to them (they must not be loopback)."""


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if not (ENGINE_BIN / name).exists()] + (
        [] if any(KWOK_STAGES.glob("*.yaml")) else ["kwok stages"]
    )


# -- certificates -----------------------------------------------------------------------------------
def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificates(directory: Path) -> dict[str, Path]:
    """CA, the admin/serving certificate and key, and the service-account signing key, as files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alb-mtls test cluster CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "10.96.0.1")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "alb-mtls-test-admin"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    files = {
        "ca.crt": ca.public_bytes(serialization.Encoding.PEM),
        "admin.crt": cert.public_bytes(serialization.Encoding.PEM),
        "admin.key": _pem_key(key),
        "sa.key": _pem_key(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    }
    paths = {}
    for name, content in files.items():
        path = directory / name
        path.write_bytes(content)
        path.chmod(0o600)
        paths[name] = path
    return paths


# -- the AlbConfig CRD ---------------------------------------------------------------------------------
# The two conditionals of the JSON schema's listener (`allOf` of if/then) as CEL rules, which is how a
# CRD's OpenAPI schema expresses rules across fields.
_LISTENER_RULES = [
    {
        "rule": "!has(self.caEnabled) || !self.caEnabled || (self.protocol == 'HTTPS' && "
        "has(self.caCertificates) && size(self.caCertificates) == 1)",
        "message": "caEnabled needs an HTTPS listener and exactly one caCertificates entry",
    },
    {
        "rule": "self.protocol != 'HTTPS' || (has(self.certificates) && size(self.certificates) >= 1)",
        "message": "an HTTPS listener needs certificates",
    },
]


def _openapi(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12, as tests/schemas writes it) as a CRD's structural OpenAPI v3 schema.

    `$ref`s are inlined, `const` becomes a one-value enum, an untyped `enum` gets its type, an object or
    array with no declared content keeps what it is given (`x-kubernetes-preserve-unknown-fields`), and the
    listener's if/then conditionals become the CEL rules above. `additionalProperties: false` has no
    structural equivalent: the API server prunes unknown fields instead, so the live-cluster test compares
    what it reads back with what was applied (a misspelt key would be missing there).
    """
    if "$ref" in schema:
        return _openapi(definitions[schema["$ref"].rsplit("/", 1)[1]], definitions)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("$schema", "$comment", "$defs", "title", "additionalProperties", "if", "then"):
            continue
        if key == "allOf":
            conditions = [(json.dumps(c["if"], sort_keys=True), json.dumps(c["then"], sort_keys=True)) for c in value]
            assert len(conditions) == len(_LISTENER_RULES) and all("protocol" in i + t for i, t in conditions), (
                "the AlbConfig JSON schema's conditionals changed: update _LISTENER_RULES to match"
            )
            out["x-kubernetes-validations"] = copy.deepcopy(_LISTENER_RULES)
        elif key == "const":
            out["enum"] = [value]
            out.setdefault("type", "string" if isinstance(value, str) else "boolean")
        elif key == "properties":
            out["properties"] = {name: _openapi(sub, definitions) for name, sub in value.items()}
        elif key == "items":
            out["items"] = _openapi(value, definitions)
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if out.get("type") == "object" and "properties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if out.get("type") == "array" and "items" not in out:
        out["items"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return out


def albconfig_crd() -> dict[str, Any]:
    """The AlbConfig CustomResourceDefinition (cluster-scoped, `alibabacloud.com/v1`, status subresource)."""
    schema = json.loads(ALBCONFIG_SCHEMA.read_text())
    definitions = schema["$defs"]
    spec = _openapi(schema["properties"]["spec"], definitions)
    status = {
        "type": "object",
        "properties": {
            "loadBalancer": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "dnsname": {"type": "string"}},
            }
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "albconfigs.alibabacloud.com"},
        "spec": {
            "group": "alibabacloud.com",
            "scope": "Cluster",
            "names": {
                "plural": "albconfigs",
                "singular": "albconfig",
                "kind": "AlbConfig",
                "listKind": "AlbConfigList",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


# -- the cluster ---------------------------------------------------------------------------------------
class KubeCluster:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on 127.0.0.1, with one Node."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.processes: dict[str, subprocess.Popen] = {}
        self.api_port = free_port()
        self.kubeconfig = workdir / "kubeconfig"
        self.started_seconds: float | None = None

    # Processes --------------------------------------------------------------------------------------
    def _start(self, name: str, *args: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(ENGINE_BIN / name), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.workdir,
        )
        log.close()

    def _alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited {process.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def wait(self, what: str, ready: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._alive()
            with contextlib.suppress(RuntimeError, KeyError, ValueError):  # not up yet: look again
                if ready():
                    return
            time.sleep(0.3)
        logs = "\n".join(f"--- {n}\n{self.log_tail(n, 15)}" for n in self.processes)
        raise TimeoutError(f"the test cluster: {what} not within {timeout} s\n{logs}")

    def stop(self) -> None:
        """Stops every process this cluster started (SIGTERM to each process group, then SIGKILL)."""
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    def __enter__(self) -> Self:
        atexit.register(self.stop)
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        atexit.unregister(self.stop)

    # Start-up -----------------------------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        pki = self.workdir / "pki"
        pki.mkdir(exist_ok=True)
        files = _certificates(pki)
        self._write_kubeconfig(files)

        etcd_port, peer_port = free_port(), free_port()
        self._start(
            "etcd",
            "--name=alb-mtls-test",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=alb-mtls-test=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        )
        self._start(
            "kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={files['admin.crt']}",
            f"--tls-private-key-file={files['admin.key']}",
            f"--client-ca-file={files['ca.crt']}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={files['sa.key']}",
            f"--service-account-signing-key-file={files['sa.key']}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--authorization-mode=Node,RBAC",
            f"--cert-dir={pki}",
        )
        self.wait("kube-apiserver /readyz", lambda: self.get("/readyz") == "ok", timeout=90)
        self.apply(albconfig_crd())
        self._start(
            "kube-controller-manager",
            f"--kubeconfig={self.kubeconfig}",
            "--secure-port=0",
            "--leader-elect=false",
            f"--service-account-private-key-file={files['sa.key']}",
            f"--root-ca-file={files['ca.crt']}",
            "--controllers=*,-nodeipam",
            "--node-monitor-period=5s",
            "--node-monitor-grace-period=40s",
        )
        self._start("kube-scheduler", f"--kubeconfig={self.kubeconfig}", "--secure-port=0", "--leader-elect=false")
        kwok_config = self.workdir / "kwok.yaml"
        kwok_config.write_text(self._kwok_config())
        self._start("kwok", f"--kubeconfig={self.kubeconfig}", f"--config={kwok_config}", "--manage-all-nodes=true")
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": NODE_NAME,
                    "labels": {"kubernetes.io/hostname": NODE_NAME, "type": "kwok"},
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                },
                "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
            }
        )
        self.wait("the kwok Node Ready", self._node_ready, timeout=60)
        self.wait(
            "the CRD established",
            lambda: any(
                c["type"] == "Established" and c["status"] == "True"
                for c in json.loads(
                    self.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/albconfigs.alibabacloud.com")
                )["status"]["conditions"]
            ),
        )
        self.wait(
            "the default ServiceAccount",
            lambda: bool(self.get("/api/v1/namespaces/default/serviceaccounts/default")),
            timeout=60,
        )
        self.started_seconds = time.monotonic() - started

    def _write_kubeconfig(self, files: dict[str, Path]) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "alb-mtls-test",
                    "cluster": {
                        "server": f"https://127.0.0.1:{self.api_port}",
                        "certificate-authority": str(files["ca.crt"]),
                    },
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {"client-certificate": str(files["admin.crt"]), "client-key": str(files["admin.key"])},
                }
            ],
            "contexts": [{"name": "alb-mtls-test", "context": {"cluster": "alb-mtls-test", "user": "admin"}}],
            "current-context": "alb-mtls-test",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)
        self._tls = (str(files["admin.crt"]), str(files["admin.key"]), str(files["ca.crt"]))

    def _kwok_config(self) -> str:
        configuration = {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokConfiguration",
            "options": {
                "cidr": POD_CIDR,
                "nodeIP": "10.0.0.1",
                "manageAllNodes": True,
                # Outside kwokctl these have no defaults, and kwok refuses zero.
                "nodeLeaseDurationSeconds": 40,  # kwok renews each Node's Lease (kwokctl's default)
                "nodeLeaseParallelism": 4,
                "podPlayStageParallelism": 4,
                "nodePlayStageParallelism": 4,
                "podsOnNodeSyncParallelism": 4,
            },
        }
        documents = [yaml.safe_dump(configuration)]
        documents += [path.read_text() for path in sorted(KWOK_STAGES.glob("*.yaml"))]
        return "\n---\n".join(documents)

    def _node_ready(self) -> bool:
        node = json.loads(self.get(f"/api/v1/nodes/{NODE_NAME}"))
        return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))

    # Talking to the API server (plain HTTPS; the tests use the kubernetes client) ---------------------
    def _curl(self, method: str, path: str, body: str | None = None, content_type: str = "application/json") -> str:
        cert, key, ca = self._tls
        command = ["curl", "-sS", "--fail-with-body", "--cert", cert, "--key", key, "--cacert", ca, "-X", method]
        if body is not None:
            command += ["-H", f"Content-Type: {content_type}", "--data-binary", "@-"]
        done = subprocess.run(
            command + [f"https://127.0.0.1:{self.api_port}{path}"],
            input=body,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{method} {path}: {done.stdout}{done.stderr}")
        return done.stdout

    def get(self, path: str) -> str:
        return self._curl("GET", path)

    def apply(self, obj: dict[str, Any]) -> None:
        """Server-side apply of one cluster-scoped object (the CRD, the Node) as field manager `alb-mtls-test`."""
        api = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
        plural = {"Node": "nodes", "CustomResourceDefinition": "customresourcedefinitions"}[obj["kind"]]
        self._curl(
            "PATCH",
            f"{api}/{plural}/{obj['metadata']['name']}?fieldManager=alb-mtls-test&force=true",
            json.dumps(obj),
            "application/apply-patch+yaml",
        )
        if obj["kind"] == "Node" and "status" in obj:
            self._curl(
                "PATCH",
                f"/api/v1/nodes/{obj['metadata']['name']}/status?fieldManager=alb-mtls-test&force=true",
                json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": obj["metadata"], "status": obj["status"]}),
                "application/apply-patch+yaml",
            )
