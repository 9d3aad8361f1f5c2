"""Keys and certificate requests the stack makes with pulumi-tls, and a new key at each renewal when asked."""

from typing import NamedTuple, NotRequired, TypedDict

import pulumi
import pulumi_tls as tls

HOURS_PER_DAY = 24


class KeySpec(TypedDict):
    """Which private key to generate."""

    algorithm: str
    """`RSA` or `ECDSA`."""
    rsa_bits: NotRequired[int]
    """RSA modulus size in bits (RSA only; default 2048)."""
    ecdsa_curve: NotRequired[str]
    """`P256` or `P384` (ECDSA only; default P256, always passed, since the provider's own default is P224)."""


def key_usages(key: KeySpec) -> list[str]:
    """Key usages of a TLS end-entity key: RSA also enciphers (TLS 1.2 RSA key exchange)."""
    return ["digital_signature", "key_encipherment"] if key["algorithm"] == "RSA" else ["digital_signature"]


class Subject(TypedDict):
    """A distinguished name, as pulumi-tls's `subject` input takes it."""

    common_name: str
    """CN."""
    organization: NotRequired[str]
    """O."""
    organizational_unit: NotRequired[str]
    """OU."""
    country: NotRequired[str]
    """C, two letters."""
    province: NotRequired[str]
    """ST."""
    locality: NotRequired[str]
    """L."""


def subject_args(subject: Subject) -> tls.SelfSignedCertSubjectArgs:
    """pulumi-tls's `subject` input for a distinguished name."""
    return tls.SelfSignedCertSubjectArgs(
        common_name=subject["common_name"],
        organization=subject.get("organization"),
        organizational_unit=subject.get("organizational_unit"),
        country=subject.get("country"),
        province=subject.get("province"),
        locality=subject.get("locality"),
    )


def private_key(name: str, key: KeySpec, opts: pulumi.ResourceOptions) -> tls.PrivateKey:
    """A pulumi-tls private key as `key` describes it."""
    if key["algorithm"] == "RSA":
        return tls.PrivateKey(name, algorithm="RSA", rsa_bits=key.get("rsa_bits", 2048), opts=opts)
    return tls.PrivateKey(name, algorithm="ECDSA", ecdsa_curve=key.get("ecdsa_curve", "P256"), opts=opts)


def describe_key(key: KeySpec) -> str:
    """`RSA-2048`, `ECDSA-P256`: the key's algorithm and size."""
    return (
        f"RSA-{key.get('rsa_bits', 2048)}" if key["algorithm"] == "RSA" else f"ECDSA-{key.get('ecdsa_curve', 'P256')}"
    )


class KeyAndRequest(NamedTuple):
    """A generated key and the certificate request signed with it."""

    request_pem: pulumi.Output[str]
    """The certificate request (PEM)."""
    private_key_pem: pulumi.Output[str]
    """The key (PEM, secret)."""
    created: pulumi.Output[str] | None
    """When this key was made (RFC 3339, its rotation clock's start); None for a key that is not rotated."""


def key_and_request(
    name: str,
    key: KeySpec,
    *,
    common_name: str,
    dns_names: list[str] | None,
    rotate_every: tuple[int, int] | None,
    opts: pulumi.ResourceOptions,
) -> KeyAndRequest:
    """Key `<name>-key` and request `<name>-csr`; with `rotate_every` (validity, early-renewal hours of the
    certificate), a new key at each renewal.

    The rotation clock (`<name>-key-clock`) is a self-signed certificate nobody uses, with the certificate's
    validity and early-renewal window: pulumi-tls renews it in that window, like the certificate, and the key
    is replaced with it (`replace_with`), so the request and the certificate follow, each new one created
    before the old one is deleted. The clock's subject names the key's algorithm and size, so a new kind of
    key is also a new clock: its start is the key's creation time.
    """
    key_opts, created = opts, None
    if rotate_every is not None:
        validity_hours, early_renewal_hours = rotate_every
        clock_key = tls.PrivateKey(f"{name}-key-clock-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
        clock = tls.SelfSignedCert(
            f"{name}-key-clock",
            private_key_pem=clock_key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=f"{common_name} key rotation clock", organizational_unit=describe_key(key)
            ),
            allowed_uses=["digital_signature"],
            validity_period_hours=validity_hours,
            early_renewal_hours=early_renewal_hours,
            opts=opts,
        )
        key_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(replace_with=[clock]))
        created = clock.validity_start_time
    generated = private_key(f"{name}-key", key, key_opts)
    request = tls.CertRequest(
        f"{name}-csr",
        private_key_pem=generated.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=common_name),
        dns_names=dns_names,
        opts=opts,
    )
    return KeyAndRequest(request.cert_request_pem, pulumi.Output.secret(generated.private_key_pem), created)
