"""What one private CA (PCA) holds, by the `CustomIdentifier` each certificate was issued under, as one provider
process knows it.

Every certificate the PCA certificate provider asks for carries a `CustomIdentifier` derived from its owner
(project/stack), its resource name and what it asks, so a create adopts its own lost issue and nothing else. Finding
it costs no call per certificate: the process lists the PCA once (ListClientCertificate, every page) the first time
a create needs it, keeps that index current with what it issues and revokes, and lists again only when asked to.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from components.alicloud_api import cas_region, list_all

REVOKED = "REVOKE"
"""The `Status` DescribeClientCertificate / ListClientCertificate report for a revoked certificate."""


IDENTIFIER_PREFIX = "alb-mtls-"
"""Every `CustomIdentifier` this provider sends starts so: the prefix and 32 hex digits, then `-N` for the Nth."""
_BASE_LENGTH = len(IDENTIFIER_PREFIX) + 32


@dataclass(frozen=True)
class Listed:
    """One certificate as ListClientCertificate reports it: what adoption needs to decide."""

    identifier: str
    custom_identifier: str
    status: str
    after_date: int | None
    """The end of validity, milliseconds since the epoch (`AfterDate`)."""


def identifier_base(custom_identifier: str) -> str:
    """The identifier a `CustomIdentifier` numbers (`…-2` -> `…`); itself when it numbers none."""
    head, tail = custom_identifier[:_BASE_LENGTH], custom_identifier[_BASE_LENGTH:]
    if custom_identifier.startswith(IDENTIFIER_PREFIX) and tail[:1] == "-" and tail[1:].isdigit():
        return head
    return custom_identifier


@dataclass
class IssuedIndex:
    """The certificates one PCA holds, by the identifier they were issued under: listed once per provider process,
    kept current with what this process issues and revokes, and listed again only when asked to (after a failed
    attempt, whose answer may have been lost)."""

    by_base: dict[str, list[Listed]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    listings: int = 0
    """Complete listings made (each one or more ListClientCertificate pages)."""

    def under(self, client: Any, base: str, refresh: bool = False) -> list[Listed]:
        """The certificates issued under `base` or a numbered `base-N`, oldest first."""
        with self.lock:
            if self.by_base is None or refresh:
                self.by_base = self._list(client)
                self.listings += 1
            return sorted(self.by_base.get(base, []), key=lambda c: (len(c.custom_identifier), c.custom_identifier))

    def add(self, listed: Listed) -> None:
        with self.lock:
            if self.by_base is not None:
                self.by_base.setdefault(identifier_base(listed.custom_identifier), []).append(listed)

    def revoked(self, identifier: str) -> None:
        with self.lock:
            for entries in (self.by_base or {}).values():
                entries[:] = [
                    Listed(c.identifier, c.custom_identifier, REVOKED, c.after_date)
                    if c.identifier == identifier
                    else c
                    for c in entries
                ]

    @staticmethod
    def _list(client: Any) -> dict[str, list[Listed]]:
        from alibabacloud_cas20200630 import models

        found: dict[str, list[Listed]] = {}
        listed = list_all(
            "ListClientCertificate", client.list_client_certificate, models.ListClientCertificateRequest,
            "certificate_list",
        )  # fmt: skip
        for c in listed:
            if c.identifier and c.custom_identifier:
                entry = Listed(c.identifier, c.custom_identifier, str(c.status or ""), c.after_date)
                found.setdefault(identifier_base(c.custom_identifier), []).append(entry)
        return found


_INDEXES: dict[tuple[Any, ...], IssuedIndex] = {}
_INDEXES_LOCK = threading.Lock()


def custom_identifier(props: dict[str, Any]) -> str:
    """The `CustomIdentifier` of a request: its owner (project/stack), its resource name and what it asks (kind,
    issuer, days, CSR). The same request of the same resource always gets the same one; any other resource, in this
    stack or another, never does."""
    asked = "\n".join(str(props[k]) for k in ("owner", "name", "kind", "parent_identifier", "days", "csr_pem"))
    return IDENTIFIER_PREFIX + hashlib.sha256(b"owned\n" + asked.encode("utf-8")).hexdigest()[:32]


def index_for(props: dict[str, Any]) -> IssuedIndex:
    """This process's index of the PCA `props` reach (one per endpoint, site and access key)."""
    key = (props.get("endpoint"), props.get("protocol"), cas_region(props["region"]))
    key += (os.environ.get("ALICLOUD_ACCESS_KEY"),)
    with _INDEXES_LOCK:
        return _INDEXES.setdefault(key, IssuedIndex())


def forget_listings() -> None:
    """Drop every index, as a new provider process starts without one."""
    with _INDEXES_LOCK:
        _INDEXES.clear()
