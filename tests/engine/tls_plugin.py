"""`pulumi-resource-tls` for the engine tests: pulumi-tls played by `tests.fakes.tls_provider`.

The same `FakeTlsProvider` serves the mock tests (create only) and this plugin (check, diff, create,
read, update, delete), so the two cannot drift apart. As the bridged provider does, it accepts
secrets, keeps secret inputs secret in the outputs, marks the generated private keys secret, plans a
replacement for every changed input but `earlyRenewalHours`, recomputes `readyForRenewal` on read
(`pulumi refresh`) and then replaces a certificate that is ready for renewal. "Now" is the real clock
unless `ALB_MTLS_FAKE_NOW` says otherwise. Test equipment: production uses the real pulumi-tls.
"""

from __future__ import annotations

import secrets
import sys
from importlib.metadata import version

from pulumi.provider.experimental import provider as p
from pulumi.provider.experimental.server import main

from tests.engine.plugin import has_unknowns, now, plain, resource_type, wrap
from tests.fakes.tls_provider import SECRET_OUTPUTS, FakeTlsProvider


class TlsPlugin(p.Provider):
    def __init__(self) -> None:
        self.tls = FakeTlsProvider(now=now)

    async def check(self, request: p.CheckRequest) -> p.CheckResponse:
        inputs, secret = plain(request.new_inputs)
        return p.CheckResponse(inputs=wrap(self.tls.check(resource_type(request.urn), inputs), secret))

    async def diff(self, request: p.DiffRequest) -> p.DiffResponse:
        state, _ = plain(request.old_state)
        news, _ = plain(request.new_inputs)
        unknown = [k for k, v in news.items() if has_unknowns(v)]
        changed, replaces = self.tls.diff(
            resource_type(request.urn), state, {k: v for k, v in news.items() if k not in unknown}
        )
        changed += unknown
        replaces += [k for k in unknown if k != "earlyRenewalHours"]
        return p.DiffResponse(
            changes=bool(changed),
            replaces=sorted(set(replaces)),
            diffs=sorted(set(changed)),
            delete_before_replace=False,
        )

    async def create(self, request: p.CreateRequest) -> p.CreateResponse:
        inputs, secret = plain(request.properties)
        if request.preview or has_unknowns(inputs):
            # What is generated stays unset in a preview, which the engine shows as "known after apply".
            return p.CreateResponse(properties=wrap(inputs, secret))
        outputs = self.tls.create(
            resource_type(request.urn), inputs
        )  # a ProviderError fails the create, as the provider's would
        return p.CreateResponse(
            resource_id=self._new_id(), properties=self._outputs(resource_type(request.urn), outputs, secret)
        )

    async def read(self, request: p.ReadRequest) -> p.ReadResponse:
        state, secret = plain(request.properties)
        return p.ReadResponse(
            resource_id=request.resource_id,
            properties=self._outputs(
                resource_type(request.urn), self.tls.read(resource_type(request.urn), state), secret
            ),
            inputs=request.inputs,
        )

    async def update(self, request: p.UpdateRequest) -> p.UpdateResponse:
        state, secret = plain(request.olds)
        news, new_secret = plain(request.news)
        outputs = self.tls.update(resource_type(request.urn), state, news)
        return p.UpdateResponse(properties=self._outputs(resource_type(request.urn), outputs, secret | new_secret))

    async def delete(self, request: p.DeleteRequest) -> None:
        return None  # nothing exists outside the state, as with the real provider

    @staticmethod
    def _outputs(type_token: str, outputs: dict, secret: set[str]) -> dict:
        return wrap(outputs, secret | set(SECRET_OUTPUTS.get(type_token, ())))

    @staticmethod
    def _new_id() -> str:
        # The real provider's ids: a hash for keys and CSRs, the serial number for certificates; only
        # uniqueness matters to the engine.
        return secrets.token_hex(20)


if __name__ == "__main__":
    main(sys.argv[1:], version("pulumi_tls"), TlsPlugin())
