"""Notifications' subscriber of the identity topic: who each patient is, re-encrypted at rest (docs/identity.md).

Only notifications consumes `sickleave.identities.v1`. A token is decrypted with the identity keys
it shares with intake and stored encrypted under notifications' own storage keys; the plaintext
lives only in this transaction's memory. Without keys the topic is not consumed at all, and once
keys are set the compacted topic is read from its start.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiokafka import ConsumerRecord

from services.notifications import identity_store
from services.notifications.identity import is_valid_person_id
from services.notifications.identity_store import StoredIdentity
from services.notifications.settings import NotificationsSettings
from shared.consumer import ApplyContext, Incoming
from shared.contracts.identities import PatientIdentityChanged
from shared.events import decode_published_event
from shared.identity_crypto import IdentityCipher, UndecryptableIdentity
from shared.retry import TRANSIENT_ERRORS, Backoff
from shared.service import ServiceRuntime, Subscription

log = structlog.get_logger("identities")


def decode_identity_record(record: ConsumerRecord[Any, Any]) -> tuple[str, PatientIdentityChanged]:
    return decode_published_event(record, PatientIdentityChanged)


class IdentityKeeper:
    def __init__(self, transport: IdentityCipher, storage: IdentityCipher) -> None:
        self._transport = transport
        self._storage = storage

    async def apply(self, context: ApplyContext, incoming: list[Incoming[PatientIdentityChanged]]) -> None:
        """Keep the newest identity per patient; an older copy changes nothing (docs/events.md §4.4)."""
        held = await identity_store.identity_revisions(context.conn, {item.event.patient_pseudonym for item in incoming})
        kept: list[StoredIdentity] = []
        for item in incoming:
            event = item.event
            if event.revision <= held.get(event.patient_pseudonym, 0):
                continue
            token = key_id = None
            if not event.protected_identity and event.encrypted_person_id is not None:
                try:
                    plaintext = self._transport.decrypt(event.encrypted_person_id)
                except UndecryptableIdentity:
                    # The dead letter holds the record as received: the number in it is still encrypted.
                    context.dead_letter(item, "UndecryptableIdentity", "the identity does not decrypt with the configured identity keys")
                    continue
                if not is_valid_person_id(plaintext):
                    context.dead_letter(item, "InvalidPersonId", "the decrypted identity is not a normalised personnummer or samordningsnummer")
                    continue
                token, key_id = self._storage.encrypt(plaintext)
            held[event.patient_pseudonym] = event.revision
            kept.append(StoredIdentity(event.patient_pseudonym, token, key_id, event.protected_identity, event.revision))
        await identity_store.save_identities(context.conn, kept)


def identity_ciphers(settings: NotificationsSettings) -> tuple[IdentityCipher, IdentityCipher] | None:
    """The transport and storage ciphers, or None when the identity path is off."""
    transport = IdentityCipher.from_setting(settings.identity_keys.get_secret_value())
    storage = IdentityCipher.from_setting(settings.identity_storage_keys.get_secret_value())
    return (transport, storage) if transport is not None and storage is not None else None


def storage_cipher(settings: NotificationsSettings) -> IdentityCipher | None:
    """What a page decrypts with (docs/identity.md); None when the identity path is off."""
    ciphers = identity_ciphers(settings)
    return ciphers[1] if ciphers is not None else None


async def rotate_at_rest(runtime: ServiceRuntime, storage: IdentityCipher) -> None:
    """After a storage key rotation, re-encrypt what rests under an older key of the list, in batches."""
    backoff = Backoff(initial_seconds=0.5)
    total = 0
    while True:
        try:
            async with runtime.pool.acquire() as conn:
                rotated = await identity_store.rotate_stored_identities(conn, storage)
        except TRANSIENT_ERRORS as problem:
            log.warning("identity key rotation waits for the database", error=type(problem).__name__)
            await backoff.sleep()
            continue
        total += rotated
        if rotated == 0:
            break
    if total:
        log.info("identities re-encrypted under the current storage key", count=total, key_id=storage.current_key_id)


def register_identities(runtime: ServiceRuntime, settings: NotificationsSettings) -> None:
    ciphers = identity_ciphers(settings)
    if ciphers is None:
        return
    transport, storage = ciphers
    keeper = IdentityKeeper(transport, storage)
    runtime.consume(
        Subscription(
            topic=settings.topics.identities,
            title="OnPatientIdentities",
            group="identities",
            description=(
                "Consumes `PatientIdentityChanged` from `sickleave.identities.v1` (compacted; notifications is its only "
                "consumer). Decrypts the personnummer with the identity keys shared with intake and keeps it encrypted "
                "under notifications' own storage key; a protected identity is kept without it. Emits nothing. "
                "Acknowledges manually, after the transaction committed."
            ),
            decode=decode_identity_record,
            apply=keeper.apply,
        )
    )

    async def rotate(runtime: ServiceRuntime) -> None:
        await rotate_at_rest(runtime, storage)

    runtime.background(rotate)
