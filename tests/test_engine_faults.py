"""An interrupted `pulumi up`, recovered with the README's commands, on the real engine.

The fake Certificate Management endpoint stores the CA certificate but loses the answer, then goes
down, so the CA registration is still retrying (in flight) when `pulumi up` is killed with SIGKILL.
After the endpoint is back, the recovery commands of docs/failures.md ("When things fail") must bring the stack
to convergence without a duplicate CA certificate in the account.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.engine.workspace import ENGINE_BIN, ROOT, EngineWorkspace, require_engine
from tests.fake_cas import LOST_ANSWER, FakeCas
from tests.test_engine_lifecycle import RENDERED, configure

pytestmark = pytest.mark.engine


def descendants(root: int) -> list[int]:
    """Every process below `root` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def readme_recovery_commands() -> list[str]:
    """The `pulumi` lines of the README's recovery block, as written there."""
    section = (ROOT / "docs" / "failures.md").read_text().split("**Recovering from an interrupted `pulumi up`**", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.startswith("pulumi ")]
    assert len(lines) >= 2, f"the recovery block of docs/failures.md holds no commands: {block!r}"
    return lines


def test_sigkilled_up_converges_with_the_readme_commands(tmp_path: Path):
    require_engine()
    ws = EngineWorkspace(tmp_path)
    with FakeCas(credentials={"LTAI5tEngineTestKey": "engine-test-secret"}) as fake:
        configure(ws, fake, tmp_path / "rendered")
        fake.script("UploadPCACert", LOST_ANSWER)
        up = subprocess.Popen(
            [str(ENGINE_BIN / "pulumi"), "up", "--yes", "--stack", ws.stack],
            cwd=ws.project,
            env=ws.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 300
            while not fake.ca_certificates():
                assert up.poll() is None, "pulumi up ended before the CA upload"
                assert time.monotonic() < deadline, "the CA was never uploaded"
                time.sleep(0.05)
            fake.down()  # the registration now retries: it is in flight
            time.sleep(2)
            assert up.poll() is None
        finally:
            # SIGKILL the CLI as a lost machine would, then its plugins (the engine starts each in a
            # process group of its own), so that nothing of this run is left behind.
            plugins = descendants(up.pid)
            os.killpg(up.pid, signal.SIGKILL)
            for pid in plugins:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            up.wait()
        fake.up()

        state = ws.state_file()
        pending = (state.get("checkpoint", {}).get("latest") or {}).get("pending_operations") or []
        assert any(p["resource"]["urn"].endswith("::mtls-ca") for p in pending), pending

        for command in readme_recovery_commands():
            words = command.split()[1:]
            args = [w for i, w in enumerate(words) if w != "--stack" and (i == 0 or words[i - 1] != "--stack")]
            if args[0] == "refresh":
                args += ["--exclude", RENDERED]  # render mode: no cluster to re-read (README, render mode)
            if args[0] == "up" and "--yes" not in args:
                args.append("--yes")  # the README's `up` asks for confirmation; a test cannot answer
            ws.pulumi(*args)

        assert len(fake.ca_certificates()) == 1, fake.ca_certificates()
        outputs = ws.outputs()
        assert fake.ca_certificates()[0]["cert"].strip() == outputs["caCertificatePem"].strip()
        ws.pulumi("preview", "--expect-no-changes")
        ws.pulumi("state", "unprotect", "--all", "--yes")
        ws.pulumi("destroy", "--yes")
        assert fake.ca_certificates() == []
