"""The program itself against the pack: run `__main__.py` under mocks (tests/harness.py) and hand every
resource's inputs to every policy, as `pulumi preview --policy-pack policy` would after registration.

The dev stack must pass; a configuration the program accepts but the pack forbids must be stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from alb_mtls_policies import ALB_CONFIG, LOCALLY_SIGNED_CERT, PRIVATE_KEY, RULES, SELF_SIGNED_CERT
from policy_engine import run_pack

from tests.harness import run_program

ROOT = Path(__file__).resolve().parent.parent.parent
POLICED_TYPES = {rule.resource_type for rule in RULES}


def dev_config() -> tuple[dict[str, Any], str]:
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config = {k.split(":", 1)[1]: v for k, v in dev.items() if k.startswith("alb-mtls:")}
    return config, dev["alicloud:region"]


def violations(run) -> dict[str, dict[str, list[str]]]:
    """Violations by resource name, then by policy name, for every resource of a policed type."""
    found = {r.name: run_pack(r.type, r.inputs) for r in run.resources if r.custom and r.type in POLICED_TYPES}
    return {name: by_policy for name, by_policy in found.items() if by_policy}


def test_the_dev_stack_passes_every_policy():
    config, region = dev_config()
    run = run_program(config, region=region)
    created = {r.type for r in run.resources if r.custom}
    assert {ALB_CONFIG, PRIVATE_KEY, SELF_SIGNED_CERT, LOCALLY_SIGNED_CERT} <= created
    assert violations(run) == {}


def test_a_client_certificate_valid_longer_than_825_days_is_stopped():
    config, region = dev_config()
    config["clients"] = ["alice", {"name": "build-bot", "validityDays": 900}]
    run = run_program(config, region=region)
    found = violations(run)
    assert list(found) == ["client-build-bot-cert"]
    [message] = found["client-build-bot-cert"]["tls-client-cert-max-validity"]
    assert "validityPeriodHours is 21600 (900 days)" in message


def test_a_root_ca_valid_longer_than_20_years_is_stopped():
    config, region = dev_config()
    config["ca"] = {**config["ca"], "validityDays": 7306}
    run = run_program(config, region=region)
    found = violations(run)
    assert list(found) == ["root-ca-cert"]
    assert list(found["root-ca-cert"]) == ["tls-root-ca-max-validity"]
