"""`make deploy` on a machine without the Pulumi CLI stops at once and says how to install it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_make_deploy_without_the_cli_stops_before_installing_anything(tmp_path):
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    bare = tmp_path / "bin"  # a PATH with make and a shell, and no pulumi
    bare.mkdir()
    for tool in ("make", "sh", "bash", "python3"):
        found = shutil.which(tool)
        if found:
            (bare / tool).symlink_to(found)
    done = subprocess.run(
        ["make", "deploy"],
        cwd=tmp_path,
        env={"PATH": str(bare), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "the Pulumi CLI is not installed" in done.stderr
    assert "https://www.pulumi.com/docs/install/" in done.stderr and "make engine" in done.stderr
    assert not (tmp_path / ".venv").exists(), "make deploy created the virtualenv before finding no CLI"
    assert not (tmp_path / ".pulumi-state").exists()
