"""`pulumi-resource-alicloud` for the engine tests: the two resources the program creates with pulumi-alicloud.

It plays the bridged provider's resources against Certificate Management with the official SDKs, which the
tests point at the local fakes (tests/fake_cas.py, tests/fake_pca.py):
- `alicloud:cas/serviceCertificate:ServiceCertificate` (terraform-provider-alicloud
  `alicloud_ssl_certificates_service_certificate`, `alibabacloud-cas20200407`): create UploadUserCertificate
  (Name, Cert, Key), the id is the returned CertId; read (`pulumi refresh`) GetUserCertificateDetail; delete
  DeleteUserCertificate, one that is already gone counts as deleted.
- `alicloud:sslcertificatesservice/pcaCertificate:PcaCertificate` and the type pulumi-alicloud deprecated for it,
  `alicloud:sslcertificatesservicepca/certificate:Certificate` (both `alicloud_ssl_certificates_service_pca_certificate`
  upstream: the same schema, inputs and outputs as the SDK's `PcaCertificateArgs` show; `alibabacloud-cas20200630`):
  create CreateSubCACertificate for `certificateType: SUB_ROOT`, else
  CreateRootCACertificate, with the parameters upstream sends; the id is the returned Identifier; then, as
  upstream, the state is read back with DescribeCACertificate (algorithm from `FullAlgorithm`). Upstream's
  delete is DeleteClientCertificate on the CA's identifier; what the PCA does with that is not documented,
  so this double does not play it (a delete fails loudly).
For both: a changed ForceNew input replaces the resource; an input upstream updates in place (names, tags,
resource group, alias) is not played: such an update fails loudly instead of pretending. Optional+Computed
inputs left unset are no change (the provider fills them in).
Provider configuration as the real provider takes it (terraform-provider-alicloud's schema): `alicloud:region`,
`alicloud:protocol` (`HTTP` or `HTTPS`, exactly; default `HTTPS`), `alicloud:endpoints` (a set of objects whose
entries are strings; the `cas` entry, when not empty, is the host the client puts after `<protocol>://`), and the
access keys from `alicloud:accessKey`/`alicloud:secretKey` or ALICLOUD_ACCESS_KEY/ALICLOUD_SECRET_KEY. Not known:
what upstream does with a scheme or path in an endpoint entry (its schema takes any string and its clients would
call `<protocol>://http://…`); this double refuses it when configured, where upstream would fail at the first call.
A setting upstream refuses fails `configure` with upstream's wording.
Test equipment: production uses the real pulumi-alicloud provider.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from pulumi.provider.experimental import provider as p
from pulumi.provider.experimental.server import main

from tests.engine.plugin import UNKNOWN, has_unknowns, plain, resource_type, wrap

SERVICE_CERTIFICATE = "alicloud:cas/serviceCertificate:ServiceCertificate"
PCA_CERTIFICATE = "alicloud:sslcertificatesservice/pcaCertificate:PcaCertificate"
DEPRECATED_PCA_CERTIFICATE = "alicloud:sslcertificatesservicepca/certificate:Certificate"
PCA_TYPES = (PCA_CERTIFICATE, DEPRECATED_PCA_CERTIFICATE)
PROTOCOLS = ("HTTP", "HTTPS")
"""Upstream's `protocol`: `validation.StringInSlice([]string{"HTTP", "HTTPS"}, false)`, `Default: "HTTPS"`."""


class SettingRefused(ValueError):
    """A provider setting upstream's schema refuses."""


def provider_settings(variables: dict[str, str], args: dict[str, Any]) -> dict[str, Any]:
    """The provider configuration from `configure`'s variables (`alicloud:config:<key>`, objects as JSON) and args,
    checked as upstream's schema checks it; `casHost` and `protocol` are what the clients use."""
    settings: dict[str, Any] = {k.removeprefix("alicloud:config:"): v for k, v in variables.items()}
    settings.update({k: v for k, v in args.items() if v is not None})
    protocol = settings.get("protocol")
    protocol = "HTTPS" if protocol is None else protocol
    if protocol not in PROTOCOLS:
        raise SettingRefused(f'expected protocol to be one of ["HTTP" "HTTPS"], got {protocol}')
    settings["protocol"] = protocol
    endpoints = settings.get("endpoints")
    if isinstance(endpoints, str):
        try:
            endpoints = json.loads(endpoints)
        except ValueError:
            raise SettingRefused(f"endpoints: {endpoints!r} is not a list of objects") from None
    endpoints = endpoints or []
    if not isinstance(endpoints, list) or not all(isinstance(block, dict) for block in endpoints):
        raise SettingRefused(f"endpoints: {endpoints!r} is not a list of objects")
    for block in endpoints:
        for name, value in block.items():
            if not isinstance(value, str):
                raise SettingRefused(f"endpoints.{name}: Inappropriate value: string required, got {value!r}")
    cas = next((block["cas"] for block in endpoints if block.get("cas")), None)
    if cas is not None and ("://" in cas or "/" in cas or any(c.isspace() for c in cas)):
        raise SettingRefused(
            f"endpoints.cas: {cas!r} is not a host name (the client would call {protocol.lower()}://{cas})"
        )
    settings["endpoints"], settings["casHost"] = endpoints, cas
    return settings


