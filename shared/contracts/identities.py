"""Who a patient is, published by intake on `sickleave.identities.v1` for notifications alone.

Keyed by patient pseudonym on a compacted topic, so the topic holds the latest identity of every
patient. The personnummer travels only encrypted (docs/identity.md); a patient with protected
identity is published without it.
"""

from __future__ import annotations

from pydantic import Field

from shared.contracts.envelope import EventData

PATIENT_IDENTITY_CHANGED_TYPE = "se.reko.patient-identity.changed.v1"


class PatientIdentityChanged(EventData):
    patient_pseudonym: str
    # The normalised twelve-digit personnummer or samordningsnummer as a Fernet token under the
    # identity key `key_id` (shared/identity_crypto.py). None for a protected patient: what is
    # never sent can never be shown.
    encrypted_person_id: str | None = None
    key_id: str | None = None
    # Any certificate of the patient said so (sekretessmarkering); once set it stays set.
    protected_identity: bool = False
    # Grows with every identity published for the pseudonym, so a stale copy is recognised.
    revision: int = Field(ge=1)
