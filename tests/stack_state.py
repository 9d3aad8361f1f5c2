"""Test equipment: mocks that remember, between runs of the program, what they created, as a stack's state does.

`run_program` runs the program once against fresh mocks, so every run issues new keys and certificates.
To see what an *update* changes (revoking a client, replacing the CA), the second run must find what the
first one created: `RememberingMocks` keeps each resource's inputs, id and outputs, and when the program
registers the same resource (type and name) with the same inputs it gets the same id and outputs back, as
the engine keeps a resource whose inputs did not change. Different inputs create the resource anew (a
replacement), and `forget()` plays `pulumi up --replace`. Resource options (`protect`, `ignore_changes`)
and provider-planned replacements (pulumi-tls renewal) are the engine's and are not played here.
"""

from __future__ import annotations

import copy
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks

from tests.harness import StackMocks, reveal


class RememberingMocks(StackMocks):
    """`StackMocks` with a memory: same type, name and inputs → the resource created before, unchanged."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state: dict[tuple[str, str], tuple[Any, str, dict[str, Any]]] = {}
        self.created: list[tuple[str, str]] = []
        """(type, name) of each resource created (not found unchanged) during the latest run."""

    def new_run(self) -> None:
        self.created = []

    def forget(self, name: str) -> None:
        """Like `pulumi up --replace <urn>`: the next run creates the resource named `name` anew."""
        keys = [key for key in self.state if key[1] == name]
        assert keys, f"no resource named {name!r} was created"
        for key in keys:
            del self.state[key]

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        if not args.custom:
            return super().new_resource(args)
        key = (args.typ, args.name)
        inputs = copy.deepcopy(reveal(args.inputs))
        known = self.state.get(key)
        if known is not None and known[0] == inputs:
            return known[1], copy.deepcopy(known[2])
        resource_id, outputs = super().new_resource(args)
        self.state[key] = (inputs, resource_id, copy.deepcopy(outputs))
        self.created.append(key)
        return resource_id, outputs
