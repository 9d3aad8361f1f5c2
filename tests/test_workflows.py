"""The GitHub Actions workflows: what runs when, in which order, with which secrets.

Parsed with PyYAML (YAML 1.1, where the key `on` reads as the boolean True).
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
SETUP_ACTION = ROOT / ".github" / "actions" / "setup" / "action.yml"

# Every workflow talks to the cloud, the cluster and the state backend.
SECRETS = {"ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG", "PULUMI_BACKEND_URL"}
PULUMI_ENV = {
    "ALICLOUD_ACCESS_KEY": "ALICLOUD_ACCESS_KEY",
    "ALICLOUD_SECRET_KEY": "ALICLOUD_SECRET_KEY",
    "PULUMI_CONFIG_PASSPHRASE": "PULUMI_CONFIG_PASSPHRASE",
}
NAMES = ["pull-request.yml", "deploy.yml", "renew.yml"]
# A remote action pinned to a full commit hash, with the release it is in a comment: `owner/repo@<sha> # vX.Y.Z`.
PINNED = re.compile(r"(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # (?P<version>v\d+\.\d+\.\d+)\b")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict) -> dict:
    """The `on:` mapping; YAML 1.1 turns the bare key `on` into True."""
    on = workflow.get("on", workflow.get(True))
    assert on is not None, "workflow has no `on:` triggers"
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on


def secret_refs(value) -> set[str]:
    return set(re.findall(r"\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}", str(value)))


def documented_secrets(path: Path) -> set[str]:
    """Names listed under `# Secrets:` in the workflow's leading comment block."""
    names: set[str] = set()
    in_section = False
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        if line.strip() == "# Secrets:":
            in_section = True
        elif in_section and line.strip() == "#":
            break
        elif in_section and (match := re.match(r"#\s+([A-Z][A-Z0-9_]+)\s", line)):
            names.add(match.group(1))
    return names


def pulumi_steps(workflow: dict) -> list[tuple[str, int, dict]]:
    """(job id, step index, step) of every pulumi/actions step."""
    return [
        (job_id, index, step)
        for job_id, job in workflow["jobs"].items()
        for index, step in enumerate(job.get("steps", []))
        if str(step.get("uses", "")).startswith("pulumi/actions@")
    ]


def the_pulumi_step(workflow: dict) -> tuple[str, int, dict]:
    steps = pulumi_steps(workflow)
    assert len(steps) == 1, f"expected one pulumi/actions step, found {len(steps)}"
    return steps[0]


def step_env(workflow: dict, job_id: str, step: dict) -> dict:
    """The environment a step sees: workflow, job, then step `env:`."""
    return {**workflow.get("env", {}), **workflow["jobs"][job_id].get("env", {}), **step.get("env", {})}


def is_true(value) -> bool:
    return value is True or str(value).lower() == "true"


def index_of(steps: list[dict], predicate) -> int:
    for index, step in enumerate(steps):
        if predicate(step):
            return index
    return -1


def runs(command: str):
    return lambda step: re.search(rf"(^|\s|&&|;){re.escape(command)}(\s|$)", str(step.get("run", ""))) is not None


