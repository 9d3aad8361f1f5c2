"""Registers an external CA certificate in Alibaba Cloud Certificate Management Service (CAS) for ALB mutual TLS.

ALB verifies clients against a CA certificate held in CAS (an AlbConfig listener's `caCertificates[].CertificateId`),
and no Pulumi or Terraform resource uploads an external one, so this is a dynamic provider over the CAS SDK
(`alibabacloud-cas20200407`, API 2020-04-07). A create finds the certificate repository by name (making it when
missing) and adopts this certificate if an earlier attempt uploaded it already (an answer lost, an `up`
interrupted); only then does it upload it, never a key. A delete removes the certificate and keeps the repository,
which other registrations share. A read (`pulumi refresh`) finds it by identifier: gone means deleted out of band.

Assumed where the API reference is silent: CreateWarehouse and ListCertWarehouse name repository types in different
vocabularies; ListCert's `KeyWord` searches names and reports neither a name nor the content, which
DescribeWarehouseCert does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

from components.alicloud_api import Attempts, CasApiError, call_api, list_all
from components.dynamic_provider import ApiInputs, CheckedProvider, input_defaults, registered, required_string

__all__ = ["CaCertificateProvider", "CaCertificateRegistration", "CaCertificateRegistrationArgs"]


@dataclass(kw_only=True)
class CaCertificateRegistrationArgs(ApiInputs):
    """Inputs of `CaCertificateRegistration`."""

    certificate_pem: pulumi.Input[str]
    """The CA certificate (PEM) that client certificates must chain to; never its private key."""
    name: pulumi.Input[str]
    """The certificate's name as shown in the CAS console."""
    warehouse_name: pulumi.Input[str] = "alb-mtls"
    """The certificate repository for uploaded certificates; created when missing, kept on delete."""


