"""The gate's nginx configuration: refuse revoked client certificates in front of the app.

ALB verifies a client certificate against the listener's one CA, but it has no CRL or OCSP setting, so it
cannot refuse a single certificate before it expires. What it does do is forward the verified
certificate to the backend as headers (subject DN, issuer DN, fingerprint, verify result). The gate is
an nginx in the app's pod that reads those headers: it answers 403 to a revoked certificate's
fingerprint and to a verify result that is not a success, and proxies everything else unchanged to the
app on 127.0.0.1. `render_default_conf` writes its whole configuration: `map` blocks and one `server {}`,
for nginx's `http {}` context (the image includes `/etc/nginx/conf.d/*.conf` there).

Two things ALB does not document, and what the gate assumes about them:
- The fingerprint's format (hash, case, colons). The gate lists both the SHA-1 and the SHA-256
  fingerprint of every revoked certificate and matches either, in any case, with or without colons.
- The verify result's values. ALB runs on Tengine (an nginx fork), so the gate assumes nginx's
  `$ssl_client_verify` vocabulary: `SUCCESS` for a verified certificate (any case); anything else
  present (`FAILED:…`, `NONE`) is refused, and an absent header is let through.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

REVOKED_REASON = "client certificate revoked"
UNVERIFIED_REASON = "client certificate not verified"
VERIFY_SUCCESS = "SUCCESS"
CONFIG_KEY = "default.conf"
CHECKSUM_ANNOTATION = "alb-mtls/gate-config-sha256"
_HEX = re.compile(r"^(?:[0-9a-f]{2})+$")


def header_variable(header: str) -> str:
    """The nginx variable holding a request header: `$http_` and the name lower-cased, '-' as '_'."""
    return "$http_" + header.lower().replace("-", "_")


def fingerprint_pattern(fingerprint: str) -> str:
    """A case-insensitive nginx regex (`~*`) matching a fingerprint with or without ':' between the bytes."""
    digits = fingerprint.replace(":", "").lower()
    if not _HEX.fullmatch(digits):
        raise ValueError(f"not a hexadecimal fingerprint: {fingerprint!r}")
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    return "~*^[ \\t]*" + ":?".join(pairs) + "[ \\t]*$"


def render_default_conf(
    *,
    listen_port: int,
    app_port: int,
    fingerprint_header: str | None,
    verify_header: str | None,
    revoked: Mapping[str, Sequence[str]],
) -> str:
    """The gate's `default.conf`.

    `revoked` maps each revoked client's name to its certificate's fingerprints (hex, any case, colons or
    not); `fingerprint_header` / `verify_header` are the names ALB forwards them as, None when not forwarded.
    """
    if revoked and fingerprint_header is None:
        raise ValueError("revoked certificates can only be refused when ALB forwards the fingerprint header")
    lines = [
        "# The alb-mtls gate (components/gate.py renders it; the stack owns it: do not edit by hand).",
        f"# Refuses revoked client certificates, then proxies to the app on 127.0.0.1:{app_port}.",
    ]
    checks = []
    if fingerprint_header is not None:
        lines.append(f"map {header_variable(fingerprint_header)} $alb_mtls_revoked {{")
        lines.append('    default "";')
        for name in sorted(revoked):
            for fingerprint in revoked[name]:
                lines.append(f'    "{fingerprint_pattern(fingerprint)}" "{name}";')
        lines.append("}")
        checks.append(("$alb_mtls_revoked", REVOKED_REASON))
    if verify_header is not None:
        lines += [
            f"map {header_variable(verify_header)} $alb_mtls_unverified {{",
            "    default 1;",
            '    "" 0;',
            f'    "~*^[ \\t]*{VERIFY_SUCCESS}[ \\t]*$" 0;',
            "}",
        ]
        checks.append(("$alb_mtls_unverified", UNVERIFIED_REASON))
    lines += [
        "server {",
        f"    listen {listen_port};",
        "    server_tokens off;",
        "    underscores_in_headers on;  # ALB's header aliases may contain '_'",
        "    location / {",
        "        default_type text/plain;",
        *(f'        if ({variable}) {{ return 403 "{reason}\\n"; }}' for variable, reason in checks),
        f"        proxy_pass http://127.0.0.1:{app_port};",
        "        proxy_http_version 1.1;",
        "        proxy_set_header Host $http_host;",
        '        proxy_set_header Connection "";',
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def checksum(config: str) -> str:
    """The pod template annotation's value: a changed configuration rolls the pods."""
    return hashlib.sha256(config.encode()).hexdigest()


def config_map_name(app_name: str, config: str) -> str:
    """The gate ConfigMap's name: `<app>-gate-` and the first 10 hex digits of the configuration's checksum, so a
    changed configuration is a new ConfigMap (created before the old one is deleted), never a deleted one."""
    return f"{app_name}-gate-{checksum(config)[:10]}"