def uses_setup(step: dict) -> bool:
    return step.get("uses") == "./.github/actions/setup"


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict]:
    return {name: load(WORKFLOWS / name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_workflow_exists_and_parses(name):
    workflow = load(WORKFLOWS / name)
    assert isinstance(workflow, dict) and workflow.get("jobs"), f"{name}: no jobs"


# --- pull request: tests, then a commented preview with the policy pack ---------------------------------------------


def test_pull_request_triggers_on_pull_request(workflows):
    assert "pull_request" in triggers(workflows["pull-request.yml"])


def test_pull_request_runs_tests_before_preview(workflows):
    workflow = workflows["pull-request.yml"]
    job_id, preview_index, _ = the_pulumi_step(workflow)
    steps = workflow["jobs"][job_id]["steps"]
    test_index = index_of(steps, runs("make test"))
    assert 0 <= test_index < preview_index, "`make test` must run before the preview"


def test_pull_request_previews_dev_with_comment_and_policy(workflows):
    _, _, step = the_pulumi_step(workflows["pull-request.yml"])
    with_ = step.get("with", {})
    assert re.fullmatch(r"pulumi/actions@[0-9a-f]{40}", step["uses"]), "pin pulumi/actions to a commit hash"
    assert with_.get("command") == "preview"
    assert is_true(with_.get("comment-on-pr"))
    assert "policy" in str(with_.get("policyPacks", "")).split()
    assert with_.get("stack-name") == "dev"


def test_pull_request_permissions_are_minimal(workflows):
    job_id, _, _ = the_pulumi_step(workflows["pull-request.yml"])
    permissions = workflows["pull-request.yml"]["jobs"][job_id]["permissions"]
    assert permissions.get("pull-requests") == "write", "the preview comment needs pull-requests: write"
    writes = {scope for scope, level in permissions.items() if level == "write"}
    assert writes == {"pull-requests"}


# --- deploy: push to main, tests, then up; never two updates at once ------------------------------------------------


def test_deploy_triggers_on_push_to_main(workflows):
    push = triggers(workflows["deploy.yml"]).get("push") or {}
    assert "main" in push.get("branches", [])


def test_deploy_runs_tests_then_up_with_policy(workflows):
    workflow = workflows["deploy.yml"]
    job_id, up_index, step = the_pulumi_step(workflow)
    with_ = step.get("with", {})
    assert with_.get("command") == "up"
    assert with_.get("stack-name") == "dev"
    assert "policy" in str(with_.get("policyPacks", "")).split()
    test_index = index_of(workflow["jobs"][job_id]["steps"], runs("make test"))
    assert 0 <= test_index < up_index, "`make test` must run before `pulumi up`"


def concurrency_group(workflow: dict) -> str:
    concurrency = workflow.get("concurrency")
    assert concurrency, "no workflow-level concurrency"
    if isinstance(concurrency, str):
        return concurrency
    assert not is_true(concurrency.get("cancel-in-progress", False)), "an update must not be cancelled half way"
    return concurrency["group"]


def test_deploy_and_renew_share_a_concurrency_group(workflows):
    assert concurrency_group(workflows["deploy.yml"]) == concurrency_group(workflows["renew.yml"])


# --- renew: daily refresh + up ---------------------------------------------------------------------------------------


def test_renew_runs_daily_and_on_demand(workflows):
    on = triggers(workflows["renew.yml"])
    crons = [entry.get("cron", "") for entry in on.get("schedule") or []]
    assert crons and all(len(cron.split()) == 5 for cron in crons), f"bad schedule: {crons}"
    assert "workflow_dispatch" in on


def test_renew_refreshes_then_updates(workflows):
    _, _, step = the_pulumi_step(workflows["renew.yml"])
    with_ = step.get("with", {})
    assert with_.get("command") == "up"
    assert is_true(with_.get("refresh")), "certificates are re-issued only when a refresh sees readyForRenewal"
    assert with_.get("stack-name") == "dev"
    assert "policy" in str(with_.get("policyPacks", "")).split()


# --- secrets: documented, used, and wired to the right place -------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_documents_and_uses_the_same_secrets(name):
    path = WORKFLOWS / name
    documented = documented_secrets(path)
    used = secret_refs(load(path))
    assert documented == SECRETS, f"{name}: the `# Secrets:` header lists {sorted(documented)}"
    assert used == documented, f"{name}: uses {sorted(used)} but documents {sorted(documented)}"


@pytest.mark.parametrize("name", NAMES)
def test_secrets_reach_pulumi_and_the_setup(name, workflows):
    workflow = workflows[name]
    job_id, pulumi_index, step = the_pulumi_step(workflow)
    env = step_env(workflow, job_id, step)
    for variable, secret in PULUMI_ENV.items():
        assert secret_refs(env.get(variable, "")) == {secret}, f"{name}: {variable} is not secrets.{secret}"
    assert secret_refs(step.get("with", {}).get("cloud-url", "")) == {"PULUMI_BACKEND_URL"}, f"{name}: cloud-url"

    steps = workflow["jobs"][job_id]["steps"]
    checkout = index_of(steps, lambda s: str(s.get("uses", "")).startswith("actions/checkout@"))
    setup = index_of(steps, uses_setup)
    assert 0 <= checkout < setup < pulumi_index, f"{name}: checkout, then the setup action, then pulumi"
    assert secret_refs(steps[setup].get("with", {}).get("kubeconfig", "")) == {"KUBECONFIG"}, f"{name}: kubeconfig"
    # The setup action writes the kubeconfig to a file and hands its path over as an output (not $GITHUB_ENV).
    setup_id = steps[setup].get("id")
    assert setup_id, f"{name}: the setup step needs an id for its kubeconfig output"
    assert re.fullmatch(rf"\$\{{\{{\s*steps\.{setup_id}\.outputs\.kubeconfig\s*\}}\}}", str(env.get("KUBECONFIG"))), (
        f"{name}: KUBECONFIG of the pulumi step is not the setup action's kubeconfig output"
    )


# --- the shared setup action ---------------------------------------------------------------------------------------


def setup_action() -> dict:
    assert SETUP_ACTION.is_file(), f"missing {SETUP_ACTION.relative_to(ROOT)}"
    return load(SETUP_ACTION)


def test_setup_action_is_composite_with_python():
    action = setup_action()
    assert action["runs"]["using"] == "composite"
    python = [s for s in action["runs"]["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@")]
    assert python, "no actions/setup-python step"
    assert str(action["inputs"]["python-version"]["default"]) == "3.11"


def test_setup_action_installs_what_make_install_does():
    """CI's .venv is the Makefile's: every lock installed with hashes required (Pulumi.yaml's virtualenv)."""
    script = "\n".join(str(s.get("run", "")) for s in setup_action()["runs"]["steps"])
    assert re.search(r"(^|\s)make install(\s|$)", script), "the action must run `make install`"
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(BIN\)/\.installed:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "no $(BIN)/.installed recipe in the Makefile"
    install = next(line for line in recipe.group(1).splitlines() if "pip install" in line)
    assert "--require-hashes" in install
    for requirements in ("requirements.txt", "requirements-dev.txt", "policy/requirements.txt"):
        assert re.search(rf"-r {re.escape(requirements)}(\s|$)", install), requirements
    assert not re.search(r"pip install .*--upgrade", recipe.group(1)), "an unhashed upgrade (pip is in the dev lock)"


def test_setup_action_hands_over_the_kubeconfig_path_as_an_output():
    action = setup_action()
    assert "kubeconfig" in action["inputs"]
    [write] = [s for s in action["runs"]["steps"] if "KUBECONFIG_CONTENT" in str(s.get("run", ""))]
    assert "umask 077" in write["run"], "the kubeconfig file must be private to the runner user"
    assert re.search(r"path=.*>> \"?\$GITHUB_OUTPUT", write["run"])
    assert re.fullmatch(
        rf"\$\{{\{{\s*steps\.{write['id']}\.outputs\.path\s*\}}\}}", action["outputs"]["kubeconfig"]["value"]
    )


# --- hardening: pinned actions, no persisted token, least privilege, no environment-file writes ----------------------


def definitions() -> list[Path]:
    return [WORKFLOWS / name for name in NAMES] + [SETUP_ACTION]


def all_steps(path: Path) -> list[dict]:
    definition = load(path)
    if "runs" in definition:
        return definition["runs"]["steps"]
    return [step for job in definition["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", definitions(), ids=lambda path: path.name)
def test_every_remote_action_is_pinned_to_a_commit_with_its_version(path):
    uses_lines = [line.strip() for line in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert uses_lines, f"{path.name}: no `uses:`"
    for line in uses_lines:
        reference = line.split("uses:", 1)[1].strip()
        if reference.startswith("./"):
            continue
        assert PINNED.fullmatch(reference), f"{path.name}: `{reference}` is not `owner/repo@<40-hex sha> # vX.Y.Z`"


def test_each_action_is_pinned_to_one_commit_everywhere():
    """The same action at two different commits would mean one of the comments is wrong."""
    seen: dict[str, set[tuple[str, str]]] = {}
    for path in definitions():
        for match in PINNED.finditer(path.read_text()):
            seen.setdefault(match["action"], set()).add((match["sha"], match["version"]))
    assert {"actions/checkout", "actions/setup-python", "pulumi/actions"} <= set(seen)
    assert all(len(pins) == 1 for pins in seen.values()), seen


@pytest.mark.parametrize("name", NAMES)
def test_checkout_leaves_no_credentials_behind(name):
    checkouts = [s for s in all_steps(WORKFLOWS / name) if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert checkouts, f"{name}: no checkout"
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, f"{name}: set persist-credentials: false"


@pytest.mark.parametrize("name", NAMES)
def test_permissions_are_granted_per_job(name, workflows):
    workflow = workflows[name]
    assert workflow.get("permissions") == {}, f"{name}: the workflow grants nothing; each job asks for its own"
    for job_id, job in workflow["jobs"].items():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{name}: job {job_id} declares no permissions"
        assert permissions.get("contents") == "read", f"{name}: job {job_id} needs contents: read to check out"
        writes = {scope for scope, level in permissions.items() if level == "write"}
        allowed = {"pull-requests"} if name == "pull-request.yml" else set()
        assert writes <= allowed, f"{name}: job {job_id} writes {sorted(writes)}"


@pytest.mark.parametrize("path", definitions(), ids=lambda path: path.name)
def test_no_step_writes_the_environment_files(path):
    """A line appended to $GITHUB_ENV or $GITHUB_PATH changes every later step; outputs are explicit instead."""
    for step in all_steps(path):
        script = str(step.get("run", ""))
        assert not re.search(r"GITHUB_(ENV|PATH)", script), f"{path.name}: {step.get('name', step)} writes {script!r}"


def test_dependabot_updates_actions_and_python_locks():
    config = load(ROOT / ".github" / "dependabot.yml")
    directories = {
        update["package-ecosystem"]: set(update.get("directories", [update.get("directory")]))
        for update in config["updates"]
    }
    assert {"/", "/.github/actions/setup"} <= directories["github-actions"], "workflows and the composite action"
    assert {"/", "/policy"} <= directories["pip"], "the program's, the tests' and the policy pack's locks"


def test_no_workflow_duplicates_the_setup():
    for name in NAMES:
        text = (WORKFLOWS / name).read_text()
        assert "-m venv" not in text and "actions/setup-python" not in text, f"{name}: use ./.github/actions/setup"
