"""The stack's configuration: every `alb-mtls:` key read once, validated before anything is created.

`__main__.py` calls `load()`; components never read `pulumi.Config`. Each key, its type, default, check and
meaning is declared once, in the pydantic models (`components.config_stack.StackConfig` and its sections).
Here their errors become the configuration's messages (`alb-mtls:<key>: <value> is not accepted; expected …`),
and their JSON schema becomes the configuration reference table (`python stack_config.py --markdown`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

import pulumi
from pydantic import ValidationError

from components.config_clients import ClientSettings
from components.config_fields import NAMESPACE, NOT_ACCEPTED, REFUSED, REFUSED_AT, UNKNOWN_FIELD, label, rejection
from components.config_sections import GATE_IMAGE, SEED_IMAGE
from components.config_stack import StackConfig

__all__ = [
    "GATE_IMAGE",
    "SEED_IMAGE",
    "SERVER_EARLY_RENEWAL_DAYS",
    "SERVER_VALIDITY_DAYS",
    "ClientSettings",
    "ConfigError",
    "Setting",
    "StackConfig",
    "load",
    "markdown_table",
    "parse",
    "settings",
]

SERVER_VALIDITY_DAYS = 365
SERVER_EARLY_RENEWAL_DAYS = 30


class ConfigError(pulumi.RunError):
    """A configuration value breaks the contract; raised before any resource is registered."""


def parse(
    raw: Mapping[str, Any], region: str | None = None, endpoints: Any = None, protocol: Any = None
) -> StackConfig:
    """Validate raw configuration values (as `pulumi.Config` returns them) into a `StackConfig`, with the alicloud
    provider's `region`, `endpoints` and `protocol`."""
    try:
        context = {"region": region, "endpoints": endpoints, "protocol": protocol}
        return StackConfig.model_validate(raw, context=context)
    except ValidationError as error:
        raise ConfigError(_message(error.errors()[0], raw)) from None


def _message(error: Any, raw: Mapping[str, Any]) -> str:
    """The configuration's wording of one validation error, naming the key and the value as configured."""
    ctx = error.get("ctx") or {}
    path = (*error["loc"], ctx["field"]) if ctx.get("field") else error["loc"]
    where, value = _configured(raw, path)
    if error["type"] == REFUSED:
        return ctx["message"]
    if error["type"] == REFUSED_AT:
        return f"{where}: {ctx['message']}"
    if error["type"] == UNKNOWN_FIELD:
        section = _configured(raw, error["loc"])[0]
        return rejection(where, value, f"no such field (typo?); the fields of {section} are {ctx['fields']}")
    return rejection(where, value, ctx["accepted"] if error["type"] == NOT_ACCEPTED else error["msg"])


def _configured(raw: Mapping[str, Any], path: tuple[Any, ...]) -> tuple[str, Any]:
    """The key at `path` (`alb-mtls:clients[1].csr`) and the value configured there. A value written in short form
    (a client given by its name alone) is named and shown as written."""
    where, value = "", raw
    for part in path:
        if isinstance(part, int) and isinstance(value, list):
            where, value = f"{where}[{part}]", value[part]
        elif isinstance(part, str) and isinstance(value, Mapping):
            where, value = f"{where}.{part}" if where else part, value.get(part)
    return label(where), value


def load() -> StackConfig:
    """Read every `alb-mtls:` key and the alicloud provider's settings from the stack and validate them.

    The region is the alicloud provider's: `alicloud:region`, else the `ALICLOUD_REGION` variable. So is the
    Certificate Management endpoint: the `cas` entry of `alicloud:endpoints`, when set, and `alicloud:protocol`.
    """
    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for setting in settings():
        if "." not in setting.key:
            value = config.get(setting.key) if setting.type == "string" else _read_object(config, setting.key)
            if value is not None:
                raw[setting.key] = value
    raw.update(_stray_keys(StackConfig.field_keys()))
    alicloud = pulumi.Config("alicloud")
    try:
        endpoints = alicloud.get_object("endpoints")
    except pulumi.config.ConfigTypeError:
        raise ConfigError(
            rejection("alicloud:endpoints", alicloud.get("endpoints"), "a JSON/YAML list of objects")
        ) from None
    return parse(
        raw,
        region=alicloud.get("region") or os.environ.get("ALICLOUD_REGION") or None,
        endpoints=endpoints,
        protocol=alicloud.get("protocol"),
    )


def _read_object(config: pulumi.Config, key: str) -> Any:
    try:
        return config.get_object(key)
    except pulumi.config.ConfigTypeError as error:  # the value is not JSON
        raise ConfigError(
            f"{label(key)}: {config.get(key)!r} is not accepted; expected a JSON/YAML value ({error})"
        ) from None


def _stray_keys(known: list[str]) -> dict[str, Any]:
    """Keys set under `alb-mtls:` that the stack does not know (usually typos), so that they are refused.

    `pulumi.Config` reads one key at a time and cannot list the keys that are set; the Python SDK keeps them all in
    `pulumi.runtime.config.CONFIG`, private state, read here and nowhere else.
    """
    from pulumi.runtime.config import CONFIG

    prefix = NAMESPACE + ":"
    return {
        k[len(prefix) :]: v for k, v in CONFIG.get().items() if k.startswith(prefix) and k[len(prefix) :] not in known
    }


class Setting(NamedTuple):
    """One key of the configuration reference: a top-level key, or a field of an object (`object.field`)."""

    key: str
    type: str
    default: Any
    """None when unset by default (or required)."""
    meaning: str
    required: bool


def settings() -> list[Setting]:
    """Every key, from the models' JSON schema: top-level keys in order, each object followed by its fields."""
    schema = StackConfig.model_json_schema(by_alias=True)
    sections = schema.get("$defs", {})
    rows = []
    for key, entry in schema["properties"].items():
        rows.append(_setting(key, entry, required=key in schema.get("required", ())))
        section = sections.get(entry.get("$ref", "").rpartition("/")[2], {})
        rows += [_setting(f"{key}.{field}", value) for field, value in section.get("properties", {}).items()]
    return rows


def _setting(key: str, entry: Mapping[str, Any], required: bool = False) -> Setting:
    kinds = [kind for kind in entry.get("anyOf", [entry]) if kind.get("type") != "null"]
    named = " or ".join(dict.fromkeys(map(_kind, kinds)))
    return Setting(key, named, entry.get("default"), entry.get("description", ""), required)


def _kind(schema: Mapping[str, Any]) -> str:
    if "$ref" in schema or schema.get("type") == "object":
        return "object"
    if schema.get("type") == "array":
        return "list of strings" if schema.get("items", {}).get("type") == "string" else "list"
    return schema["type"]


def markdown_table() -> str:
    """The configuration reference table: key, type, default, meaning."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for s in settings():
        if s.required:
            default = "**required**"
        elif s.type == "object":
            default = "see fields"
        elif s.default is None:
            default = "unset"
        else:
            default = f"`{json.dumps(s.default).strip(chr(34))}`"
        rows.append(f"| `{s.key}` | {s.type} | {default} | {s.meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown_table())
    else:
        sys.exit("usage: python stack_config.py --markdown")
