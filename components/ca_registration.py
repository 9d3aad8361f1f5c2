"""Registers an external CA certificate in Alibaba Cloud Certificate Management Service (CAS).

ALB mutual TLS verifies clients against a CA certificate held in CAS (`caCertificates[].CertificateId`
of an AlbConfig listener). No Pulumi or Terraform resource uploads an external CA certificate, so this
is a Pulumi dynamic provider over the official SDK (`alibabacloud-cas20200407`, API 2020-04-07):

- create: finds the certificate repository ("warehouse") named `warehouse_name` (ListCertWarehouse),
  creating it when missing (CreateWarehouse), then looks in it for this certificate, already uploaded
  under this name by an earlier attempt whose answer was lost or whose `pulumi up` was interrupted
  (ListCert by name, then DescribeWarehouseCert: the same certificates, byte for byte), and adopts it;
  only when there is none does it upload the certificate (UploadPCACert with WarehouseId, Name and
  Cert; never a private key). The `Identifier` is the resource id and the `identifier` output, the value
  ALB's `caCertificates[].CertificateId` takes.
- delete: DeletePCACert; a certificate already gone (ListCert no longer shows it) counts as deleted.
  The repository stays: it is found by name, so other registrations (in this stack or others) share it
  and upload into it; deleting it under them would break them.
- diff: a new certificate, repository or region replaces the registration (create the new one, then
  delete the old one, so the listener never points at a deleted CA); a new endpoint or protocol only
  changes how CAS is reached, and a new name for the same certificate is only recorded: both are stored
  without an API call (CAS has no call that renames an uploaded CA certificate, so the console keeps the
  old name). A rename is not a replacement because the new registration would find the old upload (the
  same certificate, under a name its keyword search matches), adopt it, and the old one's delete would
  then remove the certificate the listener uses.
- read (`pulumi refresh`): looks the identifier up with ListCert; gone means deleted out of band.
- check: the PEM must parse as certificates, each a CA (BasicConstraints CA:TRUE), and hold no key.

Failures, retries and credentials are the Alibaba Cloud API layer's (`components.alicloud_api`): throttling,
5xx answers and transport failures are retried until `RETRY.deadline` seconds after the operation began; each
retry repeats a whole step (find, then act), so a call whose answer was lost is not done twice. Any other error
(invalid parameter, forbidden, not found, a bad signature) fails at once, naming the call and the code.
Credentials come from the environment at call time, where the alicloud provider reads them; they are never
inputs, never stack configuration, and never in the resource state or in the serialized provider. `endpoint`
and `protocol` are the alicloud provider's `alicloud:endpoints` `cas` entry and `alicloud:protocol`, as
`components.alicloud_api.cas_endpoint` reads them.

`CheckedProvider` (check and diff from three class attributes) is shared with `components.pca`.

Serialization: `pulumi.dynamic` pickles the provider with dill. `CaCertificateProvider` lives in an
importable module and has no instance state, so dill stores a reference to it
(`components.ca_registration.CaCertificateProvider`) and the provider process (started by the Pulumi CLI
in the project directory) imports this module; the SDK is imported inside the methods that call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic

from components.alicloud_api import (
    Attempts,
    CasApiError,
    RetryPolicy,
    call_api,
    is_unknown,
    sdk_config,
)

__all__ = [
    "CaCertificateProvider",
    "CaCertificateRegistration",
    "CaCertificateRegistrationArgs",
    "CasApiError",
    "CheckedProvider",
    "RetryPolicy",
]


@dataclass
class CaCertificateRegistrationArgs:
    """Inputs of `CaCertificateRegistration`."""

    certificate_pem: pulumi.Input[str]
    """The CA certificate (PEM) that client certificates must chain to; never its private key."""
    name: pulumi.Input[str]
    """The certificate's name as shown in the CAS console."""
    region: pulumi.Input[str]
    """The CAS API region: cn-hangzhou on the China site, ap-southeast-1 on the international site."""
    warehouse_name: pulumi.Input[str] = "alb-mtls"
    """The certificate repository for uploaded certificates; created when missing, kept on delete."""
    endpoint: pulumi.Input[str] | None = None
    """API endpoint override (`host[:port]`); by default the SDK derives it from `region`
    (cas.aliyuncs.com for cn-hangzhou, cas.ap-southeast-1.aliyuncs.com for ap-southeast-1)."""
    protocol: pulumi.Input[str] = "https"
    """`https` (default) or `http` (for a local test endpoint only)."""


