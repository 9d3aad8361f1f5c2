"""Test equipment: the gate between two real nginx hops on 127.0.0.1, in front of an app that echoes headers.

`Hops` starts hop 1, which plays the ALB listener (a client certificate from the stack's CA required; the four
client-certificate headers forwarded under the aliases of the AlbConfig spec the program registered), and
hop 2, the gate's `default.conf` exactly as the program rendered it with only its two ports substituted, its
stdout kept (`Hops.gate_log()`: the identity log). `EchoHeaders` / `echo_app()` is the app behind them. Both
hops run nginx 1.23 or later, which joins a header sent on several lines into one value as the gate's image
(nginx 1.27) does. Hop 1 passes the caller's Host header on, as a load balancer does.

What ALB does with an identity header the caller sent itself is not documented, so hop 1 does one of three
things (`ALB_HEADER_MODES`): `overwrite` (the caller's header is dropped, ALB's sent: nginx's
`proxy_set_header`), `append` (the caller's line kept and ALB's added after it, a second line of the same
name) or `join` (one line, "caller, alb", as a proxy extends `X-Forwarded-For`). A caller that sent no such
header gets ALB's alone in every mode.

ALB's fingerprint format is undocumented, so hop 1 sends it in either of two formats: nginx's own (SHA-1,
lower case, no colons) or SHA-256 upper case with colons (nginx cannot compute that one, so hop 1 looks it
up by the SHA-1 in a table of the certificates it is given).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components import gate
from tests.tls_listener import MutualTlsNginx, Nginx, nginx_joining_headers

ALBCONFIG = "kubernetes:alibabacloud.com/v1:AlbConfig"
HEADER_VARIABLES = {  # what hop 1 forwards for each xForwardedForConfig alias
    "SubjectDN": "$ssl_client_s_dn",
    "IssuerDN": "$ssl_client_i_dn",
    "Fingerprint": "$alb_fingerprint",
    "ClientVerify": "$ssl_client_verify",
}
ALB_HEADER_MODES = ("overwrite", "append", "join")


def alb_location(alias_variables: dict[str, str], mode: str) -> tuple[str, str]:
    """(`http {}` additions, `location {}` lines) of hop 1 forwarding each header alias → nginx variable, doing
    `mode` (one of `ALB_HEADER_MODES`) with a header of that name the caller sent."""
    if mode not in ALB_HEADER_MODES:
        raise ValueError(f"unknown ALB header mode {mode!r}; one of {ALB_HEADER_MODES}")
    http, location = "", ""
    for n, (alias, variable) in enumerate(alias_variables.items()):
        caller = gate.header_variable(alias)
        if mode == "overwrite":
            location += f"            proxy_set_header {alias} {variable};\n"
        elif mode == "append":  # two directives of one name: two lines, the caller's (if any) first
            location += f"            proxy_set_header {alias} {caller};\n"
            location += f"            proxy_set_header {alias} {variable};\n"
        else:
            http += f'    map {caller} $alb_caller_{n} {{\n        "" "";\n        default "{caller}, ";\n    }}\n'
            location += f'            proxy_set_header {alias} "${{alb_caller_{n}}}{variable}";\n'
    return http, location


def fingerprints(pem: str) -> tuple[str, str]:
    """(SHA-1 lower case without colons, SHA-256 upper case with colons) of a PEM certificate."""
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    sha256 = hashlib.sha256(der).hexdigest().upper()
    return hashlib.sha1(der).hexdigest(), ":".join(sha256[i : i + 2] for i in range(0, len(sha256), 2))


class EchoHeaders(BaseHTTPRequestHandler):
    """The app: answers 200 with the request headers it received, as JSON (header names lower-cased)."""

    seen: ClassVar[list[dict[str, str]]] = []
    """The headers of every request that reached it."""
    seen_lines: ClassVar[list[list[tuple[str, str]]]] = []
    """The header lines of every request that reached it, as sent: (name as spelled, value)."""

    def do_GET(self):
        headers = {k.lower(): v for k, v in self.headers.items()}
        EchoHeaders.seen.append(headers)
        EchoHeaders.seen_lines.append(list(self.headers.items()))
        body = json.dumps(headers).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def echo_app() -> Iterator[int]:
    """Runs `EchoHeaders` on 127.0.0.1; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHeaders)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def aliases(run) -> dict[str, str]:
    """What the AlbConfig names each forwarded header: `SubjectDN` → its alias, …"""
    (albconfig,) = run.of_type(ALBCONFIG)
    forwarded = albconfig.inputs["spec"]["listeners"][-1]["xForwardedForConfig"]
    prefix = "XForwardedForClientCert"
    return {key[len(prefix) : -len("Alias")]: alias for key, alias in forwarded.items() if key.endswith("Alias")}


