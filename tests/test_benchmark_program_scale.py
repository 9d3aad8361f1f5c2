"""The scale benchmark measures what it says (a correctness check of the script, not a timing assertion)."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "program_scale.py"


def test_program_scale_reports_every_size_with_the_resources_the_program_registers():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--clients", "2", "5", "--repeat", "1", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    rows = json.loads(done.stdout)
    assert [row["clients"] for row in rows] == [2, 5]
    fixed = rows[0]["resources"] - 6 * 2
    assert rows[1]["resources"] == fixed + 6 * 5, (
        "each client adds its component, key, CSR, certificate and the key's rotation clock (a key and a certificate)"
    )
    for row in rows:
        assert row["wall_s"] > 0 and row["peak_mib"] > 0
