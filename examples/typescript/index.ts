// HTTPS mutual TLS for an existing cluster's ALB Ingress, from TypeScript, with the alb-mtls component
// package: a root CA, two client certificates, a server certificate and a MutualTlsListener (the CA and
// server certificate registered in Certificate Management, the verifying AlbConfig and its IngressClass).
import * as albMtls from "@pulumi/alb-mtls";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();
const domain = config.require("domain"); // the DNS name clients call: the server certificate's SAN
const vswitchIds = config.requireObject<string[]>("vswitchIds"); // at least two zones, one ALB zone mapping each
// The Certificate Management endpoint (host[:port]) for the CA registration (empty: the region's public one);
// give the alicloud provider the same as alicloud:endpoints[0].cas, and casProtocol as alicloud:protocol.
const casEndpoint = config.get("casEndpoint") ?? "";
const casProtocol = config.get("casProtocol") ?? "https";
// Write the Kubernetes objects as YAML here instead of applying them (empty: apply them to the cluster).
const renderDirectory = config.get("renderDirectory") ?? "";
// How long an update waits for the ALB Ingress controller to write the AlbConfig's status (no controller sees
// rendered objects: nothing to wait for then).
const readyTimeoutSeconds = config.getNumber("readyTimeoutSeconds") ?? (renderDirectory ? 0 : 600);

const kubernetes = new k8s.Provider("kubernetes", renderDirectory ? { renderYamlToDirectory: renderDirectory } : {});

const ca = new albMtls.CertificateAuthority("ca", {
    subject: { commonName: "Example Corp root CA", country: "CN" },
    validityDays: 3650,
    key: { algorithm: "RSA", rsaBits: 4096 },
});

const clientNames = ["alice", "build-bot"];
const clients = clientNames.map(
    (clientName) =>
        new albMtls.ClientCertificate(clientName, {
            caCertPem: ca.certPem,
            caPrivateKeyPem: ca.privateKeyPem,
            clientName,
            validityDays: clientName === "build-bot" ? 90 : 365,
            earlyRenewalDays: 30,
            key: { algorithm: "ECDSA", ecdsaCurve: "P256" },
        }),
);

const server = new albMtls.ServerCertificate("server", {
    caCertPem: ca.certPem,
    caPrivateKeyPem: ca.privateKeyPem,
    domain,
    validityDays: 365,
    earlyRenewalDays: 30,
    key: { algorithm: "RSA", rsaBits: 2048 },
});

const mtls = new albMtls.MutualTlsListener(
    "mtls",
    {
        albConfigName: "alb-mtls",
        ingressClassName: "alb-mtls",
        vswitchIds,
        region: "cn-hangzhou",
        caCertificatePem: ca.certPem,
        serverCertificatePem: server.certPem,
        serverPrivateKeyPem: server.privateKeyPem,
        securityPolicyId: "tls_cipher_policy_1_2_strict_with_1_3",
        clientCertHeaders: {
            subjectDn: "x-client-subject",
            issuerDn: "x-forwarded-clientcert-issuerdn",
            fingerprint: "x-forwarded-clientcert-fingerprint",
            clientVerify: "x-forwarded-clientcert-clientverify",
        },
        casEndpoint,
        casProtocol,
        readyTimeoutSeconds,
    },
    { providers: [kubernetes] },
);

export const caCertificatePem = ca.certPem;
export const clientCertificates = Object.fromEntries(clientNames.map((name, i) => [name, clients[i].certPem]));
export const clientPrivateKeys = pulumi.secret(
    Object.fromEntries(clientNames.map((name, i) => [name, clients[i].privateKeyPem])),
);
export const ingressClassName = mtls.ingressClassName;
export const listenPorts = mtls.listenPorts;
export const caCertificateId = mtls.caCertificateId;
export const serverCertificateId = mtls.serverCertificateId;
