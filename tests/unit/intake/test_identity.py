"""Which identities intake publishes: a patient when new or changed, a protected one without the number."""

from __future__ import annotations

from cryptography.fernet import Fernet

from services.intake.identity import PublishedIdentity, SeenIdentity, identity_changes
from shared.identity_crypto import IdentityCipher

PERSON = "198001249286"
CIPHER = IdentityCipher((Fernet.generate_key(),))


def seen(protected: bool = False, pseudonym: str = "p1") -> SeenIdentity:
    return SeenIdentity(pseudonym, PERSON, protected)


def test_a_patient_seen_for_the_first_time_is_published_encrypted():
    (change,) = identity_changes([seen(), seen()], {}, CIPHER)
    assert (change.patient_pseudonym, change.revision, change.protected_identity, change.key_id) == ("p1", 1, False, CIPHER.current_key_id)
    assert change.encrypted_person_id is not None and CIPHER.decrypt(change.encrypted_person_id) == PERSON
    assert PERSON not in change.model_dump_json()


def test_a_patient_published_before_under_the_current_key_is_not_published_again():
    published = {"p1": PublishedIdentity(protected_identity=False, key_id=CIPHER.current_key_id, revision=1)}
    assert identity_changes([seen()], published, CIPHER) == []


def test_a_newly_protected_identity_is_published_without_the_number():
    published = {"p1": PublishedIdentity(protected_identity=False, key_id=CIPHER.current_key_id, revision=1)}
    (change,) = identity_changes([seen(protected=True)], published, CIPHER)
    assert (change.protected_identity, change.encrypted_person_id, change.key_id, change.revision) == (True, None, None, 2)


def test_a_protected_identity_stays_protected_whatever_later_certificates_say():
    published = {"p1": PublishedIdentity(protected_identity=True, key_id=None, revision=2)}
    assert identity_changes([seen(protected=False)], published, CIPHER) == []


def test_one_protected_certificate_in_a_batch_protects_the_patient_for_the_whole_batch():
    (change,) = identity_changes([seen(protected=True), seen(protected=False)], {}, CIPHER)
    assert change.protected_identity and change.encrypted_person_id is None


def test_an_identity_published_under_an_older_key_is_published_again_under_the_current_one():
    published = {"p1": PublishedIdentity(protected_identity=False, key_id="an-older-key-id", revision=3)}
    (change,) = identity_changes([seen()], published, CIPHER)
    assert (change.key_id, change.revision) == (CIPHER.current_key_id, 4)
