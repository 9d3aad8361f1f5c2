"""benchmarks/algorithms.py runs and reports a sane figure for every algorithm.

A correctness check of the script (one round, fast), not a timing assertion: every algorithm gets a row
in every table, and every figure it prints or emits is a positive number.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "algorithms.py"
ALGORITHMS = ("RSA 2048", "RSA 3072", "RSA 4096", "ECDSA P-256", "ECDSA P-384")
TABLES = ("### Key generation and certificate signing", "### Mutual-TLS handshake", "### Sizes")


def _load():
    """The script as a module (benchmarks/ is a folder of scripts, not a package)."""
    name = "alb_mtls_benchmark_algorithms"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def _run_main(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert _load().main(["--rounds", "1", *args]) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def markdown() -> str:
    return _run_main()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return json.loads(_run_main("--json"))


def _tables(text: str) -> dict[str, list[list[str]]]:
    """Data rows of each markdown table, keyed by the heading above it."""
    tables: dict[str, list[list[str]]] = {}
    heading = None
    for line in text.splitlines():
        if line.startswith("### "):
            heading = line
            tables[heading] = []
        elif heading and line.startswith("|") and not line.startswith("|---"):
            tables[heading].append([cell.strip() for cell in line.strip("|").split("|")])
    return {h: rows[1:] for h, rows in tables.items()}  # drop each header row


def _numbers(value: Any, path: str = ""):
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")


def test_machine_info_at_the_top(markdown):
    head = markdown.split("###", 1)[0]
    for label in ("Date:", "Platform:", "CPU:", "cores", "Python", "OpenSSL"):
        assert label in head


def test_every_table_has_a_row_per_algorithm(markdown):
    tables = _tables(markdown)
    for prefix in TABLES:
        [rows] = [rows for heading, rows in tables.items() if heading.startswith(prefix)]
        assert [row[0] for row in rows] == list(ALGORITHMS), prefix


def test_every_printed_figure_is_a_positive_number(markdown):
    for heading, rows in _tables(markdown).items():
        for row in rows:
            assert len(row) > 1, (heading, row)
            for cell in row[1:]:
                assert float(cell) > 0, (heading, row)


def test_json_has_every_algorithm_and_only_positive_figures(raw):
    assert list(raw["algorithms"]) == list(ALGORITHMS)
    assert raw["settings"]["rounds"] == 1
    figures = list(_numbers(raw["algorithms"]))
    assert len(figures) > 5 * 20
    bad = [(path, value) for path, value in figures if not value > 0]
    assert not bad


def test_json_sample_counts_match_the_rounds(raw):
    handshakes = raw["settings"]["handshakes"]
    for name, algo in raw["algorithms"].items():
        assert algo["keygen_ms"]["n"] == 1, name
        assert algo["sign_by_default_ca_ms"]["n"] == 1, name
        for case in ("handshake_default_ca", "handshake_same_ca"):
            assert algo[case]["tls_version"] == "TLSv1.3"
            assert len(algo[case]["wall_ms"]["samples"]) == handshakes, (name, case)


def test_rsa_signature_sizes_follow_the_ca(raw):
    """The certificate's signature is the CA's: 512 bytes under the RSA 4096 CA whatever the client key."""
    for name, algo in raw["algorithms"].items():
        assert algo["sizes_bytes"]["cert_signature_default_ca"] == 512, name
    assert raw["algorithms"]["RSA 2048"]["sizes_bytes"]["cert_signature_same_ca"] == 256