class CheckedProvider(pulumi.dynamic.ResourceProvider):
    """check and diff of this project's dynamic providers, from class attributes: `DEFAULTS` fill unset
    inputs, `_problems(prop, value)` checks each of `INPUTS` that is known, a changed input in `REPLACE_ON`
    replaces the resource (the new one first), any other change is an update, and `CREATE_ONLY` inputs are
    never compared."""

    INPUTS: ClassVar[tuple[str, ...]] = ()
    REPLACE_ON: ClassVar[tuple[str, ...]] = ()
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    CREATE_ONLY: ClassVar[tuple[str, ...]] = ()
    """Inputs that matter only when the resource is created: checked, never compared (no change, no update)."""

    @staticmethod
    def _problems(prop: str, value: Any) -> list[str]:
        return []

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        inputs = {**self.DEFAULTS, **{k: v for k, v in news.items() if v is not None}}
        failures = [
            pulumi.dynamic.CheckFailure(prop, reason)
            for prop in self.INPUTS
            if not is_unknown(inputs.get(prop))
            for reason in self._problems(prop, inputs.get(prop))
        ]
        return pulumi.dynamic.CheckResult(inputs, failures)

    def changes(self, olds: dict[str, Any], news: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
        """(the new inputs with defaults, the changed inputs, those of them that replace the resource)."""
        news = {**self.DEFAULTS, **news}
        compared = [k for k in self.INPUTS if k not in self.CREATE_ONLY]
        changed = [k for k in compared if is_unknown(news.get(k)) or olds.get(k) != news.get(k)]
        return news, changed, [k for k in changed if k in self.REPLACE_ON]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        _, changed, replaces = self.changes(olds, news)
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)


