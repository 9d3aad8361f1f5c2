"""The dynamic-provider base both providers stand on: the inputs they share are refused alike, each fills in what its
Args state as defaults (as their state was written), and nothing but their inputs is ever compared."""

from __future__ import annotations

import pytest

from components.ca_registration import CaCertificateProvider
from components.pca_provider import PcaCertificateProvider

PROVIDERS = [CaCertificateProvider(), PcaCertificateProvider()]
ENDPOINT = "endpoint must be a host[:port] without scheme or path (e.g. cas.aliyuncs.com), got {!r}"


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: type(p).__name__)
@pytest.mark.parametrize(
    ("prop", "value", "reason"),
    [
        ("endpoint", "cas.aliyuncs.com ", ENDPOINT.format("cas.aliyuncs.com ")),
        ("endpoint", "cas .aliyuncs.com", ENDPOINT.format("cas .aliyuncs.com")),
        ("endpoint", "https://cas.aliyuncs.com", ENDPOINT.format("https://cas.aliyuncs.com")),
        ("endpoint", "", ENDPOINT.format("")),
        ("endpoint", 8080, ENDPOINT.format(8080)),
        ("region", "cn hangzhou", "region must be an Alibaba Cloud region id such as cn-hangzhou, got 'cn hangzhou'"),
        ("region", None, "region is required and must be a non-empty string, got None"),
        ("region", " ", "region is required and must be a non-empty string, got ' '"),
        ("protocol", "HTTPS", "protocol must be 'https' or 'http', got 'HTTPS'"),
        ("protocol", "", "protocol is required and must be a non-empty string, got ''"),
    ],
)
def test_both_providers_refuse_a_bad_shared_input_with_the_same_reason(provider, prop, value, reason):
    assert provider.problems(prop, value) == [reason]


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: type(p).__name__)
@pytest.mark.parametrize(
    ("prop", "value"),
    [("endpoint", None), ("endpoint", "127.0.0.1:8443"), ("region", "eu-central-1"), ("protocol", "http")],
)
def test_both_providers_accept_a_good_shared_input(provider, prop, value):
    assert provider.problems(prop, value) == []


def test_each_provider_fills_in_the_defaults_its_state_was_written_with():
    """What check adds to unset inputs: the same values as before the defaults were read from the Args, so a
    stack's next preview shows no change."""
    assert CaCertificateProvider.DEFAULTS == {"warehouse_name": "alb-mtls", "protocol": "https"}
    assert PcaCertificateProvider.DEFAULTS == {
        "kind": "client",
        "early_renewal_days": 0,
        "revoked": False,
        "protocol": "https",
    }


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: type(p).__name__)
def test_a_new_serialized_provider_or_new_outputs_are_no_change(provider):
    """The engine hands diff the state (outputs and the pickled provider) and the new inputs: a provider pickled
    by another version of the program, or outputs read again, never update or replace anything."""
    inputs = {**provider.DEFAULTS, "region": "cn-hangzhou", "name": "n", "days": 90}
    olds = {**inputs, "__provider": "pickled-before", "identifier": "x", "validity_end_time": "2999-01-01T00:00:00Z"}

    diff = provider.diff("x", olds, {**inputs, "__provider": "pickled-now"})

    assert not diff.changes and diff.replaces == []
