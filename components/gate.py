"""The gate's nginx configuration: refuse revoked client certificates in front of the app.

ALB verifies a client certificate against the listener's one CA, but it has no CRL or OCSP setting, so it
cannot refuse a single certificate before it expires. What it does do is forward the verified
certificate to the backend as headers (subject DN, issuer DN, fingerprint, verify result). The gate is
an nginx in the app's pod that reads those headers: it answers 400 to a request in which one of them holds
more than one value, 403 to a revoked certificate's fingerprint and to a verify result that is not a
success, and proxies everything else unchanged to the app on 127.0.0.1. `render_default_conf` writes its
whole configuration: `map` blocks and one `server {}`, for nginx's `http {}` context (the image includes
`/etc/nginx/conf.d/*.conf` there). It needs nginx 1.23 or later (the image runs 1.27), which hands a header
sent on several lines to `$http_…` as one value joined with ", "; older nginx keeps only the first line.

What ALB does not document, and what the gate assumes about it:
- Whether ALB replaces an identity header the caller already sent, or adds its own beside it (as proxies
  do with `X-Forwarded-For`: a second line, or the two joined into one "caller, alb"). The gate assumes
  neither: a header that holds more than one value is refused with 400, whichever way it got there, so a
  caller's own header can never stand beside or instead of ALB's. If ALB replaces it, nothing is refused
  that was not forged. Independently, a revoked fingerprint is refused (403) wherever it appears in the
  value. What one value may contain, per header:
  - fingerprint: hexadecimal digits, perhaps with ':' between the bytes; a comma means two values.
  - verify result: `SUCCESS`, `NONE` or `FAILED:<reason>`, where only the reason is free text (OpenSSL
    has a reason with a comma in it); a comma outside a reason, or one followed by another result, means
    two values.
  - subject and issuer DN: they contain commas (RFC 2253 separates its parts with "," and escapes a comma
    inside a value as "\\,"), so a comma alone proves nothing. Two DNs joined read "dn1, dn2": a comma, a
    space, then an attribute type and "=" (`CN=`, `O=`, `2.5.4.3=`; `/CN=` for OpenSSL's legacy form),
    which one RFC 2253 DN never holds (its parts follow a comma without a space). Limits: a DN one of
    whose values itself contains ", X=" (`O=Acme\\, OU=Sales`) is refused as two; two DNs in OpenSSL's
    "oneline" form (`C = CN, O = x`) cannot be told from one, and pass.
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

# Per header, the nginx regexes (`~*`: any case) that match a value holding more than one value; see above.
_FINGERPRINT_SEVERAL = ("~,",)
_VERIFY_SEVERAL = ("~*^(?![ \\t]*FAILED:).*,", "~*,[ \\t]*(SUCCESS|NONE|FAILED:)")
_DN_SEVERAL = ("~*, +/?([a-z][a-z0-9-]*|[0-9]+([.][0-9]+)+)=",)
SEVERAL_VALUES_RULES = {
    "fingerprint": _FINGERPRINT_SEVERAL,
    "clientVerify": _VERIFY_SEVERAL,
    "subjectDn": _DN_SEVERAL,
    "issuerDn": _DN_SEVERAL,
}
"""Which of a header's values mean that it holds more than one, by the header's field name."""


def several_values_reason(header: str) -> str:
    """The 400 answer's text for a request whose `header` holds more than one value."""
    return f"{header} holds more than one value"


def header_variable(header: str) -> str:
    """The nginx variable holding a request header: `$http_` and the name lower-cased, '-' as '_'."""
    return "$http_" + header.lower().replace("-", "_")


def fingerprint_pattern(fingerprint: str) -> str:
    """A case-insensitive nginx regex (`~*`) matching a fingerprint, with or without ':' between the bytes,
    wherever it stands in the value as a whole (not inside a longer run of hex digits and colons)."""
    digits = fingerprint.replace(":", "").lower()
    if not _HEX.fullmatch(digits):
        raise ValueError(f"not a hexadecimal fingerprint: {fingerprint!r}")
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    return "~*(^|[^0-9a-f:])" + ":?".join(pairs) + "($|[^0-9a-f:])"


def render_default_conf(
    *,
    listen_port: int,
    app_port: int,
    fingerprint_header: str | None,
    verify_header: str | None,
    revoked: Mapping[str, Sequence[str]],
    subject_header: str | None,
    issuer_header: str | None,
) -> str:
    """The gate's `default.conf`.

    `revoked` maps each revoked client's name to its certificate's fingerprints (hex, any case, colons or
    not); the `*_header` arguments are the names ALB forwards each value as, None when it is not forwarded.
    """
    if revoked and fingerprint_header is None:
        raise ValueError("revoked certificates can only be refused when ALB forwards the fingerprint header")
    headers = {
        "fingerprint": fingerprint_header,
        "clientVerify": verify_header,
        "subjectDn": subject_header,
        "issuerDn": issuer_header,
    }
    lines = [
        "# The alb-mtls gate (components/gate.py renders it; the stack owns it: do not edit by hand).",
        "# Refuses identity headers with more than one value and revoked client certificates, then proxies",
        f"# to the app on 127.0.0.1:{app_port}. Needs nginx 1.23+ (a header on several lines joined in $http_).",
    ]
    checks: list[tuple[str, int, str]] = []
    for field, header in headers.items():
        if header is None:
            continue
        variable = "$alb_mtls_several_" + field.lower()
        lines.append(f"map {header_variable(header)} {variable} {{")
        lines.append('    default "";')
        lines += [f'    "{pattern}" 1;' for pattern in SEVERAL_VALUES_RULES[field]]
        lines.append("}")
        checks.append((variable, 400, several_values_reason(header)))
    if fingerprint_header is not None:
        lines.append(f"map {header_variable(fingerprint_header)} $alb_mtls_revoked {{")
        lines.append('    default "";')
        for name in sorted(revoked):
            for fingerprint in revoked[name]:
                lines.append(f'    "{fingerprint_pattern(fingerprint)}" "{name}";')
        lines.append("}")
        checks.append(("$alb_mtls_revoked", 403, REVOKED_REASON))
    if verify_header is not None:
        lines += [
            f"map {header_variable(verify_header)} $alb_mtls_unverified {{",
            "    default 1;",
            '    "" 0;',
            f'    "~*^[ \\t]*{VERIFY_SUCCESS}[ \\t]*$" 0;',
            "}",
        ]
        checks.append(("$alb_mtls_unverified", 403, UNVERIFIED_REASON))
    lines += [
        "server {",
        f"    listen {listen_port};",
        "    server_tokens off;",
        "    underscores_in_headers on;  # ALB's header aliases may contain '_'",
        "    location / {",
        "        default_type text/plain;",
        *(f'        if ({variable}) {{ return {status} "{reason}\\n"; }}' for variable, status, reason in checks),
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
