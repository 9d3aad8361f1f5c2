"""The Python locks: requirements*.in (what we ask for) compiled by `make lock` into requirements*.txt (every
package pinned, with hashes), which `make install` installs with --require-hashes and Pulumi (Pulumi.yaml:
toolchain pip) installs from requirements.txt.
"""

import re
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# input → lock; the program's lock stands alone (Pulumi installs it by itself), the others sit on top of it.
LOCKS = {
    "requirements.in": "requirements.txt",
    "policy/requirements.in": "policy/requirements.txt",
    "requirements-dev.in": "requirements-dev.txt",
}
PIN = re.compile(r"^([A-Za-z0-9][\w.-]*)==([^\s;\\]+)")


def pins(path: Path) -> dict[str, str]:
    """canonical name → version of every `name==version` line (comments, `-c` and `--hash` lines skipped)."""
    return {canonicalize_name(m[1]): m[2] for line in path.read_text().splitlines() if (m := PIN.match(line))}


def entries(path: Path) -> list[str]:
    """Each requirement of a compiled lock with its continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    return [line for line in text.splitlines() if PIN.match(line)]


def needed(requirement: Requirement, seen: set[tuple[str, str]], lock: dict[str, str]) -> set[str]:
    """Names that installing `requirement` pulls in on this interpreter, following extras; ones not locked too."""
    names = {canonicalize_name(requirement.name)}
    for extra in {""} | set(requirement.extras):
        key = (canonicalize_name(requirement.name), extra)
        if key in seen or key[0] not in lock:
            continue
        seen.add(key)
        for text in metadata.requires(requirement.name) or []:
            dependency = Requirement(text)
            if dependency.marker is None or dependency.marker.evaluate({"extra": extra}):
                names |= needed(dependency, seen, lock)
    return names


@pytest.mark.parametrize("source,lock", LOCKS.items())
def test_every_locked_package_has_hashes(source, lock):
    lock_path = ROOT / lock
    [command] = [line for line in lock_path.read_text().splitlines() if line.startswith("#    pip-compile ")]
    assert "--generate-hashes" in command, f"{lock}: compiled without hashes"
    assert f"--output-file={lock} " in command and command.endswith(f" {source}"), f"{lock}: not from {source}"
    for entry in entries(lock_path):
        assert "--hash=sha256:" in entry, f"{lock}: {entry.split()[0]} has no hash, so --require-hashes fails"


@pytest.mark.parametrize("source,lock", LOCKS.items())
def test_each_lock_is_compiled_from_its_input(source, lock):
    """A pin edited in the .in file without `make lock` shows up here, not as a surprise in CI."""
    wanted = pins(ROOT / source)
    locked = pins(ROOT / lock)
    assert wanted, f"{source}: no pins"
    stale = {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version}
    assert not stale, f"{source} → {lock} is stale (asked, locked): {stale}; run `make lock`"


def test_the_locks_agree_on_shared_packages():
    """They install into one .venv, so a package the locks share has one version."""
    versions: dict[str, set[str]] = {}
    for lock in LOCKS.values():
        for name, version in pins(ROOT / lock).items():
            versions.setdefault(name, set()).add(version)
    assert not {name: found for name, found in versions.items() if len(found) > 1}


@pytest.mark.parametrize("lock", ["requirements.txt", "policy/requirements.txt", "requirements-dev.txt"])
def test_each_lock_is_complete_on_its_own(lock):
    """Everything its packages depend on (on this Python and platform) is in it, so `pip install -r <lock>`
    in hash-checking mode, as Pulumi does with requirements.txt, finds no package it was not given."""
    locked = pins(ROOT / lock)
    if lock != "requirements.txt":  # the others are installed together with the program's lock
        locked = {**pins(ROOT / "requirements.txt"), **locked}
    seen: set[tuple[str, str]] = set()
    required = set().union(*(needed(Requirement(name), seen, locked) for name in locked))
    assert required <= set(locked), f"{lock} lacks {sorted(required - set(locked))}"


def test_the_virtualenv_runs_the_locked_versions():
    """The tests run against what the locks say (make install), not against whatever was installed before."""
    expected = {}
    for lock in LOCKS.values():
        expected.update(pins(ROOT / lock))
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    differ = {
        name: (version, installed.get(name)) for name, version in expected.items() if installed.get(name) != version
    }
    assert not differ, f"(locked, installed) differ: {differ}; run `make install`"


def test_pulumi_installs_the_program_lock_with_pip():
    runtime = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]
    assert runtime["name"] == "python"
    assert runtime["options"]["toolchain"] == "pip", "Pulumi installs requirements.txt with pip"
    assert runtime["options"]["virtualenv"] == ".venv"
    assert "pulumi" in pins(ROOT / "requirements.txt")
