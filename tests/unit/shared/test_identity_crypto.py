"""The identity path's encryption: Fernet keys newest first, a round trip, rotation, refusals that name no key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from shared.identity_crypto import IdentityCipher, IdentityKeyError, UndecryptableIdentity, key_id, parse_keys

PERSON = "198001249286"


def test_a_personnummer_round_trips_and_its_token_does_not_hold_it():
    cipher = IdentityCipher((Fernet.generate_key(),))
    token, used = cipher.encrypt(PERSON)
    assert PERSON not in token and PERSON[2:] not in token
    assert used == cipher.current_key_id
    assert cipher.decrypt(token) == PERSON


def test_two_encryptions_of_one_number_differ_so_equal_numbers_cannot_be_matched_on_the_topic():
    cipher = IdentityCipher((Fernet.generate_key(),))
    assert cipher.encrypt(PERSON)[0] != cipher.encrypt(PERSON)[0]


def test_after_a_rotation_the_new_key_encrypts_and_the_old_one_still_decrypts():
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token, _ = IdentityCipher((old,)).encrypt(PERSON)
    rotated = IdentityCipher((new, old))
    assert rotated.decrypt(token) == PERSON
    again, used = rotated.rotate(token)
    assert used == key_id(new)
    assert IdentityCipher((new,)).decrypt(again) == PERSON


def test_a_token_under_a_key_no_longer_listed_does_not_decrypt():
    token, _ = IdentityCipher((Fernet.generate_key(),)).encrypt(PERSON)
    with pytest.raises(UndecryptableIdentity):
        IdentityCipher((Fernet.generate_key(),)).decrypt(token)
    with pytest.raises(UndecryptableIdentity):
        IdentityCipher((Fernet.generate_key(),)).decrypt("not a token")


def test_keys_are_comma_separated_newest_first_and_an_empty_setting_turns_the_path_off():
    first, second = Fernet.generate_key(), Fernet.generate_key()
    assert parse_keys(f" {first.decode()} , {second.decode()} ") == (first, second)
    assert IdentityCipher.from_setting("") is None
    cipher = IdentityCipher.from_setting(f"{first.decode()},{second.decode()}")
    assert cipher is not None and cipher.key_ids == [key_id(first), key_id(second)]


def test_a_key_that_is_not_a_fernet_key_is_refused_without_repeating_it():
    with pytest.raises(IdentityKeyError, match="key 2 of the list") as refused:
        parse_keys(f"{Fernet.generate_key().decode()},not-a-key-at-all")
    assert "not-a-key-at-all" not in str(refused.value)
    key = Fernet.generate_key().decode()
    with pytest.raises(IdentityKeyError, match="twice"):
        parse_keys(f"{key},{key}")


def test_a_key_id_names_a_key_without_revealing_it():
    key = Fernet.generate_key()
    assert len(key_id(key)) == 16 and key_id(key) not in key.decode()
