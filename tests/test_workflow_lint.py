"""The GitHub Actions gate that `make lint` runs: `.github/lint-actions` (zizmor offline, then actionlint).

It passes on this repository's `.github/`, and it fails on a workflow that differs from a passing one only by
an unpinned action (zizmor) or only by an unknown context property (actionlint), so a pass means something.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = ROOT / ".github" / "lint-actions"
BIN = Path(sys.executable).parent  # .venv/bin: zizmor and shellcheck (hashed locks), actionlint (tools/actionlint)

CHECKOUT_PINNED = "actions/checkout@df4cb1c069e1874edd31b4311f1884172cec0e10 # v6.0.3"
WORKFLOW = """\
name: ci
on:
  pull_request:
permissions: {{}}
jobs:
  test:
    name: Test
    permissions:
      contents: read
    runs-on: ubuntu-latest
    steps:
      - uses: {checkout}
        with:
          persist-credentials: false
      - run: echo "${{{{ {expression} }}}}"
"""


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    """PATH for the gate; fails (in CI) or skips (elsewhere) when a tool is missing."""
    missing = [name for name in ("zizmor", "actionlint", "shellcheck") if not (BIN / name).exists()]
    if missing:
        message = (
            f"{', '.join(missing)} not in {BIN}: run `make lint` (actionlint is built from tools/actionlint with Go)"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " (.ci/run runs make lint first, so in CI this is a failure, not a skip)")
        pytest.skip(message)
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def lint(directory: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT), str(directory)], check=False, env=env, capture_output=True, text=True, timeout=300
    )


def github_dir(tmp_path: Path, *, checkout: str = CHECKOUT_PINNED, expression: str = "github.run_id") -> Path:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(WORKFLOW.format(checkout=checkout, expression=expression))
    return tmp_path / ".github"


def test_this_repositorys_workflows_pass(tools):
    result = lint(ROOT / ".github", tools)
    assert result.returncode == 0, f"findings at medium or above:\n{result.stdout}\n{result.stderr}"
    # Both tools ran: zizmor reports its verdict; actionlint is silent when clean.
    assert "No findings to report" in result.stdout, result.stdout


def test_a_clean_workflow_passes(tools, tmp_path):
    """The control for the two tests below: the same workflow, pinned and valid, has no finding."""
    result = lint(github_dir(tmp_path), tools)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


def test_an_unpinned_action_is_flagged(tools, tmp_path):
    result = lint(github_dir(tmp_path, checkout="actions/checkout@v6"), tools)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout, result.stdout
    assert "actions/checkout@v6" in result.stdout


def test_a_workflow_error_only_actionlint_sees_is_flagged(tools, tmp_path):
    result = lint(github_dir(tmp_path, expression="github.no_such_property"), tools)
    assert result.returncode != 0
    assert "no_such_property" in result.stdout, result.stdout


def test_a_low_severity_finding_does_not_fail_the_gate(tools, tmp_path):
    """The gate is "medium or above": zizmor's low-severity notes pass. Here: `self-repository`, which zizmor
    (1.32) reports for every `uses: ./…` step, this repository's setup action included."""
    directory = github_dir(tmp_path)
    action = directory / "actions" / "hello" / "action.yml"
    action.parent.mkdir(parents=True)
    action.write_text("name: hello\ndescription: says hello\nruns:\n  using: composite\n  steps:\n")
    action.write_text(action.read_text() + "    - shell: bash\n      run: echo hello\n")
    workflow = directory / "workflows" / "ci.yml"
    workflow.write_text(workflow.read_text() + "      - uses: ./.github/actions/hello\n")

    report = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--format=json", str(directory)],
        check=False,  # zizmor exits non-zero when it reports anything, low findings included
        capture_output=True,
        text=True,
        timeout=300,
    )
    severities = {finding["ident"]: finding["determinations"]["severity"] for finding in json.loads(report.stdout)}
    assert severities == {"self-repository": "Low"}, "zizmor's findings changed: pick another low-severity control"
    result = lint(directory, tools)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
