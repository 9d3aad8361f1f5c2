"""What every CA source offers the stack (`Issuer`), and how a certificate a client holds is identified."""

import datetime as dt
import hashlib
import re
from typing import NotRequired, Protocol, TypedDict

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pulumi.output import contains_unknowns

from components.keys import KeySpec


class ClientIssue(TypedDict):
    """What a client certificate takes, whichever CA issues it."""

    client_name: str
    validity_days: int
    early_renewal_days: int
    key: KeySpec
    revoked: NotRequired[bool]
    csr_pem: NotRequired[str | None]
    rotate_key_on_renewal: NotRequired[bool]


class ServerIssue(TypedDict):
    """What the listener's server certificate takes, whichever CA issues it (the CA chooses its key)."""

    domain: str
    validity_days: int
    early_renewal_days: int
    rotate_key_on_renewal: NotRequired[bool]


class ListenerTrust(TypedDict):
    """What the listener verifies clients against: a CA certificate to upload, or the id of one already there."""

    ca_certificate_pem: pulumi.Input[str] | None
    ca_certificate_id: pulumi.Input[str] | None


class Issued(Protocol):
    """A certificate an issuer made, as the stack hands it out."""

    cert_pem: pulumi.Output[str]
    private_key_pem: pulumi.Output[str] | None
    validity_end_time: pulumi.Output[str]
    key_created: pulumi.Output[str] | None

    def held_identity(self, issued_before: dt.datetime, where: str) -> pulumi.Output[dict[str, str]]: ...


class Issuer(Protocol):
    """A CA source (the self-signed CA, the PCA): issues the certificates, says what clients and the listener trust."""

    @property
    def trust_anchor_pem(self) -> pulumi.Output[str]:
        """The root certificate (PEM) clients and curl trust."""
        ...

    @property
    def listener_trust(self) -> ListenerTrust:
        """What the listener verifies client certificates against."""
        ...

    def issue_client(self, name: str, args: ClientIssue) -> Issued: ...

    def issue_server(self, name: str, args: ServerIssue) -> Issued: ...


class RevocationError(pulumi.RunError):
    """A revoked client's certificate is not one it already holds, so the gate could not refuse it."""


def held_identity(
    cert_pem: pulumi.Output[str], valid_from: pulumi.Output[str], issued_before: dt.datetime, where: str
) -> pulumi.Output[dict[str, str]]:
    """The identity (`certificate_identity`) of a certificate a client already holds, for revoking it.

    Refuses, with a `RevocationError` that starts with `where`, a certificate this very update issues:
    unknown during a preview, or valid from `issued_before` (this run's start) on. That is a client the
    stack never issued a certificate to, or one re-issued by the revoking update itself (its early-renewal
    window reached before the protection the revocation adds is in the state). Refusing it by fingerprint
    would leave the certificate the client holds working.
    """

    def check(values):
        unknown = contains_unknowns(values) or any(v is None for v in values)
        if unknown or parse_rfc3339(values[1]) >= issued_before:
            raise RevocationError(
                f"{where}: the client is revoked, but this update issues its certificate "
                f"({'planned, not yet known' if unknown else 'valid from ' + values[1]}): either the stack never "
                "issued this client a certificate (nothing to revoke: drop `revoked` or the client), or its "
                "certificate is inside its early-renewal window and would be re-issued now, leaving the one the "
                "client holds unknown to the gate (see README, 'Revoking a client': replace the CA, or update "
                "only the gate with --target until that certificate expires)"
            )
        return certificate_identity(values[0])

    return pulumi.Output.all(cert_pem, valid_from).apply(check, run_with_unknowns=True)


def parse_rfc3339(value: str) -> dt.datetime:
    """An RFC 3339 time as pulumi-tls writes it (`Z` or an offset, up to nanoseconds) as an aware datetime."""
    value = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
    return dt.datetime.fromisoformat(value)


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def certificate_identity(cert_pem: str) -> dict[str, str]:
    """What identifies an issued certificate, as `openssl x509 -serial -fingerprint -enddate` shows it.

    `serialNumber` upper-case hex; `sha1Fingerprint` / `sha256Fingerprint` upper-case hex bytes with ':'
    (over the DER certificate); `notAfter` RFC 3339.
    """
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    der = cert.public_bytes(serialization.Encoding.DER)
    serial = f"{cert.serial_number:X}"
    return {
        "serialNumber": serial.zfill(len(serial) + len(serial) % 2),
        "sha1Fingerprint": _colon_hex(hashlib.sha1(der).digest()),
        "sha256Fingerprint": _colon_hex(hashlib.sha256(der).digest()),
        "notAfter": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
