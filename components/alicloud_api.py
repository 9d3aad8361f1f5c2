"""The Alibaba Cloud API layer every provider of this project uses: where to call, with what, and how to fail.

Where: the Certificate Management site of a region (`cas_region`) and the alicloud provider's own settings
`alicloud:endpoints` / `alicloud:protocol`, read as pulumi-alicloud reads them (`cas_endpoint`). With what: the SDK
client configuration, credentials from the environment (never inputs, configuration or state). How to fail: one
SDK call becomes a `CasApiError` naming the call and the code (`call_api`); paged lists are read by one helper
(`list_all`); throttling, 5xx and transport failures are retried on tenacity until the operation's deadline.

The SDKs are imported inside the functions that use them, so a dynamic provider that pickles a reference to a
module built on this one stays small.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import tenacity

T = TypeVar("T")

MAINLAND_SITE = "cn-hangzhou"
"""The Certificate Management site of regions in the Chinese mainland (its API: cas.aliyuncs.com)."""
INTERNATIONAL_SITE = "ap-southeast-1"
"""The Certificate Management site of every other region (its API: cas.ap-southeast-1.aliyuncs.com)."""
PROTOCOLS = ("HTTP", "HTTPS")
"""`alicloud:protocol` values the provider accepts (terraform-provider-alicloud: `StringInSlice`, case as written)."""
DEFAULT_PROTOCOL = "HTTPS"
"""`alicloud:protocol` when it is not set (the provider's schema default)."""
SDK_PROTOCOLS = ("https", "http")
"""The same protocols as the SDK spells them (`Config.protocol`); the first is the default."""
PAGE_SIZE = 50
"""Items asked for per page of a list call."""


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


def is_host(value: Any) -> bool:
    """Whether `value` is an endpoint as the SDK takes it: `host[:port]`, no scheme, no path, no white space."""
    return isinstance(value, str) and bool(value) and "/" not in value and not any(c.isspace() for c in value)


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
    if not is_host(found[0]):
        raise ProviderSettingError(
            f"alicloud:endpoints[].{service}",
            found[0],
            "a host name with an optional port and no scheme or path (e.g. cas-vpc.cn-hangzhou.aliyuncs.com); "
            "plain HTTP is alicloud:protocol HTTP",
        )
    return found[0]


def sdk_config(region: str, endpoint: str | None = None, protocol: str | None = None) -> Any:
    """The SDK client configuration (`alibabacloud_tea_openapi` `Config`) of an API at `region`, or at `endpoint`
    when set. Credentials come from where the alicloud provider reads them (`ALICLOUD_ACCESS_KEY`,
    `ALICLOUD_SECRET_KEY`, `ALICLOUD_SECURITY_TOKEN`), else from the standard `alibabacloud_credentials` chain."""
    from alibabacloud_tea_openapi.utils_models import Config

    config = Config(region_id=region, protocol=protocol or SDK_PROTOCOLS[0])
    if endpoint:
        config.endpoint = endpoint
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


# -- one call and its error ----------------------------------------------------------------------

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


def call_api(operation: str, method: Callable[[Any], T], request: Any) -> T:
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


def list_all(
    operation: str, method: Callable[[Any], Any], request_type: Any, items: str, **filters: Any
) -> Iterator[Any]:
    """Every item a paged list call reports, page by page (`CurrentPage` and `ShowSize` asked, `TotalCount`
    answered): `items` names the answer's list, `filters` the request's other fields."""
    for page in itertools.count(1):
        request = request_type(**filters, current_page=page, show_size=PAGE_SIZE)
        body = call_api(operation, method, request).body
        listed = getattr(body, items) or []
        yield from listed
        if not listed or page * PAGE_SIZE >= (body.total_count or 0):
            return


# -- retries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often retryable failures are retried."""

    deadline: float = 300.0
    """Seconds after an operation (create, read, delete) began after which no further retry starts."""
    base: float = 1.0
    """The first backoff, seconds; it doubles with every failed attempt."""
    cap: float = 30.0
    """The longest backoff, seconds."""

    @property
    def wait(self) -> tenacity.wait.wait_base:
        """Capped exponential backoff with equal jitter (half of each step fixed, half random), so parallel
        callers spread out."""
        half = {"multiplier": self.base / 2, "max": self.cap / 2}
        return tenacity.wait_exponential(**half) + tenacity.wait_random_exponential(**half)


class Attempts:
    """The attempts of one operation: each `run` retries its step's retryable failures until the policy's
    deadline, counted from when the operation began. A step repeats a whole find-then-act, so a call whose answer
    was lost is found, not done twice."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.started = time.monotonic()
        self.failed = 0
        """Retryable failures retried so far (a step can tell a first attempt from a retry)."""

    def run(self, step: Callable[[], T]) -> T:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda error: isinstance(error, CasApiError) and error.retryable),
            wait=self.policy.wait,
            stop=tenacity.stop_before_delay(self.policy.deadline - (time.monotonic() - self.started)),
            before_sleep=self._count,
            retry_error_callback=self._give_up,
        )
        return retrying(step)

    def _count(self, _state: tenacity.RetryCallState) -> None:
        self.failed += 1

    def _give_up(self, state: tenacity.RetryCallState) -> NoReturn:
        failure = state.outcome.exception()  # a retryable CasApiError: no other failure is retried
        attempts, elapsed = state.attempt_number, time.monotonic() - self.started
        raise CasApiError(
            failure.operation,
            failure.code,
            f"{failure.message}; gave up after {attempts} attempt{'s' if attempts > 1 else ''} in "
            f"{elapsed:.0f} s (transient failures are retried for {self.policy.deadline:g} s)",
            failure.request_id,
            status=failure.status,
        ) from None
