"""alb-mtls: HTTPS mutual TLS for a Kubernetes service behind an Alibaba Cloud ALB Ingress.

Reads the configuration (validated before anything is created) and wires the components together.
"""

import datetime as dt

import pulumi
import pulumi_kubernetes as k8s

import stack_config
from components.app import WebApp, WebAppArgs, curl_command, endpoint
from components.issuer import ClientIssue, Issuer, ListenerTrust, ServerIssue
from components.listener import MutualTlsListener, MutualTlsListenerArgs
from components.pca import PcaAuthority, PcaAuthorityArgs
from components.pki import CertificateAuthority, CertificateAuthorityArgs

# A revoked client's certificate must be older than this run (to the second: pulumi-tls may write whole seconds).
started = dt.datetime.now(dt.UTC).replace(microsecond=0)
config = stack_config.load()

# Render mode (GitOps): every Kubernetes object is written as YAML into renderDirectory, not applied. No cluster
# is used: kubeconfig is set empty, or the SDK would take $KUBECONFIG, which the provider refuses with rendering.
kubernetes = (
    pulumi.ResourceOptions(
        providers=[k8s.Provider("render", render_yaml_to_directory=config.render_directory, kubeconfig="")],
    )
    if config.render_directory
    else None
)


# One issuer, whichever CA source the stack uses: the self-signed CA (its key in the stack), or the PCA (the CAs
# live in Certificate Management and issue every certificate from a CSR: no CA key anywhere in the stack).
issuer: Issuer = (
    PcaAuthority(
        "pca",
        PcaAuthorityArgs(
            subject=config.ca.subject,
            validity_days=config.ca.validity_days,
            key=config.ca.key,
            root_identifier=config.ca.pca_root_identifier,
            issuer_identifier=config.ca.pca_issuer_identifier,
            region=config.region,
            endpoint=config.cas_endpoint,
            protocol=config.cas_protocol,
        ),
    )
    if config.ca.source == "pca"
    else CertificateAuthority(
        "root-ca",
        CertificateAuthorityArgs(subject=config.ca.subject, validity_days=config.ca.validity_days, key=config.ca.key),
    )
)
clients = {
    client.name: issuer.issue_client(
        f"client-{client.name}",
        ClientIssue(
            client_name=client.name,
            validity_days=client.validity_days,
            early_renewal_days=client.early_renewal_days,
            key=client.key,
            revoked=client.revoked,
            csr_pem=client.csr_pem,
            rotate_key_on_renewal=client.rotate_key,
        ),
    )
    for client in config.clients
}
server = None
if config.server_certificate_id is None:
    server = issuer.issue_server(
        "server",
        ServerIssue(
            domain=config.domain,
            validity_days=stack_config.SERVER_VALIDITY_DAYS,
            early_renewal_days=stack_config.SERVER_EARLY_RENEWAL_DAYS,
            rotate_key_on_renewal=config.rotate_server_key,
        ),
    )
ca_cert_pem = issuer.trust_anchor_pem
listener_ca = (
    issuer.listener_trust
    if config.ca_certificate_id is None
    else ListenerTrust(ca_certificate_pem=None, ca_certificate_id=config.ca_certificate_id)
)

active = {c.name: clients[c.name] for c in config.clients if not c.revoked}
# Revoked: the certificate each client holds (never one this update issues), as the gate refuses it.
revoked = {
    c.name: clients[c.name].held_identity(issued_before=started, where=c.config_key)
    for c in config.clients
    if c.revoked
}

if config.ca_certificate_id is not None:
    pulumi.log.warn(
        "alb-mtls:caCertificateId is set: the listener trusts that CA, so the client certificates this stack "
        "issues verify only if that id is this stack's CA (registered elsewhere)."
    )

listener = MutualTlsListener(
    "mtls",
    MutualTlsListenerArgs(
        alb_config_name=config.listener.alb_config_name,
        ingress_class_name=config.listener.ingress_class_name,
        vswitch_ids=list(config.vswitch_ids),
        address_type=config.address_type,
        edition=config.edition,
        region=config.region,
        **listener_ca,
        server_certificate_pem=server.cert_pem if server is not None else None,
        server_private_key_pem=server.private_key_pem if server is not None else None,
        server_certificate_id=config.server_certificate_id,
        port=config.listener.port,
        security_policy_id=config.listener.security_policy_id,
        client_cert_headers=config.listener.client_cert_headers,
        http_redirect=config.listener.http_redirect,
        # Rendered objects meet no controller: nothing to wait for.
        ready_timeout_seconds=0 if config.render_directory else config.listener.ready_timeout_seconds,
        cas_endpoint=config.cas_endpoint,
        cas_protocol=config.cas_protocol,
    ),
    opts=kubernetes,
)

app = WebApp(
    "app",
    WebAppArgs(
        app_name=config.app.name,
        image=config.app.image,
        replicas=config.app.replicas,
        container_port=config.app.port,
        namespace=config.namespace,
        host=config.domain,
        ingress_class_name=listener.ingress_class_name,
        listen_ports=listener.listen_ports,
        http_redirect=listener.http_redirect,
        gate_image=config.gate.image,
        gate_port=config.gate.port,
        fingerprint_header=config.listener.client_cert_headers["fingerprint"],
        verify_header=config.listener.client_cert_headers["clientVerify"],
        subject_header=config.listener.client_cert_headers["subjectDn"],
        issuer_header=config.listener.client_cert_headers["issuerDn"],
        client_name_header=config.gate.client_name_header,
        revoked_fingerprints={
            name: identity.apply(lambda i: [i["sha1Fingerprint"], i["sha256Fingerprint"]])
            for name, identity in revoked.items()
        },
    ),
    opts=kubernetes,
)

url = endpoint(config.domain, config.listener.port)
pulumi.export("caCertificatePem", ca_cert_pem)
pulumi.export("clientCertificates", {name: c.cert_pem for name, c in active.items()})
pulumi.export(  # clients that brought their own CSR have no key here
    "clientPrivateKeys",
    pulumi.Output.secret({name: c.private_key_pem for name, c in active.items() if c.private_key_pem is not None}),
)
pulumi.export("clientCertificateExpiry", {name: c.validity_end_time for name, c in active.items()})
pulumi.export(  # keys the stack makes and rotates at renewal
    "clientKeyCreated", {name: c.key_created for name, c in active.items() if c.key_created is not None}
)
pulumi.export("revokedClients", revoked)
if server is not None:
    pulumi.export("serverCertificatePem", server.cert_pem)
pulumi.export("albConfigName", listener.alb_config_name)
pulumi.export("ingressClassName", listener.ingress_class_name)
pulumi.export("loadBalancerDnsName", listener.load_balancer_dns_name)
pulumi.export("endpoint", url)
pulumi.export("curlCommand", curl_command(url, next(iter(active), None), with_ca=server is not None))
