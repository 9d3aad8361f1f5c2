"""The objects of the stack's configuration, one pydantic model each: `clientDefaults`, `ca`, `server`, `listener`
(with its forwarded headers), `app`, `gate`, and a client's entry in `clients`.

Field names are snake_case with camelCase keys; the description of each field is the meaning the configuration
reference gives it. `Section` adds what every object shares: unknown keys and a value that is not an object
are refused naming the key and the fields there are, and null (or "" where unset is the default) means unset.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from components.config_fields import (
    Algorithm,
    Boolean,
    ClientName,
    Country,
    Days,
    DnsLabel,
    EcdsaCurve,
    PcaIdentifier,
    Port,
    RsaBits,
    Text,
    accepts,
    cli_boolean,
    matching,
    not_accepted,
    one_of,
    refused_at,
    text,
    unknown_field,
    whole,
)
from components.csr_policy import CsrRefused, check_csr
from components.headers import DEFAULT_CLIENT_CERT_HEADER_ALIASES, DEFAULT_CLIENT_NAME_HEADER, HEADER_ALIAS_PATTERN
from components.keys import KeySpec, Subject

SEED_IMAGE = "registry.cn-hangzhou.aliyuncs.com/acs-sample/nginxdemos:latest"
# The gate: nginx built to run as a non-root user (uid 101), listening on 8080 by default.
GATE_IMAGE = "nginxinc/nginx-unprivileged:1.27-alpine"
SECURITY_POLICIES = (
    "tls_cipher_policy_1_0",
    "tls_cipher_policy_1_1",
    "tls_cipher_policy_1_2",
    "tls_cipher_policy_1_2_strict",
    "tls_cipher_policy_1_2_strict_with_1_3",
)


class Section(BaseModel):
    """One object of the configuration."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", frozen=True)
    null_is_unset: ClassVar[bool] = True
    """Whether a key set to null (or to "" where unset is the default) is taken as not set."""

    @classmethod
    def field_keys(cls) -> list[str]:
        """The keys of the object, in order."""
        return [field.alias for field in cls.model_fields.values()]

    @classmethod
    def shape(cls) -> str:
        """What is accepted in place of a value that is not an object."""
        return "an object with the fields " + ", ".join(cls.field_keys())

    @classmethod
    def unknown(cls, key: str) -> PydanticCustomError:
        return unknown_field(key, cls.field_keys())

    @classmethod
    def missing(cls, key: str) -> PydanticCustomError:
        return not_accepted(cls.shape())

    @model_validator(mode="wrap")
    @classmethod
    def _as_configured(cls, data: Any, handler: Any) -> Any:
        """Refuse what is not an object; report an unknown key (the first, sorted) before anything else in the
        object, then a missing one, each in this object's own words."""
        if not isinstance(data, dict):
            raise not_accepted(cls.shape())
        if cls.null_is_unset:  # and "" too where unset is the default: Pulumi.yaml declares such keys with ""
            optional = {field.alias for field in cls.model_fields.values() if field.default is None}
            data = {k: None if v == "" and k in optional else v for k, v in data.items() if v is not None}
        try:
            return handler(data)
        except ValidationError as error:
            own = [e for e in error.errors() if len(e["loc"]) == 1]
            unknown = sorted(e["loc"][0] for e in own if e["type"] == "extra_forbidden")
            if unknown:
                raise cls.unknown(unknown[0]) from None
            missing = [e["loc"][0] for e in own if e["type"] == "missing"]
            if missing:
                raise cls.missing(missing[0]) from None
            raise


class KeyOwner:
    """A section with the `algorithm`, `rsaBits` and `ecdsaCurve` of a key it makes."""

    @property
    def key(self) -> KeySpec:
        return KeySpec(algorithm=self.algorithm, rsa_bits=self.rsa_bits, ecdsa_curve=self.ecdsa_curve)


class ClientDefaults(Section, KeyOwner):
    """`clientDefaults`: what every client certificate takes unless its entry says otherwise."""

    validity_days: Days = Field(365, description="client certificate validity, days")
    early_renewal_days: whole(0, unit=" of days") = Field(
        30, description="re-issue this many days before expiry (on `pulumi up --refresh`); less than the validity"
    )
    rotate_key_on_renewal: Boolean = Field(
        True,
        description="make a new key (and CSR) each time a client certificate is renewed, not only a new certificate; "
        "never for a client that sent its own `csr`",
    )
    algorithm: Algorithm = "RSA"
    rsa_bits: RsaBits = 2048
    ecdsa_curve: EcdsaCurve = "P256"


