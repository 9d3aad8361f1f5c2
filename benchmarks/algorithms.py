"""Measure the key algorithms a user of alb-mtls can choose, to pick defaults from numbers.

Run:  python benchmarks/algorithms.py [--rounds N] [--json]

For RSA 2048/3072/4096 and ECDSA P-256/P-384, with `cryptography` and Python's `ssl`:

* key generation time (N rounds);
* signing a client certificate shaped like the ones pulumi-tls makes (BasicConstraints CA:FALSE critical,
  KeyUsage critical, EKU clientAuth, SKI, AKI), once by a CA of the same algorithm and once by the
  stack's default CA (RSA 4096): the cost belongs to the CA's key, not the client's (N rounds);
* a full TLS 1.3 handshake with a client certificate on 127.0.0.1 against a Python `ssl` server with
  CERT_REQUIRED, no session tickets and a fresh connection each time (10 x N handshakes per case); the
  server certificate is fixed (RSA 2048, the stack's server key, from its own RSA 4096 CA) so only the
  client's key changes, and each side sends its leaf certificate only.
  Wall time is taken at the client up to a one-byte echo, so it includes the server verifying the
  client's CertificateVerify; server and client CPU are each thread's CPU time (time.thread_time);
* sizes: client certificate DER, the certificate's signature, the client's public key and the
  signature the client sends in each handshake (CertificateVerify).

Figures are medians and 90th percentiles (nearest rank); --json prints every raw sample instead of
the markdown tables. Everything is bounded: loops are counted, sockets listen on 127.0.0.1 only and
time out, and the server thread stops after its counted connections.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import math
import os
import platform
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cryptography
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_ROUNDS = 20
"""Keygen and signing rounds per algorithm; handshakes are HANDSHAKES_PER_ROUND times as many."""
HANDSHAKES_PER_ROUND = 10
WARMUP_HANDSHAKES = 2
"""Untimed handshakes before each timed series (imports, first-use initialisation)."""
SOCKET_TIMEOUT_S = 30.0
LOOPBACK = "127.0.0.1"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Algorithm:
    """A key algorithm a user can choose in the stack config."""

    name: str
    rsa_bits: int | None = None
    curve: type[ec.EllipticCurve] | None = None

    def generate(self) -> PrivateKey:
        if self.rsa_bits is not None:
            return rsa.generate_private_key(public_exponent=65537, key_size=self.rsa_bits)
        assert self.curve is not None
        return ec.generate_private_key(self.curve())

    @property
    def is_rsa(self) -> bool:
        return self.rsa_bits is not None


ALGORITHMS: tuple[Algorithm, ...] = (
    Algorithm("RSA 2048", rsa_bits=2048),
    Algorithm("RSA 3072", rsa_bits=3072),
    Algorithm("RSA 4096", rsa_bits=4096),
    Algorithm("ECDSA P-256", curve=ec.SECP256R1),
    Algorithm("ECDSA P-384", curve=ec.SECP384R1),
)
DEFAULT_CA = ALGORITHMS[2]
"""The stack's default root CA key (ca.algorithm RSA, ca.rsaBits 4096)."""
SERVER_KEY = ALGORITHMS[0]
"""The stack's server key (stack_config.SERVER_KEY: RSA 2048), fixed for every handshake."""


# --- certificates, shaped like pulumi-tls's -------------------------------------------------------------


