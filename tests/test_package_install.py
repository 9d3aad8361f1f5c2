"""The component package starts only where the CA registration's dynamic provider can import `components`:
in the project's virtualenv, with the project root on its path (`make install` writes that .pth)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_main():
    spec = importlib.util.spec_from_file_location("alb_mtls_package_main", ROOT / "package" / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_package_refuses_to_start_without_make_install(tmp_path: Path, monkeypatch):
    main = package_main()
    monkeypatch.setattr(main.sys, "prefix", str(tmp_path / "venv"))  # a virtualenv …
    monkeypatch.setattr(main.site, "getsitepackages", lambda: [str(tmp_path)])  # … whose path lacks the project
    assert "needs `make install`" in main.importable_everywhere()
    (tmp_path / main.PTH).write_text("/somewhere/else\n")
    assert "needs `make install`" in main.importable_everywhere()
    (tmp_path / main.PTH).write_text(f"{ROOT}\n")
    assert main.importable_everywhere() is None


def test_package_refuses_a_python_outside_a_virtualenv(monkeypatch):
    main = package_main()
    monkeypatch.setattr(main.sys, "prefix", main.sys.base_prefix)
    assert "must run in the project's virtualenv" in main.importable_everywhere()


def test_make_install_puts_the_project_on_the_virtualenvs_path(tmp_path: Path):
    """What the Makefile writes makes `components` importable from any directory (the dynamic provider runs
    in the consuming program's)."""
    done = subprocess.run(
        [sys.executable, "-c", "import components.ca_registration, sys; print(components.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"components is not importable outside the project: {done.stderr}"
    assert Path(done.stdout.strip()).is_relative_to(ROOT)