class CaCertificateProvider(CheckedProvider):
    """CRUD for one CA certificate uploaded to a CAS certificate repository."""

    INPUTS = ("certificate_pem", "name", "region", "warehouse_name", "endpoint", "protocol")
    REPLACE_ON = ("certificate_pem", "warehouse_name", "region")
    """Inputs whose change means a new registration (created before the old one is deleted, so the listener never
    points at a deleted CA). A new endpoint or protocol only changes how CAS is reached, and a new name is only
    recorded: CAS cannot rename an upload, and a new registration would adopt the old upload (the same certificate
    under a name the keyword search matches), whose delete would then remove the certificate the listener uses."""
    DEFAULTS = input_defaults(CaCertificateRegistrationArgs)
    WAREHOUSE_TYPE = "uploadedAuthorityCertificate"
    """CreateWarehouse `Type` for a repository of uploaded CA certificates."""
    UPLOAD_WAREHOUSE_TYPES = frozenset({"uploadedAuthorityCertificate", "uploadedCertificate", "uploadCA", "uploadPCA"})
    """Repository types that hold uploaded certificates, in CreateWarehouse's and ListCertWarehouse's vocabularies."""

    # -- lifecycle -------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        from alibabacloud_cas20200407 import models

        props = self.with_defaults(props)
        client = self.client(props)
        attempts = Attempts(self.RETRY)
        warehouse_id = self._ensure_warehouse(attempts, client, props["warehouse_name"])

        def adopt_or_upload() -> str:
            # Every attempt looks first: an upload whose answer was lost must not be repeated.
            adopted = self._find_uploaded(client, warehouse_id, props["name"], props["certificate_pem"])
            if adopted is not None:
                return adopted
            request = models.UploadPCACertRequest(
                warehouse_id=warehouse_id, name=props["name"], cert=props["certificate_pem"]
            )
            identifier = call_api("UploadPCACert", client.upload_pcacert, request).body.identifier
            if not identifier:
                raise CasApiError("UploadPCACert", None, "the response carries no Identifier")
            return identifier

        identifier = attempts.run(adopt_or_upload)
        return pulumi.dynamic.CreateResult(identifier, self._outs(props, identifier, warehouse_id))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        client = self.client(self.with_defaults(props))
        found = Attempts(self.RETRY).run(lambda: self._find_cert(client, id_))
        if found is None:
            # An empty id tells the engine the certificate was deleted out of band. The dynamic provider
            # host writes into `outs`, so it must be a dict even then.
            return pulumi.dynamic.ReadResult("", {})
        warehouse_id = found.wh_id if found.wh_id is not None else props.get("warehouse_id")
        return pulumi.dynamic.ReadResult(id_, self._outs(props, id_, warehouse_id))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        # Only endpoint, protocol and name reach here (diff replaces on everything else): nothing changes in CAS.
        return pulumi.dynamic.UpdateResult(self._outs(self.with_defaults(news), id_, olds.get("warehouse_id")))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        from alibabacloud_cas20200407 import models

        client = self.client(self.with_defaults(props))

        def delete_once() -> None:
            try:
                call_api("DeletePCACert", client.delete_pcacert, models.DeletePCACertRequest(identifier=id_))
            except CasApiError as failure:
                if failure.retryable:
                    raise
                # Already gone (deleted in the console, or by an attempt whose answer was lost)? Then there is
                # nothing left to delete. Still listed, or not known: the failure stands, nothing is forgotten.
                try:
                    still_there = self._find_cert(client, id_) is not None
                except CasApiError as lookup:
                    if lookup.retryable:
                        raise
                    still_there = True
                if still_there:
                    raise failure from None

        Attempts(self.RETRY).run(delete_once)

    # -- CAS calls -------------------------------------------------------------------------------

    def client(self, props: dict[str, Any]) -> Any:
        """The CAS SDK client for `props` (region, endpoint, protocol)."""
        from alibabacloud_cas20200407.client import Client

        return Client(self.sdk_config(props))

    def _ensure_warehouse(self, attempts: Attempts, client: Any, name: str) -> int:
        """The WhId of the upload repository called `name`, creating the repository when missing."""
        from alibabacloud_cas20200407 import models

        def find_or_create() -> tuple[int | None, str | None]:
            # Every attempt looks first: a create whose answer was lost must not be repeated.
            found = self._find_warehouse(client, name)
            if found is not None:
                return int(found.wh_id), None
            request = models.CreateWarehouseRequest(name=name, type=self.WAREHOUSE_TYPE)
            return None, call_api("CreateWarehouse", client.create_warehouse, request).body.warehouse_instance_id

        warehouse_id, instance_id = attempts.run(find_or_create)
        if warehouse_id is not None:
            return warehouse_id

        def listed() -> int:
            # CreateWarehouse answers with the instance id; UploadPCACert wants the numeric WhId, which
            # only the list reports, and a list may lag behind a create.
            found = self._find_warehouse(client, name, instance_id)
            if found is None:
                raise CasApiError(
                    "ListCertWarehouse",
                    None,
                    f"repository {name!r} ({instance_id}) is not listed after its creation",
                    retryable=True,
                )
            return int(found.wh_id)

        return attempts.run(listed)

    def _find_warehouse(self, client: Any, name: str, instance_id: str | None = None) -> Any:
        """The upload repository called `name` (the one with `instance_id` if several), or None."""
        from alibabacloud_cas20200407 import models

        listed = list_all(
            "ListCertWarehouse", client.list_cert_warehouse, models.ListCertWarehouseRequest, "cert_warehouse_list",
            name=name,
        )  # fmt: skip
        same_name = [w for w in listed if w.name == name]  # Name matches fuzzily: keep exact ones
        usable = [w for w in same_name if w.type in self.UPLOAD_WAREHOUSE_TYPES and w.wh_id is not None]
        if usable:
            return min(usable, key=lambda w: (w.instance_id != instance_id, bool(w.is_expired), w.wh_id))
        if same_name:
            kinds = ", ".join(sorted({str(w.type) for w in same_name}))
            raise CasApiError(
                "ListCertWarehouse",
                None,
                f"a certificate repository named {name!r} exists but is not one for uploaded certificates "
                f"(type {kinds}); choose another warehouse_name",
            )
        return None

    def _find_uploaded(self, client: Any, warehouse_id: int, name: str, pem: str) -> str | None:
        """The identifier of a CA certificate uploaded into repository `warehouse_id` under `name` that holds
        exactly the certificates of `pem`, or None: the keyword finds names, the common name narrows the
        candidates, and DescribeWarehouseCert's `Content` decides."""
        from alibabacloud_cas20200407 import models
        from cryptography import x509

        wanted = x509.load_pem_x509_certificates(pem.encode("utf-8"))
        names = wanted[0].subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else ""
        listed = list_all(
            "ListCert", client.list_cert, models.ListCertRequest, "cert_list",
            warehouse_id=warehouse_id, cert_type="CA", source_type="upload", key_word=name,
        )  # fmt: skip
        candidates = [c for c in listed if c.identifier and (c.common_name or "") == common_name]
        for candidate in sorted(candidates, key=lambda c: c.identifier):
            request = models.DescribeWarehouseCertRequest(cert_identifier=candidate.identifier)
            try:
                described = call_api("DescribeWarehouseCert", client.describe_warehouse_cert, request).body
            except CasApiError as failure:
                if failure.not_found:  # deleted since it was listed
                    continue
                raise
            try:
                held = x509.load_pem_x509_certificates((described.content or "").encode("utf-8"))
            except ValueError:
                continue
            if held == wanted:
                return candidate.identifier
        return None

    def _find_cert(self, client: Any, identifier: str) -> Any:
        from alibabacloud_cas20200407 import models

        listed = list_all("ListCert", client.list_cert, models.ListCertRequest, "cert_list", identifiers=identifier)
        return next((c for c in listed if c.identifier == identifier), None)

    # -- helpers ---------------------------------------------------------------------------------

    def _outs(self, props: dict[str, Any], identifier: str, warehouse_id: Any) -> dict[str, Any]:
        outs = {k: props.get(k) for k in self.INPUTS}
        outs["identifier"] = identifier
        outs["warehouse_id"] = int(warehouse_id) if warehouse_id is not None else None
        return outs

    def input_problems(self, prop: str, value: Any) -> list[str]:
        problems = required_string(prop, value)
        if not problems and prop == "certificate_pem":
            return _certificate_problems(value)
        return problems


