"""Which patients' identities intake publishes on the identity topic, and what it publishes (docs/identity.md).

Intake is the only service that reads the personnummer. For notifications, the one service that may
resolve a pseudonym (docs/architecture.md §7.1), it publishes each patient's personnummer encrypted,
and only when something is new: a patient seen for the first time, a protected identity newly
marked, or an identity last published under a key that is no longer the current one (so the
compacted topic moves to the new key as patients come back after a rotation).

Pure: the handler reads what was published before and stores what this returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.contracts.identities import PatientIdentityChanged
from shared.identity_crypto import IdentityCipher


@dataclass(frozen=True)
class SeenIdentity:
    """A patient as one certificate shows them: the normalised number and its protected-identity mark."""

    patient_pseudonym: str
    normalised_person_id: str
    protected_identity: bool


@dataclass(frozen=True)
class PublishedIdentity:
    """What intake last published for a pseudonym (never the number itself)."""

    protected_identity: bool
    key_id: str | None
    revision: int


def identity_changes(
    seen: Iterable[SeenIdentity], published: Mapping[str, PublishedIdentity], cipher: IdentityCipher
) -> list[PatientIdentityChanged]:
    """The identity events the certificates of a batch call for, at most one per patient.

    A protected identity stays protected once any certificate said so: no later certificate lifts a
    sekretessmarkering here. A protected patient's event carries no personnummer at all.
    """
    by_patient: dict[str, SeenIdentity] = {}
    for identity in seen:
        earlier = by_patient.get(identity.patient_pseudonym)
        protected = identity.protected_identity or (earlier is not None and earlier.protected_identity)
        by_patient[identity.patient_pseudonym] = SeenIdentity(identity.patient_pseudonym, identity.normalised_person_id, protected)
    changes = []
    for pseudonym, identity in by_patient.items():
        before = published.get(pseudonym)
        protected = identity.protected_identity or (before is not None and before.protected_identity)
        if before is not None and before.protected_identity == protected and (protected or before.key_id == cipher.current_key_id):
            continue
        token, key = (None, None) if protected else cipher.encrypt(identity.normalised_person_id)
        changes.append(
            PatientIdentityChanged(
                patient_pseudonym=pseudonym,
                encrypted_person_id=token,
                key_id=key,
                protected_identity=protected,
                revision=(before.revision if before is not None else 0) + 1,
            )
        )
    return changes
