"""The gate's nginx configuration: refuse revoked client certificates in front of the app.

ALB verifies clients against one CA but cannot refuse a single certificate (no CRL, no OCSP); it forwards the
verified certificate as headers. The gate, an nginx in the app's pod, answers 400 when one of those headers
holds more than one value, 403 to a revoked fingerprint or a failed verify result, and otherwise proxies to the
app with the verified client's name in one header (any caller-sent header of that name removed). Each request
writes one JSON identity line to stdout (`IDENTITY_LOG_FIELDS`). Needs nginx 1.23 or later, which joins a
header sent on several lines into one value.

Assumptions (ALB does not document them):
- ALB may replace a caller's identity header or add its own beside it: either way more than one value is
  refused, and a revoked fingerprint is refused wherever it appears. One value: a fingerprint has no comma;
  a verify result has a comma only inside `FAILED:<reason>`; two RFC 2253 DNs joined read "dn1, dn2" (a comma,
  a space, then `TYPE=`), which one DN never holds (limits: a value containing ", X=" is refused as two; two
  DNs in OpenSSL's "oneline" form pass as one).
- The fingerprint's hash, case and colons: SHA-1 and SHA-256 are both listed and matched in any form.
- The request id header is `X-Request-Id` if any hop set one (a caller can too: it correlates, proves nothing).
- The verify result follows nginx's `$ssl_client_verify` (ALB runs Tengine): `SUCCESS` passes, any other
  value present is refused, an absent header passes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from components.headers import header_spellings
from components.package import ComponentInputError

REVOKED_REASON = "client certificate revoked"
UNVERIFIED_REASON = "client certificate not verified"
VERIFY_SUCCESS = "SUCCESS"
CONFIG_KEY = "default.conf"
CHECKSUM_ANNOTATION = "alb-mtls/gate-config-sha256"
REQUEST_ID_HEADER = "x-request-id"
LOG_FORMAT = "alb_mtls_identity"
IDENTITY_LOG_FIELDS = (
    "time",
    "client",
    "subjectDn",
    "issuerDn",
    "fingerprint",
    "verify",
    "revoked",
    "method",
    "host",
    "path",
    "status",
    "bytes",
    "duration",
    "requestId",
)
"""The keys of each identity log line, in order. `client` is the CN of `subjectDn` ("" when it has none, or
holds more than one DN);
`revoked` is true when the gate refused the request as revoked; `path` is the decoded path without the query
(a query string may carry secrets); `status`, `bytes` (the response body's) and `duration` (seconds) are
numbers; every other value is the header or request text as received, escaped by nginx's `escape=json`."""
# The CN of an RFC 2253 DN: skip whole attributes (each ends at a ',' or '+' that no backslash escapes), then
# `CN=` and its value up to the next unescaped ',' or '+', escapes kept (a client's name has none). Written for
# nginx's double-quoted string, which turns each doubled backslash into one: the regex sees `\\` (a backslash).
_CN_PATTERN = r"~*^(?:(?:[^,+\\\\]|\\\\.)*[,+])*?CN=(?<alb_mtls_cn>(?:[^,+\\\\]|\\\\.)+)(?:[,+]|$)"
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


def _logged(header: str | None) -> str:
    """A header's value in the identity log: the JSON string of its `$http_…` variable, "" when not forwarded."""
    return '""' if header is None else f'"{header_variable(header)}"'


def fingerprint_pattern(fingerprint: str) -> str:
    """A case-insensitive nginx regex (`~*`) matching a fingerprint, with or without ':' between the bytes,
    wherever it stands in the value as a whole (not inside a longer run of hex digits and colons)."""
    digits = fingerprint.replace(":", "").lower()
    if not _HEX.fullmatch(digits):
        raise ComponentInputError(f"not a hexadecimal fingerprint: {fingerprint!r}")
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
    client_name_header: str,
) -> str:
    """The gate's `default.conf`.

    `revoked` maps each revoked client's name to its certificate's fingerprints (hex, any case, colons or
    not); the `fingerprint`, `verify`, `subject` and `issuer` headers are the names ALB forwards each value as,
    None when it is not forwarded; `client_name_header` is the header the app gets the client's name in (none
    when the subject DN is not forwarded or has no CN).
    """
    if revoked and fingerprint_header is None:
        raise ComponentInputError("revoked certificates can only be refused when ALB forwards the fingerprint header")
    headers = {
        "fingerprint": fingerprint_header,
        "clientVerify": verify_header,
        "subjectDn": subject_header,
        "issuerDn": issuer_header,
    }
    lines = [
        "# The alb-mtls gate (components/gate.py renders it; the stack owns it: do not edit by hand).",
        "# Refuses identity headers with more than one value and revoked client certificates, then proxies",
        f"# to the app on 127.0.0.1:{app_port} with the client's name in {client_name_header}; logs each request's",
        "# identity as one JSON line on stdout. Needs nginx 1.23+ (a header on several lines joined in $http_).",
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
    client_name = logged_client = '""'
    if subject_header is not None:
        lines += [
            f"map {header_variable(subject_header)} $alb_mtls_client_name {{",
            '    default "";',
            f'    "{_CN_PATTERN}" $alb_mtls_cn;',
            "}",
        ]
        client_name = "$alb_mtls_client_name"
        # The log names no one when the subject holds several DNs (refused with 400): the first CN may be the caller's.
        lines += [
            "map $alb_mtls_several_subjectdn $alb_mtls_logged_client {",
            '    "" $alb_mtls_client_name;',
            '    default "";',
            "}",
        ]
        logged_client = "$alb_mtls_logged_client"
    revoked_flag = "false"
    if fingerprint_header is not None:  # the revoked check comes before any other 403
        lines += [
            'map "$status:$alb_mtls_revoked" $alb_mtls_refused_revoked {',
            "    default false;",
            '    "~^403:." true;',
            "}",
        ]
        revoked_flag = "$alb_mtls_refused_revoked"
    lines += ["map $status $alb_mtls_status {", "    default $status;", '    "000" 0;', "}"]  # no response: 0
    values = {
        "time": '"$time_iso8601"',
        "client": f'"{logged_client}"',
        "subjectDn": _logged(subject_header),
        "issuerDn": _logged(issuer_header),
        "fingerprint": _logged(fingerprint_header),
        "verify": _logged(verify_header),
        "revoked": revoked_flag,
        "method": '"$request_method"',
        "host": '"$host"',
        "path": '"$uri"',
        "status": "$alb_mtls_status",
        "bytes": "$body_bytes_sent",
        "duration": "$request_time",
        "requestId": _logged(REQUEST_ID_HEADER),
    }
    record = "{" + ",".join(f'"{key}":{values[key]}' for key in IDENTITY_LOG_FIELDS) + "}"
    lines.append(f"log_format {LOG_FORMAT} escape=json '{record}';")
    lines += [
        "server {",
        f"    listen {listen_port};",
        "    server_tokens off;",
        "    underscores_in_headers on;  # ALB's header aliases may contain '_'",
        f"    access_log /dev/stdout {LOG_FORMAT};  # in place of the image's own access log: one line a request",
        "    location / {",
        "        default_type text/plain;",
        *(f'        if ({variable}) {{ return {status} "{reason}\\n"; }}' for variable, status, reason in checks),
        f"        proxy_pass http://127.0.0.1:{app_port};",
        "        proxy_http_version 1.1;",
        "        proxy_set_header Host $http_host;",
        '        proxy_set_header Connection "";',
        f"        proxy_set_header {client_name_header} {client_name};",
        # The caller's header of that name in any other spelling (`$http_…` reads them all as one) is dropped.
        *(f'        proxy_set_header {other} "";' for other in header_spellings(client_name_header)[1:]),
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