def _certificate_problems(pem: str) -> list[str]:
    """Why a PEM is not what ALB verifies clients against: certificates, each a CA (BasicConstraints CA:TRUE),
    and no key."""
    from cryptography import x509

    if "PRIVATE KEY" in pem:
        return ["certificate_pem contains a private key; pass only the CA certificate (ALB never needs the key)"]
    try:
        certs = x509.load_pem_x509_certificates(pem.encode("utf-8"))
    except ValueError as error:
        return [f"certificate_pem is not a PEM certificate: {error}"]
    problems = []
    for cert in certs:
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            problems.append(
                f"certificate_pem must be a CA certificate (BasicConstraints CA:TRUE); "
                f"{cert.subject.rfc4514_string()!r} is not"
            )
    return problems


class CaCertificateRegistration(pulumi.dynamic.Resource):
    """A CA certificate uploaded to a CAS certificate repository, for ALB mutual TLS to verify clients against."""

    identifier: pulumi.Output[str]
    """The CAS identifier (also the resource id): what `caCertificates[].CertificateId` takes."""
    warehouse_id: pulumi.Output[int]
    """The numeric id (WhId) of the certificate repository holding the certificate."""
    certificate_pem: pulumi.Output[str]
    """The uploaded CA certificate (PEM)."""
    name: pulumi.Output[str]
    """The certificate's name in CAS."""
    region: pulumi.Output[str]
    """The CAS API region."""
    warehouse_name: pulumi.Output[str]
    """The certificate repository's name."""
    endpoint: pulumi.Output[str | None]
    """The API endpoint override, if any."""
    protocol: pulumi.Output[str]
    """The API protocol."""

    def __init__(
        self, name: str, args: CaCertificateRegistrationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        provider = CaCertificateProvider()
        super().__init__(provider, name, registered(provider, args, ("identifier", "warehouse_id")), opts)