def gate_conf(run) -> str:
    (config_map,) = run.of_type("kubernetes:core/v1:ConfigMap")
    return config_map.inputs["data"][gate.CONFIG_KEY]


class Hops:
    """Hop 1 (the ALB stand-in) → hop 2 (the gate, rendered by `run`) → the echoing app on `app_port`.

    `certificates`: the client certificates hop 1 may be shown (for its SHA-256 table); `server_key_pem`: the
    key of `run`'s server certificate; `fingerprint_format`: `sha1` or `sha256`; `alb_headers`: what hop 1 does
    with the caller's own identity headers (`ALB_HEADER_MODES`), as described above.
    """

    def __init__(
        self,
        workdir: Path,
        run,
        app_port: int,
        fingerprint_format: str,
        *,
        certificates: Iterable[str],
        server_key_pem: str,
        alb_headers: str = "overwrite",
    ):
        self.alb_headers = alb_headers
        binary = nginx_joining_headers()
        conf = gate_conf(run)
        assert conf.count("listen 8080;") == 1 and conf.count("proxy_pass http://127.0.0.1:80;") == 1
        self.gate = Nginx(workdir / "gate", "")
        rendered = conf.replace("listen 8080;", f"listen 127.0.0.1:{self.gate.port};").replace(
            "proxy_pass http://127.0.0.1:80;", f"proxy_pass http://127.0.0.1:{app_port};"
        )
        self.gate = Nginx(workdir / "gate", rendered, port=self.gate.port, binary=binary, capture_stdout=True)
        table = "\n".join(f"        {sha1} {sha256};" for sha1, sha256 in (fingerprints(pem) for pem in certificates))
        lookup = "$ssl_client_fingerprint" if fingerprint_format == "sha1" else '""'
        http = f"    map $ssl_client_fingerprint $alb_fingerprint {{\n        default {lookup};\n"
        http += (table + "\n" if fingerprint_format == "sha256" else "") + "    }\n"
        callers, location = alb_location(
            {alias: HEADER_VARIABLES[field] for field, alias in aliases(run).items()}, alb_headers
        )
        http += callers
        location += "            proxy_set_header Host $http_host;  # a load balancer passes the caller's Host on\n"
        location += f"            proxy_pass http://127.0.0.1:{self.gate.port};\n"
        self.alb = MutualTlsNginx(
            workdir / "alb",
            ca_pem=run.outputs["caCertificatePem"],
            server_cert_pem=run.outputs["serverCertificatePem"],
            server_key_pem=server_key_pem,
            domain=run.named("app-ingress").inputs["spec"]["rules"][0]["host"],
            location=location,
            http=http,
            binary=binary,
        )

    def __enter__(self):
        self.gate.__enter__()
        try:
            self.alb.__enter__()
        except BaseException:
            self.gate.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        self.alb.__exit__(*exc)
        self.gate.__exit__(*exc)

    def curl(self, files: Path, name: str, headers: dict[str, str] | None = None, path: str = "/"):
        """curl `path` through both hops with `files`/<name>.crt, <name>.key and ca.crt; `headers` are the
        caller's own."""
        return self.alb.curl(
            cert=files / f"{name}.crt", key=files / f"{name}.key", cacert=files / "ca.crt", headers=headers, path=path
        )

    def gate_log(self, at_least: int = 0) -> list[str]:
        """The lines the gate has written to its stdout (waiting up to 5 s for `at_least` of them)."""
        return self.gate.stdout_lines(at_least)
