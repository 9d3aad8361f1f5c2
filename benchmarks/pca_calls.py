"""PCA API calls the certificate provider makes to issue N client certificates, by call.

    python benchmarks/pca_calls.py [--clients 10 100 1000] [--before REV]

Each size runs in a fresh child process, as one `pulumi up` runs the dynamic provider in one process: the
provider (`components.pca_provider.PcaCertificateProvider`) creates N client certificates over the real PCA SDK against
the local fake PCA (`tests/fake_pca.py`, which records every request), once for a new stack on an empty PCA and
once for a second stack on a PCA that already holds the first stack's N certificates. Prints, per size and
scenario, the calls by action and the calls per certificate.

`--before REV` measures the provider as it was at git revision REV too (its `components/` exported to a
temporary directory), for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ("ListClientCertificate", "CreateClientCertificateWithCsr", "DescribeClientCertificate")


def measure(clients: int) -> dict[str, dict[str, int]]:
    """Runs in the child: the calls of N creates for a first and a second stack on one PCA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from components.pca_provider import PcaCertificateProvider
    from tests.fake_pca import FakePca

    key = ec.generate_private_key(ec.SECP256R1())  # one key: the PCA signs a new CSR (a new subject) each time

    def csr(name: str) -> str:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        return request.public_bytes(serialization.Encoding.PEM).decode()

    requests = {f"client-{i:05d}": csr(f"client-{i:05d}") for i in range(clients)}
    os.environ.update({"ALICLOUD_ACCESS_KEY": "LTAI-bench", "ALICLOUD_SECRET_KEY": "bench-secret"})
    for proxy in ("HTTP_PROXY", "http_proxy"):
        os.environ.pop(proxy, None)
    figures = {}
    with FakePca(credentials={"LTAI-bench": "bench-secret"}) as fake:
        issuer = fake.pca.issuing_ca("bench root").identifier
        for stack in ("first", "second"):
            if hasattr(PcaCertificateProvider, "forget_listings"):
                PcaCertificateProvider.forget_listings()  # a new `pulumi up`: a new provider process
            before = len(fake.requests)
            provider = PcaCertificateProvider()
            for name, request in requests.items():
                provider.create(
                    {
                        "owner": f"bench/{stack}",
                        "name": name,
                        "kind": "client",
                        "csr_pem": request,
                        "parent_identifier": issuer,
                        "days": 90,
                        "revoked": False,
                        "region": "cn-hangzhou",
                        "endpoint": fake.endpoint,
                        "protocol": "http",
                    }
                )
            calls = fake.requests[before:]
            figures[stack] = {action: sum(1 for c in calls if c.action == action) for action in ACTIONS}
            figures[stack]["total"] = len(calls)
    return figures


def run_child(clients: int, components_root: Path) -> dict[str, dict[str, int]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(components_root), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(clients)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"measuring {clients} clients failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def export_components(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", revision, "components"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def table(title: str, results: dict[int, dict[str, dict[str, int]]]) -> None:
    print(f"\n{title}")
    print(
        "| clients | stack | ListClientCertificate | Create…WithCsr | DescribeClientCertificate | total | per certificate |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for clients, figures in results.items():
        for stack, calls in figures.items():
            row = [calls[a] for a in ACTIONS]
            print(
                f"| {clients} | {stack} | {' | '.join(map(str, row))} | {calls['total']} | {calls['total'] / clients:.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--before", help="also measure the provider at this git revision")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child)))
        return
    table("now", {n: run_child(n, ROOT) for n in args.clients})
    if args.before:
        with tempfile.TemporaryDirectory() as directory:
            old = export_components(args.before, Path(directory))
            table(f"at {args.before}", {n: run_child(n, old) for n in args.clients})


if __name__ == "__main__":
    main()
