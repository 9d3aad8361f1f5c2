"""Runs `__main__.py` fresh under `pulumi.runtime.set_mocks` and records what it asked for.

`run_program(config)` seeds the stack configuration, runs the program with mocks that play each
provider (pulumi-tls faithfully, with real keys and certificates), waits for every output, and
returns a `ProgramRun`: each registered resource with its inputs, outputs, parent, dependencies
and options, and the stack outputs with their secret flags.
"""

from __future__ import annotations

import json
import runpy
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import massage, run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests.fake_pca import PcaAuthorities
from tests.fakes.tls_provider import SECRET_OUTPUTS, FakeTlsProvider

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
PROJECT = "alb-mtls"
SECRET = {rpc._special_sig_key: rpc._special_secret_sig}

BASE_CONFIG: dict[str, Any] = {
    "domain": "coffee.example.com",
    "vswitchIds": ["vsw-2zednnurkug2xl4aaaaaa", "vsw-2zeusdspvojoumxbbbbbb"],
    "clients": ["alice", "bob"],
    "ca": {"commonName": "alb-mtls test root", "organization": "alb-mtls", "country": "CN"},
}
ALICLOUD_REGION = "cn-hangzhou"


def secret(value: Any) -> dict[str, Any]:
    """A value as the engine marks a secret on the wire."""
    return {**SECRET, "value": value}


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def reveal(value: Any) -> Any:
    """The value with every secret marker removed, as a provider sees it."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def conceal(value: Any) -> Any:
    """The value as `pulumi stack output` shows it without `--show-secrets`: each secret is "[secret]"."""
    if is_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: conceal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [conceal(v) for v in value]
    return value


@dataclass
class Registered:
    """One resource the program registered."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    protect: bool
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str
    secret_inputs: set[str]
    ignore_changes: list[str] = field(default_factory=list)
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """The `customTimeouts` option as the engine gets it (`create`, `update`, `delete`; unset ones left out)."""
    replace_with: list[str] = field(default_factory=list)
    """URNs of the `replace_with` option: this resource is replaced whenever one of them is."""


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each registration's request in order."""

    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.registered: list[Registered] = []
        self.registered_outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            state = self.resources[response.urn]
            inputs = rpc.deserialize_properties(request.object)
            self.registered.append(
                Registered(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=request.custom,
                    parent=request.parent,
                    protect=request.protect,
                    dependencies=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    inputs=reveal(inputs),
                    outputs=reveal(state.state),
                    id=state.id,
                    secret_inputs={k for k, v in inputs.items() if is_secret(v)},
                    ignore_changes=list(request.ignoreChanges),
                    custom_timeouts={k: v for k, v in json_format.MessageToDict(request.customTimeouts).items() if v},
                    replace_with=list(request.replace_with),
                )
            )
        return response

    def RegisterResourceOutputs(self, request):
        """Keeps what a component's `register_outputs` sends, as JSON, secrets still marked."""
        self.registered_outputs[request.urn] = json_format.MessageToDict(request.outputs)
        return super().RegisterResourceOutputs(request)


class StackMocks(pulumi_mocks.Mocks):
    """Plays every provider the program uses; `extra` handlers can take over a type token."""

    def __init__(self, tls: FakeTlsProvider | None = None, extra: dict[str, Callable] | None = None):
        self.tls = tls or FakeTlsProvider()
        self.extra = extra or {}
        self.pca = PcaAuthorities()
        """The private CA (PCA) that plays pulumi-alicloud's PCA CAs and the PCA certificate provider."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        if not args.custom:
            return "", {}
        args.inputs = reveal(args.inputs)
        if args.typ in self.extra:
            return self.extra[args.typ](args)
        if self.tls.handles(args.typ):
            outputs = self.tls.create(args.typ, args.inputs)
            for name in SECRET_OUTPUTS.get(args.typ, ()):
                if name in outputs:
                    outputs[name] = secret(outputs[name])
            return f"{args.name}-{secrets.token_hex(4)}", outputs
        if self.pca.handles(args.typ, args.inputs):
            return self.pca.mock(args.typ, args.inputs)
        if args.typ == "alicloud:cas/serviceCertificate:ServiceCertificate":
            return str(secrets.randbelow(10**8) + 10**7), dict(args.inputs)
        if args.typ == "pulumi-python:dynamic:Resource":
            identifier = secrets.token_hex(16)
            return identifier, {**args.inputs, "identifier": identifier, "warehouse_id": 1234}
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi_mocks.MockCallArgs):
        return {}, None


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    resources: list[Registered]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    """The stack outputs the engine records as a secret: the top-level value, not something inside it."""
    wire_outputs: dict[str, Any] = field(default_factory=dict)
    """The stack outputs as the engine receives them (`serialize_properties`, as JSON), secrets marked."""
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What each component registered with `register_outputs`, by URN, in the same form."""

    def of_type(self, type_token: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> Registered:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name!r}, found {len(matches)}"
        return matches[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)

    def urns(self) -> set[str]:
        return {r.urn for r in self.resources}

    def depends_on(self, resource: Registered, other: Registered) -> bool:
        """Whether `resource` depends, directly or through other resources, on `other`."""
        seen, todo = set(), [resource.urn]
        while todo:
            urn = todo.pop()
            if urn in seen:
                continue
            seen.add(urn)
            current = self.by_urn(urn)
            direct = set(current.dependencies) | {u for us in current.property_dependencies.values() for u in us}
            if other.urn in direct:
                return True
            todo.extend(direct)
        return False


def stack_config(config: dict[str, Any], region: str | None = ALICLOUD_REGION) -> dict[str, str]:
    """Config as the CLI hands it to the program: namespaced keys, structured values as JSON."""
    values = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    if region is not None:
        values["alicloud:region"] = region
    return values


class ProgramFailed(Exception):
    """The program raised; `run` holds what was registered before it did."""

    def __init__(self, error: BaseException, run: ProgramRun):
        super().__init__(str(error))
        self.error = error
        self.run = run


def run_program(
    config: dict[str, Any] | None = None,
    *,
    mocks: StackMocks | None = None,
    region: str | None = ALICLOUD_REGION,
    preview: bool = False,
) -> ProgramRun:
    """Run `__main__.py` fresh with `config` (default `BASE_CONFIG`) and collect what it did."""
    settings.ROOT.set(None)
    monitor = RecordingMonitor(mocks or StackMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack="dev", preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(stack_config(BASE_CONFIG if config is None else config, region))
    settings.SETTINGS.rpc_manager.clear()  # as @pulumi.runtime.test does: nothing of an earlier run is awaited here
    settings.SETTINGS.outputs.clear()
    run = ProgramRun(resources=monitor.registered, component_outputs=monitor.registered_outputs)
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(PROGRAM), run_name="__main__")))
    except Exception as error:
        raise ProgramFailed(error, run) from error
    root = settings.get_root_resource()
    for name, value in root.outputs.items():
        run.outputs[name] = _sync_await(pulumi.Output.from_input(value).future())
    # Under mocks the stack registers its outputs before the program runs; serialize them here exactly as
    # `Stack._finish` would, so a map of secrets is told apart from one secret map.
    serialized = _sync_await(rpc.serialize_properties(massage(root.outputs, []), {}))
    run.wire_outputs = json_format.MessageToDict(serialized)
    run.secret_outputs = {name for name, value in run.wire_outputs.items() if is_secret(value)}
    return run