@dataclass(frozen=True)
class Played:
    """What this double knows of one resource type's schema (upstream's, as the bridge exposes it)."""

    required: tuple[str, ...]
    replace_on: tuple[str, ...]
    """ForceNew inputs: a change replaces the resource (upstream has no call that changes them)."""
    updated_in_place: tuple[str, ...]
    """Inputs upstream updates in place; not played here."""
    secret: tuple[str, ...] = ()
    optional_computed: tuple[str, ...] = ()
    """Set by the provider when left unset (read fills them in): leaving them unset is no change."""


PLAYED = {
    SERVICE_CERTIFICATE: Played(
        required=("cert",),
        replace_on=("cert", "key", "encryptCert", "encryptPrivateKey", "signCert", "signPrivateKey", "name", "lang"),
        updated_in_place=("certificateName", "tags", "resourceGroupId"),
        secret=("key", "encryptPrivateKey", "signPrivateKey", "keyWo"),
        optional_computed=("name", "certificateName", "resourceGroupId"),
    ),
    **dict.fromkeys(
        PCA_TYPES,
        Played(
            required=("commonName", "locality", "organization", "organizationUnit", "state", "years"),
            replace_on=(
                "algorithm",
                "commonName",
                "countryCode",
                "crlDay",
                "locality",
                "organization",
                "organizationUnit",
                "parentIdentifier",
                "state",
                "years",
                "certificateType",
            ),
            updated_in_place=("aliasName", "resourceGroupId", "tags"),
            optional_computed=("algorithm", "crlDay", "resourceGroupId", "certificateType"),
        ),
    ),
}


class UnsupportedByDouble(Exception):
    """Something the real provider does that this test double does not play."""


