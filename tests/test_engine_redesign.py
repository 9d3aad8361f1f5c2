"""The code's redesign changes nothing a stack holds: the README's example stack, deployed by the program as it was
before the redesign, previews and updates with this program to no change at all (same URNs, no replace, no update).

What is real and what plays a part: as in tests/test_engine_lifecycle.py (render mode: no cluster needed).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.engine.workspace import EngineWorkspace, previous_doubles, require_engine
from tests.fake_cas import FakeCas
from tests.test_engine_lifecycle import configure

pytestmark = pytest.mark.engine
BEFORE_REDESIGN = "49bb320"
"""The last revision before the redesign (config models, API layer, issuer contract): key rotation included."""


def test_the_readme_stack_of_the_program_before_the_redesign_has_nothing_to_change(fake_cas: FakeCas, tmp_path: Path):
    require_engine()
    ws = EngineWorkspace(tmp_path / "ws")
    ws.use_program(BEFORE_REDESIGN)
    configure(ws, fake_cas, tmp_path / "rendered")
    old_path = os.pathsep.join([str(previous_doubles(BEFORE_REDESIGN, tmp_path / "previous")), ws.env()["PATH"]])
    ws.pulumi("up", "--yes", env={"PATH": old_path})
    before = {r["urn"]: r for r in ws.resources(show_secrets=True)}
    assert len(before) > 20, sorted(before)

    ws.use_program()
    preview = ws.pulumi("preview", "--json", "--expect-no-changes")
    assert ws.changes(preview.stdout) == {}, ws.changes(preview.stdout)
    ws.pulumi("up", "--yes", "--expect-no-changes")
    after = {r["urn"]: r for r in ws.resources(show_secrets=True)}  # secrets: re-encrypted, compared in clear
    assert set(after) == set(before)
    for urn, resource in after.items():
        assert resource.get("id") == before[urn].get("id"), urn
        assert resource.get("outputs") == before[urn].get("outputs"), urn