def _hash_for(key: PrivateKey) -> hashes.HashAlgorithm:
    """The hash Go's crypto/x509 (and so pulumi-tls) picks for a signing key."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size == 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "alb-mtls benchmark"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity(builder: x509.CertificateBuilder, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return builder.not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))


def make_ca(key: PrivateKey, common_name: str) -> x509.Certificate:
    """A self-signed v3 root: CA:TRUE, keyCertSign + cRLSign, SKI."""
    public = key.public_key()
    builder = _validity(x509.CertificateBuilder(), 3650)
    builder = (
        builder.subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    return builder.sign(key, _hash_for(key))


def issue_leaf(
    public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    common_name: str,
    *,
    server: bool = False,
) -> x509.Certificate:
    """An end-entity certificate: CA:FALSE, KeyUsage, one EKU, SKI, AKI (and a SAN for the server)."""
    is_rsa = isinstance(public, rsa.RSAPublicKey)
    eku = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = _validity(x509.CertificateBuilder(), 365)
    builder = (
        builder.subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
    return builder.sign(ca_key, _hash_for(ca_key))


# --- statistics -----------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(samples),
        "min": min(samples),
        "median": statistics.median(samples),
        "p90": percentile(samples, 90),
        "max": max(samples),
        "samples": list(samples),
    }


def timed(fn: Callable[[], Any], rounds: int) -> tuple[list[float], Any]:
    """Wall milliseconds of `rounds` calls of fn, and the last result."""
    samples: list[float] = []
    result = None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, result


# --- handshakes -----------------------------------------------------------------------------------------


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_pair(directory: Path, stem: str, cert: x509.Certificate, key: PrivateKey) -> tuple[str, str]:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(_pem_cert(cert))
    key_path.write_bytes(_pem_key(key))
    key_path.chmod(0o600)
    return str(cert_path), str(key_path)


def _no_tickets(ctx: ssl.SSLContext) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.options |= ssl.OP_NO_TICKET


def handshakes(
    server_pair: tuple[str, str],
    server_ca: x509.Certificate,
    client_pair: tuple[str, str],
    client_ca: x509.Certificate,
    count: int,
) -> dict[str, Any]:
    """`count` timed mutual-TLS handshakes (after WARMUP_HANDSHAKES untimed ones), a new connection each."""
    total = count + WARMUP_HANDSHAKES

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _no_tickets(server_ctx)
    server_ctx.num_tickets = 0
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_cert_chain(*server_pair)
    server_ctx.load_verify_locations(cadata=_pem_cert(client_ca).decode())

    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _no_tickets(client_ctx)
    client_ctx.load_verify_locations(cadata=_pem_cert(server_ca).decode())
    client_ctx.load_cert_chain(*client_pair)

    listener = socket.create_server((LOOPBACK, 0), backlog=8)
    listener.settimeout(SOCKET_TIMEOUT_S)
    port = listener.getsockname()[1]
    server_cpu: list[float] = []
    server_errors: list[OSError] = []
    peers_verified = 0

    def serve() -> None:
        nonlocal peers_verified
        try:
            for _ in range(total):  # counted: the server stops by itself
                raw, _addr = listener.accept()
                raw.settimeout(SOCKET_TIMEOUT_S)
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                cpu0 = time.thread_time()
                with server_ctx.wrap_socket(raw, server_side=True) as tls:
                    if tls.getpeercert():
                        peers_verified += 1
                    tls.sendall(tls.recv(1))
                server_cpu.append((time.thread_time() - cpu0) * 1000)
        except OSError as exc:  # ssl.SSLError and timeouts included: reported to the caller, never swallowed
            server_errors.append(exc)
        finally:
            listener.close()

    thread = threading.Thread(target=serve, name="mtls-bench-server", daemon=True)
    thread.start()
    wall: list[float] = []
    client_cpu: list[float] = []
    resumed = 0
    version = cipher = None
    try:
        for _ in range(total):
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            with socket.create_connection((LOOPBACK, port), timeout=SOCKET_TIMEOUT_S) as raw:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle/delayed-ACK 40 ms stalls
                with client_ctx.wrap_socket(raw, server_hostname=LOOPBACK) as tls:
                    tls.sendall(b"x")
                    if tls.recv(1) != b"x":
                        raise RuntimeError("echo failed")
                    resumed += int(tls.session_reused)
                    version, cipher = tls.version(), tls.cipher()[0]
            wall.append((time.perf_counter() - wall0) * 1000)
            client_cpu.append((time.thread_time() - cpu0) * 1000)
    finally:
        thread.join(SOCKET_TIMEOUT_S)
    if server_errors:
        raise RuntimeError(f"handshake server failed: {server_errors[0]!r}") from server_errors[0]
    if thread.is_alive() or len(server_cpu) != total:
        raise RuntimeError("handshake server did not finish its connections")
    if resumed:
        raise RuntimeError(f"{resumed} handshakes resumed a session; the benchmark wants full handshakes")
    if peers_verified != total:
        raise RuntimeError("the server did not see a verified client certificate on every connection")
    skip = WARMUP_HANDSHAKES
    return {
        "tls_version": version,
        "cipher": cipher,
        "wall_ms": summary(wall[skip:]),
        "server_cpu_ms": summary(server_cpu[skip:]),
        "client_cpu_ms": summary(client_cpu[skip:]),
    }


# --- the benchmark --------------------------------------------------------------------------------------


def _cert_verify_signature_len(key: PrivateKey) -> int:
    """Bytes of the TLS 1.3 CertificateVerify signature this key makes (RSA-PSS or ECDSA)."""
    message = b"\x20" * 64 + b"TLS 1.3, client CertificateVerify\x00" + b"\x00" * 32
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return len(key.sign(message, pss, hashes.SHA256()))
    return len(key.sign(message, ec.ECDSA(_hash_for(key))))


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    from cryptography.hazmat.bindings._rust import openssl as rust_openssl

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "ssl_openssl": ssl.OPENSSL_VERSION,
        "cryptography": cryptography.__version__,
        "cryptography_openssl": rust_openssl.openssl_version_text(),
    }


def run(rounds: int, log: Callable[[str], None] = lambda _msg: None) -> dict[str, Any]:
    """Every measurement, as a JSON-able dict."""
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    count = rounds * HANDSHAKES_PER_ROUND
    results: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {
            "rounds": rounds,
            "handshakes": count,
            "warmup_handshakes": WARMUP_HANDSHAKES,
            "default_ca": DEFAULT_CA.name,
            "server_key": SERVER_KEY.name,
            "server_ca": f"{DEFAULT_CA.name}, separate from the client CAs",
            "chains_sent": "leaf only, both ways",
            "units": "milliseconds and bytes",
        },
        "algorithms": {},
    }
    default_ca_key = DEFAULT_CA.generate()
    default_ca = make_ca(default_ca_key, "bench default CA")
    # The server certificate has its own issuer, trusted by the client only. OpenSSL builds a peer's chain
    # from its own trust store when it has no explicit chain (auto-chain), so a CA that one side both trusts
    # and was issued by would be sent along in some cases and not others; with separate issuers each side
    # sends its leaf only, in every case, as an ALB client sending just its certificate does.
    server_ca_key = DEFAULT_CA.generate()
    server_ca = make_ca(server_ca_key, "bench server CA")
    server_key = SERVER_KEY.generate()
    server_cert = issue_leaf(server_key.public_key(), server_ca, server_ca_key, "localhost", server=True)

    with tempfile.TemporaryDirectory(prefix="alb-mtls-bench-") as tmp:
        workdir = Path(tmp)
        server_pair = _write_pair(workdir, "server", server_cert, server_key)
        for algo in ALGORITHMS:
            log(f"{algo.name}: key generation x{rounds}")
            keygen, client_key = timed(algo.generate, rounds)
            ca_key = algo.generate()
            ca_cert = make_ca(ca_key, f"bench {algo.name} CA")
            public = client_key.public_key()

            log(f"{algo.name}: certificate signing x{rounds} x2")
            sign_same, cert_same = timed(partial(issue_leaf, public, ca_cert, ca_key, "client"), rounds)
            sign_default, cert_default = timed(
                partial(issue_leaf, public, default_ca, default_ca_key, "client"), rounds
            )

            stem = algo.name.replace(" ", "_")
            log(f"{algo.name}: handshakes x{count} x2")
            hs_default = handshakes(
                server_pair,
                server_ca,
                _write_pair(workdir, f"{stem}_default", cert_default, client_key),
                default_ca,
                count,
            )
            hs_same = handshakes(
                server_pair,
                server_ca,
                _write_pair(workdir, f"{stem}_same", cert_same, client_key),
                ca_cert,
                count,
            )
            spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            results["algorithms"][algo.name] = {
                "keygen_ms": summary(keygen),
                "sign_by_same_ca_ms": summary(sign_same),
                "sign_by_default_ca_ms": summary(sign_default),
                "handshake_default_ca": hs_default,
                "handshake_same_ca": hs_same,
                "sizes_bytes": {
                    "cert_der_same_ca": len(cert_same.public_bytes(serialization.Encoding.DER)),
                    "cert_der_default_ca": len(cert_default.public_bytes(serialization.Encoding.DER)),
                    "cert_signature_same_ca": len(cert_same.signature),
                    "cert_signature_default_ca": len(cert_default.signature),
                    "public_key_spki": len(spki),
                    "cert_verify_signature": _cert_verify_signature_len(client_key),
                },
            }
    return results


# --- output ---------------------------------------------------------------------------------------------


def _ms(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    m, s, algos = results["machine"], results["settings"], results["algorithms"]
    hs_any = next(iter(algos.values()))["handshake_default_ca"]
    out = [
        f"- Date: {m['date']}",
        f"- Platform: {m['platform']}",
        f"- CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable)",
        (
            f"- Python {m['python']}; `ssl` linked to {m['ssl_openssl']}; "
            f"cryptography {m['cryptography']} with {m['cryptography_openssl']}"
        ),
        (
            f"- Rounds: {s['rounds']} for key generation and signing, {s['handshakes']} handshakes per case "
            f"(after {s['warmup_handshakes']} untimed); times in ms, median and p90 (nearest rank)"
        ),
        "",
        "### Key generation and certificate signing (ms)",
        "",
        (
            f"Signing = building and signing one client certificate; the key that signs is the CA's. "
            f"The default CA is {s['default_ca']}."
        ),
        "",
    ]
    rows = []
    for name, a in algos.items():
        rows.append(
            [
                name,
                _ms(a["keygen_ms"]["median"]),
                _ms(a["keygen_ms"]["p90"]),
                _ms(a["sign_by_same_ca_ms"]["median"]),
                _ms(a["sign_by_same_ca_ms"]["p90"]),
                _ms(a["sign_by_default_ca_ms"]["median"]),
                _ms(a["sign_by_default_ca_ms"]["p90"]),
            ]
        )
    out += _table(
        [
            "Algorithm",
            "keygen median",
            "keygen p90",
            "sign, CA same alg. median",
            "sign, CA same alg. p90",
            f"sign, {s['default_ca']} CA median",
            f"sign, {s['default_ca']} CA p90",
        ],
        rows,
    )
    out += [
        "",
        "### Mutual-TLS handshake, per new connection (ms)",
        "",
        (
            f"{hs_any['tls_version']} ({hs_any['cipher']}), no tickets, no resumption; server certificate "
            f"{s['server_key']} from its own {DEFAULT_CA.name} CA; each side sends its leaf only; "
            "the algorithm is the client certificate's key. "
            "Wall = client connect to one-byte echo on 127.0.0.1; CPU = that thread's CPU time."
        ),
        "",
    ]
    rows = []
    for name, a in algos.items():
        d, same = a["handshake_default_ca"], a["handshake_same_ca"]
        rows.append(
            [
                name,
                _ms(d["wall_ms"]["median"]),
                _ms(d["wall_ms"]["p90"]),
                _ms(d["server_cpu_ms"]["median"]),
                _ms(d["client_cpu_ms"]["median"]),
                _ms(same["wall_ms"]["median"]),
                _ms(same["wall_ms"]["p90"]),
                _ms(same["server_cpu_ms"]["median"]),
            ]
        )
    out += _table(
        [
            "Client key",
            f"wall median ({s['default_ca']} CA)",
            "wall p90",
            "server CPU median",
            "client CPU median",
            "wall median (CA same alg.)",
            "wall p90",
            "server CPU median",
        ],
        rows,
    )
    out += ["", "### Sizes (bytes)", ""]
    rows = []
    for name, a in algos.items():
        z = a["sizes_bytes"]
        rows.append(
            [
                name,
                str(z["cert_der_same_ca"]),
                str(z["cert_signature_same_ca"]),
                str(z["cert_der_default_ca"]),
                str(z["cert_signature_default_ca"]),
                str(z["public_key_spki"]),
                str(z["cert_verify_signature"]),
            ]
        )
    out += _table(
        [
            "Algorithm",
            "client cert DER (CA same alg.)",
            "its signature",
            f"client cert DER ({s['default_ca']} CA)",
            "its signature",
            "public key (SPKI DER)",
            "CertificateVerify signature",
        ],
        rows,
    )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help=f"rounds of key generation and signing per algorithm; handshakes are {HANDSHAKES_PER_ROUND}x this "
        f"(default {DEFAULT_ROUNDS})",
    )
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON instead of tables")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 1000:
        parser.error("--rounds must be between 1 and 1000")
    results = run(args.rounds, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(render_markdown(results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
