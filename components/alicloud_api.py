"""The Alibaba Cloud API layer every provider of this project uses: where to call, with what, and how to fail.

- Where: `cas_region(region)`, the Certificate Management site a region's certificates live in (one mapping for
  the listener's certificate ids and for every Certificate Management / PCA call), and `cas_endpoint(endpoints,
  protocol)`, which reads the alicloud provider's own settings `alicloud:endpoints` and `alicloud:protocol`
  exactly as pulumi-alicloud (terraform-provider-alicloud) does: `endpoints` is a list of objects whose `cas`
  entry, when set, is a host name (`host[:port]`, no scheme, no path) used instead of the region's endpoint, and
  `protocol` is `HTTP` or `HTTPS` (case as written; default `HTTPS`) for every call.
- With what: `sdk_config`, the SDK client configuration (region, endpoint, protocol) with credentials from the
  environment where the alicloud provider reads them (`ALICLOUD_ACCESS_KEY`, `ALICLOUD_SECRET_KEY`,
  `ALICLOUD_SECURITY_TOKEN`), else from the standard `alibabacloud_credentials` chain. Credentials are never
  inputs, never stack configuration, never in a resource's state.
- How to fail: `call_api` runs one SDK call and turns its failure into a `CasApiError` naming the call and the
  code; `Attempts` retries the retryable ones (throttling, 5xx, no answer) with capped exponential backoff and
  jitter until a deadline (`RetryPolicy`).

The SDKs (`alibabacloud_tea_openapi` and those built on it) are imported inside the functions that use them, so a
dynamic provider that pickles a reference to this module stays small.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

T = TypeVar("T")

MAINLAND_SITE = "cn-hangzhou"
"""The Certificate Management site of regions in the Chinese mainland (its API: cas.aliyuncs.com)."""
INTERNATIONAL_SITE = "ap-southeast-1"
"""The Certificate Management site of every other region (its API: cas.ap-southeast-1.aliyuncs.com)."""
PROTOCOLS = ("HTTP", "HTTPS")
"""`alicloud:protocol` values the provider accepts (terraform-provider-alicloud: `StringInSlice`, case as written)."""
DEFAULT_PROTOCOL = "HTTPS"
"""`alicloud:protocol` when it is not set (the provider's schema default)."""


def cas_region(region: str) -> str:
    """The Certificate Management Service site a region's certificates live in.

    Certificate Management has two sites: cn-hangzhou for regions in the Chinese mainland and ap-southeast-1 for
    the others. ALB names a server certificate `<id>-<site>` (the sample's `108*****-cn-hangzhou`), and the API
    (certificates and the private CA alike) is reached at that site: the SDKs' endpoint maps know
    `cas.aliyuncs.com` for mainland regions and fall back to `cas.<region>.aliyuncs.com` for others, an endpoint
    that exists for ap-southeast-1 and not for most other regions.
    """
    return MAINLAND_SITE if region.startswith("cn-") else INTERNATIONAL_SITE


class ProviderSettingError(ValueError):
    """An `alicloud:` provider setting the alicloud provider would not accept; names the key, the value and what
    would be accepted."""

    def __init__(self, key: str, value: Any, accepted: str) -> None:
        self.key, self.value, self.accepted = key, value, accepted
        super().__init__(f"{key}: {value!r} is not accepted; expected {accepted}")


@dataclass(frozen=True)
class ApiEndpoint:
    """Where one Alibaba Cloud API is called, as an SDK client configuration takes it."""

    host: str | None
    """`host[:port]` from `alicloud:endpoints`; None: the SDK's endpoint for the region."""
    protocol: str
    """`https` or `http`: the SDK's spelling of `alicloud:protocol`."""


def cas_endpoint(endpoints: Any, protocol: Any) -> ApiEndpoint:
    """The Certificate Management endpoint the alicloud provider uses, from its settings `alicloud:endpoints`
    (None or a list of objects) and `alicloud:protocol` (None, `HTTP` or `HTTPS`).

    As terraform-provider-alicloud reads them: `endpoints` is a set of blocks whose entries are strings (an unset
    entry is empty: the region's endpoint), and the endpoint is a host name that the client puts after
    `<protocol>://`, so a value with a scheme or a path is refused here (the provider would call
    `https://http://…`); `protocol` must be `HTTP` or `HTTPS` exactly. Raises `ProviderSettingError`.
    """
    return ApiEndpoint(_endpoint_entry(endpoints, "cas"), read_protocol(protocol).lower())


def read_protocol(protocol: Any) -> str:
    """`alicloud:protocol` as the provider takes it: `HTTP` or `HTTPS` (default `HTTPS`)."""
    if protocol is None:
        return DEFAULT_PROTOCOL
    if protocol not in PROTOCOLS:
        raise ProviderSettingError("alicloud:protocol", protocol, "HTTP or HTTPS")
    return str(protocol)


def _endpoint_entry(endpoints: Any, service: str) -> str | None:
    accepted = f'a list of objects such as [{{"{service}": "cas-vpc.cn-hangzhou.aliyuncs.com"}}]'
    if endpoints is None:
        return None
    if not isinstance(endpoints, list) or not all(isinstance(e, dict) for e in endpoints):
        raise ProviderSettingError("alicloud:endpoints", endpoints, accepted)
    for block in endpoints:
        for name, value in block.items():
            if not isinstance(value, str):
                raise ProviderSettingError(f"alicloud:endpoints[].{name}", value, "a string (a host name)")
    found = [block[service] for block in endpoints if block.get(service)]
    if not found:
        return None
    host = found[0]
    if "://" in host or "/" in host or not host.strip() or any(c.isspace() for c in host):
        raise ProviderSettingError(
            f"alicloud:endpoints[].{service}",
            host,
            "a host name with an optional port and no scheme or path (e.g. cas-vpc.cn-hangzhou.aliyuncs.com); "
            "plain HTTP is alicloud:protocol HTTP",
        )
    return host


def is_unknown(value: Any) -> bool:
    """Whether a dynamic-provider input is not known yet (in a preview). The provider process receives
    `pulumi.output.Unknown` objects; the wire protocol's sentinel string is accepted too."""
    return isinstance(value, Unknown) or value == UNKNOWN


RETRYABLE_CODES = frozenset({"ServiceUnavailable", "InternalError", "UnknownError", "ServiceTimeout"})
"""Error codes that mean "try again later", besides every `Throttling` / `Throttling.*` code."""


class CasApiError(Exception):
    """A Certificate Management Service call failed; the message names the call and the error code."""

    def __init__(
        self,
        operation: str,
        code: str | None,
        message: str,
        request_id: str | None = None,
        *,
        status: int | None = None,
        retryable: bool = False,
    ):
        self.operation = operation
        self.code = code
        self.message = message
        self.request_id = request_id
        self.status = status
        """The HTTP status of the error answer; None when no answer came (a transport failure)."""
        self.retryable = retryable
        """Whether trying again later may succeed (throttling, 5xx, a transport failure)."""
        text = f"CAS {operation} failed: {code}: {message}" if code else f"CAS {operation} failed: {message}"
        if request_id:
            text += f" (RequestId {request_id})"
        super().__init__(text)

    @property
    def not_found(self) -> bool:
        """The answer says the thing asked about does not exist."""
        return bool(self.code) and any(word in self.code for word in ("NotFound", "NotExist"))


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often retryable CAS failures are retried."""

    deadline: float = 300.0
    """Seconds after an operation (create, read, delete) began after which no further retry starts."""
    base: float = 1.0
    """The first backoff, seconds; it doubles with every failed attempt."""
    cap: float = 30.0
    """The longest backoff, seconds."""

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based): capped exponential with equal
        jitter (half the step fixed, half random), so parallel callers spread out."""
        step = min(self.cap, self.base * 2**attempt)
        return step / 2 + random.uniform(0, step / 2)


class Attempts:
    """Runs steps of one operation, retrying retryable failures until the operation's deadline."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.started = time.monotonic()
        self.failed = 0
        """Retryable failures met so far (a step can tell a first attempt from a retry)."""

    def run(self, step: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return step()
            except CasApiError as failure:
                if not failure.retryable:
                    raise
                delay = self.policy.backoff(attempt)
                attempt += 1
                self.failed += 1
                elapsed = time.monotonic() - self.started
                if elapsed + delay > self.policy.deadline:
                    raise CasApiError(
                        failure.operation,
                        failure.code,
                        f"{failure.message}; gave up after {attempt} attempt{'s' if attempt > 1 else ''} in "
                        f"{elapsed:.0f} s (transient failures are retried for {self.policy.deadline:g} s)",
                        failure.request_id,
                        status=failure.status,
                    ) from None
                time.sleep(delay)


def sdk_config(props: dict[str, Any]) -> Any:
    """The SDK client configuration of an Alibaba Cloud API (`alibabacloud_tea_openapi` `Config`) for `props`
    (`region`, optional `endpoint` and `protocol`), with credentials from the environment (see the module)."""
    from alibabacloud_tea_openapi.utils_models import Config

    config = Config(region_id=props["region"], protocol=props.get("protocol") or "https")
    if props.get("endpoint"):
        config.endpoint = props["endpoint"]
    access_key = os.environ.get("ALICLOUD_ACCESS_KEY")
    secret_key = os.environ.get("ALICLOUD_SECRET_KEY")
    if bool(access_key) != bool(secret_key):
        missing = "ALICLOUD_SECRET_KEY" if access_key else "ALICLOUD_ACCESS_KEY"
        raise ValueError(f"{missing} is not set: set both ALICLOUD_ACCESS_KEY and ALICLOUD_SECRET_KEY, or neither")
    if access_key and secret_key:
        config.access_key_id = access_key
        config.access_key_secret = secret_key
        config.security_token = os.environ.get("ALICLOUD_SECURITY_TOKEN") or None
    else:
        from alibabacloud_credentials.client import Client as CredentialClient

        config.credential = CredentialClient()
    return config


def call_api(operation: str, method: Any, request: Any) -> Any:
    """Runs one SDK call (of any Alibaba Cloud SDK built on `alibabacloud_tea_openapi`); a failure becomes a
    `CasApiError` naming the call and the code, and saying whether it is worth retrying (throttling, 5xx, no
    answer at all)."""
    from darabonba.exceptions import RetryError
    from Tea.exceptions import TeaException

    try:
        return method(request)
    except TeaException as error:
        data = error.data if isinstance(error.data, dict) else {}
        inner = getattr(error, "inner_exception", None)
        code = error.code if error.code not in (None, "", "None") else data.get("Code")
        status = getattr(error, "status_code", None) or data.get("statusCode")
        if isinstance(inner, RetryError):  # the SDK's wrapper of a transport failure: no answer came
            reason = str(inner.message)
            # A refused TLS certificate is not going to get better by waiting.
            retryable = not any(word in reason for word in ("CERTIFICATE_VERIFY_FAILED", "SSLError"))
            raise CasApiError(operation, None, f"no answer: {reason}", retryable=retryable) from None
        message = data.get("Message") or getattr(inner, "message", None) or error.message or str(error)
        code = str(code) if code else None
        retryable = (
            (code is not None and (code in RETRYABLE_CODES or code.split(".")[0] == "Throttling"))
            or status == 429
            or (status is not None and int(status) >= 500)
        )
        raise CasApiError(operation, code, message, data.get("RequestId"), status=status, retryable=retryable) from None
