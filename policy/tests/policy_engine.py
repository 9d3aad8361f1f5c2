"""Hands resource inputs to a policy exactly as the policy runtime does in `Analyze`.

The engine sends inputs as a protobuf Struct (numbers become floats; unknown values are sentinel
strings); pulumi-policy deserialises them, wraps them in a proxy that raises `UnknownValueError` on an
unknown value, and calls each policy's `validate` with a real `ResourceValidationArgs`.
"""

from __future__ import annotations

from typing import Any

from alb_mtls_policies import POLICIES
from google.protobuf import json_format, struct_pb2
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

UNKNOWN = UNKNOWN_STRING_VALUE
"""An input that is unknown during preview, as the engine sends it."""

STACK_URN = "urn:pulumi:dev::alb-mtls"


def to_struct(props: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(props, struct)
    return struct


def validation_args(resource_type: str, props: dict[str, Any], name: str = "resource") -> ResourceValidationArgs:
    inputs = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(to_struct(props))))
    options = PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )
    return ResourceValidationArgs(
        resource_type=resource_type,
        props=inputs,
        urn=f"{STACK_URN}::{resource_type}::{name}",
        name=name,
        opts=options,
        provider=None,
    )


def run_policy(policy_name: str, resource_type: str, props: dict[str, Any], into: list[str] | None = None) -> list[str]:
    """The violation messages one policy of the pack reports for one resource (also appended to `into`)."""
    policy = next(p for p in POLICIES if p.name == policy_name)
    messages = [] if into is None else into
    policy.validate(validation_args(resource_type, props), lambda message, urn=None: messages.append(message))
    return messages


def run_pack(resource_type: str, props: dict[str, Any]) -> dict[str, list[str]]:
    """Violation messages of every policy of the pack for one resource, by policy name (only those with some)."""
    found = {policy.name: run_policy(policy.name, resource_type, props) for policy in POLICIES}
    return {name: messages for name, messages in found.items() if messages}
