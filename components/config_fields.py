"""The kinds of value the stack's configuration takes, as pydantic types, and the errors they raise.

Each type ends in `accepts(text)`: whatever pydantic finds wrong with a value itself, the error says one thing,
what would be accepted, which the configuration reports as `<key>: <value> is not accepted; expected <text>`.
Values also arrive as the Pulumi CLI hands them over: a whole number as a string of digits, a boolean as the
string "true" or "false". Patterns are anchored and run on pydantic's default (Rust) engine, whose `$` ends the
text (Python's `$` would also let a trailing newline through).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, Strict, StringConstraints, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError

NAMESPACE = "alb-mtls"
NOT_ACCEPTED, REFUSED, REFUSED_AT, UNKNOWN_FIELD = "not_accepted", "refused", "refused_at", "unknown_field"
"""The error types the configuration words itself (see `not_accepted`, `refused`, `refused_at`, `unknown_field`)."""


def label(key: str) -> str:
    """A key as messages name it: `alb-mtls:listener.port`."""
    return f"{NAMESPACE}:{key}"


def rejection(where: str, value: Any, accepted: str) -> str:
    """The one wording of a refused value: the key, the value as JSON, what would be accepted."""
    return f"{where}: {json.dumps(value)} is not accepted; expected {accepted}"


def not_accepted(accepted: str, field: str | None = None) -> PydanticCustomError:
    """A value (or its `field`) refused, reported by `rejection` with the key and the value as configured."""
    return PydanticCustomError(NOT_ACCEPTED, "expected {accepted}", {"accepted": accepted, "field": field})


def refused(message: str) -> PydanticCustomError:
    """A refusal worded in full by a rule that names its keys itself."""
    return PydanticCustomError(REFUSED, "{message}", {"message": message})


def refused_at(message: str, field: str) -> PydanticCustomError:
    """A refusal of `field` worded in full but for the key, which the report puts in front."""
    return PydanticCustomError(REFUSED_AT, "{message}", {"message": message, "field": field})


def unknown_field(field: str, fields: list[str]) -> PydanticCustomError:
    """A key of an object that the object does not have (usually a typo)."""
    return PydanticCustomError(UNKNOWN_FIELD, "no such field", {"field": field, "fields": ", ".join(fields)})


def accepts(text: str) -> WrapValidator:
    """Any failure of the value itself becomes one `not_accepted(text)`; an item's own error (under its index) and
    errors already worded here pass through."""

    def check(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError as error:
            if all(_of_an_item(e) or e["type"] in (NOT_ACCEPTED, REFUSED, REFUSED_AT) for e in error.errors()):
                raise
            raise not_accepted(text) from None

    return WrapValidator(check)


def _of_an_item(error: Any) -> bool:
    return bool(error["loc"]) and isinstance(error["loc"][0], int)


def _cli_number(value: Any) -> Any:
    return int(value) if isinstance(value, str) and re.fullmatch(r"[0-9]+", value) else value


def cli_boolean(value: Any) -> Any:
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("blank")
    return value


def whole(minimum: int, maximum: int | None = None, unit: str = "") -> Any:
    """A whole number (not a boolean, not 36.0) from `minimum` to `maximum`."""
    upper = f" and at most {maximum}" if maximum is not None else ""
    return Annotated[
        int,
        Strict(),
        Field(ge=minimum, le=maximum),
        BeforeValidator(_cli_number),
        accepts(f"a whole number{unit} of at least {minimum}{upper}"),
    ]


def one_of(*options: str) -> Any:
    """Exactly one of `options` (case as written)."""
    return Annotated[Literal[options], accepts("one of " + ", ".join(options))]


def matching(pattern: str, accepted: str, max_length: int | None = None) -> Any:
    """A string matching `pattern` (anchored: `^…$`)."""
    return Annotated[str, StringConstraints(strict=True, pattern=pattern, max_length=max_length), accepts(accepted)]


def text(max_length: int = 64) -> Any:
    """Text with something in it other than spaces, at most `max_length` characters."""
    return Annotated[
        str,
        StringConstraints(strict=True, min_length=1, max_length=max_length),
        AfterValidator(_not_blank),
        accepts(f"non-empty text of at most {max_length} characters"),
    ]


Boolean = Annotated[bool, Strict(), BeforeValidator(cli_boolean), accepts("true or false")]
Days = whole(1, unit=" of days")
Port = whole(1, 65535)
Text = text()
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
DNS_LABEL = f"^{_LABEL}$"
DnsLabel = matching(DNS_LABEL, "a DNS label: a-z, 0-9 and '-', at most 63 characters")
DnsName = matching(
    rf"^{_LABEL}(\.{_LABEL})+$",
    "a lower-case DNS host name: labels of a-z, 0-9 and '-', at most 63 characters each, 253 in all",
    max_length=253,
)
ClientName = matching(DNS_LABEL, "a client name that is a DNS label: a-z, 0-9 and '-', at most 63 characters")
Country = matching("^[A-Z]{2}$", "two upper-case letters (ISO 3166-1 alpha-2), e.g. CN")
PcaIdentifier = matching(
    "^[A-Za-z0-9_-]{1,128}$", "a PCA certificate identifier, e.g. 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"
)
Algorithm = Annotated[one_of("RSA", "ECDSA"), Field(description="key algorithm: RSA or ECDSA")]
RsaBits = Annotated[whole(2048, 8192), Field(description="RSA key size, bits")]
EcdsaCurve = Annotated[one_of("P256", "P384"), Field(description="ECDSA curve: P256 or P384")]
