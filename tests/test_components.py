"""Components on their own, in the style of Pulumi's unit-testing guide: `@pulumi.runtime.test` and
`Output.all(...).apply(check)`, with the same faithful mocks the program tests use."""

from __future__ import annotations

import json

import pulumi
import pytest
from cryptography import x509
from pulumi.runtime import settings

from components.keys import KeySpec, Subject
from components.listener import MutualTlsListener, MutualTlsListenerArgs
from components.pki import (
    CertificateAuthority,
    CertificateAuthorityArgs,
    ClientCertificate,
    ClientCertificateArgs,
)
from tests.harness import RecordingMonitor, StackMocks


@pytest.fixture
def monitor():
    settings.ROOT.set(None)
    monitor = RecordingMonitor(StackMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project="alb-mtls", stack="unit", monitor=monitor)
    return monitor


def issue(client_name: str, client_key: KeySpec) -> tuple[CertificateAuthority, ClientCertificate]:
    """A small CA and one client certificate from it, as the program wires them."""
    ca = CertificateAuthority(
        "ca",
        CertificateAuthorityArgs(
            subject=Subject(common_name="unit CA"), validity_days=30, key=KeySpec(algorithm="ECDSA")
        ),
    )
    client = ClientCertificate(
        f"client-{client_name}",
        ClientCertificateArgs(
            ca_cert_pem=ca.cert_pem,
            ca_private_key_pem=ca.key.private_key_pem,
            validity_days=7,
            early_renewal_days=1,
            key=client_key,
            client_name=client_name,
        ),
    )
    return ca, client


@pulumi.runtime.test
def test_client_certificate_chains_to_its_ca(monitor):
    ca, client = issue("carol", KeySpec(algorithm="ECDSA", ecdsa_curve="P384"))

    def check(values):
        ca_pem, cert_pem, end = values
        ca_cert = x509.load_pem_x509_certificate(ca_pem.encode())
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        cert.verify_directly_issued_by(ca_cert)
        assert cert.subject.rfc4514_string() == "CN=carol"
        assert end.startswith(str(cert.not_valid_after_utc.year))
        names = {r.name for r in monitor.registered}
        assert {"client-carol-key", "client-carol-csr", "client-carol-cert"} <= names

    return pulumi.Output.all(ca.cert_pem, client.cert_pem, client.validity_end_time).apply(check)


@pulumi.runtime.test
def test_client_private_key_output_is_secret(monitor):
    _, client = issue("dave", KeySpec(algorithm="RSA"))

    async def check():
        assert await client.private_key_pem.is_secret(), "private_key_pem must be a secret output"
        assert not await client.cert_pem.is_secret(), "a certificate is public"

    return check()


@pulumi.runtime.test
def test_listener_outputs_with_existing_certificate_ids(monitor):
    listener = MutualTlsListener(
        "mtls",
        MutualTlsListenerArgs(
            alb_config_name="edge",
            ingress_class_name="edge-mtls",
            vswitch_ids=["vsw-a1", "vsw-b2", "vsw-c3"],
            ca_certificate_id="0e40dda998174723af39d37fcaf12345",
            server_certificate_id="10812345-cn-hangzhou",
            http_redirect=False,
        ),
    )

    def check(values):
        alb_config_name, ingress_class_name, ports, ca_id, server_id = values
        assert (alb_config_name, ingress_class_name) == ("edge", "edge-mtls")
        assert json.loads(ports) == [{"HTTPS": 443}]
        assert (ca_id, server_id) == ("0e40dda998174723af39d37fcaf12345", "10812345-cn-hangzhou")
        (albconfig,) = [r for r in monitor.registered if r.type == "kubernetes:alibabacloud.com/v1:AlbConfig"]
        assert len(albconfig.inputs["spec"]["config"]["zoneMappings"]) == 3

    return pulumi.Output.all(
        listener.alb_config_name,
        listener.ingress_class_name,
        listener.listen_ports,
        listener.ca_certificate_id,
        listener.server_certificate_id,
    ).apply(check)