class AlicloudPlugin(p.Provider):
    def __init__(self) -> None:
        self.settings: dict[str, Any] = {}

    async def configure(self, request: p.ConfigureRequest) -> p.ConfigureResponse:
        args, _ = plain(request.args)
        self.settings = provider_settings(dict(request.variables), args)
        return p.ConfigureResponse(accept_secrets=True, supports_preview=True)

    def _client(self, client_class: type) -> Any:
        from alibabacloud_tea_openapi.utils_models import Config

        endpoint = self.settings["casHost"]
        config = Config(
            region_id=self.settings.get("region") or os.environ.get("ALICLOUD_REGION"),
            protocol=self.settings["protocol"].lower(),
            access_key_id=self.settings.get("accessKey") or os.environ.get("ALICLOUD_ACCESS_KEY"),
            access_key_secret=self.settings.get("secretKey") or os.environ.get("ALICLOUD_SECRET_KEY"),
        )
        if endpoint:
            config.endpoint = endpoint
        return client_class(config)

    def _cas(self) -> Any:
        from alibabacloud_cas20200407.client import Client

        return self._client(Client)

    def _pca(self) -> Any:
        from alibabacloud_cas20200630.client import Client

        return self._client(Client)

    async def check(self, request: p.CheckRequest) -> p.CheckResponse:
        played = self._played(request.urn)
        inputs, secret = plain(request.new_inputs)
        failures = [
            p.CheckFailure(k, f"{k} is required by this test double") for k in played.required if inputs.get(k) is None
        ]
        return p.CheckResponse(inputs=wrap(inputs, secret | set(played.secret)), failures=failures)

    async def diff(self, request: p.DiffRequest) -> p.DiffResponse:
        played = self._played(request.urn)
        olds, _ = plain(request.old_state)
        news, _ = plain(request.new_inputs)
        changed = [
            k
            for k in (*played.replace_on, *played.updated_in_place)
            if news.get(k) == UNKNOWN
            or (olds.get(k) != news.get(k) and not (k in played.optional_computed and news.get(k) is None))
        ]
        return p.DiffResponse(
            changes=bool(changed),
            replaces=[k for k in changed if k in played.replace_on],
            diffs=changed,
            delete_before_replace=False,
        )

    async def create(self, request: p.CreateRequest) -> p.CreateResponse:
        played = self._played(request.urn)
        inputs, _ = plain(request.properties)
        if request.preview or has_unknowns(inputs):
            return p.CreateResponse(properties=wrap(inputs, played.secret))
        if resource_type(request.urn) in PCA_TYPES:
            identifier = self._create_pca_certificate(inputs)
            return p.CreateResponse(resource_id=identifier, properties=self._read_pca_certificate(identifier, inputs))
        from alibabacloud_cas20200407 import models

        name = inputs.get("certificateName") or inputs.get("name")
        response = self._cas().upload_user_certificate(
            models.UploadUserCertificateRequest(name=name, cert=inputs["cert"], key=inputs.get("key"))
        )
        cert_id = str(response.body.cert_id)
        return p.CreateResponse(
            resource_id=cert_id, properties=wrap({**inputs, "certificateName": name}, played.secret)
        )

    def _create_pca_certificate(self, inputs: dict[str, Any]) -> str:
        """CreateSubCACertificate or CreateRootCACertificate with the parameters upstream sends."""
        from alibabacloud_cas20200630 import models

        subject = {
            "common_name": inputs["commonName"],
            "organization": inputs["organization"],
            "organization_unit": inputs["organizationUnit"],
            "locality": inputs["locality"],
            "state": inputs["state"],
            "country_code": inputs.get("countryCode"),
            "years": int(inputs["years"]),
            "algorithm": inputs.get("algorithm"),
        }
        if inputs.get("certificateType") == "SUB_ROOT":
            crl_day, path_len = inputs.get("crlDay"), inputs.get("pathLenConstraint")
            response = self._pca().create_sub_cacertificate(
                models.CreateSubCACertificateRequest(
                    **subject,
                    parent_identifier=inputs.get("parentIdentifier"),
                    enable_crl=inputs.get("enableCrl"),
                    crl_day=int(crl_day) if crl_day is not None else None,
                    path_len_constraint=int(path_len) if path_len is not None else None,
                    extended_key_usages=inputs.get("extendedKeyUsages"),
                )
            )
        else:
            response = self._pca().create_root_cacertificate(models.CreateRootCACertificateRequest(**subject))
        return response.body.identifier

    def _read_pca_certificate(self, identifier: str, state: dict[str, Any]) -> dict[str, Any] | None:
        """The state upstream's read sets from DescribeCACertificate; None when the CA is gone."""
        from alibabacloud_cas20200630 import models
        from Tea.exceptions import TeaException

        try:
            response = self._pca().describe_cacertificate(models.DescribeCACertificateRequest(identifier=identifier))
        except TeaException as error:
            if "NotFound" in str(error.code):
                return None
            raise
        ca = response.body.certificate
        read = {
            "algorithm": ca.full_algorithm,
            "commonName": ca.common_name,
            "countryCode": ca.country_code,
            "crlDay": ca.crl_day,
            "locality": ca.locality,
            "organization": ca.organization,
            "organizationUnit": ca.organization_unit,
            "parentIdentifier": ca.parent_identifier,
            "resourceGroupId": ca.resource_group_id,
            "state": ca.state,
            "status": ca.status,
            "years": ca.years,
            "certificateType": ca.certificate_type,
        }
        # Upstream sets each of them; a value the answer leaves out (or empty) stays as it was.
        return wrap({**state, **{k: v for k, v in read.items() if v not in (None, "")}}, ())

    async def read(self, request: p.ReadRequest) -> p.ReadResponse:
        from alibabacloud_cas20200407 import models
        from Tea.exceptions import TeaException

        played = self._played(request.urn)
        state, _ = plain(request.properties)
        if resource_type(request.urn) in PCA_TYPES:
            found = self._read_pca_certificate(request.resource_id, state)
            if found is None:
                return p.ReadResponse(resource_id="", properties={}, inputs={})
            return p.ReadResponse(resource_id=request.resource_id, properties=found, inputs=request.inputs)
        try:
            detail = self._cas().get_user_certificate_detail(
                models.GetUserCertificateDetailRequest(cert_id=int(request.resource_id))
            )
        except TeaException as error:
            if "NotFound" in str(error.code):
                return p.ReadResponse(resource_id="", properties={}, inputs={})
            raise
        body = detail.body
        found = {**state, "cert": body.cert, "certificateName": body.name, "name": body.name}
        if body.key is not None:
            found["key"] = body.key
        return p.ReadResponse(
            resource_id=request.resource_id, properties=wrap(found, played.secret), inputs=request.inputs
        )

    async def update(self, request: p.UpdateRequest) -> p.UpdateResponse:
        played = self._played(request.urn)
        raise UnsupportedByDouble(
            f"{request.urn}: an in-place update of {', '.join(played.updated_in_place)} is not played by this test double"
        )

    async def delete(self, request: p.DeleteRequest) -> None:
        from alibabacloud_cas20200407 import models
        from Tea.exceptions import TeaException

        if self._played_type(request.urn) in PCA_TYPES:
            raise UnsupportedByDouble(
                f"{request.urn}: upstream deletes a PCA CA with DeleteClientCertificate, whose effect on a CA is not "
                "documented; not played by this test double"
            )
        try:
            self._cas().delete_user_certificate(models.DeleteUserCertificateRequest(cert_id=int(request.resource_id)))
        except TeaException as error:
            if "NotFound" not in str(error.code):
                raise

    @staticmethod
    def _played_type(urn: str) -> str:
        type_token = resource_type(urn)
        if type_token not in PLAYED:
            raise UnsupportedByDouble(f"{type_token} is not played by this test double (only {', '.join(PLAYED)})")
        return type_token

    def _played(self, urn: str) -> Played:
        return PLAYED[self._played_type(urn)]


if __name__ == "__main__":
    main(sys.argv[1:], version("pulumi_alicloud"), AlicloudPlugin())