class Ca(Section, KeyOwner):
    """`ca`: the CA, its subject and key, and where it lives."""

    common_name: Text = Field("alb-mtls root CA", description="CA subject CN")
    organization: Text = Field("alb-mtls", description="CA subject O")
    organizational_unit: Text | None = Field(None, description="CA subject OU")
    country: Country | None = Field(None, description="CA subject C: two upper-case letters (ISO 3166-1), e.g. `CN`")
    province: Text | None = Field(None, description="CA subject ST")
    locality: Text | None = Field(None, description="CA subject L")
    validity_days: Days = Field(3650, description="CA validity, days")
    algorithm: Algorithm = "RSA"
    rsa_bits: RsaBits = 4096
    ecdsa_curve: EcdsaCurve = "P256"
    source: one_of("selfSigned", "pca") = Field(
        "selfSigned",
        description="where the CA lives: `selfSigned` (its key in this stack) or `pca` (a private CA in Certificate "
        "Management Service that issues every certificate from a CSR; no CA key in the stack)",
    )
    pca_root_identifier: PcaIdentifier | None = Field(
        None,
        description="with `pca`: an existing PCA root to create the issuing sub-CA under (unset: the stack creates "
        "the root)",
    )
    pca_issuer_identifier: PcaIdentifier | None = Field(
        None,
        description="with `pca`: an existing PCA sub-CA that issues the certificates (unset: the stack creates it)",
    )

    @property
    def subject(self) -> Subject:
        return Subject(**self.model_dump(include=set(Subject.__annotations__)))


class Server(Section):
    """`server`: the server certificate the stack issues."""

    rotate_key_on_renewal: Boolean = Field(
        True, description="make a new key each time the server certificate is renewed, not only a new certificate"
    )


def _header_alias(field: str, what: str) -> Any:
    """A forwarded header: true (its default name), false (not forwarded), or the name ALB sends it as."""
    default = DEFAULT_CLIENT_CERT_HEADER_ALIASES[field]
    return Annotated[
        Annotated[bool, Strict()]
        | Annotated[str, StringConstraints(strict=True, pattern=HEADER_ALIAS_PATTERN.pattern)],
        BeforeValidator(cli_boolean),
        accepts(
            "true, false, or a header name of 1-40 lower-case letters, digits, '-' and '_' (ALB's rule for an "
            f"alias), e.g. {default}"
        ),
        Field(description=f"the {what}: true (as {default}), false (not forwarded), or the header name"),
    ]


class ForwardedHeaders(Section):
    """`listener.forwardClientCertHeaders` as an object: per header, on, off, or its name."""

    null_is_unset: ClassVar[bool] = False
    subject_dn: _header_alias("subjectDn", "subject DN") = True
    issuer_dn: _header_alias("issuerDn", "issuer DN") = True
    fingerprint: _header_alias("fingerprint", "fingerprint") = True
    client_verify: _header_alias("clientVerify", "verify result") = True

    @classmethod
    def shape(cls) -> str:
        return "true, false, or an object with the fields " + ", ".join(cls.field_keys())

    @classmethod
    def unknown(cls, key: str) -> PydanticCustomError:
        return not_accepted("no such field (typo?); the fields are " + ", ".join(cls.field_keys()), field=key)

    @property
    def aliases(self) -> dict[str, str | None]:
        """Per header (`subjectDn`, …): the name ALB forwards it as, or None when it is not forwarded."""
        chosen = {field.alias: getattr(self, name) for name, field in type(self).model_fields.items()}
        return {
            key: DEFAULT_CLIENT_CERT_HEADER_ALIASES[key] if value is True else None if value is False else value
            for key, value in chosen.items()
        }


def _all_or_none(value: Any) -> Any:
    return dict.fromkeys(ForwardedHeaders.field_keys(), value) if isinstance(value, bool) else value


