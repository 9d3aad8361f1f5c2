"""alb-mtls: HTTPS mutual TLS for a Kubernetes service behind an Alibaba Cloud ALB Ingress.

Reads the configuration (validated before anything is created) and wires the components together.
"""

import pulumi

import stack_config
from components.pki import (
    CertificateAuthority,
    CertificateAuthorityArgs,
    ClientCertificate,
    ClientCertificateArgs,
    ServerCertificate,
    ServerCertificateArgs,
)

config = stack_config.load()

ca = CertificateAuthority(
    "root-ca",
    CertificateAuthorityArgs(subject=config.ca.subject, validity_days=config.ca.validity_days, key=config.ca.key),
)

clients = {
    client.name: ClientCertificate(
        f"client-{client.name}",
        ClientCertificateArgs(
            ca_cert_pem=ca.cert_pem,
            ca_private_key_pem=ca.key.private_key_pem,
            validity_days=client.validity_days,
            early_renewal_days=client.early_renewal_days,
            key=client.key,
            client_name=client.name,
        ),
    )
    for client in config.clients
}

server = None
if config.server_certificate_id is None:
    server = ServerCertificate(
        "server",
        ServerCertificateArgs(
            ca_cert_pem=ca.cert_pem,
            ca_private_key_pem=ca.key.private_key_pem,
            validity_days=stack_config.SERVER_VALIDITY_DAYS,
            early_renewal_days=stack_config.SERVER_EARLY_RENEWAL_DAYS,
            key=stack_config.SERVER_KEY,
            domain=config.domain,
        ),
    )

pulumi.export("caCertificatePem", ca.cert_pem)
pulumi.export("clientCertificates", {name: c.cert_pem for name, c in clients.items()})
pulumi.export("clientPrivateKeys", pulumi.Output.secret({name: c.private_key_pem for name, c in clients.items()}))
pulumi.export("clientCertificateExpiry", {name: c.validity_end_time for name, c in clients.items()})
if server is not None:
    pulumi.export("serverCertificatePem", server.cert_pem)
