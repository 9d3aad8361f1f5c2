"""`pulumi-resource-alicloud` for the engine tests: `alicloud:cas/serviceCertificate:ServiceCertificate` only.

It plays the bridged provider's resource (terraform-provider-alicloud
`alicloud_ssl_certificates_service_certificate`) against a Certificate Management endpoint with the
official SDK (`alibabacloud-cas20200407`), which the tests point at the local fake (tests/fake_cas.py):
- create: UploadUserCertificate (Name, Cert, Key); the id is the returned CertId;
- read (`pulumi refresh`): GetUserCertificateDetail; a certificate that is gone empties the id;
- delete: DeleteUserCertificate; one that is already gone counts as deleted;
- diff: a new certificate or key replaces it (upstream has no call that changes them);
  `certificate_name`, `tags` and `resource_group_id` are updated in place upstream, which this double
  does not play: such an update fails loudly instead of pretending.
Provider configuration as the real provider takes it: `alicloud:region`, `alicloud:endpoints` (its
`cas` entry, parsed by the same `split_endpoint` as the program's CA registration), and the access
keys from `alicloud:accessKey`/`alicloud:secretKey` or ALICLOUD_ACCESS_KEY/ALICLOUD_SECRET_KEY.
Test equipment: production uses the real pulumi-alicloud provider.
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version
from typing import Any

from pulumi.provider.experimental import provider as p
from pulumi.provider.experimental.server import main

from components.ca_registration import split_endpoint
from tests.engine.plugin import UNKNOWN, has_unknowns, plain, resource_type, wrap

SERVICE_CERTIFICATE = "alicloud:cas/serviceCertificate:ServiceCertificate"
REPLACE_ON = ("cert", "key", "encryptCert", "encryptPrivateKey", "signCert", "signPrivateKey", "name", "lang")
UPDATED_IN_PLACE = ("certificateName", "tags", "resourceGroupId")
SECRET = ("key", "encryptPrivateKey", "signPrivateKey", "keyWo")
OPTIONAL_COMPUTED = ("name", "certificateName", "resourceGroupId")
"""Set by the provider when left unset (read fills them in): leaving them unset is no change."""


class UnsupportedByDouble(Exception):
    """Something the real provider does that this test double does not play."""


class AlicloudPlugin(p.Provider):
    def __init__(self) -> None:
        self.settings: dict[str, Any] = {}

    async def configure(self, request: p.ConfigureRequest) -> p.ConfigureResponse:
        args, _ = plain(request.args)
        settings = {k.removeprefix("alicloud:config:"): v for k, v in request.variables.items()}
        settings.update({k: v for k, v in args.items() if v is not None})
        if isinstance(settings.get("endpoints"), str):
            settings["endpoints"] = json.loads(settings["endpoints"])
        self.settings = settings
        return p.ConfigureResponse(accept_secrets=True, supports_preview=True)

    def _client(self) -> Any:
        from alibabacloud_cas20200407.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        cas = next((e["cas"] for e in self.settings.get("endpoints") or [] if e.get("cas")), None)
        endpoint, protocol = split_endpoint(cas)
        config = Config(
            region_id=self.settings.get("region") or os.environ.get("ALICLOUD_REGION"),
            protocol=protocol,
            access_key_id=self.settings.get("accessKey") or os.environ.get("ALICLOUD_ACCESS_KEY"),
            access_key_secret=self.settings.get("secretKey") or os.environ.get("ALICLOUD_SECRET_KEY"),
        )
        if endpoint:
            config.endpoint = endpoint
        return Client(config)

    async def check(self, request: p.CheckRequest) -> p.CheckResponse:
        self._only(resource_type(request.urn))
        inputs, secret = plain(request.new_inputs)
        failures = []
        if inputs.get("cert") is None:
            failures.append(p.CheckFailure("cert", "cert is required by this test double"))
        return p.CheckResponse(inputs=wrap(inputs, secret | set(SECRET)), failures=failures)

    async def diff(self, request: p.DiffRequest) -> p.DiffResponse:
        olds, _ = plain(request.old_state)
        news, _ = plain(request.new_inputs)
        changed = [
            k
            for k in (*REPLACE_ON, *UPDATED_IN_PLACE)
            if news.get(k) == UNKNOWN
            or (olds.get(k) != news.get(k) and not (k in OPTIONAL_COMPUTED and news.get(k) is None))
        ]
        return p.DiffResponse(
            changes=bool(changed),
            replaces=[k for k in changed if k in REPLACE_ON],
            diffs=changed,
            delete_before_replace=False,
        )

    async def create(self, request: p.CreateRequest) -> p.CreateResponse:
        from alibabacloud_cas20200407 import models

        self._only(resource_type(request.urn))
        inputs, _ = plain(request.properties)
        if request.preview or has_unknowns(inputs):
            return p.CreateResponse(properties=wrap(inputs, SECRET))
        name = inputs.get("certificateName") or inputs.get("name")
        response = self._client().upload_user_certificate(
            models.UploadUserCertificateRequest(name=name, cert=inputs["cert"], key=inputs.get("key"))
        )
        cert_id = str(response.body.cert_id)
        return p.CreateResponse(resource_id=cert_id, properties=wrap({**inputs, "certificateName": name}, SECRET))

    async def read(self, request: p.ReadRequest) -> p.ReadResponse:
        from alibabacloud_cas20200407 import models
        from Tea.exceptions import TeaException

        state, _ = plain(request.properties)
        try:
            detail = self._client().get_user_certificate_detail(
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
        return p.ReadResponse(resource_id=request.resource_id, properties=wrap(found, SECRET), inputs=request.inputs)

    async def update(self, request: p.UpdateRequest) -> p.UpdateResponse:
        raise UnsupportedByDouble(
            f"{request.urn}: an in-place update of {', '.join(UPDATED_IN_PLACE)} is not played by this test double"
        )

    async def delete(self, request: p.DeleteRequest) -> None:
        from alibabacloud_cas20200407 import models
        from Tea.exceptions import TeaException

        try:
            self._client().delete_user_certificate(
                models.DeleteUserCertificateRequest(cert_id=int(request.resource_id))
            )
        except TeaException as error:
            if "NotFound" not in str(error.code):
                raise

    @staticmethod
    def _only(type_token: str) -> None:
        if type_token != SERVICE_CERTIFICATE:
            raise UnsupportedByDouble(f"{type_token} is not played by this test double (only {SERVICE_CERTIFICATE})")


if __name__ == "__main__":
    main(sys.argv[1:], version("pulumi_alicloud"), AlicloudPlugin())