class Listener(Section):
    """`listener`: the ALB listener that verifies clients."""

    port: Port = Field(443, description="HTTPS listener port")
    security_policy_id: matching(
        "^(" + "|".join(SECURITY_POLICIES) + "|tls-[a-z0-9]{1,64})$",
        "one of " + ", ".join(SECURITY_POLICIES) + ", or a custom policy id tls-…",
    ) = Field("tls_cipher_policy_1_2_strict", description="TLS security policy of the HTTPS listener")
    forward_client_cert_headers: Annotated[
        ForwardedHeaders, BeforeValidator(_all_or_none, json_schema_input_type=bool | ForwardedHeaders)
    ] = Field(
        True,
        validate_default=True,
        description="forward the client certificate's subject DN, issuer DN, fingerprint and verify result as headers "
        "(named `x-forwarded-clientcert-subjectdn`, `-issuerdn`, `-fingerprint`, `-clientverify`); an object "
        f"`{{{', '.join(DEFAULT_CLIENT_CERT_HEADER_ALIASES)}}}` turns each on/off or names its header "
        "(1-40 of a-z, 0-9, `-`, `_`)",
    )
    http_redirect: Boolean = Field(True, description="add an HTTP :80 listener that redirects to HTTPS")
    alb_config_name: DnsLabel = Field("alb-mtls", description="name of the AlbConfig and of the ALB instance")
    ingress_class_name: DnsLabel = Field("alb-mtls", description="name of the IngressClass bound to the AlbConfig")
    ready_timeout_seconds: whole(10, 3600, unit=" of seconds") = Field(
        600,
        description="how long `pulumi up` waits for the ALB Ingress controller to write the AlbConfig's status (the "
        "ALB's DNS name) before it fails; not used in render mode",
    )

    @property
    def client_cert_headers(self) -> dict[str, str | None]:
        return self.forward_client_cert_headers.aliases


class App(Section):
    """`app`: the workload behind the listener."""

    name: DnsLabel = Field("coffee", description="Deployment name (the Service is `<name>-svc`)")
    image: text(512) = Field(SEED_IMAGE, description="container image")
    replicas: whole(1, 100) = Field(2, description="Deployment replicas")
    port: Port = Field(80, description="port the app container serves HTTP on (the gate proxies to it)")


class Gate(Section):
    """`gate`: the nginx sidecar that refuses revoked client certificates."""

    image: text(512) = Field(GATE_IMAGE, description="gate container image (nginx that runs as a non-root user)")
    port: whole(1024, 65535) = Field(8080, description="port the gate listens on (the Service's target port)")
    client_name_header: matching(
        "^[a-z0-9]+(-[a-z0-9]+){0,4}$",
        "a header name of lower-case letters and digits in at most 5 parts joined by '-', 40 characters at most, "
        f"e.g. {DEFAULT_CLIENT_NAME_HEADER}",
        max_length=40,
    ) = Field(
        DEFAULT_CLIENT_NAME_HEADER,
        description="header the gate passes the verified client's name (its certificate's CN) to the app in; a "
        "caller's own header of that name, in any spelling, is removed",
    )


class ClientEntry(Section):
    """One entry of `clients` as an object (a bare name is short for `{name}`)."""

    null_is_unset: ClassVar[bool] = False
    name: ClientName = Field(description="the client's name: its certificate's CN")
    validity_days: Days | None = Field(None, description="its certificate's validity, days (unset: the default)")
    revoked: Boolean = Field(False, description="keep the certificate, and have the gate refuse it")
    # Any value: the CSR policy refuses what is not a PEM request in its own words.
    csr: Annotated[Any, WithJsonSchema({"type": "string"})] = Field(
        None, description="the client's own certificate request (PEM), signed instead of a key the stack makes"
    )
    rotate_key_on_renewal: Boolean | None = Field(
        None, description="a new key at each renewal (unset: the default); never with `csr`"
    )
    _csr_key: KeySpec | None = PrivateAttr(None)

    @classmethod
    def shape(cls) -> str:
        return "an object with a name and, optionally, " + ", ".join(cls.field_keys()[1:])

    @classmethod
    def unknown(cls, key: str) -> PydanticCustomError:
        return not_accepted(cls.shape())

    @model_validator(mode="after")
    def _own_key(self) -> ClientEntry:
        """A client's own CSR passes the CSR policy, and its key is then the client's: never rotated here."""
        if self.csr is None:
            return self
        try:
            self._csr_key = check_csr(self.name, self.csr)
        except CsrRefused as refusal:
            raise refused_at(str(refusal), "csr") from None
        if self.rotate_key_on_renewal is True:
            raise not_accepted(
                "false or not set for a client that sent its own csr: its key is the client's; to rotate it, the "
                "client sends a new CSR",
                field="rotateKeyOnRenewal",
            )
        return self

    @property
    def csr_key(self) -> KeySpec | None:
        """The key of the client's own CSR, when it sent one."""
        return self._csr_key