class CaCertificateProvider(CheckedProvider):
    """CRUD for one CA certificate uploaded to a CAS certificate repository."""

    INPUTS = ("certificate_pem", "name", "region", "warehouse_name", "endpoint", "protocol")
    """Input properties, in the order they are reported."""
    REPLACE_ON = ("certificate_pem", "warehouse_name", "region")
    """Inputs whose change means a new registration (CAS has no call that changes an uploaded one)."""
    DEFAULTS: ClassVar[dict[str, str]] = {"warehouse_name": "alb-mtls", "protocol": "https"}
    WAREHOUSE_TYPE = "uploadedAuthorityCertificate"
    """CreateWarehouse `Type` for a repository of uploaded CA certificates."""
    UPLOAD_WAREHOUSE_TYPES = frozenset({"uploadedAuthorityCertificate", "uploadedCertificate", "uploadCA", "uploadPCA"})
    """Repository types that hold uploaded certificates, in CreateWarehouse's and ListCertWarehouse's
    vocabularies (the API reference documents different names for the two calls)."""
    PAGE_SIZE = 50
    RETRY: ClassVar[RetryPolicy] = RetryPolicy()
    """Retries of throttling, 5xx and transport failures (tests set a short one)."""

    # -- lifecycle -------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        from alibabacloud_cas20200407 import models

        props = {**self.DEFAULTS, **props}
        client = self._client(props)
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
            identifier = self._call("UploadPCACert", client.upload_pcacert, request).body.identifier
            if not identifier:
                raise CasApiError("UploadPCACert", None, "the response carries no Identifier")
            return identifier

        identifier = attempts.run(adopt_or_upload)
        return pulumi.dynamic.CreateResult(identifier, self._outs(props, identifier, warehouse_id))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        client = self._client({**self.DEFAULTS, **props})
        found = Attempts(self.RETRY).run(lambda: self._find_cert(client, id_))
        if found is None:
            # An empty id tells the engine the certificate was deleted out of band. The dynamic provider
            # host writes into `outs`, so it must be a dict even then.
            return pulumi.dynamic.ReadResult("", {})
        warehouse_id = found.wh_id if found.wh_id is not None else props.get("warehouse_id")
        return pulumi.dynamic.ReadResult(id_, self._outs(props, id_, warehouse_id))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        # Only endpoint, protocol and name reach here (diff replaces on everything else): nothing changes in CAS.
        return pulumi.dynamic.UpdateResult(self._outs({**self.DEFAULTS, **news}, id_, olds.get("warehouse_id")))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        from alibabacloud_cas20200407 import models

        client = self._client({**self.DEFAULTS, **props})

        def delete_once() -> None:
            try:
                self._call("DeletePCACert", client.delete_pcacert, models.DeletePCACertRequest(identifier=id_))
            except CasApiError as failure:
                if failure.retryable:
                    raise
                # Already gone (deleted in the console, or by an attempt whose answer was lost)? Then
                # there is nothing left to delete. Still listed: the failure stands, nothing is leaked.
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

    def _client(self, props: dict[str, Any]) -> Any:
        from alibabacloud_cas20200407.client import Client

        return Client(sdk_config(props))

    _call = staticmethod(call_api)

    def _ensure_warehouse(self, attempts: Attempts, client: Any, name: str) -> int:
        """The WhId of the upload repository called `name`, creating the repository when missing."""
        from alibabacloud_cas20200407 import models

        def find_or_create() -> tuple[int | None, str | None]:
            # Every attempt looks first: a create whose answer was lost must not be repeated.
            found = self._find_warehouse(client, name)
            if found is not None:
                return int(found.wh_id), None
            created = self._call(
                "CreateWarehouse",
                client.create_warehouse,
                models.CreateWarehouseRequest(name=name, type=self.WAREHOUSE_TYPE),
            )
            return None, created.body.warehouse_instance_id

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

        same_name = []
        page = 1
        while True:
            request = models.ListCertWarehouseRequest(name=name, current_page=page, show_size=self.PAGE_SIZE)
            body = self._call("ListCertWarehouse", client.list_cert_warehouse, request).body
            listed = body.cert_warehouse_list or []
            same_name += [w for w in listed if w.name == name]  # Name matches fuzzily: keep exact ones
            if not listed or page * self.PAGE_SIZE >= (body.total_count or 0):
                break
            page += 1
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
        """The identifier of a CA certificate uploaded into repository `warehouse_id` under `name` that
        holds exactly the certificates of `pem`, or None.

        ListCert reports neither a certificate's name nor its content: its `KeyWord` searches names (and
        domain names), the common name narrows the candidates, and DescribeWarehouseCert's `Content`
        decides."""
        from alibabacloud_cas20200407 import models
        from cryptography import x509

        wanted = x509.load_pem_x509_certificates(pem.encode("utf-8"))
        names = wanted[0].subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else ""
        candidates = []
        page = 1
        while True:
            request = models.ListCertRequest(
                warehouse_id=warehouse_id,
                cert_type="CA",
                source_type="upload",
                key_word=name,
                current_page=page,
                show_size=self.PAGE_SIZE,
            )
            body = self._call("ListCert", client.list_cert, request).body
            listed = body.cert_list or []
            candidates += [c for c in listed if c.identifier and (c.common_name or "") == common_name]
            if not listed or page * self.PAGE_SIZE >= (body.total_count or 0):
                break
            page += 1
        for candidate in sorted(candidates, key=lambda c: c.identifier):
            try:
                described = self._call(
                    "DescribeWarehouseCert",
                    client.describe_warehouse_cert,
                    models.DescribeWarehouseCertRequest(cert_identifier=candidate.identifier),
                ).body
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

        request = models.ListCertRequest(identifiers=identifier, show_size=self.PAGE_SIZE)
        body = self._call("ListCert", client.list_cert, request).body
        return next((c for c in body.cert_list or [] if c.identifier == identifier), None)

    # -- helpers ---------------------------------------------------------------------------------

    def _outs(self, props: dict[str, Any], identifier: str, warehouse_id: Any) -> dict[str, Any]:
        outs = {k: props.get(k) for k in self.INPUTS}
        outs["identifier"] = identifier
        outs["warehouse_id"] = int(warehouse_id) if warehouse_id is not None else None
        return outs

    @staticmethod
    def _problems(prop: str, value: Any) -> list[str]:
        """Why an input value is unacceptable (empty when it is fine)."""
        if prop == "endpoint":
            if value is None:
                return []
            if not isinstance(value, str) or not value or "/" in value or any(c.isspace() for c in value):
                return [f"endpoint must be a host[:port] without scheme or path (e.g. cas.aliyuncs.com), got {value!r}"]
            return []
        if not isinstance(value, str) or not value.strip():
            return [f"{prop} is required and must be a non-empty string, got {value!r}"]
        if prop == "protocol" and value not in ("https", "http"):
            return [f"protocol must be 'https' or 'http', got {value!r}"]
        if prop == "region" and any(c.isspace() for c in value):
            return [f"region must be an Alibaba Cloud region id such as cn-hangzhou, got {value!r}"]
        if prop == "certificate_pem":
            return CaCertificateProvider._certificate_problems(value)
        return []

    @staticmethod
    def _certificate_problems(pem: str) -> list[str]:
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
        props = {
            "certificate_pem": args.certificate_pem,
            "name": args.name,
            "region": args.region,
            "warehouse_name": args.warehouse_name,
            "endpoint": args.endpoint,
            "protocol": args.protocol,
            "identifier": None,
            "warehouse_id": None,
        }
        super().__init__(CaCertificateProvider(), name, props, opts)
