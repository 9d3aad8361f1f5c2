"""`make install` installs the project (the `alb-mtls` distribution, its one package `components`) editable into
the virtualenv from the hashed locks, so `components` imports in any directory with that virtualenv's Python: the
component package starts only there, and the dynamic providers the engine runs in a consuming program's directory
unpickle from there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.ca_registration import CaCertificateProvider
from components.pca import PcaCertificateProvider
from tests.test_locks import pins

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def run(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    """A process as the engine starts one: in another directory, with no PYTHONPATH unless `env` gives one."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        args,
        cwd=cwd,
        env={**base, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_install_installs_this_checkout_editable():
    dist = metadata.distribution("alb-mtls")
    assert dist.version == PYPROJECT["project"]["version"], "the installed alb-mtls is not this pyproject.toml's"
    origin = json.loads(dist.read_text("direct_url.json") or "{}")
    assert origin.get("dir_info", {}).get("editable"), f"alb-mtls is not installed editable: {origin}"
    assert origin.get("url") == ROOT.as_uri(), f"the installed alb-mtls is another checkout's: {origin}"


def test_dynamic_providers_unpickle_in_another_directory(tmp_path: Path):
    """What `python -m pulumi.dynamic` does with a resource's `__provider` in the consuming program's directory."""
    providers = [serialize_provider(CaCertificateProvider()), serialize_provider(PcaCertificateProvider())]
    script = (
        "import base64, json, sys, dill, components\n"
        "found = [type(dill.loads(base64.b64decode(p))) for p in json.load(sys.stdin)]\n"
        "print(json.dumps([[t.__module__, t.__name__] for t in found] + [components.__file__]))\n"
    )
    done = run(sys.executable, "-c", script, cwd=tmp_path, stdin=json.dumps(providers))
    assert done.returncode == 0, f"the providers do not unpickle outside the project:\n{done.stderr[-3000:]}"
    *loaded, origin = json.loads(done.stdout)
    assert loaded == [
        ["components.ca_registration", "CaCertificateProvider"],
        ["components.pca_provider", "PcaCertificateProvider"],
    ]
    assert Path(origin).is_relative_to(ROOT / "components")


def test_a_pca_provider_pickled_before_it_had_its_own_module_still_unpickles(tmp_path: Path, monkeypatch):
    """State written earlier names `components.pca.PcaCertificateProvider` (dill pickles classes by reference)."""
    monkeypatch.setattr(PcaCertificateProvider, "__module__", "components.pca")
    old = serialize_provider(PcaCertificateProvider())
    monkeypatch.undo()
    script = "import base64, sys, dill\nprint(type(dill.loads(base64.b64decode(sys.stdin.read()))).__module__)\n"
    done = run(sys.executable, "-c", script, cwd=tmp_path, stdin=old)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "components.pca_provider"


def test_the_install_exposes_components_and_not_the_project_root(tmp_path: Path):
    """Only the distribution's package: not the root's modules (stack_config, tests), as a .pth of the root did."""
    done = run(sys.executable, "-c", "import json, sys; print(json.dumps(sys.path))", cwd=tmp_path)
    assert str(ROOT) not in json.loads(done.stdout)
    done = run(sys.executable, "-c", "import stack_config", cwd=tmp_path)
    assert "No module named 'stack_config'" in done.stderr


def test_installing_the_project_fetches_nothing_outside_the_hashed_locks():
    """The project names no dependencies for pip to resolve unpinned, and its build backend is installed from the dev
    lock: `make install` builds it without build isolation (which would download the backend unhashed)."""
    assert not PYPROJECT["project"].get("dependencies"), "dependencies belong in requirements.in (hashed lock)"
    locked = pins(ROOT / "requirements-dev.txt")
    for requirement in PYPROJECT["build-system"]["requires"]:
        name = re.match(r"[A-Za-z0-9][\w.-]*", requirement)[0].lower()
        assert name in locked, f"the build backend's {name} is not in requirements-dev.txt (add it, run make lock)"
    makefile = (ROOT / "Makefile").read_text()
    [line] = [line for line in makefile.splitlines() if re.search(r"pip install .*--editable \.$", line)]
    assert "--no-build-isolation" in line and "--no-deps" in line


def test_package_starts_where_the_project_is_installed(tmp_path: Path):
    script = f"import runpy; print(runpy.run_path({str(ROOT / 'package' / '__main__.py')!r})['not_installed']())"
    done = run(sys.executable, "-c", script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "None"


def test_package_refuses_a_python_without_the_project(tmp_path: Path):
    """Run outside the project's virtualenv, e.g. with the Python it was made from."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists() or sys.prefix == sys.base_prefix:
        pytest.skip(f"no Python other than the virtualenv's to run the package with ({base})")
    done = run(str(base), str(ROOT / "package"), "127.0.0.1:1", cwd=tmp_path)
    assert done.returncode == 1
    assert "needs the project installed" in done.stderr and f"run `make install` in {ROOT}" in done.stderr
    assert "Traceback" not in done.stderr


def test_package_refuses_another_checkouts_components(tmp_path: Path):
    other = tmp_path / "other-checkout"
    (other / "components").mkdir(parents=True)
    (other / "components" / "__init__.py").write_text("")
    done = run(sys.executable, str(ROOT / "package"), "127.0.0.1:1", cwd=tmp_path, env={"PYTHONPATH": str(other)})
    assert done.returncode == 1
    assert f"serves {ROOT / 'components'}" in done.stderr and str(other / "components") in done.stderr
    assert "Traceback" not in done.stderr
