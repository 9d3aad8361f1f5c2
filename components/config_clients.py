"""The clients to issue certificates to: each entry of `clients` with `clientDefaults` and `revokedClients` applied.

A client's names are unique, its validity longer than the early-renewal window, and `revokedClients` names only
clients, each once, never one whose entry says `revoked: false`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from components.config_fields import label, refused, rejection
from components.config_sections import ClientDefaults, ClientEntry
from components.keys import KeySpec


@dataclasses.dataclass(frozen=True)
class ClientSettings:
    """One client certificate to issue."""

    name: str
    validity_days: int
    early_renewal_days: int
    key: KeySpec
    revoked: bool = False
    """The certificate is kept (never re-issued while revoked) and the gate refuses it."""
    csr_pem: str | None = None
    """The client's own certificate request (PEM), checked: signed instead of generating a key. `key` then
    describes the request's key."""
    rotate_key: bool = True
    """Each renewal makes a new key and CSR (never for a client with its own CSR)."""
    config_key: str = label("clients")
    """Where the client is configured (`alb-mtls:clients[1]`), for messages."""
    revoked_by: str | None = None
    """Where the revocation is configured (`alb-mtls:revokedClients[0]`, `alb-mtls:clients[1].revoked`), for
    messages; None when the client is not revoked."""


def resolve_clients(
    entries: Sequence[ClientEntry], defaults: ClientDefaults, revoked_names: Sequence[Any]
) -> tuple[ClientSettings, ...]:
    """The clients of `entries`, in order, with the defaults filled in and `revokedClients` applied."""
    clients: list[ClientSettings] = []
    for i, entry in enumerate(entries):
        where = label(f"clients[{i}]")
        if any(c.name == entry.name for c in clients):
            raise refused(rejection(where, entry.name, "unique client names (this one is listed twice)"))
        validity = defaults.validity_days if entry.validity_days is None else entry.validity_days
        if defaults.early_renewal_days >= validity:
            raise refused(
                rejection(
                    label("clientDefaults.earlyRenewalDays"),
                    defaults.early_renewal_days,
                    f"fewer days than the validity of client {entry.name!r} ({validity} days)",
                )
            )
        rotate = defaults.rotate_key_on_renewal if entry.rotate_key_on_renewal is None else entry.rotate_key_on_renewal
        clients.append(
            ClientSettings(
                name=entry.name,
                validity_days=validity,
                early_renewal_days=defaults.early_renewal_days,
                key=defaults.key if entry.csr_key is None else entry.csr_key,
                revoked=entry.revoked,
                csr_pem=entry.csr,
                rotate_key=rotate and entry.csr is None,
                config_key=where,
                revoked_by=f"{where}.revoked" if entry.revoked else None,
            )
        )
    return _revoke(clients, entries, revoked_names)


def _revoke(
    clients: list[ClientSettings], entries: Sequence[ClientEntry], revoked_names: Sequence[Any]
) -> tuple[ClientSettings, ...]:
    """Each client named in `revokedClients` revoked (where its entry does not already say so)."""
    names = ", ".join(c.name for c in clients)
    listed: dict[str, str] = {}
    for i, name in enumerate(revoked_names):
        where = label(f"revokedClients[{i}]")
        index = next((n for n, c in enumerate(clients) if c.name == name), None)
        if index is None:
            raise refused(rejection(where, name, f"the name of a client in {label('clients')} ({names})"))
        if name in listed:
            raise refused(rejection(where, name, f"each name once (it is also {listed[name]})"))
        client = clients[index]
        if not client.revoked and "revoked" in entries[index].model_fields_set:
            raise refused(
                rejection(
                    where,
                    name,
                    f"a client whose entry does not say otherwise ({client.config_key}.revoked is false): remove the "
                    "name from the list to restore the client, or drop that field",
                )
            )
        listed[name] = where
    return tuple(
        dataclasses.replace(c, revoked=True, revoked_by=c.revoked_by or listed[c.name]) if c.name in listed else c
        for c in clients
    )
