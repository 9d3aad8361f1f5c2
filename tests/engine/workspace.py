"""Drive the real Pulumi CLI (built by `make engine`) the way a user does, in a throw-away project.

`EngineWorkspace` copies the program (Pulumi.yaml, __main__.py, stack_config.py, components/, policy/,
requirements.txt) into a temporary directory with the project's virtualenv linked in, points the CLI at
a local file backend there with passphrase secrets, puts .engine/bin (CLI, Kubernetes provider,
language host) and .engine/fakes (the tls and alicloud plugins) first on PATH, and keeps every other
Pulumi setting of the machine out (its own PULUMI_HOME, no KUBECONFIG, no plugin downloads).
`pulumi(...)` runs one CLI command there and returns its result.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE_BIN = ROOT / ".engine" / "bin"
ENGINE_FAKES = ROOT / ".engine" / "fakes"
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "stack_config.py", "requirements.txt")
PROGRAM_DIRS = ("components", "policy")
PASSPHRASE = "engine-test-passphrase"
ACCESS_KEY = ("LTAI5tEngineTestKey", "engine-test-secret")


def require_engine() -> None:
    """Skip (or, in CI, fail) when `make engine` has not been run."""
    missing = [
        name
        for name in ("pulumi", "pulumi-resource-kubernetes", "pulumi-language-python", "pulumi-language-python-exec")
        if not (ENGINE_BIN / name).exists()
    ]
    missing += [
        name for name in ("pulumi-resource-tls", "pulumi-resource-alicloud") if not (ENGINE_FAKES / name).exists()
    ]
    require_built("the engine", missing)


def require_built(what: str, missing: list[str]) -> None:
    """Skip (or, in CI, fail) when something `make engine` builds is `missing` from .engine/."""
    if missing:
        message = f"{what} is not built ({', '.join(missing)} missing in .engine/): run `make engine`"
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run builds it, so in CI this is a failure, not a skip)")
        pytest.skip(message)


def engine_env(pulumi_home: Path) -> dict[str, str]:
    """What any run on the built engine needs: its binaries and the provider doubles first on PATH, its
    own plugin cache with downloads off, and the access key the fake Certificate Management accepts."""
    path = os.pathsep.join([str(ENGINE_FAKES), str(ENGINE_BIN), str(ROOT / ".venv" / "bin"), os.environ["PATH"]])
    return {
        "PATH": path,
        "PULUMI_HOME": str(pulumi_home),
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "ALICLOUD_ACCESS_KEY": ACCESS_KEY[0],
        "ALICLOUD_SECRET_KEY": ACCESS_KEY[1],
    }


def export_revision(revision: str, into: Path) -> Path:
    """The project's files as they were at git `revision`, exported into `into` (once)."""
    if not into.exists():
        archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True).stdout
        into.mkdir(parents=True)
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(into, filter="data")
    return into


def previous_doubles(revision: str, into: Path) -> Path:
    """A folder of provider-double launchers (as `make engine` writes them) running the doubles as they were at git
    `revision`, to put first on PATH while a previous version of the program deploys."""
    source = export_revision(revision, into / "source")
    fakes = into / "fakes"
    fakes.mkdir(parents=True, exist_ok=True)
    for name, module in (("pulumi-resource-tls", "tests.engine.tls_plugin"),
                         ("pulumi-resource-alicloud", "tests.engine.alicloud_plugin")):  # fmt: skip
        launcher = fakes / name
        launcher.write_text(
            f'#!/bin/sh\nPYTHONPATH="{source}" exec "{ROOT / ".venv" / "bin" / "python"}" -u -m {module} "$@"\n'
        )
        launcher.chmod(0o755)
    return fakes


@dataclass
class EngineWorkspace:
    """A copy of the program in `root`, with its own state backend and Pulumi home."""

    root: Path
    stack: str = "it"
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.project = self.root / "project"
        self.state = self.root / "state"
        self.home = self.root / "home"
        for directory in (self.project, self.state, self.home):
            directory.mkdir(parents=True, exist_ok=True)
        self.use_program()
        (self.project / ".venv").symlink_to(ROOT / ".venv")

    def use_program(self, revision: str | None = None) -> None:
        """Puts the program in the project: the working tree's, or as it was at git `revision` (a stack deployed
        by a previous version of the program)."""
        source = ROOT if revision is None else export_revision(revision, self.root / f"program-{revision}")
        for name in PROGRAM_DIRS:
            shutil.rmtree(self.project / name, ignore_errors=True)
        for name in PROGRAM_FILES:
            shutil.copy2(source / name, self.project / name)
        for name in PROGRAM_DIRS:
            shutil.copytree(source / name, self.project / name, ignore=shutil.ignore_patterns("__pycache__", "tests"))

    def env(self, **overrides: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "KUBECONFIG", "ALICLOUD_"))}
        return {
            **keep,
            **engine_env(self.home / ".pulumi"),
            "HOME": str(self.home),
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            **self.extra_env,
            **overrides,
        }

    def pulumi(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess:
        """`pulumi ARGS --stack <stack>` in the project; `check` fails the test with the CLI's output."""
        command = [str(ENGINE_BIN / "pulumi"), *args]
        if args[:1] != ("version",) and args[:2] != ("stack", "init"):
            command += ["--stack", self.stack]
        done = subprocess.run(
            command,
            cwd=self.project,
            env=self.env(**(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"`pulumi {' '.join(args)}` exited {done.returncode}:\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
            )
        return done

    def shell(self, script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Runs shell lines (e.g. the README's `pulumi config set …` commands) in the project."""
        env = self.env(**(env or {}))
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=self.project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    def outputs(self, show_secrets: bool = False) -> dict:
        args = ["stack", "output", "--json"] + (["--show-secrets"] if show_secrets else [])
        return json.loads(self.pulumi(*args).stdout)

    def state_file(self) -> dict:
        found = list((self.state / ".pulumi" / "stacks").rglob(f"{self.stack}.json"))
        assert len(found) == 1, f"expected one state file for {self.stack}, found {found}"
        return json.loads(found[0].read_text())

    def resources(self, show_secrets: bool = False) -> list[dict]:
        """The resources of the checkpoint, as `pulumi stack export` shows them (secrets decrypted on
        request: their ciphertext changes with every save)."""
        args = ("stack", "export", "--show-secrets") if show_secrets else ("stack", "export")
        deployment = json.loads(self.pulumi(*args).stdout)["deployment"]
        return deployment.get("resources") or []

    def changes(self, preview_json: str) -> dict[str, str]:
        """URN -> operation of every step a `pulumi preview --json` plans, other than `same`."""
        steps = json.loads(preview_json).get("steps") or []
        return {s["urn"]: s["op"] for s in steps if s["op"] != "same"}
