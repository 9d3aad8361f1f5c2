"""What the Python provider plugins of the engine tests share: values in and out of `PropertyValue`.

The plugins (`tls_plugin`, `alicloud_plugin`) are test equipment: the engine launches them as
`pulumi-resource-tls` / `pulumi-resource-alicloud` (launchers written by `engine/build.sh` into
.engine/fakes) in place of the Terraform-bridged providers, whose Go modules the module proxy here does
not serve. Production uses the real providers.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from pulumi.provider.experimental.property_value import PropertyValue, PropertyValueType
from pulumi.runtime.rpc import UNKNOWN

# UNKNOWN: a value the engine does not know yet (a preview's computed input). It arrives, and goes back,
# as the wire protocol's sentinel string.

NOW_VARIABLE = "ALB_MTLS_FAKE_NOW"
"""An RFC 3339 time the plugins take as "now" (to test renewal windows); unset: the real clock."""


def resource_type(urn: str) -> str:
    """The resource's own type token. (The SDK's `request.type` keeps the parents' types in front,
    `parent$child`, for a resource inside a component.)"""
    return urn.split("::")[-2].rsplit("$", 1)[-1]


def now() -> dt.datetime:
    value = os.environ.get(NOW_VARIABLE)
    if not value:
        return dt.datetime.now(dt.UTC)
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def plain(values: dict[str, PropertyValue]) -> tuple[dict[str, Any], set[str]]:
    """Plain Python values, and the names of the top-level values that were secret."""
    return {k: _plain(v) for k, v in values.items()}, {k for k, v in values.items() if v.contains_secret()}


def _plain(value: PropertyValue) -> Any:
    if value.type == PropertyValueType.COMPUTED:
        return UNKNOWN
    if value.type == PropertyValueType.MAP:
        return {k: _plain(v) for k, v in value.value.items()}
    if value.type == PropertyValueType.ARRAY:
        return [_plain(v) for v in value.value]
    return value.value


def has_unknowns(value: Any) -> bool:
    if isinstance(value, str) and value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(has_unknowns(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknowns(v) for v in value)
    return False


def wrap(values: dict[str, Any], secret: set[str] | tuple[str, ...] = ()) -> dict[str, PropertyValue]:
    """`PropertyValue`s for plain values (UNKNOWN stays unknown); the names in `secret` are marked secret."""
    return {k: _wrap(v).with_secret(k in secret) for k, v in values.items() if v is not None}


def _wrap(value: Any) -> PropertyValue:
    if isinstance(value, dict):
        return PropertyValue({k: _wrap(v) for k, v in value.items() if v is not None})
    if isinstance(value, list | tuple):
        return PropertyValue([_wrap(v) for v in value])
    if isinstance(value, int) and not isinstance(value, bool):
        return PropertyValue(float(value))
    return PropertyValue(value)
