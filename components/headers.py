"""The HTTP header names the listener, the gate and the configuration agree on.

Plain constants and one function, with no SDK behind them, so the configuration can check header names
without loading the Kubernetes or Alibaba Cloud SDKs the listener and the app need.
"""

from __future__ import annotations

import re

# The header names ALB documents (X-Forwarded-Clientcert-subjectdn, …), lower-cased: an alias is always
# set, because ALB's HTTP-headers page says a header is only sent when it has one, and an alias must be
# 1-40 characters of lower-case letters, digits, '-' and '_' (CreateListener).
DEFAULT_CLIENT_CERT_HEADER_ALIASES = {
    field: f"x-forwarded-clientcert-{field.lower()}"
    for field in ("subjectDn", "issuerDn", "fingerprint", "clientVerify")
}
HEADER_ALIAS_PATTERN = re.compile(r"^[a-z0-9_-]{1,40}$")
DEFAULT_CLIENT_NAME_HEADER = "x-client-name"
"""The header the gate hands the app the verified client's name in, unless configured otherwise."""


def header_spellings(header: str) -> list[str]:
    """`header` lower-cased, then every other spelling with '-' and '_' swapped: to nginx (`$http_…`) and to the
    CGI convention many app frameworks follow (`HTTP_X_CLIENT_NAME`), they are all one header."""
    parts = re.split(r"[-_]", header.lower())
    spellings = [parts[0]]
    for part in parts[1:]:
        spellings = [f"{s}{sep}{part}" for s in spellings for sep in "-_"]
    return spellings
