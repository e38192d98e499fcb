"""Notifications' table of patient identities: encrypted at rest, decrypted only for a page that asks.

The caller of `identity_listing` shows patient-level data and must write its access-log row
(`shared/access_log.py`) before it answers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from operator import itemgetter

import asyncpg

from services.notifications.identity import IdentityListing, PatientIdentity, identify, listing
from shared.db import columns, last_per_key
from shared.identity_crypto import IdentityCipher, UndecryptableIdentity


@dataclass(frozen=True)
class StoredIdentity:
    patient_pseudonym: str
    encrypted_person_id: str | None
    key_id: str | None
    protected_identity: bool
    revision: int


async def identity_revisions(conn: asyncpg.Connection, patients: Collection[str]) -> dict[str, int]:
    rows = await conn.fetch("SELECT patient_pseudonym, revision FROM patient_identities WHERE patient_pseudonym = ANY($1::text[])", list(patients))
    return {row["patient_pseudonym"]: row["revision"] for row in rows}


async def save_identities(conn: asyncpg.Connection, identities: Iterable[StoredIdentity]) -> None:
    rows = last_per_key([(i.patient_pseudonym, i.encrypted_person_id, i.key_id, i.protected_identity, i.revision) for i in identities], itemgetter(0))
    if not rows:
        return
    await conn.execute(
        "INSERT INTO patient_identities (patient_pseudonym, encrypted_person_id, key_id, protected_identity, revision) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::int[]) "
        "ON CONFLICT (patient_pseudonym) DO UPDATE SET encrypted_person_id = excluded.encrypted_person_id, key_id = excluded.key_id, "
        "protected_identity = excluded.protected_identity, revision = excluded.revision, updated_at = now() "
        "WHERE patient_identities.revision < excluded.revision",
        *columns(rows, 5),
    )


async def identity_listing(conn: asyncpg.Connection, patients: Collection[str], cipher: IdentityCipher | None, on: date) -> IdentityListing:
    """The asked patients as a page may show them: named with personnummer, age on `on` and sex;
    protected ones only counted; the rest (no identity received, or no key to read it) unknown."""
    rows = await conn.fetch(
        "SELECT patient_pseudonym, encrypted_person_id, protected_identity FROM patient_identities WHERE patient_pseudonym = ANY($1::text[])",
        list(patients),
    )
    protected = [row["patient_pseudonym"] for row in rows if row["protected_identity"]]
    named: list[PatientIdentity] = []
    if cipher is not None:
        for row in rows:
            if not row["protected_identity"] and row["encrypted_person_id"] is not None:
                # A token under a key no longer configured leaves the patient unknown, not the page broken.
                with contextlib.suppress(UndecryptableIdentity):
                    named.append(identify(row["patient_pseudonym"], cipher.decrypt(row["encrypted_person_id"]), on))
    return listing(named, protected, patients)


async def rotate_stored_identities(conn: asyncpg.Connection, cipher: IdentityCipher, *, batch: int = 500) -> int:
    """Re-encrypt up to `batch` stored identities that are not under the current storage key; answers how many."""
    async with conn.transaction():
        rows = await conn.fetch(
            "SELECT patient_pseudonym, encrypted_person_id FROM patient_identities "
            "WHERE key_id = ANY($1::text[]) ORDER BY patient_pseudonym LIMIT $2 FOR UPDATE SKIP LOCKED",
            # The older keys of the list only: a token under a key no longer listed cannot be read, so it stays as it is.
            list(cipher.key_ids[1:]),
            batch,
        )
        rotated = [(row["patient_pseudonym"], *cipher.rotate(row["encrypted_person_id"])) for row in rows]
        await conn.execute(
            "UPDATE patient_identities p SET encrypted_person_id = r.token, key_id = r.key_id "
            "FROM unnest($1::text[], $2::text[], $3::text[]) AS r(patient_pseudonym, token, key_id) WHERE p.patient_pseudonym = r.patient_pseudonym",
            *columns(rotated, 3),
        )
    return len(rotated)
