"""The base of this project's dynamic providers over Certificate Management: check and diff declared by class
attributes, the inputs they all take (region, endpoint, protocol) checked one way, defaults read from the
resource's Args dataclass, and the SDK client configuration and retry policy they share.

`pulumi.dynamic` pickles a provider with dill by reference to its class: a provider keeps no instance state, and
stacks already hold the module and name of each concrete provider class, so those never move.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

from components.alicloud_api import SDK_PROTOCOLS, RetryPolicy, cas_region, is_host, sdk_config


def is_unknown(value: Any) -> bool:
    """Whether a dynamic-provider input is not known yet (in a preview). The provider process receives
    `pulumi.output.Unknown` objects; the wire protocol's sentinel string is accepted too."""
    return isinstance(value, Unknown) or value == UNKNOWN


@dataclasses.dataclass(kw_only=True)
class ApiInputs:
    """Where a provider calls Certificate Management: the inputs every provider here takes."""

    region: pulumi.Input[str]
    """The stack's Alibaba Cloud region (`alicloud:region`) or a Certificate Management site; calls go to the
    region's site (`cas_region`: cn-hangzhou for the Chinese mainland, ap-southeast-1 otherwise)."""
    endpoint: pulumi.Input[str] | None = None
    """API endpoint override (`host[:port]`, the `cas` entry of `alicloud:endpoints`); by default the SDK's
    endpoint for the site."""
    protocol: pulumi.Input[str] = SDK_PROTOCOLS[0]
    """`https` (default) or `http`: `alicloud:protocol` as the SDK spells it."""


def input_defaults(args_type: type) -> dict[str, Any]:
    """The defaults an Args dataclass states (None, which means unset, left out): what its provider fills in."""
    return {f.name: f.default for f in dataclasses.fields(args_type) if f.default not in (dataclasses.MISSING, None)}


def required_string(prop: str, value: Any) -> list[str]:
    """The problem of an input that must be a non-empty string, if it is not one."""
    if isinstance(value, str) and value.strip():
        return []
    return [f"{prop} is required and must be a non-empty string, got {value!r}"]


def same_site(old: Any, new: Any) -> bool:
    """Whether two regions are served by the same Certificate Management site."""
    return isinstance(old, str) and isinstance(new, str) and cas_region(old) == cas_region(new)


class CheckedProvider(pulumi.dynamic.ResourceProvider):
    """check and diff from class attributes: `DEFAULTS` fill unset inputs, `problems` checks each of `INPUTS` that
    is known, a changed input in `REPLACE_ON` replaces the resource (the new one first; `region` only when its site
    changes), any other change is an update, and `CREATE_ONLY` inputs are never compared. Anything else the engine
    hands over (`__provider`, the outputs) is never compared either."""

    INPUTS: ClassVar[tuple[str, ...]] = ()
    """Input properties, in the order their problems are reported."""
    REPLACE_ON: ClassVar[tuple[str, ...]] = ()
    CREATE_ONLY: ClassVar[tuple[str, ...]] = ()
    """Inputs that matter only when the resource is created: checked, never compared (no change, no update)."""
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    RETRY: ClassVar[RetryPolicy] = RetryPolicy()
    """Retries of throttling, 5xx and transport failures; a provider class may set a shorter one."""

    def with_defaults(self, props: dict[str, Any]) -> dict[str, Any]:
        return {**self.DEFAULTS, **props}

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        inputs = self.with_defaults({k: v for k, v in news.items() if v is not None})
        failures = [
            pulumi.dynamic.CheckFailure(prop, reason)
            for prop in self.INPUTS
            if not is_unknown(inputs.get(prop))
            for reason in self.problems(prop, inputs.get(prop))
        ]
        return pulumi.dynamic.CheckResult(inputs, failures)

    def changes(self, olds: dict[str, Any], news: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
        """(the new inputs with defaults, the changed inputs, those of them that replace the resource)."""
        news = self.with_defaults(news)
        compared = [k for k in self.INPUTS if k not in self.CREATE_ONLY]
        changed = [k for k in compared if is_unknown(news.get(k)) or olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k in self.REPLACE_ON]
        if "region" in replaces and same_site(olds.get("region"), news.get("region")):
            replaces.remove("region")  # the same Certificate Management site: what it holds is where it was
        return news, changed, replaces

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        _, changed, replaces = self.changes(olds, news)
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def problems(self, prop: str, value: Any) -> list[str]:
        """Why an input value is unacceptable (empty when it is fine): the shared inputs are checked here, the
        provider's own by `input_problems`."""
        if prop == "endpoint":
            if value is None or is_host(value):
                return []
            return [f"endpoint must be a host[:port] without scheme or path (e.g. cas.aliyuncs.com), got {value!r}"]
        if prop == "region" and not required_string(prop, value) and any(c.isspace() for c in value):
            return [f"region must be an Alibaba Cloud region id such as cn-hangzhou, got {value!r}"]
        if prop == "protocol" and not required_string(prop, value) and value not in SDK_PROTOCOLS:
            return [f"protocol must be 'https' or 'http', got {value!r}"]
        if prop in ("region", "protocol"):
            return required_string(prop, value)
        return self.input_problems(prop, value)

    def input_problems(self, prop: str, value: Any) -> list[str]:
        """Why a value of one of the provider's own inputs is unacceptable; by default it must be a non-empty
        string."""
        return required_string(prop, value)

    @staticmethod
    def sdk_config(props: dict[str, Any]) -> Any:
        """The SDK client configuration for `props`: the region's Certificate Management site, or the endpoint."""
        return sdk_config(cas_region(props["region"]), props.get("endpoint"), props.get("protocol"))


def registered(provider: CheckedProvider, args: Any, outputs: tuple[str, ...]) -> dict[str, Any]:
    """The properties a dynamic resource registers: the provider's inputs, read from its Args, and its outputs,
    unset."""
    return {**{k: getattr(args, k) for k in provider.INPUTS}, **dict.fromkeys(outputs)}
