"""The trust anchor of a PCA's certificates: the root above the issuing sub-CA, as the PCA describes that CA.

A lookup (DescribeCACertificate of the issuing CA, read again on refresh): it creates and deletes nothing in
Certificate Management. Assumption the API reference leaves open (the local fake plays it): `CaCertChain` holds
the CA's own certificate and those above it, the self-issued root among them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pulumi.dynamic
from cryptography import x509

from components.alicloud_api import Attempts, CasApiError, call_api
from components.dynamic_provider import ApiInputs, CheckedProvider, input_defaults, registered
from components.pca_provider import pem_text


@dataclasses.dataclass(kw_only=True)
class PcaTrustAnchorArgs(ApiInputs):
    """Inputs of `PcaTrustAnchor`."""

    issuer_identifier: pulumi.Input[str]
    """The issuing sub-CA's identifier."""


class PcaTrustAnchorProvider(CheckedProvider):
    """Reads the root certificate above an issuing CA."""

    INPUTS = ("issuer_identifier", "region", "endpoint", "protocol")
    REPLACE_ON = ("issuer_identifier", "region")
    DEFAULTS = input_defaults(PcaTrustAnchorArgs)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        props = self.with_defaults(props)
        return pulumi.dynamic.CreateResult(props["issuer_identifier"], {**props, **self._root(props)})

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        props = self.with_defaults(props)
        return pulumi.dynamic.ReadResult(id_, {**props, **self._root(props)})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        news = self.with_defaults(news)
        return pulumi.dynamic.UpdateResult({**news, **self._root(news)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete: the CA stays where it is."""

    def _root(self, props: dict[str, Any]) -> dict[str, str]:
        from alibabacloud_cas20200630 import models
        from alibabacloud_cas20200630.client import Client

        client, identifier = Client(self.sdk_config(props)), props["issuer_identifier"]
        request = models.DescribeCACertificateRequest(identifier=identifier)
        answer = Attempts(self.RETRY).run(
            lambda: call_api("DescribeCACertificate", client.describe_cacertificate, request)
        )
        ca = answer.body.certificate
        chain = x509.load_pem_x509_certificates(ca.ca_cert_chain.encode()) if ca and ca.ca_cert_chain else []
        roots = [c for c in chain if c.subject == c.issuer]
        if not roots:
            raise CasApiError("DescribeCACertificate", None, f"no self-issued root in the chain of CA {identifier}")
        return {"root_pem": pem_text(roots[-1])}


class PcaTrustAnchor(pulumi.dynamic.Resource):
    """The root certificate (PEM) above a PCA issuing CA: what clients trust."""

    root_pem: pulumi.Output[str]
    """The self-issued root certificate (PEM)."""

    def __init__(self, name: str, args: PcaTrustAnchorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        provider = PcaTrustAnchorProvider()
        super().__init__(provider, name, registered(provider, args, ("root_pem",)), opts)
