"""Puts `policy/` on sys.path, as the policy runtime does when it runs `policy/__main__.py`, and the
project root too, for the test that runs the program (`tests.harness`)."""

import sys
from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parent.parent
ROOT = POLICY_DIR.parent
for path in (POLICY_DIR, ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
